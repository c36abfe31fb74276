package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/oncall"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// fakeSlack is a local stand-in for Slack's Web API (which cannot run
// here): it answers conversations.open and chat.postMessage and records
// every call.
type fakeSlack struct {
	srv   *httptest.Server
	mu    sync.Mutex
	calls []slackCall
}

type slackCall struct {
	Method string
	Form   url.Values
	Body   string // JSON posted to a response URL (/actions/…)
}

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		method := strings.TrimPrefix(r.URL.Path, "/api/")
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.calls = append(f.calls, slackCall{Method: method, Form: r.PostForm, Body: string(body)})
		f.mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/actions/") { // a response URL
			_, _ = io.WriteString(w, "ok")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch method {
		case "conversations.open":
			_, _ = io.WriteString(w, `{"ok":true,"channel":{"id":"D`+r.PostForm.Get("users")+`"}}`)
		case "chat.postMessage":
			_, _ = io.WriteString(w, `{"ok":true,"channel":"`+r.PostForm.Get("channel")+`","ts":"1700000000.000100"}`)
		default:
			_, _ = io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// posts returns the chat.postMessage calls to channel.
func (f *fakeSlack) posts(channel string) []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []url.Values
	for _, c := range f.calls {
		if c.Method == "chat.postMessage" && c.Form.Get("channel") == channel {
			out = append(out, c.Form)
		}
	}
	return out
}

func (f *fakeSlack) opened(user string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.calls {
		if c.Method == "conversations.open" && c.Form.Get("users") == user {
			return true
		}
	}
	return false
}

// smtpSink is a real SMTP server on loopback that keeps what it receives.
type smtpSink struct {
	addr string
	mu   sync.Mutex
	msgs []sinkMsg
}

type sinkMsg struct {
	From string
	To   []string
	Data string
}

func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{sink: s}, nil }

type sinkSession struct {
	sink *smtpSink
	msg  sinkMsg
}

func (s *sinkSession) Mail(from string, _ *smtp.MailOptions) error { s.msg.From = from; return nil }
func (s *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}
func (s *sinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = string(b)
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, s.msg)
	s.sink.mu.Unlock()
	return nil
}
func (s *sinkSession) Reset()        { s.msg = sinkMsg{} }
func (s *sinkSession) Logout() error { return nil }

func newSMTPSink(t testing.TB) *smtpSink {
	sink := &smtpSink{}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sink.addr = ln.Addr().String()
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sink
}

func (s *smtpSink) to(rcpt string) []sinkMsg {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []sinkMsg
	for _, m := range s.msgs {
		for _, r := range m.To {
			if r == rcpt {
				out = append(out, m)
			}
		}
	}
	return out
}

// testClock is an injected clock tests move by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

const (
	testAMToken    = "am-token-0123456789abcdef"
	testSlackSig   = "slack-signing-secret-0123456789"
	testLinkKey    = "link-key-0123456789abcdef0123456789abcdef"
	testRotaStart  = "2026-01-05"
	testTeamChanID = "CTEAM"
)

var testMembers = []rota.Member{
	{ID: "ana", Name: "Ana Berg", Email: "ana@example.edu", SlackID: "UANA", TimeZone: "Europe/Oslo"},
	{ID: "bjorn", Name: "Bjørn Dahl", Email: "bjorn@example.edu", SlackID: "UBJORN"},
	{ID: "chen", Name: "Chen Wei", Email: "chen@example.edu", SlackID: "UCHEN"},
}

var testRota = rota.Spec{Name: "ukevakt", Members: []string{"ana", "bjorn", "chen"}, Start: testRotaStart,
	HandoverWeekday: "monday", HandoverTime: "09:00", TimeZone: "Europe/Oslo"}

