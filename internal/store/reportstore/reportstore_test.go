package reportstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/internal/store/probestore"
	"github.com/uni-mail/postvakt/internal/store/reportstore"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/reports"
)

func TestConformanceReportsArchive(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := reportstore.New(db)
		loc, _ := time.LoadLocation("Europe/Oslo")
		now := time.Date(2026, 11, 1, 7, 0, 0, 0, loc)
		a := reports.Archived{Period: "2026-10", Start: time.Date(2026, 10, 1, 0, 0, 0, 0, loc), End: time.Date(2026, 11, 1, 0, 0, 0, 0, loc),
			Lang: "nb", GeneratedAt: now, GeneratedBy: "scheduler", Comment: "Říjen – Tromsø", PDFEngine: "builtin",
			HTML: []byte("<html>"), PDF: []byte("%PDF-1.7\x00\xff"), CSV: []byte("a,b\n"), Model: []byte(`{}`)}
		if _, err := st.GetReport(ctx, "2026-10", false); !errors.Is(err, reports.ErrNotArchived) {
			t.Fatalf("empty archive: %v", err)
		}
		if ok, err := st.PutReport(ctx, a, false); err != nil || !ok {
			t.Fatalf("put: %v %v", ok, err)
		}
		b := a
		b.Comment = "second"
		if ok, err := st.PutReport(ctx, b, false); err != nil || ok {
			t.Fatalf("second put without replace: %v %v", ok, err)
		}
		got, err := st.GetReport(ctx, "2026-10", true)
		if err != nil {
			t.Fatal(err)
		}
		if got.Comment != a.Comment || string(got.PDF) != string(a.PDF) || !got.Start.Equal(a.Start) || !got.SentAt.IsZero() {
			t.Fatalf("got %+v", got.Period)
		}
		// Two replicas claim the sending at once: one wins.
		var wins atomic.Int32
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := st.ClaimSend(ctx, "2026-10", fmt.Sprint("node", i), now, now.Add(-30*time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d claims won, want 1", wins.Load())
		}
		// A claim older than the stale limit can be taken over.
		if ok, _ := st.ClaimSend(ctx, "2026-10", "late", now.Add(time.Hour), now.Add(time.Minute)); !ok {
			t.Fatal("stale claim not taken over")
		}
		if err := st.MarkSent(ctx, "2026-10", "styring@example.edu", now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if ok, _ := st.ClaimSend(ctx, "2026-10", "x", now.Add(2*time.Hour), now.Add(2*time.Hour)); ok {
			t.Fatal("a sent report was claimed again")
		}
		b.Comment = "replaced"
		if ok, err := st.PutReport(ctx, b, true); err != nil || !ok {
			t.Fatalf("replace: %v %v", ok, err)
		}
		got, _ = st.GetReport(ctx, "2026-10", false)
		if got.Comment != "replaced" || got.SentAt.IsZero() || got.SentTo != "styring@example.edu" || got.HTML != nil {
			t.Fatalf("after replace: %+v", got)
		}
		if err := st.ReleaseSend(ctx, "2026-10"); err != nil {
			t.Fatal(err)
		}
		if ok, _ := st.ClaimSend(ctx, "2026-10", "x", now, now); !ok {
			t.Fatal("released report not claimable")
		}
		c := a
		c.Period, c.Start = "2026-09", a.Start.AddDate(0, -1, 0)
		if _, err := st.PutReport(ctx, c, false); err != nil {
			t.Fatal(err)
		}
		list, err := st.ListReports(ctx, 10)
		if err != nil || len(list) != 2 || list[0].Period != "2026-10" || list[1].Period != "2026-09" || list[0].PDF != nil {
			t.Fatalf("list %+v %v", list, err)
		}
		if s, _ := st.Comment(ctx, "2026-12"); s != "" {
			t.Fatalf("comment %q", s)
		}
		for _, s := range []string{"first", "Říjen"} {
			if err := st.SetComment(ctx, "2026-12", s, "lead", now); err != nil {
				t.Fatal(err)
			}
		}
		if s, _ := st.Comment(ctx, "2026-12"); s != "Říjen" {
			t.Fatalf("comment %q", s)
		}
	})
}

