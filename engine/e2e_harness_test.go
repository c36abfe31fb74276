package engine_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// The engine's end-to-end tests: a real engine on 127.0.0.1:0 on a real
// database (the engine's store on SQLite, and on PostgreSQL through
// storagetest.ForEach), driven by a real SMTP client. They are an external
// test package: the engine's own code does not import internal/, its tests
// may.

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) Emit(e event.Event) { r.mu.Lock(); r.events = append(r.events, e); r.mu.Unlock() }
func (r *recorder) all() []event.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event.Event(nil), r.events...)
}

type harness struct {
	t      testing.TB
	db     *storage.DB
	st     *enginestore.Store // the engine's store on db
	eng    *engine.Engine
	dir    *directory.Directory
	clock  *fakeClock
	set    *metrics.Set
	events *recorder
	mx     string
	sub    string
}

// testConfig is the engine configuration the tests start from: loopback
// listeners on free ports, a self-signed certificate, fast password hashes,
// no AUTH delay, greylisting on with the default delays.
func testConfig() engine.Config {
	cfg := engine.Default()
	cfg.Hostname = "mx.uni.example"
	cfg.MX.Listen = "127.0.0.1:0"
	cfg.Submission.Listen = "127.0.0.1:0"
	cfg.Limits.AuthFailureDelay = 0
	cfg.Limits.PregreetWait = 0 // has its own test
	cfg.Limits.ShutdownTimeout = 2 * time.Second
	cfg.Directory.PasswordHash = directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	cfg.Commit.Workers = 2
	// SPF, DKIM and DMARC ask DNS: the tests of the checks turn them on
	// with a resolver of their own (e2e_mailauth_test.go).
	cfg.DMARC.Check = false
	return cfg
}

func startEngine(t testing.TB, db *storage.DB, mutate func(*engine.Config), resolver dnsbl.Resolver) *harness {
	t.Helper()
	return startEngineClock(t, db, mutate, resolver, nil)
}

// startEngineClock is startEngine with a clock of the test's choosing (nil:
// the harness's fake clock).
func startEngineClock(t testing.TB, db *storage.DB, mutate func(*engine.Config), resolver dnsbl.Resolver, now func() time.Time) *harness {
	t.Helper()
	cfg := testConfig()
	if db.Dialect() == storage.SQLite {
		cfg.Commit.Workers = 1
	}
	if mutate != nil {
		mutate(&cfg)
	}
	h := &harness{t: t, db: db, st: enginestore.New(db), clock: &fakeClock{now: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}, set: metrics.NewSet(), events: &recorder{}}
	if now == nil {
		now = h.clock.Now
	}
	eng, err := engine.New(engine.Options{Config: cfg, DataDir: t.TempDir(), Store: h.st, Metrics: h.set, Logger: testLogger(t),
		Events: h.events, Clock: now, Resolver: resolver})
	if err != nil {
		t.Fatal(err)
	}
	h.eng, h.dir = eng, eng.Directory()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	select {
	case <-eng.Ready():
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	if a := eng.Addrs()["mx"]; a != nil {
		h.mx = a.String()
	}
	if a := eng.Addrs()["submission"]; a != nil {
		h.sub = a.String()
	}
	ctx2 := context.Background()
	if err := h.dir.AddDomain(ctx2, "uni.example"); err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *harness) mailbox(addr string, mod func(*directory.NewMailbox)) directory.Mailbox {
	h.t.Helper()
	n := directory.NewMailbox{Address: addr}
	if mod != nil {
		mod(&n)
	}
	m, err := h.dir.AddMailbox(context.Background(), n)
	if err != nil {
		h.t.Fatal(err)
	}
	return m
}

func (h *harness) dial(addr string) *smtp.Client {
	h.t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		h.t.Fatal(err)
	}
	c.CommandTimeout = 10 * time.Second
	h.t.Cleanup(func() { c.Close() })
	if err := c.Hello("client.example.org"); err != nil {
		h.t.Fatal(err)
	}
	return c
}

func (h *harness) dialTLS(addr string) *smtp.Client {
	h.t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := smtp.NewClientStartTLS(conn, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		h.t.Fatal(err)
	}
	c.CommandTimeout = 10 * time.Second
	h.t.Cleanup(func() { c.Close() })
	return c
}

// send runs one transaction and returns the first refusal.
func send(c *smtp.Client, from string, to []string, body string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			_ = c.Reset()
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write([]byte(body)); err != nil {
		return err
	}
	return w.Close()
}

func msg(subject string) string {
	return fmt.Sprintf("From: Sender <s@else.example>\r\nTo: x@uni.example\r\nSubject: %s\r\nMessage-ID: <%s@else.example>\r\n\r\nBody of %s.\r\n", subject, strings.ReplaceAll(subject, " ", "-"), subject)
}

// wantCode checks that err is an SMTP reply with code and enhanced code.
func wantCode(t *testing.T, err error, code int, enh string) {
	t.Helper()
	var se *smtp.SMTPError
	if code == 250 {
		if err != nil {
			t.Fatalf("got %v, want 250", err)
		}
		return
	}
	if !errors.As(err, &se) {
		t.Fatalf("got %v, want %d %s", err, code, enh)
	}
	got := fmt.Sprintf("%d.%d.%d", se.EnhancedCode[0], se.EnhancedCode[1], se.EnhancedCode[2])
	if se.Code != code || got != enh {
		t.Fatalf("got %d %s %q, want %d %s", se.Code, got, se.Message, code, enh)
	}
}

// metric returns the exposition line value of name{labels}.
func (h *harness) metric(series string) string {
	var b bytes.Buffer
	h.set.WritePrometheus(&b)
	for _, l := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(l, series+" "); ok {
			return v
		}
	}
	return ""
}

func plainAuth(user, pass string) sasl.Client { return sasl.NewPlainClient("", user, pass) }

// testLogger logs through t.Log when POSTVAKT_TEST_LOG is set.
func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("POSTVAKT_TEST_LOG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
