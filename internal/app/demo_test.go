package app

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
)

// TestDemoMark (docs/demo.md): the demo never touches a database that is
// not a demo, and a real service refuses a demo database; a demo database
// of an earlier run is made afresh.
func TestDemoMark(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := config.Default()
	base.DataDir = t.TempDir()
	cfg, err := DemoConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(base.DataDir, DemoDatabase)
	if cfg.DatabaseURL() != "sqlite:"+path {
		t.Fatalf("demo database %s, want %s", cfg.DatabaseURL(), path)
	}
	// Nothing there yet: both may start.
	for _, demo := range []bool{false, true} {
		if err := checkDemoMark(ctx, cfg, demo); err != nil {
			t.Fatalf("no database, demo=%v: %v", demo, err)
		}
	}
	migrated := func(mark bool) {
		t.Helper()
		db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.MigrateUp(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if mark {
			if err := db.SetMark(ctx, storage.MarkDemo, "test", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	sum := func() [32]byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}

	// A real database where the demo's would be: the demo refuses it and
	// leaves it as it was.
	migrated(false)
	before := sum()
	if err := checkDemoMark(ctx, cfg, true); !errors.Is(err, errDemoDatabase) {
		t.Fatalf("demo on a real database: %v", err)
	}
	if sum() != before {
		t.Fatal("the demo changed a real database")
	}
	if err := checkDemoMark(ctx, cfg, false); err != nil {
		t.Fatalf("real service on a real database: %v", err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		_ = os.Remove(p)
	}

	// A demo database: the real service refuses it; the demo removes it
	// to start afresh.
	migrated(true)
	if err := checkDemoMark(ctx, cfg, false); !errors.Is(err, errDemoDatabase) {
		t.Fatalf("real service on a demo database: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the refusal removed the database: %v", err)
	}
	if err := checkDemoMark(ctx, cfg, true); err != nil {
		t.Fatalf("demo on a demo database: %v", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the earlier demo database is still there: %v", err)
	}
}

// TestShiftLog: the replayed log keeps the lines and their spacing and
// ends at the given instant, for RFC 3339 and traditional syslog stamps.
func TestShiftLog(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "in.log")
	in := "2026-12-07T05:51:12.500000+00:00 mx1 postfix/smtpd[1]: connect from a[192.0.2.1]\n" +
		"not a log line\n" +
		"Dec  7 05:52:12 imap dovecot: imap-login: Login: user=<a@uni.example>\n" +
		"2026-12-07T06:51:12.500000+00:00 mx1 postfix/smtpd[1]: disconnect from a[192.0.2.1]\n"
	if err := os.WriteFile(src, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	end := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	first, last, n, err := shiftLog(src, filepath.Join(dir, "out.log"), end)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(filepath.Join(dir, "out.log"))
	want := "2027-03-01T11:00:00.000000Z mx1 postfix/smtpd[1]: connect from a[192.0.2.1]\n" +
		"2027-03-01T11:00:59.500000Z imap dovecot: imap-login: Login: user=<a@uni.example>\n" +
		"2027-03-01T12:00:00.000000Z mx1 postfix/smtpd[1]: disconnect from a[192.0.2.1]\n"
	if string(out) != want || n != 3 || !last.Equal(end) || !first.Equal(end.Add(-time.Hour)) {
		t.Fatalf("shifted %d lines %s … %s:\n%s\nwant:\n%s", n, first, last, out, want)
	}
}

// startDemo runs the demo in-process on free ports, as `postvakt serve
// --demo` does, and returns its base URL and when it was started.
func startDemo(t *testing.T) (string, time.Time) {
	t.Helper()
	base := config.Default()
	base.DataDir = t.TempDir()
	base.HTTP.Listen = "127.0.0.1:" + freePort(t)
	cfg, err := DemoConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	// Free ports for the engine, and everything that talks to it.
	ports := map[string]string{}
	for _, a := range []string{cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen} {
		ports[a] = "127.0.0.1:" + freePort(t)
	}
	re := func(s *string) {
		if p, ok := ports[*s]; ok {
			*s = p
		}
	}
	re(&cfg.SMTP.MX.Listen)
	re(&cfg.SMTP.Submission.Listen)
	re(&cfg.Oncall.Email.Relay)
	re(&cfg.Notices.Relay.Addr)
	re(&cfg.Reports.Mail.SMTP)
	for i := range cfg.Probes.Targets {
		re(&cfg.Probes.Targets[i].Address)
	}
	cfg.Probes.Targets[len(cfg.Probes.Targets)-1].Address = "127.0.0.1:" + freePort(t) // nothing listens: the outage
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	corpus := filepath.Join(filepath.Dir(file), "..", "..", "collectors", "corpus", "postfix", "merged", "mail.log.gz")

	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	started := time.Now()
	go func() {
		done <- Run(ctx, Options{Config: cfg, Logger: logger, Demo: true, DemoPassword: testPassword, DemoSamples: []string{corpus},
			Ready: func(a net.Addr) { addr <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a.String(), started
	case err := <-done:
		t.Fatalf("the demo did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the demo did not start in 30 s")
	}
	return "", started
}

// TestDemo (docs/demo.md) walks the demo in headless Chromium as a
// newcomer would: within 60 s of start the Now page shows who is on call,
// firing incidents, probes (one down) and tickets with SLA clocks; the
// incidents page has resolved ones; the status page shows the outage and
// the planned maintenance; trace finds the replayed sample mail; the
// report of last month is archived. The expected titles are those the
// seed put in (demo.go). Screenshots of every page at desktop and phone
// width go to $POSTVAKT_SCREENSHOTS (make screenshots: docs/screenshots)
// or the test artifacts.
func TestDemo(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	out := os.Getenv("POSTVAKT_SCREENSHOTS")
	if out == "" {
		out = artifacts(t)
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	base, started := startDemo(t)
	b := newTestBrowser(t, exe, out, 6*time.Minute, 65*time.Second)
	do, text, eval := b.do, b.text, b.eval

	// Every part of the living system within 60 s of start.
	b.login(base, "demo")
	deadline := started.Add(60 * time.Second)
	var missing []string
	for {
		do("now page", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#h-inc`)))
		missing = missing[:0]
		for what, js := range map[string]string{
			"on call":         `document.querySelector("#oncall-ukevakt")?.innerText.trim() !== ""`,
			"firing incident": `document.body.innerText.includes("Outbound queue above 5000 on mx1")`,
			"probe down":      `[...document.querySelectorAll("#probes li")].some(li => li.innerText.includes("imap-lb") && li.innerText.includes("down"))`,
			"probe up":        `[...document.querySelectorAll("#probes li")].some(li => li.innerText.includes("mx-smtp") && li.innerText.includes("up"))`,
			"SLA clocks":      `document.querySelectorAll(".clock-breached").length > 0 && document.querySelectorAll(".clock").length > 4`,
			"mail flow":       `document.querySelector("#spark-received") !== null && !document.querySelector("#spark-received").innerText.startsWith(" 0 ")`,
		} {
			if eval(`String(`+js+`)`) != "true" {
				missing = append(missing, what)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if len(missing) > 0 {
		t.Fatalf("60 s after start the Now page lacks: %s", strings.Join(missing, ", "))
	}
	t.Logf("every part of the Now page filled %s after start", time.Since(started).Round(100*time.Millisecond))
	if n := eval(`String(document.querySelectorAll("#next-steps").length)`); n != "0" {
		t.Errorf("the demo, fully configured, still lists %s next-steps sections", n)
	}

	checks := []struct{ path, wait, js, what string }{
		{"/incidents?status=resolved", `h1`, `document.body.innerText.includes("Certificate of imap.uni.example expires in 10 days")`, "a resolved incident"},
		{"/rota", `h1`, `document.body.innerText.includes("Bjørn Dahl") || document.body.innerText.includes("bjorn")`, "the rota"},
		{"/tickets", `h1`, `document.body.innerText.includes("IMAP logins slow for staff") && document.querySelectorAll(".clock").length > 0`, "tickets with clocks"},
		{"/status", `h1`, `document.body.innerText.includes("IMAP unavailable for some users") && document.body.innerText.includes("Mail server upgrade")`, "the outage and the maintenance on the status page"},
		{"/reports", `h1`, fmt.Sprintf(`document.body.innerText.includes(%q)`, lastMonth(time.Now())), "last month's report"},
		{"/trace?to=jack.oneill%40uni.example&since=24h", `h1`, `Number(document.querySelector("#trace-count")?.innerText || "0") > 0`, "the replayed sample mail in trace"},
		{"/directory/mailboxes", `h1`, `document.body.innerText.includes("alice.martin@uni.example")`, "the demo mailboxes"},
	}
	for _, c := range checks {
		for {
			do(c.what, chromedp.Navigate(base+c.path), chromedp.WaitVisible(chromedp.CSS(c.wait)))
			if eval(`String(`+c.js+`)`) == "true" {
				break
			}
			if time.Now().After(deadline) {
				t.Errorf("60 s after start %s does not show %s", c.path, c.what)
				break
			}
			time.Sleep(time.Second)
		}
	}
	t.Logf("every page filled %s after start", time.Since(started).Round(100*time.Millisecond))

	// Screenshots: every page, desktop and phone.
	pages := []struct{ name, path string }{
		{"now", "/"}, {"rota", "/rota"}, {"tickets", "/tickets"}, {"ticket", "/tickets/1"},
		{"incidents", "/incidents"}, {"notices", "/notices"}, {"notice", "/notices/1"}, {"units", "/units"},
		{"directory", "/directory/mailboxes"}, {"mailbox", "/directory/mailboxes/alice.martin@uni.example"},
		{"mailbox-messages", "/directory/mailboxes/alice.martin@uni.example/messages"},
		{"quarantine", "/quarantine"}, {"trace", "/trace?status=bounced&since=24h"},
		{"reports", "/reports"}, {"admin", "/admin"}, {"runbooks", "/runbooks"}, {"runbook", "/runbooks/probe-failed"},
		{"status", "/status"}, {"status-history", "/status/history"}, {"incident", "/incidents/1"},
		{"spam-complaints", "/spam-complaints"},
	}
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 900}, {"phone", 412, 915}} {
		do("viewport "+size.name, chromedp.EmulateViewport(size.w, size.h))
		for _, p := range pages {
			do("screenshot "+p.name, chromedp.Navigate(base+p.path), chromedp.WaitVisible(chromedp.CSS(`body`)),
				b.capture(p.name+"-"+size.name+".jpg"))
			if size.name == "phone" {
				if w := eval(`String(document.documentElement.scrollWidth > window.innerWidth + 1 ? document.documentElement.scrollWidth : 0)`); w != "0" {
					t.Errorf("%s on a phone scrolls sideways: %s px wide", p.path, w)
				}
			}
		}
	}
	_ = text
	t.Logf("screenshots in %s", out)
}

// lastMonth is the label of the month before now's in the demo's zone.
func lastMonth(now time.Time) string {
	loc, _ := time.LoadLocation("Europe/Oslo")
	n := now.In(loc)
	return time.Date(n.Year(), n.Month(), 1, 0, 0, 0, 0, loc).AddDate(0, -1, 0).Format("2006-01")
}

// capture writes a full-page JPEG screenshot (smaller than PNG, for the
// docs) to the output folder.
func (b *testBrowser) capture(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		img, err := chromedp.FullScreenshot(70)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(b.out, name), img, 0o644)
	})
}