// seedReportTables writes a small month of data through the other
// capabilities' own write paths (collectors' batches and rollups,
// tickets), and into the tables they own where no write path suits a
// test (notices, incidents, pages).
func seedReportTables(t *testing.T, db *storage.DB, loc *time.Location) {
	t.Helper()
	ctx := context.Background()
	at := func(mo time.Month, d, h, mi int) time.Time { return time.Date(2026, mo, d, h, mi, 0, 0, loc) }
	var b txlog.Batch
	msg := func(ts time.Time, dir txlog.Direction, size int64, from string) {
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: ts, LastSeen: ts, Direction: dir, Size: size, Received: 1,
			MsgKey: fmt.Sprint("k", len(b.Messages)), MailFrom: from, State: "removed", Source: "postfix", Node: "mx1"})
	}
	msg(at(10, 1, 0, 30), txlog.Inbound, 1000, "a@Uio.no") // 30 Sep 22:30 UTC: still October here
	msg(at(10, 1, 10, 0), txlog.Inbound, 1000, "b@uio.no")
	msg(at(10, 1, 10, 5), txlog.Inbound, 1000, "c@ntnu.no")
	msg(at(10, 1, 11, 0), txlog.Internal, 500, "d@example.edu")
	msg(at(10, 2, 9, 0), txlog.Outbound, 2000, "e@example.edu")
	msg(at(10, 2, 9, 1), txlog.Outbound, 2000, "e@example.edu")
	msg(at(9, 15, 12, 0), txlog.Inbound, 100, "x@uio.no")
	msg(at(9, 15, 12, 1), txlog.Inbound, 100, "x@uio.no")
	msg(at(11, 1, 0, 30), txlog.Inbound, 999, "late@uio.no") // November
	row := func(ts time.Time, source, status, verdict, rcpt string, dir txlog.Direction, key string) {
		b.Rows = append(b.Rows, txlog.Row{Time: ts, Source: source, Node: "mx1", Direction: dir, Status: status, AVVerdict: verdict, Rcpt: rcpt, MsgKey: key})
	}
	row(at(10, 1, 10, 0), "amavis", txlog.StatusScanned, "Passed CLEAN", "", txlog.Inbound, "")
	row(at(10, 1, 10, 5), "amavis", txlog.StatusScanned, "Passed CLEAN", "", txlog.Inbound, "")
	row(at(10, 1, 10, 6), "amavis", txlog.StatusScanned, "Blocked SPAM", "", txlog.Inbound, "")
	row(at(10, 3, 10, 6), "amavis", txlog.StatusScanned, "Blocked INFECTED", "", txlog.Inbound, "")
	row(at(10, 3, 10, 7), "rspamd", txlog.StatusScanned, "rspamd add header", "", txlog.Inbound, "")
	row(at(10, 3, 10, 8), "postgrey", txlog.StatusGreylisted, "", "", txlog.Inbound, "")
	row(at(10, 2, 9, 0), "postfix", txlog.StatusSent, "", "x@Gmail.com", txlog.Outbound, "k4")
	row(at(10, 2, 9, 1), "postfix", txlog.StatusSent, "", "y@gmail.com", txlog.Outbound, "k5")
	row(at(10, 1, 10, 1), "postfix", txlog.StatusSent, "", "ann@example.edu", txlog.Inbound, "k1")
	row(at(10, 1, 10, 6), "postfix", txlog.StatusBounced, "", "nobody@example.edu", txlog.Inbound, "k2")
	b.Rows = append(b.Rows,
		txlog.Row{Time: at(10, 5, 9, 0), Source: "postfix", Node: "mx1", Status: txlog.StatusRejected, Stage: "RCPT", Code: 550,
			Reply: "<zz@example.edu>: Recipient address rejected: User unknown in virtual mailbox table"},
		txlog.Row{Time: at(10, 5, 9, 1), Source: "postfix", Node: "mx1", Status: txlog.StatusRejected, Stage: "RCPT", Code: 550,
			Reply: "<yy@example.edu>: Recipient address rejected: User unknown in virtual mailbox table"},
		txlog.Row{Time: at(10, 5, 9, 2), Source: "postfix", Node: "mx1", Status: txlog.StatusRejected, Stage: "header", Code: 550,
			Reply: "Subject: make money fast: 5.7.1 message content rejected"})
	b.Sessions = append(b.Sessions,
		txlog.Session{Time: at(10, 1, 9, 5), Node: "imap", Source: "dovecot", Service: "imap", User: "ann", Reads: 3, ReadBytes: 3000},
		txlog.Session{Time: at(10, 2, 9, 5), Node: "imap", Source: "dovecot", Service: "pop3", User: "dan", Reads: 2, ReadBytes: 500},
		txlog.Session{Time: at(9, 20, 9, 5), Node: "imap", Source: "dovecot", Service: "imap", User: "old", Reads: 1, ReadBytes: 10})
	login := func(ts time.Time, svc, user string, ok bool) {
		src := "dovecot"
		switch svc {
		case "webmail":
			src = "roundcube"
		case "submission":
			src = "postfix"
		}
		b.Logins = append(b.Logins, txlog.Login{Time: ts, Node: "imap", Source: src, Service: svc, User: user, OK: ok})
	}
	login(at(9, 20, 9, 0), "imap", "old", true)
	login(at(10, 1, 9, 0), "imap", "ann", true)
	login(at(10, 1, 9, 1), "imap", "bob", false)
	login(at(10, 1, 9, 2), "webmail", "ann", true)
	login(at(10, 2, 9, 3), "submission", "cid", true)
	login(at(10, 2, 9, 4), "pop3", "dan", true)
	if err := txlogstore.New(db).EnsureLogPartitions(ctx, at(9, 1, 0, 0), at(11, 3, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if err := txlogstore.New(db).WriteBatch(ctx, &b, nil); err != nil {
		t.Fatal(err)
	}
	from, to := at(8, 31, 0, 0), at(11, 3, 0, 0)
	if err := (rollup.Jobs{Store: txlogstore.New(db), Location: loc}).RollRange(ctx, from, to); err != nil {
		t.Fatal(err)
	}
	boxes := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("u%02d@example.edu", i))
		}
		return out
	}
	for _, s := range []struct {
		snap     rollup.DirectorySnapshot
		domains  []string
		boxes    []string
		extra    int64
		noCensus bool
	}{
		{rollup.DirectorySnapshot{Day: at(9, 30, 12, 0), Domains: 3, Mailboxes: 10, AllottedBytes: 30e9, UsedBytes: 5e9, TakenAt: at(9, 30, 12, 0)},
			[]string{"a.example", "b.example", "c.example"}, boxes(10), 10e9, false},
		// u00 and u01 removed, u10–u13 added: 10 − 2 + 4 = 12.
		{rollup.DirectorySnapshot{Day: at(10, 31, 12, 0), Domains: 4, Mailboxes: 12, AllottedBytes: 40e9, UsedBytes: 6e9, TakenAt: at(10, 31, 12, 0)},
			[]string{"a.example", "b.example", "c.example", "d.example"}, boxes(14)[2:], 16e9, false},
		{rollup.DirectorySnapshot{Day: at(11, 1, 12, 0), Domains: 9, Mailboxes: 99, AllottedBytes: 99e9, TakenAt: at(11, 1, 12, 0)}, nil, nil, 0, true},
	} {
		if err := txlogstore.New(db).SaveDirectorySnapshot(ctx, s.snap); err != nil {
			t.Fatal(err)
		}
		if !s.noCensus {
			if err := txlogstore.New(db).SaveDirectoryCensus(ctx, s.snap.Day, s.domains, s.boxes, s.extra); err != nil {
				t.Fatal(err)
			}
		}
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	m := storage.Micros
	for _, n := range []struct {
		kind, services string
		start, end     time.Time
	}{
		{"outage", `["imap"]`, at(10, 8, 13, 0), at(10, 8, 13, 30)},
		{"maintenance", `["smtp","submission"]`, at(10, 27, 6, 0), at(10, 27, 7, 0)},
	} {
		exec(`INSERT INTO notices (kind, title, services, state, public, started_at, ended_at, language, thread_id, created_at, updated_at)
			VALUES (?, 'Tromsø', ?, 'resolved', 1, ?, ?, 'en', ?, ?, ?)`, n.kind, n.services, m(n.start), m(n.end), n.kind+n.services, m(n.start), m(n.end))
	}
	var inc7, inc8 int64
	if err := db.QueryRow(ctx, `INSERT INTO oncall_incidents (ikey, source, title, severity, status, policy, round_start, opened_at, acked_at, resolved_at, labels, updated_at)
		VALUES ('k7', 'alertmanager', 'IMAP down', 'critical', 'resolved', 'default', ?, ?, ?, ?, '{"service":"imap"}', ?) RETURNING id`,
		m(at(10, 8, 13, 20)), m(at(10, 8, 13, 20)), m(at(10, 8, 13, 25)), m(at(10, 8, 13, 50)), m(at(10, 8, 13, 50))).Scan(&inc7); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `INSERT INTO oncall_incidents (ikey, source, title, severity, status, policy, round_start, opened_at, resolved_at, labels, updated_at)
		VALUES ('k8', 'alertmanager', 'Queue high', 'warning', 'resolved', 'default', ?, ?, ?, '{"service":"smtp"}', ?) RETURNING id`,
		m(at(10, 9, 3, 0)), m(at(10, 9, 3, 0)), m(at(10, 9, 4, 0)), m(at(10, 9, 4, 0))).Scan(&inc8); err != nil {
		t.Fatal(err)
	}
	for _, p := range []struct {
		key, channel string
		inc          int64
		ts           time.Time
	}{
		{"p1", "slack", inc7, at(10, 8, 13, 21)}, {"p2", "email", inc7, at(10, 8, 13, 21)}, {"p3", "slack", inc8, at(10, 9, 3, 1)},
	} {
		exec(`INSERT INTO oncall_pages (pkey, incident_id, member, channel, kind, created_at, result) VALUES (?, ?, 'kari', ?, 'page', ?, 'sent')`,
			p.key, p.inc, p.channel, m(p.ts))
	}
	if err := ticketstore.New(db).TicketSavePolicy(ctx, "default", "v1", []byte(`{}`), at(9, 1, 0, 0)); err != nil {
		t.Fatal(err)
	}
	tk := func(title string, opened time.Time, respond time.Duration, resolved time.Time, status string) {
		t.Helper()
		tt := tickets.Ticket{Title: title, Service: "imap", Severity: "major", Source: "helpdesk", State: "open", Language: "en",
			Policy: "default", PolicyVersion: "v1", NotifiedAt: opened, OpenedAt: opened, UpdatedAt: opened,
			RespondedAt: opened.Add(respond), ResolvedAt: resolved,
			Clocks: []tickets.Clock{{Kind: "response", Status: status, InsideHours: true, Target: time.Hour, Start: opened, UpdatedAt: opened}}}
		if _, err := ticketstore.New(db).TicketCreate(ctx, tt, nil); err != nil {
			t.Fatal(err)
		}
	}
	tk("IMAP slow in Tromsø", at(10, 8, 13, 5), 10*time.Minute, at(10, 8, 15, 0), "met")
	tk("Late answer", at(10, 12, 10, 0), 90*time.Minute, at(10, 13, 10, 0), "breached")
	tk("Still open", at(10, 30, 10, 0), 5*time.Minute, time.Time{}, "met")
}

