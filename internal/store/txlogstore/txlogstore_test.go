package txlogstore_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// sampleBatch is one filtered inbound message (two queue IDs), one NOQUEUE
// reject, one greylisting, one amavis verdict and two logins.
func sampleBatch(at time.Time, n int) *txlog.Batch {
	b := &txlog.Batch{}
	for i := range n {
		ts := at.Add(time.Duration(i) * time.Second)
		q1, q2 := fmt.Sprintf("A%05d", i), fmt.Sprintf("B%05d", i)
		key := txlog.MsgKey("mx", q1, ts)
		from, to := fmt.Sprintf("Sender%d@Partner.example", i), fmt.Sprintf("user%d@uni.example", i)
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: ts, LastSeen: ts.Add(2 * time.Second), Node: "mx",
			Source: "postfix", Direction: txlog.Inbound, MsgKey: key, Origin: "smtpd", Service: "smtpd", State: "removed",
			QueueIDs: []string{q1, q2}, MessageID: fmt.Sprintf("id%d@partner.example", i), MailFrom: from,
			Subject: fmt.Sprintf("Exam results %d", i), Size: 1000, NRcpt: 1, ClientIP: "192.0.2.7",
			ClientName: "mail.partner.example", AVVerdict: "Passed CLEAN", SpamScore: "1.2", Received: 1})
		b.Rows = append(b.Rows,
			txlog.Row{Time: ts.Add(time.Second), Node: "mx", Source: "postfix", Direction: txlog.Inbound, MsgKey: key,
				QueueID: q1, MailFrom: from, Rcpt: to, Size: 1000, ClientIP: "192.0.2.7", Status: txlog.StatusSent,
				Agent: "smtp", Handoff: true, Relay: "127.0.0.1[127.0.0.1]:10024"},
			txlog.Row{Time: ts.Add(2 * time.Second), Node: "mx", Source: "postfix", Direction: txlog.Inbound, MsgKey: key,
				QueueID: q2, MailFrom: from, Rcpt: to, Size: 1000, ClientIP: "192.0.2.7", Status: txlog.StatusSent,
				Agent: "lmtp", DSN: "2.0.0", Delay: 2.5, Delays: "0.1/0/0/2.4"},
			txlog.Row{Time: ts.Add(time.Second), Node: "mx", Source: "amavis", Direction: txlog.Inbound, QueueID: q1,
				MailFrom: from, Rcpt: to, Status: txlog.StatusScanned, AVVerdict: "Passed CLEAN", SpamScore: "1.2"},
			txlog.Row{Time: ts, Node: "mx", Source: "postfix", Direction: txlog.Inbound, MailFrom: "bot@spam.example",
				Rcpt: to, ClientIP: "198.51.100.9", Status: txlog.StatusRejected, Stage: "RCPT", Code: 554, DSN: "5.7.1"},
			txlog.Row{Time: ts, Node: "mx", Source: "postgrey", Direction: txlog.Inbound, MailFrom: "x@y.example",
				Rcpt: to, ClientIP: "198.51.100.10", Status: txlog.StatusGreylisted},
		)
		b.Logins = append(b.Logins,
			txlog.Login{Time: ts, Node: "mx", Source: "dovecot", Service: "imap", User: "u@uni.example", RemoteIP: "10.0.0.1", OK: true},
			txlog.Login{Time: ts, Node: "mx", Source: "postfix", Service: "submission", User: "v@uni.example", RemoteIP: "10.0.0.2"},
			txlog.Login{Time: ts, Node: "mx", Source: txlog.SourceDovecotAuth, User: "v@uni.example"},
		)
	}
	return b
}