// oncallConfig returns a configuration with the test team, the fake Slack,
// the SMTP sink and a policy: on-call at once, next after step2, member
// chen and the channel after step3.
func oncallConfig(t testing.TB, slackURL, smtpAddr string, step2, step3 time.Duration) *config.Config {
	cfg := config.Default()
	cfg.SMTP.Enabled = false // tests of the engine start it on free ports
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false // the injected clock would make it catch up on ticks
	oc := oncall.Default()
	oc.Members = testMembers
	oc.Rotas = []rota.Spec{testRota}
	oc.Policies = []incident.PolicySpec{{Name: "mail", Rota: "ukevakt", Steps: []incident.StepSpec{
		{After: 0, Notify: []string{"oncall"}},
		{After: step2, Notify: []string{"next"}},
		{After: step3, Notify: []string{"member:chen", "channel"}},
	}}}
	oc.Slack = oncall.SlackConfig{BotToken: "xoxb-test", SigningSecret: testSlackSig, Channel: testTeamChanID, APIURL: slackURL + "/api/"}
	oc.Email = oncall.EmailConfig{Relay: smtpAddr, From: "postvakt@example.edu"}
	oc.Alertmanager.Token = testAMToken
	oc.Links.Key = testLinkKey
	oc.Retry = oncall.RetryConfig{Attempts: 2, Initial: 50 * time.Millisecond, Max: 100 * time.Millisecond}
	oc.EscalationInterval = 50 * time.Millisecond
	oc.Handover = false
	cfg.Oncall = oc
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// running is one in-process postvakt.
type running struct {
	base string
	stop func()
}

func startApp(t testing.TB, cfg *config.Config, now func() time.Time) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan net.Addr, 1)
	done := make(chan error, 1)
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	go func() {
		done <- Run(ctx, Options{Config: cfg, Logger: logger, Now: now, Ready: func(a net.Addr) { addr <- a }})
	}()
	var r running
	select {
	case a := <-addr:
		r.base = "http://" + a.String()
	case err := <-done:
		cancel()
		t.Fatalf("postvakt did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("postvakt did not start in 30s")
	}
	// Run reports ready once HTTP listens; the engine's listeners may come
	// a moment later, and a test that sends mail at once must not race them.
	if cfg.SMTP.Enabled {
		for _, l := range []string{cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen, cfg.SMTP.Submissions.Listen} {
			if l == "" {
				continue
			}
			waitListening(t, 30*time.Second, l)
		}
	}
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("postvakt: %v", err)
			}
		})
	}
	t.Cleanup(r.stop)
	return &r
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// apiToken creates an API token with role directly in the database.
func apiToken(t testing.TB, cfg *config.Config, role auth.Role) string {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.MigrateUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	_, secret, err := auth.IssueToken(ctx, accessstore.New(db), auth.TokenRequest{Name: "test-" + string(role), Role: string(role), By: "test", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func call(t testing.TB, method, u, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, u, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, u, err, b)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		t.Logf("%s %s: %d %s", method, u, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// waitListening waits (at most d) until every addr accepts a TCP
// connection: the HTTP listener is up before the SMTP ones may be.
func waitListening(t testing.TB, d time.Duration, addrs ...string) {
	t.Helper()
	for _, a := range addrs {
		eventually(t, d, "listening on "+a, func() bool {
			c, err := net.DialTimeout("tcp", a, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
}

func eventually(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s", d, what)
}

// requireTool skips without the named binary, or fails when
// POSTVAKT_REQUIRE_TOOLS=1 (CI).
func requireTool(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is missing (Debian package %s) and POSTVAKT_REQUIRE_TOOLS=1", path, pkg)
		}
		t.Skipf("%s is missing: apt-get install %s to run this test", path, pkg)
	}
}

func onCallAt(t testing.TB, at time.Time) string {
	r, err := rota.New(testRota)
	if err != nil {
		t.Fatal(err)
	}
	return r.OnCallAt(rota.Changes{}, at).Member
}

func memberByID(id string) rota.Member {
	for _, m := range testMembers {
		if m.ID == id {
			return m
		}
	}
	return rota.Member{}
}
