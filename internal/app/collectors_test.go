package app

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// mergedSample returns the lines of the two sample logs merged by time, as
// one mail.log would have them when Postfix logs through syslog.
func mergedSample(t *testing.T) []string {
	t.Helper()
	type line struct {
		t    time.Time
		text string
	}
	var all []line
	for _, name := range []string{"postfix.log", "syslog-mail.log"} {
		fh, err := os.Open(filepath.Join("../../../shared/samples/real-logs", name))
		if err != nil {
			t.Skipf("sample logs: %v", err)
		}
		fr := logparse.NewFramer(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			f, err := fr.Frame(sc.Text())
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, line{f.Time, sc.Text()})
		}
		fh.Close()
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	out := make([]string, len(all))
	for i, l := range all {
		out[i] = l.text
	}
	return out
}

func appendLines(t *testing.T, path string, lines []string) int64 {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	fi, _ := fh.Stat()
	fh.Close()
	return fi.Size()
}

// runLive runs the live pipeline on db until stop(offset) says so, then
// stops it as `postvakt serve` stops on SIGTERM.
func runLive(t *testing.T, cfg collectors.Config, db *storage.DB, flush bool, stop func(off int64) bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	store := txlogstore.New(db)
	cfg.LogTimezone = "UTC"
	r, loops, err := buildLive(ctx, liveOptions{cfg: cfg, store: store, logger: slog.New(slog.DiscardHandler), now: time.Now,
		flushOnStop: flush})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(loops)+1)
	for _, fn := range append(loops, r.Run) {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- fn(ctx) }()
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		cp, err := store.Checkpoint(ctx, "file:"+cfg.Files[0].Path)
		if err == nil && stop(cp.Offset) {
			break
		}
		if time.Now().After(deadline) {
			cancel()
			wg.Wait()
			t.Fatalf("the tailer did not get there in 5 minutes (checkpoint %+v, %v)", cp, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestTailStopAppendRestartEqualsImport (docs/collectors.md, "Restarts
// without loss or double counting"): a tailed file, the service stopped in
// the middle of reading it, lines appended, the service started again: the
// stored totals equal a one-shot import of the same file.
func TestTailStopAppendRestartEqualsImport(t *testing.T) {
	t.Parallel()
	lines := mergedSample(t)
	if testing.Short() {
		lines = lines[:6000] // the first 2½ minutes: still messages open at the stop
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	half := len(lines) / 2
	size1 := appendLines(t, path, lines[:half])

	cfg := collectors.Default()
	cfg.Files = []collectors.FileConfig{{Path: path}}
	cfg.Poll, cfg.Timezone, cfg.CommitInterval, cfg.BatchSize = true, "UTC", 10*time.Millisecond, 100
	// 1. stop while reading the first half. On a quiet machine the tailer
	// can read the rest of the half between the test's look at the
	// checkpoint and the stop taking effect; then it starts again on a
	// new database and stops earlier.
	var db *storage.DB
	var cp txlog.Checkpoint
	var open int
	for attempt, frac := 1, int64(4); ; attempt, frac = attempt+1, frac*4 {
		db = storagetest.Open(t, storage.SQLite)
		runLive(t, cfg, db, false, func(off int64) bool { return off > size1/frac })
		var err error
		if cp, err = txlogstore.New(db).Checkpoint(context.Background(), "file:"+path); err != nil {
			t.Fatal(err)
		}
		open = openAtCheckpoint(t, db)
		if cp.Offset < size1 && open > 0 {
			break
		}
		if attempt == 4 {
			// stopped at the very end of the first half, or nothing open:
			// the test would prove nothing
			t.Fatalf("not stopped mid-file with open messages in %d attempts: offset %d of %d, %d open", attempt, cp.Offset, size1, open)
		}
		t.Logf("attempt %d read to offset %d of %d (%d open): again, stopping earlier", attempt, cp.Offset, size1, open)
	}
	t.Logf("stopped at offset %d of %d (%d messages open)", cp.Offset, size1, open)
	// 2. append the rest while stopped, restart, read to the end, stop
	size2 := appendLines(t, path, lines[half:])
	runLive(t, cfg, db, true, func(off int64) bool { return off >= size2 })
	live, err := txlogstore.New(db).TxSummary(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	// the same file imported in one go
	db2 := storagetest.Open(t, storage.SQLite)
	po, err := PipelineOptions(cfg, txlogstore.New(db2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Import(context.Background(), ingest.New(po), ingest.ImportOptions{Files: []string{path}, Loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	once, err := txlogstore.New(db2).TxSummary(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if once.Received == 0 || once.Delivered == 0 || once.Greylisted == 0 {
		t.Fatalf("import stored nothing: %+v", once)
	}
	if d := cmp.Diff(once, live); d != "" {
		t.Errorf("tailed with a restart differs from a one-shot import (-import +tailed):\n%s", d)
	}
	if d := cmp.Diff(messageKeys(t, db2), messageKeys(t, db)); d != "" {
		t.Errorf("message records differ (-import +tailed):\n%s", d)
	}
	for _, table := range []string{"mail_tx", "mail_messages", "mail_logins"} {
		var a, b int
		db.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&a)
		db2.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&b)
		if a != b {
			t.Errorf("%s: %d rows tailed, %d imported", table, a, b)
		}
	}
}

// openAtCheckpoint is the number of messages open in the committed state.
func openAtCheckpoint(t *testing.T, db *storage.DB) int {
	t.Helper()
	st, err := txlogstore.New(db).Checkpoint(context.Background(), txlog.StateSource)
	if err != nil {
		t.Fatal(err)
	}
	p := ingest.New(ingest.Options{})
	if err := p.Restore(st); err != nil {
		t.Fatal(err)
	}
	return p.Correlator().Open()
}

// messageKeys lists the message records by key (a key can repeat: a
// fragment logged in the same second as its message).
func messageKeys(t *testing.T, db *storage.DB) map[string][]string {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT msg_key, state, queue_ids, origin FROM mail_messages ORDER BY msg_key, state, queue_ids, origin")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string][]string{}
	for rows.Next() {
		var k, s, q, o string
		if err := rows.Scan(&k, &s, &q, &o); err != nil {
			t.Fatal(err)
		}
		m[k] = append(m[k], s+" "+q+" "+o)
	}
	return m
}

// TestTraceAPIRolesMaskingAuditAndSyslog runs the service with a syslog
// listener: lines sent over TCP become findable through GET /api/v1/trace;
// helpdesk sees subjects masked, postmaster sees them, viewer is refused,
// and every search is in the audit log. It checks the wiring end to end
// (configuration, store, server, audit, syslog); the routes themselves are
// tested in internal/api/collectorsapi.
func TestTraceAPIRolesMaskingAuditAndSyslog(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.SMTP.Enabled = false // tests of the engine start it on free ports
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	syslogAddr := l.Addr().String()
	l.Close()
	cfg.Collectors.Syslog.TCP = syslogAddr
	cfg.Collectors.Timezone = "UTC"
	cfg.Collectors.CommitInterval = 20 * time.Millisecond
	// a message with a subject, as the engine records it
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrateUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	at := time.Now().Add(-time.Hour)
	if err := txlogstore.New(db).WriteBatch(ctx, &txlog.Batch{Messages: []txlog.MessageRow{{FirstSeen: at, LastSeen: at, Node: "mx1",
		Source: "engine", Direction: txlog.Inbound, MsgKey: "mx1/Q1", QueueIDs: []string{"Q1"}, MailFrom: "a@partner.example",
		Subject: "Exam results", Received: 1, State: "accepted"}}}, nil); err != nil {
		t.Fatal(err)
	}
	db.Close()
	helpdesk, postmaster, viewer := apiToken(t, cfg, auth.RoleHelpdesk), apiToken(t, cfg, auth.RolePostmaster), apiToken(t, cfg, auth.RoleViewer)
	app := startApp(t, cfg, time.Now)

	var page trace.Page
	if code := call(t, "GET", app.base+"/api/v1/trace?from=a@partner.example", viewer, nil, &page); code != http.StatusForbidden {
		t.Errorf("viewer: %d", code)
	}
	if code := call(t, "GET", app.base+"/api/v1/trace?from=A@Partner.example", helpdesk, nil, &page); code != 200 ||
		len(page.Messages) != 1 || page.Messages[0].Subject != trace.MaskedSubject {
		t.Errorf("helpdesk: %d %+v", code, page)
	}
	if code := call(t, "GET", app.base+"/api/v1/trace?subject=exam", helpdesk, nil, &page); code != http.StatusBadRequest {
		t.Errorf("helpdesk subject search: %d", code)
	}
	page = trace.Page{}
	if code := call(t, "GET", app.base+"/api/v1/trace?subject=exam", postmaster, nil, &page); code != 200 ||
		len(page.Messages) != 1 || page.Messages[0].Subject != "Exam results" {
		t.Errorf("postmaster: %d %+v", code, page)
	}
	if code := call(t, "GET", app.base+"/api/v1/trace", postmaster, nil, &page); code != http.StatusBadRequest {
		t.Errorf("no criteria: %d", code)
	}

	// syslog over TCP, octet counting (RFC 5424) and a plain RFC 3164 line
	c, err := net.Dial("tcp", syslogAddr)
	if err != nil {
		t.Fatal(err)
	}
	m1 := "<22>1 2026-11-22T10:53:12+00:00 mx postfix/smtpd 1 - - NOQUEUE: reject: RCPT from unknown[192.0.2.99]: 554 5.7.1 <x@foreign.example>: Relay access denied; from=<spam@bot.example> to=<x@foreign.example> proto=ESMTP helo=<bot>"
	fmt.Fprintf(c, "%d %s", len(m1), m1)
	fmt.Fprintf(c, "<22>Nov 22 10:53:13 mx dovecot: imap-login: Login: user=<u@uni.example>, method=PLAIN, rip=192.0.2.98, lip=127.0.0.1, mpid=1, session=<abc>\n")
	c.Close()
	eventually(t, 10*time.Second, "the syslog reject in trace", func() bool {
		page = trace.Page{}
		call(t, "GET", app.base+"/api/v1/trace?ip=192.0.2.99&status=rejected", helpdesk, nil, &page)
		return len(page.Messages) == 1 && len(page.Messages[0].Steps) == 1 && page.Messages[0].Steps[0].Code == 554
	})
	var sum txlog.Summary
	if code := call(t, "GET", app.base+"/api/v1/mail/summary?since=2026-11-01", viewer, nil, &sum); code != 200 ||
		sum.RejectedTotal != 1 || sum.Received != 1 || len(sum.Logins) != 1 {
		t.Errorf("summary: %d %+v", code, sum)
	}
	app.stop()

	db, err = storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := accessstore.New(db).ListAudit(ctx, time.Now().Add(-time.Hour), 100)
	if err != nil {
		t.Fatal(err)
	}
	actors := map[string]int{}
	for _, e := range entries {
		if e.Action == "trace.search" {
			actors[e.Actor]++
		}
	}
	if actors["token:test-helpdesk"] < 3 || actors["token:test-postmaster"] != 1 {
		t.Errorf("audited trace searches by actor: %v", actors)
	}
}