// source is the report's data on db, from the stores that own it.
func source(db *storage.DB) reportstore.Source {
	return reportstore.Source{TxLogData: txlogstore.New(db), TicketData: ticketstore.New(db), OnCallData: oncallstore.New(db),
		ProbeData: probestore.New(db, ticketstore.New(db))}
}

// TestConformanceReportsSource builds a report from the real tables of
// the collectors, tickets, notices and on-call, and checks its numbers
// against the data seedReportTables wrote.
func TestConformanceReportsSource(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		loc, _ := time.LoadLocation("Europe/Oslo")
		seedReportTables(t, db, loc)
		cfg := reports.DefaultConfig()
		cfg.TopDomains = 3
		p, _ := reports.ParsePeriod("2026-10", 1, loc)
		r, err := reports.Build(context.Background(), source(db), p, reports.Options{Config: cfg, Now: func() time.Time { return time.Date(2026, 11, 1, 7, 0, 0, 0, loc) }})
		if err != nil {
			t.Fatal(err)
		}
		// The units section reads the units service, which internal/app
		// adds to this source (reportSource.Units); alone it is missing.
		if len(r.Missing) != 1 || r.Missing[0] != "units" || len(r.Warnings) > 0 {
			t.Errorf("missing %v, warnings %v", r.Missing, r.Warnings)
		}
		const none = -1
		want := map[string][2]float64{
			"registrations.domains":           {4, 3},
			"registrations.mailboxes":         {12, 10},
			"registrations.mailboxes.added":   {4, none},
			"registrations.mailboxes.removed": {2, none},
			"registrations.domains.added":     {1, none},
			"registrations.allotted":          {40e9, 30e9},
			"registrations.used":              {6e9, 5e9},
			"registrations.extra":             {16e9, 10e9},
			"mail.accepted.count":             {6, 2},
			"mail.received.count":             {3, 2}, // inbound (one at 00:30 local on 1 Oct)
			"mail.received.bytes":             {3000, 200},
			"mail.sent.count":                 {3, 0}, // 1 internal + 2 outbound
			"mail.unknown.count":              {0, 0},
			"traffic.in":                      {3000, 200},
			"traffic.out":                     {4000, 0},
			"scan.spam":                       {2, none},
			"scan.virus":                      {1, none},
			"scan.greylisted":                 {1, none},
			"logins.ok":                       {4, 1},
			"logins.failed":                   {1, 0},
			"logins.imap.ok":                  {1, 1},
			"logins.smtp_auth.ok":             {1, 0},
			"logins.pop3.ok":                  {1, 0},
			"logins.webmail.ok":               {1, none},
			"reads.imap":                      {3, 1},
			"reads.pop3":                      {2, 0},
			"reads.all":                       {5, 1},
			"users.all":                       {3, 1}, // ann, cid, dan; bob failed; "old" in September
			"users.imap":                      {1, 1},
			"users.smtp_auth":                 {1, 0},
			"faults.opened":                   {3, 0},
			"faults.sla_compliance":           {2.0 / 3 * 100, none},
			"oncall.pages":                    {2, 0},
		}
		for key, w := range want {
			f, ok := r.FigureByKey(key)
			if !ok {
				t.Errorf("no figure %s", key)
				continue
			}
			if !f.Known() || math.Abs(f.Current-w[0]) > 1e-9 {
				t.Errorf("%s = %v (missing %q), want %v", key, f.Current, f.Missing, w[0])
			}
			switch {
			case w[1] == none && f.Previous != nil:
				t.Errorf("%s previous = %v, want none", key, *f.Previous)
			case w[1] != none && (f.Previous == nil || *f.Previous != w[1]):
				t.Errorf("%s previous = %v, want %v", key, f.Previous, w[1])
			}
		}
		// Without probes availability is missing; the notice and the
		// critical incident are listed as outages, the warning is none.
		for _, s := range r.Availability.Services {
			if s.Availability.Missing != reports.ReasonNoProbes || s.Measured {
				t.Errorf("%s availability %+v without probes", s.Service, s.Availability)
			}
		}
		var imapOutages int
		for _, o := range r.Availability.Outages {
			if o.Service == "imap" && !o.Planned {
				imapOutages++
			}
		}
		if imapOutages != 2 {
			t.Errorf("imap outages %d, want 2: %+v", imapOutages, r.Availability.Outages)
		}
		// The flow: k1 delivered locally, k2 bounced, k4 and k5 delivered
		// remotely, the rest removed without a delivery line.
		ft := r.Mail.Flow
		outcome := func(k string) int64 {
			for _, o := range ft.Outcomes {
				if o.Key == k {
					return o.Total
				}
			}
			return -1
		}
		if !ft.Balanced || ft.Sum.Total != 6 || outcome("delivered_local") != 1 || outcome("bounced") != 1 ||
			outcome("delivered_remote") != 2 || outcome("removed") != 2 {
			t.Errorf("flow %+v", ft)
		}
		if ft.Refused[0].Total != 2 || ft.Refused[2].Total != 1 {
			t.Errorf("refused %+v", ft.Refused)
		}
		if len(r.Faults.Breaches) != 1 || !strings.HasPrefix(r.Faults.Breaches[0].ID, "#") || r.Faults.Breaches[0].Title != "Late answer" {
			t.Errorf("breaches %+v", r.Faults.Breaches)
		}
		if len(r.Faults.Open) != 1 || r.Faults.Open[0].Title != "Still open" {
			t.Errorf("open %+v", r.Faults.Open)
		}
		if med, _ := r.FigureByKey("oncall.median_ack"); med.Current != 240 {
			t.Errorf("median ack %v s, want 240 (one page acked after 4 min, one never)", med.Current)
		}
		td := r.Tables
		if td == nil || td.SenderDomains == nil || len(td.SenderDomains.Top) != 3 || td.SenderDomains.Top[0].Name != "example.edu" ||
			td.SenderDomains.Top[0].Count != 3 || td.SenderDomains.Top[1].Name != "uio.no" || td.SenderDomains.TotalCount != 6 ||
			td.RecipientDomains == nil || len(td.RecipientDomains.Top) != 2 || td.RecipientDomains.Top[0].Name != "gmail.com" || td.RecipientDomains.Top[0].Count != 2 {
			t.Errorf("tables %+v %+v", td.SenderDomains, td.RecipientDomains)
		}
		if td.Senders != nil {
			t.Errorf("senders shown without reports.top_addresses")
		}
		if td.RejectsTotal != 3 || len(td.Rejects) != 2 || td.Rejects[0].Count != 2 ||
			td.Rejects[0].Reason != "Recipient address rejected: User unknown in virtual mailbox table" || td.BouncesTotal != 1 {
			t.Errorf("reasons %+v (total %d), bounces %d", td.Rejects, td.RejectsTotal, td.BouncesTotal)
		}
		// October's mail logs (Postfix) cover 1, 2 and 5 October; the 3rd
		// has the content filter's and greylisting's only.
		for _, g := range r.Coverage.Groups {
			if g.Group == reports.CoverMail && (g.WithData != 3 || g.Days != 31) {
				t.Errorf("mail coverage %+v", g)
			}
		}
		if f, _ := r.FigureByKey("mail.received.count"); f.DaysWithData != 3 || f.Days != 31 || f.Change != nil || f.NoChange != reports.ReasonPartial {
			t.Errorf("mail received %+v: want the days with data and no change", f)
		}
	})
}