func TestConformanceTxLogSummaryAndCheckpoint(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		if _, err := st.Checkpoint(ctx, "file:/x"); !errors.Is(err, txlog.ErrNoCheckpoint) {
			t.Fatalf("missing checkpoint: %v", err)
		}
		cp := txlog.Checkpoint{Source: "file:/x", Inode: 42, HeadHash: "abc", Offset: 100, Updated: t0}
		state := txlog.Checkpoint{Source: txlog.StateSource, State: []byte{0, 1, 2, 0xff}, Updated: t0}
		if err := st.WriteBatch(ctx, sampleBatch(t0, 3), []txlog.Checkpoint{cp, state}); err != nil {
			t.Fatal(err)
		}
		// a second day, so PostgreSQL needs a second partition
		if err := st.WriteBatch(ctx, sampleBatch(t0.AddDate(0, 0, 1), 2), nil); err != nil {
			t.Fatal(err)
		}
		got, err := st.Checkpoint(ctx, "file:/x")
		if err != nil || got.Offset != 100 || got.Inode != 42 || got.HeadHash != "abc" || got.State != nil || !got.Updated.Equal(t0) {
			t.Fatalf("checkpoint %+v %v", got, err)
		}
		got, err = st.Checkpoint(ctx, txlog.StateSource)
		if err != nil || string(got.State) != string(state.State) {
			t.Fatalf("state %+v %v", got, err)
		}
		// the state's items: changes applied commit by commit, or replaced
		items := func() string {
			got, err := st.Checkpoint(ctx, txlog.StateSource)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for k, v := range got.Items {
				out = append(out, k+"="+string(v))
			}
			sort.Strings(out)
			return strings.Join(out, " ")
		}
		for _, c := range []struct {
			cp   txlog.Checkpoint
			want string
		}{
			{txlog.Checkpoint{Items: map[string][]byte{"m:1": []byte("a"), "m:2": []byte("b")}}, "m:1=a m:2=b"},
			{txlog.Checkpoint{Items: map[string][]byte{"m:2": []byte("B"), "s:x": []byte("c")}, Drop: []string{"m:1"}}, "m:2=B s:x=c"},
			{txlog.Checkpoint{Items: map[string][]byte{"m:9": []byte("z")}, ReplaceItems: true}, "m:9=z"},
		} {
			c.cp.Source, c.cp.State, c.cp.Updated = txlog.StateSource, []byte{1}, t0
			if err := st.WriteBatch(ctx, &txlog.Batch{}, []txlog.Checkpoint{c.cp}); err != nil {
				t.Fatal(err)
			}
			if got := items(); got != c.want {
				t.Errorf("items %q, want %q", got, c.want)
			}
		}
		// many at once: more than one statement's worth on SQLite, keys and
		// data that are not text (a NUL in the data, any byte)
		many := map[string][]byte{}
		for i := range 1300 {
			many[fmt.Sprintf("m:%04d", i)] = []byte{0, byte(i), 0xff}
		}
		var drop []string
		for i := range 700 {
			drop = append(drop, fmt.Sprintf("m:%04d", 2*i))
		}
		for _, cp := range []txlog.Checkpoint{{Items: many, ReplaceItems: true}, {Drop: drop}} {
			cp.Source, cp.State, cp.Updated = txlog.StateSource, []byte{0}, t0
			if err := st.WriteBatch(ctx, &txlog.Batch{}, []txlog.Checkpoint{cp}); err != nil {
				t.Fatal(err)
			}
		}
		got, err = st.Checkpoint(ctx, txlog.StateSource)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Items) != 650 || string(got.Items["m:0001"]) != "\x00\x01\xff" || got.Items["m:0002"] != nil {
			t.Errorf("after 1300 items and 700 drops: %d items, m:0001 %q, m:0002 %q", len(got.Items), got.Items["m:0001"], got.Items["m:0002"])
		}
		s, err := st.TxSummary(ctx, t0, t0.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		check := func(name string, got, want int64) {
			t.Helper()
			if got != want {
				t.Errorf("%s = %d, want %d", name, got, want)
			}
		}
		check("received", s.Received, 3)
		check("delivered", s.Delivered, 3)
		check("delivered lmtp", s.DeliveredBy["lmtp"], 3)
		check("handoffs", s.FilterHandoffs, 3)
		check("bytes received", s.BytesReceived, 3000)
		check("bytes delivered", s.BytesDelivered, 3000)
		check("rejected", s.RejectedTotal, 3)
		check("greylisted", s.Greylisted, 3)
		check("clean", s.Verdicts["Passed CLEAN"], 3)
		check("senders", s.Senders, 3)
		check("recipients", s.Recipients, 3)
		check("sasl failures", s.SASLFailures, 3)
		check("auth failures smtp", s.AuthFailures["smtp"], 3)
		check("unique users", s.UniqueUsers, 1)
		if len(s.Rejected) != 1 || s.Rejected[0] != (txlog.RejectCount{Stage: "RCPT", Code: 554, Count: 3}) {
			t.Errorf("rejected %+v", s.Rejected)
		}
		all, err := st.TxSummary(ctx, time.Time{}, time.Time{})
		if err != nil || all.Received != 5 {
			t.Errorf("all: received %d %v", all.Received, err)
		}
	})
}

