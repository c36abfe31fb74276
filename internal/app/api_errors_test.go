package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/telemetry"
	"github.com/uni-mail/postvakt/reports"
)

// envelopeCodes are the codes an API error may carry: server.Code… and
// the report API's send_failed, the units API's link_invalid (410) and
// rate_limited (429) of the public survey routes.
var envelopeCodes = []string{server.CodeUnauthorized, server.CodeForbidden, server.CodeNotFound, server.CodeBadRequest,
	server.CodeConflict, server.CodeTooLarge, server.CodeUnavailable, server.CodeInternal, server.CodeMethod, server.CodeInvalidConfig, "send_failed",
	"link_invalid", "rate_limited"}

// checkEnvelope fails unless an answer is the API's error envelope,
// {"error":{"code":"…","message":"…"}} as JSON, with a known code.
func checkEnvelope(t *testing.T, what string, resp *http.Response, body []byte) {
	t.Helper()
	var e struct {
		Error *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	switch err := dec.Decode(&e); {
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		t.Errorf("%s: %d with Content-Type %q, want the JSON error envelope: %.200s", what, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	case err != nil || e.Error == nil:
		t.Errorf("%s: %d, not the error envelope (%v): %.200s", what, resp.StatusCode, err, body)
	case !slices.Contains(envelopeCodes, e.Error.Code) || e.Error.Message == "":
		t.Errorf("%s: %d, envelope with code %q and message %q", what, resp.StatusCode, e.Error.Code, e.Error.Message)
	}
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestAPIErrorEnvelope walks every route registered under /api/ with every
// capability configured and checks that each error answer is the error
// envelope: without a token (or the route's own credential), with a bad
// token, below the route's role, with bad input (path values that name
// nothing, a broken JSON body, unparsable query values) and with a
// method the route does not serve. The signed acknowledge links answer
// people in HTML and plain text, and are checked for that instead.
func TestAPIErrorEnvelope(t *testing.T) {
	t.Parallel()
	env, ts, issue := newAPIEnv(t)
	viewer, admin := issue(auth.RoleViewer), issue(auth.RoleAdmin)
	send := func(method, path, secret, body string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}

	routes := env.Server.Routes()
	var patterns []string
	for _, r := range routes {
		patterns = append(patterns, r.Pattern)
	}
	for _, p := range []string{"GET /api/v1/tickets", "POST /api/v1/alertmanager", "POST /api/v1/slack/interactivity", "POST /api/v1/heartbeats/{name}",
		"GET /api/v1/oncall/feed/{rota}", "GET /api/v1/probes", "GET /api/v1/directory/domains", "GET /api/v1/quarantine", "GET /api/v1/trace",
		"GET /api/v1/reports", "GET /api/v1/tokens", "GET /api/v1/runbooks", "POST /api/v1/notices/preview"} {
		if !slices.Contains(patterns, p) {
			t.Errorf("route %s is not registered; routes: %v", p, patterns)
		}
	}
	const badQuery = "?limit=x&offset=x&hours=x&weeks=x&since=x&until=x&from=x&to=x&time=x&status=x&by=x&state=x"
	for _, r := range routes {
		method, path, ok := strings.Cut(r.Pattern, " ")
		if !ok {
			t.Errorf("route %q names no method", r.Pattern)
			continue
		}
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		path = pathParam.ReplaceAllString(path, "no-such-thing")
		body := ""
		if method != http.MethodGet {
			body = "{"
		}
		if path == "/api/v1/oncall/ack" {
			// A person's browser follows the link: an invalid one is a
			// plain-text 403, never a change.
			if resp, b := send(method, path, "", ""); resp.StatusCode != http.StatusForbidden || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("%s without a signed link: %d %s %.200s", r.Pattern, resp.StatusCode, resp.Header.Get("Content-Type"), b)
			}
			continue
		}
		// Without credentials.
		resp, b := send(method, path, "", body)
		if resp.StatusCode < 400 {
			t.Errorf("%s without a token: %d", r.Pattern, resp.StatusCode)
		} else {
			checkEnvelope(t, r.Pattern+" without a token", resp, b)
		}
		if r.Role != "" && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s without a token: %d, want 401", r.Pattern, resp.StatusCode)
		}
		if r.Role != "" {
			resp, b = send(method, path, "pvt_"+strings.Repeat("a", 32), body)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s with an unknown token: %d, want 401", r.Pattern, resp.StatusCode)
			}
			checkEnvelope(t, r.Pattern+" with an unknown token", resp, b)
		}
		if r.Role != "" && r.Role != auth.RoleViewer {
			resp, b = send(method, path, viewer, body)
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s as a viewer: %d, want 403", r.Pattern, resp.StatusCode)
			}
			checkEnvelope(t, r.Pattern+" as a viewer", resp, b)
		}
		// Bad input, with every role: a change must be refused.
		q := ""
		if method == http.MethodGet {
			q = badQuery
		}
		resp, b = send(method, path+q, admin, body)
		switch {
		case resp.StatusCode >= 400:
			checkEnvelope(t, r.Pattern+" with bad input", resp, b)
		case method != http.MethodGet:
			t.Errorf("%s with bad input: %d, a change accepted: %.200s", r.Pattern, resp.StatusCode, b)
		}
		// A method the route does not serve.
		if method != http.MethodPut {
			resp, b = send(http.MethodPut, path, admin, "{}")
			if resp.StatusCode < 400 {
				t.Errorf("PUT %s: %d", path, resp.StatusCode)
			}
			checkEnvelope(t, "PUT "+path, resp, b)
		}
	}
	resp, b := send(http.MethodGet, "/api/v1/no-such-endpoint", admin, "")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown endpoint: %d", resp.StatusCode)
	}
	checkEnvelope(t, "an unknown endpoint", resp, b)
	t.Logf("%d API routes checked", len(routes))
}

