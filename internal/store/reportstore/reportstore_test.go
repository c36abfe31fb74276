package reportstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
			MsgKey: fmt.Sprint("k", len(b.Messages)), MailFrom: from, State: "removed"})
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
	row := func(ts time.Time, status, verdict, rcpt string, dir txlog.Direction) {
		b.Rows = append(b.Rows, txlog.Row{Time: ts, Direction: dir, Status: status, AVVerdict: verdict, Rcpt: rcpt})
	}
	row(at(10, 1, 10, 0), txlog.StatusScanned, "Passed CLEAN", "", txlog.Inbound)
	row(at(10, 1, 10, 5), txlog.StatusScanned, "Passed CLEAN", "", txlog.Inbound)
	row(at(10, 1, 10, 6), txlog.StatusScanned, "Blocked SPAM", "", txlog.Inbound)
	row(at(10, 3, 10, 6), txlog.StatusScanned, "Blocked INFECTED", "", txlog.Inbound)
	row(at(10, 3, 10, 7), txlog.StatusScanned, "rspamd add header", "", txlog.Inbound)
	row(at(10, 3, 10, 8), txlog.StatusGreylisted, "", "", txlog.Inbound)
	row(at(10, 2, 9, 0), txlog.StatusSent, "", "x@Gmail.com", txlog.Outbound)
	row(at(10, 2, 9, 1), txlog.StatusSent, "", "y@gmail.com", txlog.Outbound)
	login := func(ts time.Time, svc, user string, ok bool) {
		b.Logins = append(b.Logins, txlog.Login{Time: ts, Source: "dovecot", Service: svc, User: user, OK: ok})
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
	for _, p := range []rollup.Period{rollup.Hour, rollup.Day} {
		if err := txlogstore.New(db).ComputeRollups(ctx, p, from, to); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []rollup.DirectorySnapshot{
		{Day: at(9, 30, 12, 0), Domains: 3, Mailboxes: 10, AllottedBytes: 30e9, TakenAt: at(9, 30, 12, 0)},
		{Day: at(10, 31, 12, 0), Domains: 4, Mailboxes: 12, AllottedBytes: 40e9, TakenAt: at(10, 31, 12, 0)},
		{Day: at(11, 1, 12, 0), Domains: 9, Mailboxes: 99, AllottedBytes: 99e9, TakenAt: at(11, 1, 12, 0)},
	} {
		if err := txlogstore.New(db).SaveDirectorySnapshot(ctx, s); err != nil {
			t.Fatal(err)
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
// the collectors, tickets, notices and on-call, and checks its numbers.
func TestConformanceReportsSource(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		loc, _ := time.LoadLocation("Europe/Oslo")
		seedReportTables(t, db, loc)
		cfg := reports.DefaultConfig()
		cfg.TopDomains = 3
		cfg.DefaultQuota = 2e9
		p, _ := reports.ParsePeriod("2026-10", 1, loc)
		r, err := reports.Build(context.Background(), source(db), p, reports.Options{Config: cfg, Now: func() time.Time { return time.Date(2026, 11, 1, 7, 0, 0, 0, loc) }})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Missing) > 0 {
			t.Errorf("missing %v", r.Missing)
		}
		want := map[string][2]float64{
			"registrations.domains":      {4, 3},
			"registrations.mailboxes":    {12, 10},
			"registrations.allotted":     {40e9, 30e9},
			"registrations.extra":        {16e9, 10e9},
			"mail.received.count":        {4, 2}, // 3 inbound + 1 internal (one at 00:30 local on 1 Oct)
			"mail.received.bytes":        {3500, 200},
			"mail.sent.count":            {2, 0},
			"traffic.in":                 {3000, 200},
			"traffic.out":                {4000, 0},
			"scan.spam":                  {2, 0},
			"scan.virus":                 {1, 0},
			"scan.greylisted":            {1, 0},
			"logins.ok":                  {4, 1},
			"logins.failed":              {1, 0},
			"logins.imap.ok":             {1, 1},
			"logins.smtp_auth.ok":        {1, 0},
			"logins.pop3.ok":             {1, 0},
			"registrations.active_users": {3, 0}, // ann, cid, dan; bob failed
			"faults.opened":              {3, 0},
			"faults.sla_compliance":      {66.7, 0},
			"oncall.pages":               {2, 0},
		}
		for key, w := range want {
			f, ok := r.FigureByKey(key)
			if !ok {
				t.Errorf("no figure %s", key)
				continue
			}
			if f.Current != w[0] {
				t.Errorf("%s = %v, want %v", key, f.Current, w[0])
			}
			if w[1] != 0 && (f.Previous == nil || *f.Previous != w[1]) {
				t.Errorf("%s previous = %v, want %v", key, f.Previous, w[1])
			}
		}
		// The login log starts on 20 September: too late to count September's
		// active users, so there is no previous value rather than a wrong one.
		if f, _ := r.FigureByKey("registrations.active_users"); f.Previous != nil {
			t.Errorf("active users previous = %v, want none", *f.Previous)
		}
		// IMAP: notice 13:00–13:30 and critical incident 13:20–13:50 are 50
		// minutes together; the warning incident on smtp is no outage.
		for _, s := range r.Availability.Services {
			switch s.Service {
			case "imap":
				if s.Unplanned != 50 {
					t.Errorf("imap downtime %v min, want 50", s.Unplanned)
				}
			case "smtp":
				if s.Unplanned != 0 || s.Planned != 60 {
					t.Errorf("smtp %v unplanned, %v planned", s.Unplanned, s.Planned)
				}
			}
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
		if td := r.TopDomains; td == nil || len(td.Senders) == 0 || td.Senders[0].Domain != "uio.no" || td.Senders[0].Count != 2 ||
			len(td.Recipients) != 1 || td.Recipients[0].Domain != "gmail.com" || td.Recipients[0].Count != 2 {
			t.Errorf("top domains %+v", r.TopDomains)
		}
	})
}
