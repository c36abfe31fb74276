package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/telemetry"
)

// newServer starts a server on a real SQLite database with two routes of
// its own: GET /api/v1/test/admin for admins and GET /api/v1/test/viewer,
// which answers with the caller's role.
func newServer(t *testing.T) (*httptest.Server, *storage.DB, *telemetry.Telemetry) {
	t.Helper()
	db := storagetest.Open(t, storage.SQLite)
	access := accessstore.New(db)
	tel := telemetry.New("test")
	cfg := config.Default().HTTP
	cfg.MaxBodyBytes = 2048
	s := server.New(server.Options{Config: cfg, Telemetry: tel, Ready: db, Tokens: access, Audit: access})
	s.Handle("GET /api/v1/test/admin", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		server.WriteJSON(w, http.StatusOK, map[string]string{"ok": "yes"})
		return nil
	})
	s.Handle("GET /api/v1/test/viewer", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.FromContext(r.Context())
		server.WriteJSON(w, http.StatusOK, map[string]any{"role": p.Role})
		return nil
	})
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return ts, db, tel
}

func token(t *testing.T, db *storage.DB, role auth.Role) string {
	t.Helper()
	_, secret, err := auth.IssueToken(context.Background(), accessstore.New(db), auth.TokenRequest{Name: string(role), Role: string(role), Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func do(t *testing.T, method, url, secret, body string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
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
	return resp.StatusCode, b, resp.Header
}

func errCode(t *testing.T, b []byte) string {
	t.Helper()
	var e apiError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("not a JSON error: %s", b)
	}
	return e.Error.Code
}

func TestAuthStatusesAreJSON(t *testing.T) {
	t.Parallel()
	ts, db, _ := newServer(t)
	viewer, admin := token(t, db, auth.RoleViewer), token(t, db, auth.RoleAdmin)
	revoked := token(t, db, auth.RoleAdmin)
	access := accessstore.New(db)
	list, _ := access.ListTokens(context.Background())
	for _, tk := range list {
		if tk.Prefix == auth.DisplayPrefix(revoked) {
			_ = access.RevokeToken(context.Background(), tk.ID, time.Now())
		}
	}
	cases := []struct {
		name, secret string
		status       int
		code         string
	}{
		{"no token", "", 401, "unauthorized"},
		{"garbage", "abc", 401, "unauthorized"},
		{"unknown", "pvt_" + strings.Repeat("a", 32), 401, "unauthorized"},
		{"revoked", revoked, 401, "unauthorized"},
		{"too small a role", viewer, 403, "forbidden"},
		{"admin", admin, 200, ""},
	}
	for _, c := range cases {
		status, body, hdr := do(t, "GET", ts.URL+"/api/v1/test/admin", c.secret, "")
		if status != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, status, c.status, body)
			continue
		}
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s: content type %q", c.name, hdr.Get("Content-Type"))
		}
		if c.code != "" && errCode(t, body) != c.code {
			t.Errorf("%s: code %q, want %q", c.name, errCode(t, body), c.code)
		}
		if status == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
	if status, body, _ := do(t, "GET", ts.URL+"/api/v1/test/viewer", viewer, ""); status != 200 || !strings.Contains(string(body), `"viewer"`) {
		t.Errorf("viewer route: %d %s", status, body)
	}
	if status, body, _ := do(t, "GET", ts.URL+"/api/v1/nothing", admin, ""); status != 404 || errCode(t, body) != "not_found" {
		t.Errorf("unknown endpoint: %d %s", status, body)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	t.Parallel()
	ts, db, _ := newServer(t)
	if status, body, _ := do(t, "GET", ts.URL+"/healthz", "", ""); status != 200 || string(body) != "ok\n" {
		t.Fatalf("healthz %d %q", status, body)
	}
	if status, body, _ := do(t, "GET", ts.URL+"/readyz", "", ""); status != 200 || !strings.Contains(string(body), `"current"`) {
		t.Fatalf("readyz %d %s", status, body)
	}
	if _, err := db.MigrateDown(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if status, body, _ := do(t, "GET", ts.URL+"/readyz", "", ""); status != 503 || !strings.Contains(string(body), `"pending"`) {
		t.Fatalf("readyz with pending migrations %d %s", status, body)
	}
	db.Close()
	if status, body, _ := do(t, "GET", ts.URL+"/readyz", "", ""); status != 503 || !strings.Contains(string(body), `"unreachable"`) {
		t.Fatalf("readyz with a closed database %d %s", status, body)
	}
}

// TestMetricsExposition checks /metrics with promtool and that no family is
// exported twice by the two metric sets.
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	ts, _, tel := newServer(t)
	tel.Describe("postvakt_test_hot_total", "A hot-path counter.")
	tel.Hot.NewCounter(`postvakt_test_hot_total{listener="mx"}`).Inc()
	tel.Describe("postvakt_test_latency_seconds", "A hot-path histogram.")
	tel.Hot.NewPrometheusHistogram(`postvakt_test_latency_seconds`).Update(0.01)
	do(t, "GET", ts.URL+"/healthz", "", "")
	status, body, hdr := do(t, "GET", ts.URL+"/metrics", "", "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics %d %s", status, hdr.Get("Content-Type"))
	}
	for _, want := range []string{"postvakt_build_info", "postvakt_http_requests_total", "postvakt_test_hot_total", "postvakt_test_latency_seconds_bucket"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if bytes.Contains(body, []byte(telemetry.Undescribed)) {
		t.Errorf("exposition has an undescribed family:\n%s", grep(body, telemetry.Undescribed))
	}
	if d := telemetry.Duplicates(body); len(d) > 0 {
		t.Errorf("families exported twice: %v", d)
	}
	Promtool(t, body)
}

// Promtool runs `promtool check metrics` on an exposition. Without promtool
// the check skips, unless POSTVAKT_REQUIRE_TOOLS=1 (set by .ci/run).
func Promtool(t *testing.T, exposition []byte) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus); skipping promtool check")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(exposition)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

func grep(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestRoutes: the server lists the API routes registered through Handle,
// HandlePublic and Mount (under /api/ only), each with its least role.
func TestRoutes(t *testing.T) {
	t.Parallel()
	s := server.New(server.Options{Config: config.Default().HTTP})
	ok := func(w http.ResponseWriter, r *http.Request) error { return nil }
	s.Handle("GET /api/v1/things/{id}", auth.RoleHelpdesk, ok)
	s.HandlePublic("POST /api/v1/hooks/{name}", ok)
	s.Mount("POST /api/v1/receiver", http.NotFoundHandler())
	s.Mount("GET /pages/", http.NotFoundHandler())
	want := []server.Route{{Pattern: "GET /api/v1/things/{id}", Role: auth.RoleHelpdesk}, {Pattern: "POST /api/v1/hooks/{name}"},
		{Pattern: "POST /api/v1/receiver"}}
	if got := s.Routes(); !slices.Equal(got, want) {
		t.Errorf("routes %v, want %v", got, want)
	}
}
