package txlogstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// tablesBatch is a day of traffic whose tables are known: three messages
// from ann (two received, one refused), one from bob, deliveries, a
// deferral to a slow domain for two recipients, a bounce, rejects and
// warnings.
func tablesBatch() *txlog.Batch {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 22, h, m, 0, 0, time.UTC) }
	b := &txlog.Batch{}
	msg := func(ts time.Time, key, from string, size int64, state string) {
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: ts, LastSeen: ts, Node: "mx", Source: "postfix",
			Direction: txlog.Outbound, MsgKey: key, Origin: "smtpd", Service: "submission", State: state,
			QueueIDs: []string{key}, MailFrom: from, Size: size, NRcpt: 1, Received: 1})
	}
	row := func(ts time.Time, key, rcpt, status, reply string, size int64) {
		b.Rows = append(b.Rows, txlog.Row{Time: ts, Node: "mx", Source: "postfix", Direction: txlog.Outbound, MsgKey: key,
			Rcpt: rcpt, Size: size, Status: status, Reply: reply, Agent: "smtp"})
	}
	msg(at(9, 10), "K1", "Ann@Uni.example", 1000, "removed")
	msg(at(9, 50), "K2", "ann@uni.example", 3000, "removed")
	msg(at(10, 5), "K3", "ann@uni.example", 9000, "refused")
	msg(at(10, 20), "K4", "bob@dept.uni.example", 500, "removed")
	row(at(9, 11), "K1", "x@far.example", txlog.StatusSent, "250 2.0.0 Ok: queued as 1A2B3", 1000)
	row(at(9, 11), "K1", "y@far.example", txlog.StatusSent, "250 2.0.0 Ok: queued as 1A2B4", 1000)
	row(at(9, 51), "K2", "x@far.example", txlog.StatusSent, "250 ok", 3000)
	row(at(9, 52), "K2", "s1@slow.example", txlog.StatusDeferred, "host mx.slow.example[192.0.2.1] said: 451 4.7.1 <s1@slow.example>: Try again (attempt 1)", 3000)
	row(at(10, 21), "K2", "s2@slow.example", txlog.StatusDeferred, "host mx.slow.example[192.0.2.1] said: 451 4.7.1 <s2@slow.example>: Try again (attempt 2)", 3000)
	row(at(10, 22), "K4", "nouser@closed.example", txlog.StatusBounced, "host mx.closed.example[192.0.2.2] said: 550 5.1.1 <nouser@closed.example>: no such user", 500)
	// a hand-off is no delivery
	b.Rows = append(b.Rows, txlog.Row{Time: at(9, 11), Node: "mx", Source: "postfix", MsgKey: "K1", Rcpt: "x@far.example",
		Size: 1000, Status: txlog.StatusSent, Agent: "smtp", Handoff: true})
	for i, ip := range []string{"198.51.100.1", "198.51.100.2", "198.51.100.3"} {
		b.Rows = append(b.Rows, txlog.Row{Time: at(10, 30+i), Node: "mx", Source: "postfix", Direction: txlog.Inbound,
			ClientIP: ip, Rcpt: "u@uni.example", Status: txlog.StatusRejected, Stage: "RCPT", Code: 554,
			Reply: "<u@uni.example>: Relay access denied"})
	}
	for i := range 3 {
		b.Warnings = append(b.Warnings, txlog.Warning{Time: at(10, 40+i), Node: "mx", Program: "postfix/submission/smtpd",
			Severity: "warning", Text: "unknown[198.51.100." + string(rune('1'+i)) + "]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=u" + string(rune('a'+i))})
	}
	b.Warnings = append(b.Warnings, txlog.Warning{Time: at(10, 50), Node: "mx", Program: "postfix/qmgr", Severity: "fatal",
		Text: "open lock file pid/master.pid: cannot open file: Permission denied"})
	return b
}

