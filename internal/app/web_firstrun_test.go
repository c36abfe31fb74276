package app

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
)

// logBuffer keeps what the service logs, for a test to read, and passes
// it on to the test log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	t   *testing.T
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.buf.Write(p)
	l.mu.Unlock()
	l.t.Logf("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}

func (l *logBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.buf.String() }

// startLogged runs postvakt on cfg like startApp and returns its base URL
// and its log.
func startLogged(t *testing.T, cfg *config.Config, now func() time.Time) (string, *logBuffer) {
	t.Helper()
	logs := &logBuffer{t: t}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := make(chan net.Addr, 1), make(chan error, 1)
	go func() {
		done <- Run(ctx, Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(logs, nil)), Now: now,
			Ready: func(a net.Addr) { addr <- a }})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("postvakt: %v", err)
		}
	})
	select {
	case a := <-addr:
		return "http://" + a.String(), logs
	case err := <-done:
		t.Fatalf("postvakt did not start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("postvakt did not start in 30 s")
	}
	return "", nil
}

// bareConfig is the default configuration on a temporary data directory,
// without the engine or the scheduler: what `make run` starts with.
func bareConfig(t *testing.T) *config.Config {
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.SMTP.Enabled = false
	cfg.Scheduler.Enabled = false
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var setupLinkRE = regexp.MustCompile(`first admin: .*?(http://[^ ]+/setup\?token=([A-Za-z0-9_-]+))`)

// setupLink is the one-time link of the log.
func setupLink(t *testing.T, logs *logBuffer) (link, token string) {
	t.Helper()
	m := setupLinkRE.FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no setup link in the log:\n%s", logs.String())
	}
	return m[1], m[2]
}