// TestConformanceReportToDate: a report built 15 minutes into a period,
// with pop3 down since before the period and still down, ends the outage
// at the build time and measures availability to date: 15 minutes
// measured, all down — not the rest of the month.
func TestConformanceReportToDate(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		loc, _ := time.LoadLocation("Europe/Oslo")
		p, _ := reports.ParsePeriod("2026-11", 1, loc)
		now := p.Start.Add(15 * time.Minute)
		ps := probestore.New(db, ticketstore.New(db))
		for _, r := range []probe.Result{
			{Probe: "pop3-balancer", Service: "pop3", Kind: probe.KindPOP3, At: p.Start.Add(-2 * time.Hour), OK: true},
			{Probe: "imap-balancer", Service: "imap", Kind: probe.KindIMAP, At: p.Start.Add(-2 * time.Hour), OK: true},
			{Probe: "pop3-balancer", Service: "pop3", Kind: probe.KindPOP3, At: p.Start.Add(-time.Hour), OK: false, Error: "connection refused"},
			{Probe: "pop3-balancer", Service: "pop3", Kind: probe.KindPOP3, At: p.Start.Add(10 * time.Minute), OK: false, Error: "connection refused"},
			{Probe: "imap-balancer", Service: "imap", Kind: probe.KindIMAP, At: p.Start.Add(10 * time.Minute), OK: true},
		} {
			if _, _, err := ps.SaveProbeResult(ctx, r, "test"); err != nil {
				t.Fatal(err)
			}
		}
		r, err := reports.Build(ctx, source(db), p, reports.Options{Config: reports.DefaultConfig(), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		if !r.ToDate || !r.DataEnd.Equal(now) {
			t.Fatalf("to date %v, data end %v", r.ToDate, r.DataEnd)
		}
		for _, s := range r.Availability.Services {
			switch s.Service {
			case "pop3":
				if !s.Measured || s.MeasuredMinutes != 15 || s.Unplanned != 15 || s.Availability.Current != 0 {
					t.Errorf("pop3 %+v: want 15 of 15 minutes down", s)
				}
			case "imap":
				if !s.Measured || s.MeasuredMinutes != 15 || s.Unplanned != 0 || s.Availability.Current != 100 {
					t.Errorf("imap %+v", s)
				}
			case "smtp":
				if s.Measured || s.Availability.Missing != reports.ReasonNoServiceProbe {
					t.Errorf("smtp without a probe: %+v", s)
				}
			}
		}
		var open int
		for _, o := range r.Availability.Outages {
			if o.Service == "pop3" {
				open++
				if !o.Ongoing || o.Minutes != 15 {
					t.Errorf("pop3 outage %+v: want ongoing, 15 minutes", o)
				}
			}
		}
		if open != 1 {
			t.Errorf("%d pop3 outages, want 1", open)
		}
	})
}