func TestConformanceSummaryTables(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := txlogstore.New(db)
		if err := s.WriteBatch(ctx, tablesBatch(), nil); err != nil {
			t.Fatal(err)
		}
		oslo, err := time.LoadLocation("Europe/Oslo")
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.SummaryTables(ctx, time.Time{}, time.Time{}, 2, oslo)
		if err != nil {
			t.Fatal(err)
		}
		want := txlog.Tables{Top: 2, Zone: "Europe/Oslo",
			TopSenders:       []txlog.Traffic{{Key: "ann@uni.example", Count: 2, Bytes: 4000}, {Key: "bob@dept.uni.example", Count: 1, Bytes: 500}},
			TopRecipients:    []txlog.Traffic{{Key: "x@far.example", Count: 2, Bytes: 4000}, {Key: "y@far.example", Count: 1, Bytes: 1000}},
			SendingDomains:   []txlog.Traffic{{Key: "uni.example", Count: 2, Bytes: 4000}, {Key: "dept.uni.example", Count: 1, Bytes: 500}},
			ReceivingDomains: []txlog.Traffic{{Key: "far.example", Count: 3, Bytes: 5000}, {Key: "closed.example", Bounced: 1}},
			DeferralReasons: []txlog.ReasonCount{{Reason: "host mx.slow.example[…] said: 451 4.7.1 <…>: Try again (attempt N)", Count: 2,
				Example: "host mx.slow.example[192.0.2.1] said: 451 4.7.1 <s1@slow.example>: Try again (attempt 1)"}},
			BounceReasons: []txlog.ReasonCount{{Reason: "host mx.closed.example[…] said: 550 5.1.1 <…>: no such user", Count: 1,
				Example: "host mx.closed.example[192.0.2.2] said: 550 5.1.1 <nouser@closed.example>: no such user"}},
			RejectReasons: []txlog.ReasonCount{{Reason: "<…>: Relay access denied", Count: 3, Example: "<u@uni.example>: Relay access denied"}},
			Warnings: []txlog.WarningCount{
				{Severity: "warning", Program: "postfix/submission/smtpd", Text: "host[…]: SASL LOGIN authentication failed: (reason unavailable)", Count: 3,
					Example: "unknown[198.51.100.1]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=ua"},
				{Severity: "fatal", Program: "postfix/qmgr", Text: "open lock file pid/master.pid: cannot open file: Permission denied", Count: 1,
					Example: "open lock file pid/master.pid: cannot open file: Permission denied"}},
		}
		// the hours in Oslo (UTC+1 in November): 10, 11
		h10 := time.Date(2026, 11, 22, 10, 0, 0, 0, oslo)
		h11 := time.Date(2026, 11, 22, 11, 0, 0, 0, oslo)
		wantHours := []txlog.HourTraffic{{Hour: h10, Received: 2, Delivered: 3, Deferred: 1},
			{Hour: h11, Received: 1, Deferred: 1, Bounced: 1, Rejected: 3}}
		if diff := cmp.Diff(want, got, cmp.FilterPath(func(p cmp.Path) bool {
			f := p.Last().String()
			return f == ".Hourly" || f == ".ByHourOfDay"
		}, cmp.Ignore())); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
		if len(got.Hourly) != 2 || !got.Hourly[0].Hour.Equal(h10) || !got.Hourly[1].Hour.Equal(h11) {
			t.Fatalf("hours %+v", got.Hourly)
		}
		for i := range wantHours {
			g := got.Hourly[i]
			g.Hour = wantHours[i].Hour
			if g != wantHours[i] {
				t.Errorf("hour %d: %+v, want %+v", i, got.Hourly[i], wantHours[i])
			}
		}
		if d := got.ByHourOfDay[10]; d.Days != 1 || d.Received != 2 || d.Delivered != 3 || got.ByHourOfDay[9].Days != 0 {
			t.Errorf("hour of day %+v", got.ByHourOfDay)
		}
		// a period leaves out what lies outside it
		in, err := s.SummaryTables(ctx, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC), time.Time{}, 10, time.UTC)
		if err != nil {
			t.Fatal(err)
		}
		if len(in.TopSenders) != 1 || in.TopSenders[0].Key != "bob@dept.uni.example" || len(in.Warnings) != 2 {
			t.Errorf("since 10:00: %+v", in)
		}
		// retention removes old warnings with the logs
		if _, err := s.PurgeLogs(ctx, time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC), 100); err != nil {
			t.Fatal(err)
		}
		if after, err := s.SummaryTables(ctx, time.Time{}, time.Time{}, 10, time.UTC); err != nil || len(after.Warnings) != 0 || len(after.TopSenders) != 0 {
			t.Errorf("after purge: %v %+v", err, after)
		}
	})
}

func TestConformanceKnownAddresses(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		s := txlogstore.New(db)
		at := func(h int) time.Time { return time.Date(2026, 11, 22, h, 0, 0, 0, time.UTC) }
		if err := s.SaveKnownAddresses(ctx, []abusedetect.KnownAddress{
			{Account: "ann@uni.example", Address: "192.0.2.1", FirstSeen: at(10), LastSeen: at(11)},
			{Account: "ann@uni.example", Address: "192.0.2.2", FirstSeen: at(3), LastSeen: at(4)},
		}); err != nil {
			t.Fatal(err)
		}
		// again, earlier and later: the first sighting moves back, the last forward
		if err := s.SaveKnownAddresses(ctx, []abusedetect.KnownAddress{
			{Account: "ann@uni.example", Address: "192.0.2.1", FirstSeen: at(8), LastSeen: at(9)},
			{Account: "ann@uni.example", Address: "192.0.2.1", FirstSeen: at(12), LastSeen: at(14)},
		}); err != nil {
			t.Fatal(err)
		}
		n, err := s.ForgetKnownAddresses(ctx, at(5))
		if err != nil || n != 1 {
			t.Fatalf("forget: %d %v", n, err)
		}
		got, err := s.LoadKnownAddresses(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := []abusedetect.KnownAddress{{Account: "ann@uni.example", Address: "192.0.2.1", FirstSeen: at(8), LastSeen: at(14)}}
		if len(got) != 1 || got[0].Account != want[0].Account || got[0].Address != want[0].Address ||
			!got[0].FirstSeen.Equal(want[0].FirstSeen) || !got[0].LastSeen.Equal(want[0].LastSeen) {
			t.Fatalf("got %+v, want %+v", got, want)
		}
	})
}