func users(t *testing.T, cfg *config.Config) []string {
	t.Helper()
	db, err := storage.Open(context.Background(), cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	list, err := accessstore.New(db).ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list {
		names = append(names, u.Name+":"+string(u.Role))
	}
	return names
}

// TestFirstRun (docs/web.md, "First run"): a fresh service logs its
// address and a one-time setup link; the sign-in form says how to make the
// first admin; the link makes one admin once, signs them in, and is in the
// audit log; the Now page then says what to configure, every empty state
// names its key and doc; the status page does not claim that unmonitored
// services work.
func TestFirstRun(t *testing.T) {
	t.Parallel()
	cfg := bareConfig(t)
	clock := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	base, logs := startLogged(t, cfg, clock.Now)
	if !strings.Contains(logs.String(), "web interface: open "+base+"/") {
		t.Errorf("the log does not say where the web interface is (%s)", base)
	}
	link, token := setupLink(t, logs)
	if !strings.HasPrefix(link, base+"/setup?token=") {
		t.Errorf("setup link %s is not on %s", link, base)
	}

	anon := newClient(t, base)
	if _, page := anon.do("GET", "/login", nil, nil); !strings.Contains(page, `id="first-run"`) || !strings.Contains(page, "postvakt user add --role admin") {
		t.Error("the sign-in form does not say how to make the first admin")
	}
	if _, page := anon.do("GET", "/status", nil, nil); !strings.Contains(page, "No services are monitored") || strings.Contains(page, "operating normally") {
		t.Error("with nothing monitored the status page claims the services work")
	}
	for _, bad := range []string{"", "x", token[:len(token)-1] + "A", strings.ToUpper(token)} {
		if bad == token {
			continue
		}
		if resp, _ := anon.do("GET", "/setup?token="+url.QueryEscape(bad), nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("setup with token %q: %d", bad, resp.StatusCode)
		}
		if resp, _ := anon.do("POST", "/setup", url.Values{"token": {bad}, "user": {"mallory"}, "password": {"long enough pw"}, "password2": {"long enough pw"}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("setup post with token %q: %d", bad, resp.StatusCode)
		}
	}
	if resp, page := anon.do("GET", "/setup?token="+token, nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="setup"`) {
		t.Fatalf("setup form: %d", resp.StatusCode)
	}
	// Bad input changes nothing and keeps the link.
	if resp, _ := anon.do("POST", "/setup", url.Values{"token": {token}, "user": {"boss"}, "password": {"long enough pw"}, "password2": {"other long pw"}}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("differing passwords: %d", resp.StatusCode)
	}
	if resp, _ := anon.do("POST", "/setup", url.Values{"token": {token}, "user": {"boss"}, "password": {"short"}, "password2": {"short"}}, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("short password: %d", resp.StatusCode)
	}
	if u := users(t, cfg); len(u) != 0 {
		t.Fatalf("bad input made users: %v", u)
	}

	admin := newClient(t, base)
	resp, _ := admin.do("POST", "/setup", url.Values{"token": {token}, "user": {"boss"}, "display_name": {"The Boss"},
		"password": {testPassword}, "password2": {testPassword}}, nil)
	if resp.StatusCode != http.StatusSeeOther || sessionCookie(resp) == nil {
		t.Fatalf("setup: %d, session %v", resp.StatusCode, sessionCookie(resp))
	}
	if u := users(t, cfg); len(u) != 1 || u[0] != "boss:admin" {
		t.Fatalf("users after setup: %v", u)
	}
	// Used up: neither the same link nor a racing second form works.
	if resp, _ := anon.do("POST", "/setup", url.Values{"token": {token}, "user": {"second"}, "password": {testPassword}, "password2": {testPassword}}, nil); resp.StatusCode == http.StatusSeeOther || resp.StatusCode == http.StatusOK {
		t.Errorf("the link worked twice: %d", resp.StatusCode)
	}
	if resp, _ := anon.do("GET", "/setup?token="+token, nil, nil); resp.StatusCode != http.StatusGone {
		t.Errorf("setup form after an admin exists: %d", resp.StatusCode)
	}
	if u := users(t, cfg); len(u) != 1 {
		t.Fatalf("users after reuse: %v", u)
	}
	if _, page := anon.do("GET", "/login", nil, nil); strings.Contains(page, `id="first-run"`) {
		t.Error("the sign-in form still offers the first run")
	}

	// The Now page says what to do next, with keys and doc pages.
	_, page := admin.do("GET", "/", nil, nil)
	for _, want := range []string{`id="next-steps"`, `id="next-oncall"`, "oncall.members, oncall.rotas", "docs/oncall.md",
		`id="next-probes"`, "probes.enabled, probes.targets", "docs/probes.md", `id="next-logs"`, "collectors.files",
		`id="next-announce"`, "notices.announce_to", `id="next-report"`, "reports.mail.to", `id="next-users"`,
		`id="h-probes"`, "Probes are off", "On-call is not configured", "nothing feeds the collectors yet"} {
		if !strings.Contains(page, want) {
			t.Errorf("Now page lacks %q", want)
		}
	}
	if strings.Contains(page, `id="next-paging"`) {
		t.Error("Now page asks for a paging channel while on-call itself is not configured")
	}
	for path, want := range map[string]string{"/rota": "oncall.members", "/incidents": "oncall:", "/reports": "",
		"/trace?from=x%40y.example": ""} {
		resp, page := admin.do("GET", path, nil, nil)
		if resp.StatusCode != http.StatusOK || (want != "" && !strings.Contains(page, want)) {
			t.Errorf("%s: %d, want %q in it", path, resp.StatusCode, want)
		}
	}

	// In the audit log, as the new admin.
	tok := apiToken(t, cfg, auth.RoleAdmin)
	var audit struct {
		Entries []auth.AuditEntry `json:"entries"`
	}
	call(t, "GET", base+"/api/v1/audit", tok, nil, &audit)
	found := false
	for _, e := range audit.Entries {
		if e.Action == "user.add" && e.Actor == "boss" && strings.Contains(e.Detail, "via=setup-link") {
			found = true
		}
	}
	if !found {
		t.Errorf("no user.add via the setup link in the audit log: %+v", audit.Entries)
	}
}

// TestFirstRunLinkEnds: the setup link expires after an hour, and an
// admin made otherwise (postvakt user add) ends it.
func TestFirstRunLinkEnds(t *testing.T) {
	t.Parallel()
	form := func(token string) url.Values {
		return url.Values{"token": {token}, "user": {"late"}, "password": {testPassword}, "password2": {testPassword}}
	}
	t.Run("expired", func(t *testing.T) {
		t.Parallel()
		cfg := bareConfig(t)
		clock := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		base, logs := startLogged(t, cfg, clock.Now)
		_, token := setupLink(t, logs)
		clock.Set(clock.Now().Add(time.Hour + time.Second))
		if resp, _ := newClient(t, base).do("POST", "/setup", form(token), nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("expired link: %d", resp.StatusCode)
		}
		if u := users(t, cfg); len(u) != 0 {
			t.Errorf("expired link made %v", u)
		}
	})
	t.Run("admin made elsewhere", func(t *testing.T) {
		t.Parallel()
		cfg := bareConfig(t)
		clock := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		base, logs := startLogged(t, cfg, clock.Now)
		_, token := setupLink(t, logs)
		webUsers(t, cfg, auth.RoleAdmin) // postvakt user add --role admin admin
		if resp, _ := newClient(t, base).do("POST", "/setup", form(token), nil); resp.StatusCode != http.StatusGone {
			t.Errorf("link after an admin was added: %d", resp.StatusCode)
		}
		if u := users(t, cfg); len(u) != 1 {
			t.Errorf("users: %v", u)
		}
	})
	t.Run("no link when an admin exists", func(t *testing.T) {
		t.Parallel()
		cfg := bareConfig(t)
		if err := func() error {
			db, err := OpenDatabase(context.Background(), cfg, slog.New(slog.DiscardHandler), true)
			if err != nil {
				return err
			}
			return db.Close()
		}(); err != nil {
			t.Fatal(err)
		}
		webUsers(t, cfg, auth.RoleAdmin)
		_, logs := startLogged(t, cfg, time.Now)
		if strings.Contains(logs.String(), "/setup?token=") {
			t.Error("a setup link was printed although an admin exists")
		}
	})
}

// TestFirstRunBrowser walks the first run in headless Chromium on a phone:
// the sign-in form says how to start, the setup link from the log makes
// the admin, and the Now page lists what to configure next. With
// POSTVAKT_SCREENSHOTS set (make screenshots) the pages are written there.
func TestFirstRunBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	out := os.Getenv("POSTVAKT_SCREENSHOTS")
	if out == "" {
		out = artifacts(t)
	} else if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := bareConfig(t)
	base, logs := startLogged(t, cfg, time.Now)
	link, _ := setupLink(t, logs)
	b := newTestBrowser(t, exe, out, 6*time.Minute, 30*time.Second)
	b.do("sign-in form", chromedp.EmulateViewport(412, 915), chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`#first-run`)), b.capture("first-run-login-phone.jpg"))
	b.do("setup link",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#setup`)),
		chromedp.SendKeys(chromedp.CSS(`#setup input[name=user]`), "boss"),
		chromedp.SendKeys(chromedp.CSS(`#setup input[name=display_name]`), "The Boss"),
		chromedp.SendKeys(chromedp.CSS(`#setup input[name=password]`), testPassword),
		chromedp.SendKeys(chromedp.CSS(`#setup input[name=password2]`), testPassword),
		b.capture("first-run-setup-phone.jpg"),
		chromedp.Click(chromedp.CSS(`#setup button`)),
		chromedp.WaitVisible(chromedp.CSS(`#next-steps`)),
		b.capture("first-run-now-phone.jpg"))
	if who := b.text(`#whoami`); who != "boss (admin)" {
		t.Errorf("signed in as %q", who)
	}
	for _, id := range []string{"next-oncall", "next-probes", "next-logs", "next-announce", "next-report", "next-users"} {
		if n := b.eval(`String(document.querySelectorAll("#` + id + `").length)`); n != "1" {
			t.Errorf("the Now page does not list %s", id)
		}
	}
	if w := b.eval(`String(document.documentElement.scrollWidth > window.innerWidth + 1)`); w != "false" {
		t.Error("the first-run Now page scrolls sideways on a phone")
	}
}