// TestConformanceDirectoryCensus: the daily census records names as
// intervals, so that the names present at any snapshot day, and the added
// and removed between two, are known; a census older than the newest
// changes only the extra capacity.
func TestConformanceDirectoryCensus(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		day := func(d int) time.Time { return time.Date(2026, 10, d, 3, 0, 0, 0, time.UTC) }
		for _, c := range []struct {
			d       int
			domains []string
			boxes   []string
			extra   int64
		}{
			{1, []string{"a.example"}, []string{"x@a.example", "y@a.example"}, 0},
			{2, []string{"a.example", "b.example"}, []string{"x@a.example", "Z@b.example"}, 3 << 30},
			{3, []string{"b.example"}, []string{"x@a.example", "z@b.example", "y@a.example"}, 1 << 30}, // y back
		} {
			if err := st.SaveDirectorySnapshot(ctx, rollup.DirectorySnapshot{Day: day(c.d), Domains: int64(len(c.domains)),
				Mailboxes: int64(len(c.boxes)), TakenAt: day(c.d)}); err != nil {
				t.Fatal(err)
			}
			if err := st.SaveDirectoryCensus(ctx, day(c.d), c.domains, c.boxes, c.extra); err != nil {
				t.Fatal(err)
			}
		}
		// An older census again: the names stay as they are.
		if err := st.SaveDirectoryCensus(ctx, day(1), []string{"zzz.example"}, nil, 7); err != nil {
			t.Fatal(err)
		}
		check := func(kind string, a, b int, added, removed string, known bool) {
			t.Helper()
			ad, rm, k, err := st.DirectoryChanges(ctx, kind, day(a), day(b))
			if err != nil || k != known || fmt.Sprint(ad) != added || fmt.Sprint(rm) != removed {
				t.Errorf("%s %d→%d: added %v removed %v known %v (%v); want %s %s %v", kind, a, b, ad, rm, k, err, added, removed, known)
			}
		}
		check("mailbox", 1, 2, "[z@b.example]", "[y@a.example]", true)
		check("mailbox", 2, 3, "[y@a.example]", "[]", true)
		check("mailbox", 1, 3, "[z@b.example]", "[]", true)
		check("domain", 1, 3, "[b.example]", "[a.example]", true)
		check("domain", 1, 1, "[]", "[]", true)
		// Before the first census nothing is known.
		if _, _, k, _ := st.DirectoryChanges(ctx, "domain", day(1).Add(-48*time.Hour), day(3)); k {
			t.Error("changes known before the first census")
		}
		snap, ok, err := st.DirectorySnapshotAt(ctx, day(3).Add(time.Hour))
		if err != nil || !ok || snap.ExtraBytes != 1<<30 {
			t.Errorf("snapshot %+v %v %v", snap, ok, err)
		}
		if snap, _, _ := st.DirectorySnapshotAt(ctx, day(1).Add(time.Hour)); snap.ExtraBytes != 7 {
			t.Errorf("day 1 extra %d, want 7 (the census of the day updates it)", snap.ExtraBytes)
		}
		if err := st.SaveDirectorySnapshot(ctx, rollup.DirectorySnapshot{Day: day(4), TakenAt: day(4)}); err != nil {
			t.Fatal(err)
		}
		if snap, _, _ := st.DirectorySnapshotAt(ctx, day(4).Add(time.Hour)); snap.ExtraBytes != -1 {
			t.Errorf("a snapshot without census: extra %d, want −1", snap.ExtraBytes)
		}
	})
}

