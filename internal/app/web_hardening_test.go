package app

import (
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
)

// securityHeaders are the headers every answer carries (docs/web.md,
// "Security headers"), with the values they must have; CSP is checked
// apart.
var securityHeaders = map[string]string{
	"X-Frame-Options":        "DENY",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "same-origin",
}

// expectStatus are the answers the cases of TestSecurityHeadersEverywhere
// must get, where it matters that the page itself was served.
var expectStatus = map[string]int{
	"GET /status": 200, "GET /runbooks": 200, "GET /runbooks/auth-brute-force": 200, "GET /api/v1/oncall/now": 200,
	"GET /api/v1/trace?from=%00": 400, "GET /trace?from=%00": 400, "GET /admin": 200, "GET /": 200, "GET /api/v1/tickets": 401,
}

var styleRE = regexp.MustCompile(`(?s)<style>(.*?)</style>`)

// TestSecurityHeadersEverywhere: pages, the public status page and feed,
// the runbooks, the API (answers and refusals), health, metrics, static
// files and unknown paths all send the security headers; a page with an
// inline style allows exactly that style by its hash, so it still renders
// and no injected style would.
func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	cfg := webConfig(t)
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RoleAdmin)
	tok := apiToken(t, cfg, auth.RoleViewer)

	anon := newClient(t, app.base)
	signed := newClient(t, app.base)
	if resp, _ := signed.login("admin", testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	type req struct {
		c            *browserless
		method, path string
		hdr          map[string]string
		inlineStyle  bool
	}
	bearer := map[string]string{"Authorization": "Bearer " + tok}
	cases := []req{
		{anon, "GET", "/status", nil, true},
		{anon, "GET", "/status/feed.atom", nil, false},
		{anon, "GET", "/runbooks", nil, true},
		{anon, "GET", "/runbooks/auth-brute-force", nil, true},
		{anon, "GET", "/runbooks/no-such-runbook", nil, false},
		{anon, "GET", "/healthz", nil, false},
		{anon, "GET", "/readyz", nil, false},
		{anon, "GET", "/metrics", nil, false},
		{anon, "GET", "/login", nil, false},
		{anon, "GET", "/static/htmx.min.js", nil, false},
		{anon, "GET", "/tickets", nil, false},
		{anon, "GET", "/no/such/page", nil, false},
		{anon, "GET", "/api/v1/tickets", nil, false},
		{anon, "POST", "/api/v1/alertmanager", nil, false},
		{anon, "GET", "/api/v1/no-such-endpoint", nil, false},
		{anon, "GET", "/api/v1/trace?from=%00", bearer, false},
		{anon, "GET", "/api/v1/whoami", bearer, false},
		{anon, "GET", "/api/v1/oncall/now", bearer, false},
		{signed, "GET", "/", nil, false},
		{signed, "GET", "/tickets", nil, false},
		{signed, "GET", "/rota", nil, false},
		{signed, "GET", "/admin", nil, false},
		{signed, "GET", "/trace?from=%00", nil, false},
		{signed, "GET", "/api/v1/whoami", nil, false},
	}
	for _, c := range cases {
		resp, body := c.c.do(c.method, c.path, nil, c.hdr)
		name := c.method + " " + c.path
		if want := expectStatus[name]; want != 0 && resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", name, resp.StatusCode, want)
		}
		for h, want := range securityHeaders {
			if got := resp.Header.Get(h); got != want {
				t.Errorf("%s (%d): %s %q, want %q", name, resp.StatusCode, h, got, want)
			}
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "*") {
			t.Errorf("%s (%d): Content-Security-Policy %q", name, resp.StatusCode, csp)
		}
		if c.inlineStyle {
			if resp.StatusCode != http.StatusOK {
				t.Errorf("%s: %d", name, resp.StatusCode)
				continue
			}
			m := styleRE.FindStringSubmatch(body)
			if m == nil {
				t.Errorf("%s: no <style> in the page", name)
				continue
			}
			sum := sha256.Sum256([]byte(m[1]))
			if want := "style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"; !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q does not allow its own style (%s)", name, csp, want)
			}
		}
	}
}

// browserTarget is where a browser goes for a Location header: it drops
// ASCII tab and newlines and reads "\" as "/" (WHATWG URL Standard), then
// resolves the rest against the page.
func browserTarget(base *url.URL, loc string) (*url.URL, error) {
	loc = strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(loc)
	ref, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	return base.ResolveReference(ref), nil
}

// TestLoginNextStaysOnSite: whatever next= a link to the sign-in form
// carries, the browser lands on this site after signing in.
func TestLoginNextStaysOnSite(t *testing.T) {
	t.Parallel()
	cfg := webConfig(t)
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RoleViewer)
	base, _ := url.Parse(app.base + "/login")
	for _, next := range []string{
		"/\t/evil.example/phish", "/\n/evil.example/phish", "\t//evil.example", "/\r\n/evil.example", `/\evil.example`,
		`/	\evil.example`, "//evil.example", "https://evil.example/", "/%2F%2Fevil.example", " //evil.example",
		"javascript:alert(1)", "/tickets?state=open",
	} {
		// The form posts next= in its body, which no query check sees:
		// safeNext alone keeps it on the site.
		c := newClient(t, app.base)
		_, page := c.do("GET", "/login", nil, nil)
		resp, _ := c.do("POST", "/login", url.Values{"csrf": {formToken(t, page)}, "user": {"viewer"}, "password": {testPassword},
			"next": {next}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("next=%q: sign-in %d", next, resp.StatusCode)
		}
		to, err := browserTarget(base, resp.Header.Get("Location"))
		if err != nil || to.Host != base.Host || to.Scheme != base.Scheme {
			t.Errorf("next=%q: Location %q takes the browser to %v (%v)", next, resp.Header.Get("Location"), to, err)
		}
		// Already signed in, the form redirects at once: the same rule (or
		// a 400 for a control character in the query string).
		resp, _ = c.do("GET", "/login?next="+url.QueryEscape(next), nil, nil)
		if resp.StatusCode == http.StatusBadRequest && strings.ContainsAny(next, "\t\r\n") {
			continue
		}
		if to, err := browserTarget(base, resp.Header.Get("Location")); resp.StatusCode != http.StatusSeeOther || err != nil || to.Host != base.Host {
			t.Errorf("next=%q, signed in: %d, Location %q", next, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}