func TestConformanceTrace(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		if err := st.WriteBatch(ctx, sampleBatch(t0, 5), nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			q    trace.Query
			want int
		}{
			{"from (case-insensitive)", trace.Query{From: "SENDER2@partner.example"}, 1},
			{"to", trace.Query{To: "user3@uni.example"}, 3}, // the message, its reject, its greylisting
			{"to delivered", trace.Query{To: "user3@uni.example", Status: "sent"}, 1},
			{"msgid", trace.Query{MessageID: "<id1@partner.example>"}, 1},
			{"first queue id", trace.Query{QueueID: "A00004"}, 1},
			{"second queue id", trace.Query{QueueID: "B00004"}, 1},
			{"ip", trace.Query{IP: "192.0.2.7"}, 5},
			{"status", trace.Query{Status: "rejected"}, 5},
			{"subject", trace.Query{Subject: "results 4"}, 1},
			// LIKE's wildcards are searched for, not obeyed
			{"subject with %", trace.Query{Subject: "Exam%4"}, 0},
			{"subject with _", trace.Query{Subject: "results_4"}, 0},
			{"window", trace.Query{IP: "192.0.2.7", Since: t0.Add(2 * time.Second), Until: t0.Add(4 * time.Second)}, 4}, // rows of messages 0…3 fall in [2s, 4s)
			{"paged", trace.Query{IP: "192.0.2.7", Limit: 2, Offset: 4}, 1},
			// rows without a message (each its own "refused" message)
			{"from, rejects", trace.Query{From: "bot@spam.example"}, 5},
			{"ip, rejects", trace.Query{IP: "198.51.100.9"}, 5},
			{"from and status", trace.Query{From: "sender2@partner.example", Status: "sent"}, 1},
			{"from and status, none", trace.Query{From: "sender2@partner.example", Status: "rejected"}, 0},
			{"from and second queue id", trace.Query{From: "sender3@partner.example", QueueID: "B00003"}, 1},
			{"from, window", trace.Query{From: "sender3@partner.example", Since: t0.Add(5 * time.Second), Until: t0.Add(6 * time.Second)}, 1}, // its delivery at 5s
			{"from, window after", trace.Query{From: "sender3@partner.example", Since: t0.Add(5500 * time.Millisecond)}, 0},
			{"to, inbound", trace.Query{To: "user3@uni.example", Direction: "inbound"}, 3},
			{"to, outbound", trace.Query{To: "user3@uni.example", Direction: "outbound"}, 0},
			{"ip, inbound", trace.Query{IP: "192.0.2.7", Direction: "inbound"}, 5},
			{"ip, outbound", trace.Query{IP: "192.0.2.7", Direction: "outbound"}, 0},
		} {
			page, err := trace.Search(ctx, st, c.q, false)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if len(page.Messages) != c.want {
				var keys []string
				for _, m := range page.Messages {
					keys = append(keys, m.Key)
				}
				t.Errorf("%s: %d messages, want %d: %v", c.name, len(page.Messages), c.want, keys)
			}
		}
		// newest first, and the total is the count of matches, not the page
		for _, q := range []trace.Query{{IP: "192.0.2.7", Limit: 2}, {Status: "rejected", Limit: 2}, {From: "bot@spam.example", Limit: 2}} {
			page, err := trace.Search(ctx, st, q, false)
			if err != nil || page.Total != 5 || len(page.Messages) != 2 || page.NextOffset != 2 ||
				!page.Messages[0].FirstSeen.After(page.Messages[1].FirstSeen) || !page.Messages[0].FirstSeen.Equal(t0.Add(4*time.Second)) {
				t.Errorf("%s: total %d, %d messages, next %d, %v", q.String(), page.Total, len(page.Messages), page.NextOffset, err)
			}
		}
		page, err := trace.Search(ctx, st, trace.Query{QueueID: "B00002"}, true)
		if err != nil || len(page.Messages) != 1 {
			t.Fatalf("%+v %v", page, err)
		}
		m := page.Messages[0]
		var steps []string
		for _, s := range m.Steps {
			steps = append(steps, s.Step)
		}
		if fmt.Sprint(steps) != "[accepted filter scanned delivered]" || m.Subject != trace.MaskedSubject {
			t.Errorf("timeline %v subject %q", steps, m.Subject)
		}
		if len(m.Recipients) != 1 || m.Recipients[0].Status != "delivered" {
			t.Errorf("recipients %+v", m.Recipients)
		}
		if _, err := trace.Search(ctx, st, trace.Query{Subject: "x"}, true); err == nil {
			t.Error("masked role may search by subject")
		}
	})
}

