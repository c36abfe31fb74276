package server_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
)

// TestSecurityHeadersAndQueryCheck: every answer of the server — a mounted
// page, an API answer, a 404, a handler that panics, a refused query —
// carries the security headers; a handler may replace the policy; a
// control character in the query string is a 400 before any handler runs,
// also for the web interface's in-process calls (Dispatch).
func TestSecurityHeadersAndQueryCheck(t *testing.T) {
	t.Parallel()
	s := server.New(server.Options{Config: config.Default().HTTP})
	reached := 0
	s.Mount("GET /page", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached++
		w.Header().Set("Content-Security-Policy", server.InlineStyleCSP("b{}"))
		_, _ = w.Write([]byte("<style>b{}</style>"))
	}))
	s.HandlePublic("GET /api/v1/public", func(w http.ResponseWriter, r *http.Request) error {
		reached++
		server.WriteJSON(w, 200, map[string]string{"q": r.URL.Query().Get("q")})
		return nil
	})
	s.Mount("GET /panic", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	for _, c := range []struct {
		path   string
		status int
		csp    string
	}{
		{"/page", 200, "style-src 'sha256-"},
		{"/api/v1/public?q=ok", 200, server.DefaultCSP},
		{"/api/v1/nothing", 404, server.DefaultCSP},
		{"/nothing", 404, server.DefaultCSP},
		{"/panic", 500, server.DefaultCSP},
		{"/api/v1/public?q=a%00b", 400, server.DefaultCSP},
		{"/api/v1/public?q=%0a", 400, server.DefaultCSP},
		{"/api/v1/public?q=%ff", 400, server.DefaultCSP},
		{"/api/v1/public?%00=x", 400, server.DefaultCSP},
		{"/page?x=%7f", 400, server.DefaultCSP},
	} {
		resp, err := http.Get(ts.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != c.status || !strings.Contains(h.Get("Content-Security-Policy"), c.csp) ||
			h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "same-origin" {
			t.Errorf("%s: %d, headers %v; want %d and the security headers", c.path, resp.StatusCode, h, c.status)
		}
	}
	if reached != 2 {
		t.Errorf("handlers reached %d times, want 2 (refused queries must not reach them)", reached)
	}
	rec := httptest.NewRecorder()
	s.Dispatch(rec, httptest.NewRequest("GET", "/api/v1/public?q="+url.QueryEscape("x\x00"), nil))
	if rec.Code != http.StatusBadRequest || reached != 2 {
		t.Errorf("in-process call with a NUL: %d, want 400", rec.Code)
	}
}