// TestConformanceActiveUserDays: the record of active users per local day
// counts distinct accounts over any run of days, per service, after the
// raw login log is gone.
func TestConformanceActiveUserDays(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		loc, _ := time.LoadLocation("Europe/Oslo")
		st := txlogstore.New(db)
		at := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, loc) }
		var b txlog.Batch
		login := func(ts time.Time, src, svc, user string, ok bool) {
			b.Logins = append(b.Logins, txlog.Login{Time: ts, Source: src, Service: svc, User: user, OK: ok})
		}
		login(at(1, 0), "dovecot", "imap", "ann", true) // 30 Sep 22:00 UTC: 1 October here
		login(at(1, 9), "dovecot", "imap", "ann", true)
		login(at(1, 9), "dovecot", "pop3", "bob", true)
		login(at(2, 9), "dovecot", "imap", "bob", true)
		login(at(2, 9), "dovecot", "imap", "eve", false)
		login(at(2, 9), txlog.SourceDovecotAuth, "", "mal", false)
		login(at(3, 23), "postfix", "submission", "cid", true)
		if err := st.EnsureLogPartitions(ctx, at(1, 0).Add(-48*time.Hour), at(5, 0)); err != nil {
			t.Fatal(err)
		}
		if err := st.WriteBatch(ctx, &b, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.ComputeUserDays(ctx, loc, at(1, 0), at(4, 0)); err != nil {
			t.Fatal(err)
		}
		// Again, and after the raw log is purged: nothing is lost or doubled.
		if _, err := st.PurgeLogs(ctx, at(5, 0), 100); err != nil {
			t.Fatal(err)
		}
		if err := st.ComputeUserDays(ctx, loc, at(1, 0), at(4, 0)); err != nil {
			t.Fatal(err)
		}
		count := func(from, to time.Time, svcs []string) int64 {
			t.Helper()
			n, err := st.ActiveUsersIn(ctx, from, to, svcs)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := count(at(1, 0), at(4, 0), nil); n != 3 {
			t.Errorf("all %d, want 3 (ann, bob, cid)", n)
		}
		if n := count(at(1, 0), at(2, 0), []string{"imap"}); n != 1 {
			t.Errorf("imap on the 1st %d, want 1", n)
		}
		if n := count(at(1, 0), at(4, 0), []string{"imap"}); n != 2 {
			t.Errorf("imap %d, want 2", n)
		}
		if n := count(at(1, 0), at(4, 0), []string{"smtp", "submission"}); n != 1 {
			t.Errorf("smtp auth %d, want 1", n)
		}
		svcs, days, err := st.UserDayServices(ctx, at(1, 0), at(4, 0))
		if err != nil || fmt.Sprint(svcs) != "[imap pop3 submission]" || days != 3 {
			t.Errorf("services %v days %d %v", svcs, days, err)
		}
	})
}