// TestConformanceTraceLongLivedMessage: a message deferred for days is
// found by sender, Message-ID and client IP in a window that holds only its
// later rows (rows that belong to a message are found through
// mail_messages, which knows when the message was first seen, not when its
// rows were written).
func TestConformanceTraceLongLivedMessage(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		first := t0.AddDate(0, 0, -3)
		key := txlog.MsgKey("mx", "C00001", first)
		b := &txlog.Batch{}
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: first, LastSeen: t0.Add(time.Hour), Node: "mx",
			Source: "postfix", Direction: txlog.Outbound, MsgKey: key, Origin: "smtpd", State: "removed",
			QueueIDs: []string{"C00001"}, MessageID: "slow@uni.example", MailFrom: "slow@uni.example", ClientIP: "10.1.1.1", Received: 1})
		row := func(at time.Time, status string) txlog.Row {
			return txlog.Row{Time: at, Node: "mx", Source: "postfix", Direction: txlog.Outbound, MsgKey: key, QueueID: "C00001",
				MessageID: "slow@uni.example", MailFrom: "slow@uni.example", Rcpt: "far@away.example", ClientIP: "10.1.1.1",
				Status: status, Agent: "smtp"}
		}
		for d := 0; d < 3; d++ {
			b.Rows = append(b.Rows, row(first.AddDate(0, 0, d).Add(time.Minute), txlog.StatusDeferred))
		}
		b.Rows = append(b.Rows, row(t0.Add(time.Hour), txlog.StatusSent))
		// an amavis verdict without a message key, carrying the Message-ID
		b.Rows = append(b.Rows, txlog.Row{Time: first, Node: "mx", Source: "amavis", Direction: txlog.Outbound, QueueID: "C00001",
			MessageID: "slow@uni.example", MailFrom: "slow@uni.example", ClientIP: "10.1.1.1", Status: txlog.StatusScanned,
			AVVerdict: "Passed CLEAN"})
		if err := st.WriteBatch(ctx, b, nil); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name        string
			q           trace.Query
			want, nrows int
		}{
			{"from, today", trace.Query{From: "slow@uni.example", Since: t0, Until: t0.Add(2 * time.Hour)}, 1, 5},
			{"msgid, today", trace.Query{MessageID: "slow@uni.example", Since: t0, Until: t0.Add(2 * time.Hour)}, 1, 5},
			{"ip, today", trace.Query{IP: "10.1.1.1", Since: t0, Until: t0.Add(2 * time.Hour)}, 1, 5},
			{"from, yesterday", trace.Query{From: "slow@uni.example", Since: t0.AddDate(0, 0, -1), Until: t0}, 1, 5},
			{"from, all", trace.Query{From: "slow@uni.example"}, 1, 5},
			{"from, afterwards", trace.Query{From: "slow@uni.example", Since: t0.Add(2 * time.Hour)}, 0, 0},
			{"from, in between", trace.Query{From: "slow@uni.example", Since: t0.Add(-12 * time.Hour), Until: t0}, 0, 0},
			{"to, today", trace.Query{To: "far@away.example", Since: t0}, 1, 5},
		} {
			f, err := st.TraceSearch(ctx, func() trace.Query { q := c.q; _ = q.Normalize(); return q }())
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if len(f.Messages) != c.want || len(f.Rows) != c.nrows {
				t.Errorf("%s: %d messages and %d rows, want %d and %d", c.name, len(f.Messages), len(f.Rows), c.want, c.nrows)
			}
		}
	})
}

