package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/reports"
)

// BenchmarkWebPages measures every page of the web interface on the
// embedded database (SQLite) holding 10,000 tickets and 1 million
// transaction-log rows (docs/performance.md, "Web"), with
// the SMTP engine's directory holding 20,000 mailboxes, 200 notices and
// 500 quarantined messages, and a month of hourly rollups:
//
//	go test ./internal/app/ -run '^$' -bench BenchmarkWebPages -benchtime 20x
func BenchmarkWebPages(b *testing.B) {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(b.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	cfg.SMTP.Enabled = false
	cfg.Oncall.Members, cfg.Oncall.Rotas = testMembers, []rota.Spec{testRota}
	cfg.Oncall.Policies = []incident.PolicySpec{{Name: "mail", Rota: "ukevakt", Steps: []incident.StepSpec{{After: 0, Notify: []string{"oncall"}}}}}
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	mx := ln.Addr().String()
	ln.Close()
	cfg.SMTP = engine.Default()
	cfg.SMTP.Hostname = "mx.uni.example"
	cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen = mx, ""
	cfg.SMTP.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	// the probes of the status page, all answering (their history is seeded below)
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pl.Close()
	go acceptAndClose(pl)
	cfg.Probes.Enabled, cfg.Probes.RaiseIncidents = true, false
	for _, svc := range []string{"imap", "smtp", "webmail"} {
		cfg.Probes.Targets = append(cfg.Probes.Targets, probe.Target{Name: svc + "-tcp", Service: svc, Kind: probe.KindTCP, Address: pl.Addr().String()})
	}
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	runCtx, stop := context.WithCancel(context.Background())
	addr, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), Now: clock.Now, Ready: func(a net.Addr) { addr <- a }})
	}()
	var app string
	select {
	case a := <-addr:
		app = "http://" + a.String()
	case err := <-done:
		b.Fatal(err)
	}
	defer func() { stop(); <-done }()
	select {
	case err := <-done:
		b.Fatalf("postvakt stopped: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	webUsers(b, cfg, auth.RoleAdmin)
	tok := apiToken(b, cfg, auth.RoleAdmin)
	if code := call(b, "POST", app+"/api/v1/tickets", tok, map[string]any{"title": "seed", "service": cfg.Tickets.Services[0].ID}, nil); code != http.StatusCreated {
		select {
		case err := <-done:
			b.Fatalf("seed ticket: %d; postvakt stopped: %v", code, err)
		default:
			b.Fatalf("seed ticket: %d", code)
		}
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	start := time.Now()
	err = db.InTx(ctx, func(tx *storage.Tx) error {
		for i := 2; i <= 10000; i++ {
			state := tickets.StateClosed
			if i%20 == 0 {
				state = tickets.States[i/20%5]
			}
			if _, err := tx.Exec(ctx, `INSERT INTO tickets (title, service, severity, source, reporter, assignee, state, policy, policy_version,
				notified_at, opened_at, updated_at) SELECT ?, service, severity, source, reporter, assignee, ?, policy, policy_version,
				notified_at - ?, opened_at - ?, updated_at FROM tickets WHERE id = 1`,
				fmt.Sprintf("Ticket %d: mail to students delayed", i), state, int64(i)*60_000_000, int64(i)*60_000_000); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	base := clock.Now().Add(-30 * 24 * time.Hour)
	const rows, perBatch = 1_000_000, 20_000
	for n := 0; n < rows; n += perBatch {
		batch := &txlog.Batch{}
		for i := n; i < n+perBatch; i += 2 {
			at := base.Add(time.Duration(i) * 2500 * time.Millisecond)
			key := fmt.Sprintf("mx1:Q%07d", i)
			from := fmt.Sprintf("user%d@sender%d.example", i%5000, i%300)
			batch.Messages = append(batch.Messages, txlog.MessageRow{FirstSeen: at, LastSeen: at.Add(time.Second), Node: "mx1",
				Source: txlog.SourceEngine, Direction: txlog.Inbound, MsgKey: key, State: "removed", QueueIDs: []string{key[4:]},
				MailFrom: from, Subject: "Weekly newsletter", NRcpt: 1, ClientIP: "192.0.2.7"})
			batch.Rows = append(batch.Rows,
				txlog.Row{Time: at, Node: "mx1", Source: txlog.SourceEngine, Direction: txlog.Inbound, MsgKey: key, QueueID: key[4:],
					MailFrom: from, Rcpt: fmt.Sprintf("s%d@uni.example", i%20000), Status: "accepted"},
				txlog.Row{Time: at.Add(time.Second), Node: "mx1", Source: txlog.SourceEngine, Direction: txlog.Inbound, MsgKey: key,
					QueueID: key[4:], MailFrom: from, Rcpt: fmt.Sprintf("s%d@uni.example", i%20000), Status: "sent", DSN: "2.0.0", Relay: "lmtp"})
		}
		if err := txlogstore.New(db).WriteBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := txlogstore.New(db).ComputeRollups(ctx, rollup.Hour, base, clock.Now()); err != nil {
		b.Fatal(err)
	}
	eng := enginestore.New(db)
	if err := eng.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: base}); err != nil {
		b.Fatal(err)
	}
	for n := 0; n < 20000; n += 2000 {
		var mbs []directory.Mailbox
		for i := n; i < n+2000; i++ {
			mbs = append(mbs, directory.Mailbox{Address: fmt.Sprintf("s%d@uni.example", i), DisplayName: fmt.Sprintf("Student %d", i),
				QuotaBytes: 1 << 30, UsedBytes: int64(i) << 14, CreatedAt: base, UpdatedAt: base})
		}
		if _, err := eng.DirUpsertMailboxes(ctx, mbs, base); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 200 {
		if err := eng.DirPutAlias(ctx, directory.Alias{Address: fmt.Sprintf("list%d@uni.example", i), Kind: directory.KindList,
			Targets: []string{fmt.Sprintf("s%d@uni.example", i), fmt.Sprintf("s%d@uni.example", i+1)}}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 500 {
		if _, err := eng.QuarantineAdd(ctx, &quarantine.Item{QueueID: fmt.Sprintf("Q%d", i), At: base.Add(time.Duration(i) * time.Minute),
			Reason: "spam", MailFrom: "x@spam.example", Rcpts: []string{"s1@uni.example"}, Subject: "Cheap watches", Body: []byte("x")}); err != nil {
			b.Fatal(err)
		}
	}
	for i := range 200 {
		if code := call(b, "POST", app+"/api/v1/notices", tok, map[string]any{"kind": "outage", "title": fmt.Sprintf("Outage %d", i),
			"services": []string{cfg.Tickets.Services[0].ID}}, nil); code != http.StatusCreated {
			b.Fatalf("seed notice: %d", code)
		}
	}
	// greylisting of one sender (the trace folds it): 500 refusals, each
	// logged twice (Postfix's 450 and postgrey's line)
	grey := &txlog.Batch{}
	for i := range 500 {
		at := base.Add(time.Duration(i) * 80 * time.Minute)
		for _, src := range []string{"postfix", "postgrey"} {
			r := txlog.Row{Time: at, Node: "mx1", Source: src, Direction: txlog.Inbound, MailFrom: "user42@sender42.example",
				Rcpt: fmt.Sprintf("s%d@uni.example", i%20), ClientIP: "192.0.2.7", Status: txlog.StatusGreylisted}
			if src == "postfix" {
				r.Status, r.Code, r.Reply = txlog.StatusRejected, 450, "450 4.2.0 Recipient address rejected: Greylisted"
			}
			grey.Rows = append(grey.Rows, r)
		}
	}
	if err := txlogstore.New(db).WriteBatch(ctx, grey, nil); err != nil {
		b.Fatal(err)
	}
	// 90 days of probe results for the status page: three services, each
	// probe failing for 20 minutes every 6 hours (1,080 state changes a
	// service), and 20 maintenance notices
	ps := NewProbeStore(db)
	pbase := clock.Now().Add(-90 * 24 * time.Hour)
	for _, svc := range []string{"imap", "smtp", "webmail"} {
		for at := pbase; at.Before(clock.Now()); at = at.Add(6 * time.Hour) {
			for _, r := range []probe.Result{{At: at, OK: true}, {At: at.Add(3 * time.Hour), Error: "refused"}, {At: at.Add(3*time.Hour + 20*time.Minute), OK: true}} {
				r.Probe, r.Service, r.Kind, r.Attempts = svc+"-tcp", svc, probe.KindTCP, 1
				if _, _, err := ps.SaveProbeResult(ctx, r, "bench"); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for i := range 20 {
		st := pbase.Add(time.Duration(i) * 100 * time.Hour)
		if code := call(b, "POST", app+"/api/v1/notices", tok, map[string]any{"kind": "maintenance", "title": fmt.Sprintf("Maintenance %d", i),
			"services": []string{cfg.Tickets.Services[0].ID}, "started_at": st, "planned_end": st.Add(2 * time.Hour), "announce": false}, nil); code != http.StatusCreated {
			b.Fatalf("seed maintenance: %d", code)
		}
	}
	b.Logf("seeded 10,000 tickets, %d log rows, 20,000 mailboxes, 220 notices, 500 quarantined messages and 90 days of 3 probes in %s", rows, time.Since(start).Round(time.Second))

	c := newClient(b, app)
	if resp, _ := c.login("admin", testPassword); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %d", resp.StatusCode)
	}
	anon := newClient(b, app)
	for _, page := range []string{"/", "/rota", "/tickets", "/tickets?all=true", "/tickets/5000", "/incidents",
		"/trace?from=" + url.QueryEscape("user42@sender42.example"), "/trace?fold=0&from=" + url.QueryEscape("user42@sender42.example"),
		"/trace?to=" + url.QueryEscape("s42@uni.example") + "&period=720h", "/trace?status=bounced&direction=inbound&period=24h",
		"/trace.csv?from=" + url.QueryEscape("user42@sender42.example"),
		"/reports", "/admin",
		"/notices", "/notices?all=true&state=open", "/notices/new", "/notices/new?ticket=5000", "/notices/100",
		"/directory", "/directory/mailboxes", "/directory/mailboxes?q=s1999", "/directory/mailboxes?q=s1999&page=2", "/directory/mailboxes/s12345@uni.example",
		"/directory/aliases", "/quarantine",
		"/incidents?status=resolved", "/status", "/status/feed.atom", "/status/history", "/runbooks", "/runbooks/probe-failed", "/login"} {
		cl := c
		if page == "/login" { // the sign-in form is for the signed out
			cl = anon
		}
		b.Run(page, func(b *testing.B) {
			var worst time.Duration
			for b.Loop() {
				t0 := time.Now()
				if resp, body := cl.do("GET", page, nil, nil); resp.StatusCode != http.StatusOK {
					b.Fatalf("GET %s: %d %.300s", page, resp.StatusCode, body)
				}
				worst = max(worst, time.Since(t0))
			}
			b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
		})
	}
}