// newAPIEnv sets the service up with every capability configured, as Run
// does but without running its loops (only its routes are needed), on a
// test HTTP server; issue makes an API token with a role.
func newAPIEnv(t *testing.T) (*Env, *httptest.Server, func(auth.Role) string) {
	t.Helper()
	cfg := webConfig(t)
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	cfg.SMTP = sc
	cfg.Probes.Targets = []probe.Target{{Name: "pop-tcp", Service: "pop3", Kind: probe.KindTCP, Address: "127.0.0.1:" + freePort(t)}}
	// Content scanning on: its spam complaints' routes are registered too.
	cfg.Content.Enabled = true
	cfg.Content.Complaints.Address = "abuse@uni.example"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	// Set the service up as Run does, without running its loops: only its
	// routes are needed.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	logger := slog.New(slog.DiscardHandler)
	db, err := OpenDatabase(ctx, cfg, logger, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	tel, access := telemetry.New("test"), accessstore.New(db)
	env := &Env{Config: cfg, Logger: logger, DB: db, Telemetry: tel, Now: time.Now, Node: "test",
		Server: server.New(server.Options{Config: cfg.HTTP, Logger: logger, Telemetry: tel, Ready: db, Tokens: access, Audit: access}),
		Scheduler: scheduler.New(scheduler.Options{Store: db, LockKey: storage.LockKey, Logger: logger, Registerer: tel.Registry,
			Node: "test", Now: time.Now}),
	}
	for _, c := range capabilities {
		if err := c.setup(ctx, env); err != nil {
			t.Fatalf("set up %s: %v", c.name, err)
		}
	}
	ts := httptest.NewServer(env.Server.Handler())
	t.Cleanup(ts.Close)
	issue := func(role auth.Role) string {
		_, secret, err := auth.IssueToken(ctx, access, auth.TokenRequest{Name: "test-" + string(role), Role: string(role), By: "test", Now: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	return env, ts, issue
}