func TestConformanceRetentionAndRollups(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		days := []time.Time{t0.AddDate(0, 0, -100), t0.AddDate(0, 0, -91), t0.AddDate(0, 0, -89), t0}
		for _, d := range days {
			if err := st.WriteBatch(ctx, sampleBatch(d, 2), nil); err != nil {
				t.Fatal(err)
			}
		}
		jobs := rollup.Jobs{Store: st, Retention: 90 * 24 * time.Hour}
		if err := jobs.RollRange(ctx, days[0], t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		// injected clock: "now" is t0 + 1h, so the cutoff is t0 + 1h - 90 days
		now := t0.Add(time.Hour)
		if _, err := jobs.Retain(ctx, now); err != nil {
			t.Fatal(err)
		}
		s, err := st.TxSummary(ctx, time.Time{}, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		if s.Received != 4 || s.Delivered != 4 || s.Greylisted != 4 {
			t.Errorf("after retention: received %d delivered %d greylisted %d, want 4 each (two newest days)", s.Received, s.Delivered, s.Greylisted)
		}
		old, err := st.TxSummary(ctx, time.Time{}, now.Add(-90*24*time.Hour))
		if err != nil || old.Received != 0 || len(old.Logins) != 0 {
			t.Errorf("rows older than the cutoff remain: %+v %v", old, err)
		}
		// rollups are kept for years
		pts, err := st.Rollups(ctx, rollup.Day, days[0].AddDate(0, 0, -1), t0.AddDate(0, 0, 1))
		if err != nil {
			t.Fatal(err)
		}
		var msgs int64
		for _, p := range pts {
			if p.Metric == "messages" {
				msgs += p.Count
			}
		}
		if msgs != 8 {
			t.Errorf("daily message rollups %d, want 8: %+v", msgs, pts)
		}
		hours, err := st.Rollups(ctx, rollup.Hour, t0, t0.Add(time.Hour))
		if err != nil || len(hours) == 0 {
			t.Fatalf("hourly rollups %v %v", hours, err)
		}
		if err := st.SaveDirectorySnapshot(ctx, rollup.DirectorySnapshot{Day: t0, Domains: 2, Mailboxes: 30, AllottedBytes: 60 << 30, TakenAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveDirectorySnapshot(ctx, rollup.DirectorySnapshot{Day: t0.Add(time.Hour), Domains: 2, Mailboxes: 31, AllottedBytes: 62 << 30, TakenAt: t0}); err != nil {
			t.Fatal(err)
		}
		snaps, err := st.DirectorySnapshots(ctx, t0.AddDate(0, 0, -1), t0.AddDate(0, 0, 1))
		if err != nil || len(snaps) != 1 || snaps[0].Mailboxes != 31 {
			t.Errorf("snapshots %+v %v", snaps, err)
		}
	})
}

// TestConformanceBadBytesInLogLines: a raw 8-bit subject and a NUL byte,
// as real logs carry them, are stored (made valid text on PostgreSQL)
// instead of failing the whole batch.
func TestConformanceBadBytesInLogLines(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		b := sampleBatch(t0, 2)
		b.Messages[0].Subject = "Pr\xf8ve\x00 results"
		b.Rows[0].Rcpt = "Bad\xffuser\x00@uni.example"
		b.Logins[0].User = "\xe6sop\x00@uni.example"
		b.Messages[1].QueueIDs = append(b.Messages[1].QueueIDs, "C\x00\xff")
		if err := st.WriteBatch(ctx, b, nil); err != nil {
			t.Fatalf("a batch with bad bytes: %v", err)
		}
		page, err := trace.Search(ctx, st, trace.Query{IP: "192.0.2.7"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Messages) != 2 {
			t.Fatalf("found %d messages, want 2 (both stored)", len(page.Messages))
		}
	})
}

// TestConformanceMessageAuthResults: an engine message's SPF/DKIM/DMARC
// results and the sender as submitted before it was rewritten are kept
// with the message (COPY on PostgreSQL, INSERT on SQLite) and come back
// with it from the trace search.
func TestConformanceMessageAuthResults(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		msg := func(q, from, authres, orig string) txlog.MessageRow {
			return txlog.MessageRow{FirstSeen: t0, LastSeen: t0, Node: "n1", Source: txlog.SourceEngine, Direction: txlog.Inbound,
				MsgKey: "n1/" + q, Origin: "engine", Service: "mx", State: "accepted", QueueIDs: []string{q}, MessageID: q + "@x",
				MailFrom: from, Received: 1, AuthResults: authres, OriginalFrom: orig}
		}
		want := []txlog.MessageRow{
			msg("Q1", "news@good.example", "spf=pass dkim=none dmarc=pass (p=reject disposition=none)", ""),
			msg("Q2", "123456@uni.example", "", "envelope jan.novak@uni.example; From: \"Jan Novak\" <jan.novak@uni.example>"),
			msg("Q3", "plain@uni.example", "", ""),
		}
		if err := st.WriteBatch(ctx, &txlog.Batch{Messages: want}, nil); err != nil {
			t.Fatal(err)
		}
		for _, w := range want {
			q := trace.Query{QueueID: w.QueueIDs[0]}
			if err := q.Normalize(); err != nil {
				t.Fatal(err)
			}
			f, err := st.TraceSearch(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Messages) != 1 {
				t.Fatalf("%s: %d messages", w.QueueIDs[0], len(f.Messages))
			}
			if g := f.Messages[0]; g.AuthResults != w.AuthResults || g.OriginalFrom != w.OriginalFrom {
				t.Errorf("%s: auth results %q original %q, want %q %q", w.QueueIDs[0], g.AuthResults, g.OriginalFrom, w.AuthResults, w.OriginalFrom)
			}
		}
	})
}