// TestConformanceCorpusReadsAndUsers imports the real Postfix corpus
// (collectors/corpus/postfix: Dovecot 2.3 on a real host) through the
// import path and checks the report's messages read and active users per
// protocol against the corpus generator's own truth.json (the IMAP
// clients' FETCH BODY[] and the POP3 clients' RETR, and the accounts that
// logged in).
func TestConformanceCorpusReadsAndUsers(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "..", "collectors", "corpus", "postfix")
	raw, err := os.ReadFile(filepath.Join(dir, "truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	var truth struct {
		MailboxReads struct {
			IMAPTotal int64 `json:"imap_total"`
			POP3Total int64 `json:"pop3_total"`
		} `json:"mailbox_reads"`
		ActiveUsers map[string][]string `json:"active_users"`
	}
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		loc, _ := time.LoadLocation("Europe/Oslo")
		st := txlogstore.New(db)
		p := ingest.New(ingest.Options{Store: st, BatchSize: 2000})
		files := []string{filepath.Join(dir, "mx1", "postfix.log"), filepath.Join(dir, "mx1", "mail.log"),
			filepath.Join(dir, "smtp", "mail.log"), filepath.Join(dir, "imap", "mail.log")}
		stats, err := ingest.Import(ctx, p, ingest.ImportOptions{Files: files, Loc: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		if err := (rollup.Jobs{Store: st, Location: loc}).RollRange(ctx, stats.First, stats.Last.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		period, _ := reports.ParsePeriod("2026-12", 1, loc)
		now := time.Date(2026, 12, 7, 12, 0, 0, 0, loc)
		r, err := reports.Build(ctx, source(db), period, reports.Options{Config: reports.DefaultConfig(), Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		for key, want := range map[string]int64{
			"reads.imap":      truth.MailboxReads.IMAPTotal, // 208
			"reads.pop3":      truth.MailboxReads.POP3Total, // 60
			"users.imap":      int64(len(truth.ActiveUsers["imap"])),
			"users.pop3":      int64(len(truth.ActiveUsers["pop3"])),
			"users.smtp_auth": int64(len(truth.ActiveUsers["smtp"])),
		} {
			f, ok := r.FigureByKey(key)
			if !ok || !f.Known() || f.Current != float64(want) {
				t.Errorf("%s = %+v, want %d", key, f, want)
			}
		}
		all := map[string]bool{}
		for _, us := range truth.ActiveUsers {
			for _, u := range us {
				all[u] = true
			}
		}
		if f, _ := r.FigureByKey("users.all"); f.Current != float64(len(all)) {
			t.Errorf("users.all = %v, want %d", f.Current, len(all))
		}
		// No webmail in this system: its reads and logins are missing, not 0.
		if f, _ := r.FigureByKey("reads.webmail"); f.Known() {
			t.Errorf("webmail reads %+v", f)
		}
	})
}
