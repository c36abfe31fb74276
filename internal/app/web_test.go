package app

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/web"
	"github.com/uni-mail/postvakt/internal/webauth"
	"github.com/uni-mail/postvakt/oncall/incident"
)

const testPassword = "correct horse battery"

// webUsers adds a user per role (named after the role) to the running
// service's database.
func webUsers(t testing.TB, cfg *config.Config, roles ...auth.Role) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := webauth.New(webauth.Options{Config: cfg.Web, Store: accessstore.New(db)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		if _, err := svc.AddUser(ctx, string(r), "Test "+string(r), string(r), testPassword); err != nil {
			t.Fatal(err)
		}
	}
}

// browserless is a cookie-keeping HTTP client that does not follow
// redirects, so tests see each answer.
type browserless struct {
	t    testing.TB
	base string
	c    *http.Client
}

func newClient(t testing.TB, base string) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserless) do(method, path string, form url.Values, hdr map[string]string) (*http.Response, string) {
	b.t.Helper()
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func formToken(t testing.TB, html string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%s", html)
	}
	return m[1]
}

// login signs in and returns the session cookie the server set.
func (b *browserless) login(user, password string) (*http.Response, string) {
	b.t.Helper()
	_, page := b.do("GET", "/login", nil, nil)
	return b.do("POST", "/login", url.Values{"csrf": {formToken(b.t, page)}, "user": {user}, "password": {password}}, nil)
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == web.SessionCookie && c.Value != "" {
			return c
		}
	}
	return nil
}

func webConfig(t *testing.T) *config.Config {
	slack, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slack.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	cfg.Web.Login.MaxFailures = 3
	cfg.Web.Login.MaxPerAddress = 50
	cfg.Web.TrustedProxies = []string{"127.0.0.1/32"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestWebSecurity (docs/web.md, "CSRF", "Sessions", "Sign-in throttling and
// lockout"): a form post without a valid CSRF token is refused, the session
// cookie is HttpOnly (RFC 6265 §4.1.2.6) and SameSite (RFC 6265bis), and
// after N bad passwords the sign-in is throttled. It also checks roles on
// the server, session rotation and the session principal on the API.
func TestWebSecurity(t *testing.T) {
	t.Parallel()
	cfg := webConfig(t)
	clock := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	app := startApp(t, cfg, clock.Now)
	webUsers(t, cfg, auth.RoleAdmin, auth.RoleOncall, auth.RoleHelpdesk, auth.RoleViewer)
	oncallTok := apiToken(t, cfg, auth.RoleOncall)
	var created incident.Incident
	if code := call(t, "POST", app.base+"/api/v1/incidents", oncallTok, map[string]any{"title": "Queue growing", "severity": "critical"}, &created); code != http.StatusCreated {
		t.Fatalf("create incident: %d", code)
	}
	incID := strconv.FormatInt(created.ID, 10)
	ackPath := "/incidents/" + incID + "/ack"

	t.Run("anonymous", func(t *testing.T) {
		c := newClient(t, app.base)
		if resp, _ := c.do("GET", "/tickets", nil, nil); resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Fatalf("anonymous page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, body := c.do("GET", "/status", nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "<") {
			t.Fatalf("public status page: %d", resp.StatusCode)
		}
		resp, _ = c.do("GET", "/static/htmx.min.js", nil, nil)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("htmx: %d", resp.StatusCode)
		}
		// The sign-in form itself needs its double-submit token.
		resp, _ = c.do("POST", "/login", url.Values{"user": {"admin"}, "password": {testPassword}}, nil)
		if resp.StatusCode != http.StatusForbidden || sessionCookie(resp) != nil {
			t.Fatalf("login without token: %d", resp.StatusCode)
		}
	})

	t.Run("cookie", func(t *testing.T) {
		c := newClient(t, app.base)
		resp, _ := c.login("oncall", testPassword)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", resp.StatusCode)
		}
		ck := sessionCookie(resp)
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Secure {
			t.Fatalf("session cookie over plain HTTP: %+v", ck)
		}
		first := ck.Value
		// Behind a trusted proxy that says https, the cookie is Secure; a
		// sign-in from a browser that has a session replaces that session.
		u, _ := url.Parse(app.base)
		c2 := newClient(t, app.base)
		_, page := c2.do("GET", "/login", nil, nil)
		c2.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: first}})
		resp, _ = c2.do("POST", "/login", url.Values{"csrf": {formToken(t, page)}, "user": {"oncall"}, "password": {testPassword}},
			map[string]string{"X-Forwarded-Proto": "https"})
		ck = sessionCookie(resp)
		if ck == nil || !ck.Secure || !ck.HttpOnly || ck.Value == first {
			t.Fatalf("second sign-in: cookie %+v (rotated: %v)", ck, ck != nil && ck.Value != first)
		}
		// The session before is gone: it was rotated at sign-in.
		old := newClient(t, app.base)
		old.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: first}})
		if resp, _ := old.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("old session still valid: %d", resp.StatusCode)
		}
		c.c.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: ck.Value}})
		resp, page = c.do("GET", "/incidents", nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, "Queue growing") {
			t.Fatalf("incidents page: %d", resp.StatusCode)
		}
		for _, h := range []string{"Content-Security-Policy", "X-Frame-Options"} {
			if resp.Header.Get(h) == "" {
				t.Errorf("page without %s", h)
			}
		}
		if csp := resp.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
			t.Errorf("CSP allows inline: %s", csp)
		}
		tok := formToken(t, page)

		// CSRF: missing and wrong tokens are refused with 403 and change nothing.
		for _, form := range []url.Values{{}, {"csrf": {"forged-token-forged-token-forged-token-forg"}}} {
			if resp, _ := c.do("POST", ackPath, form, nil); resp.StatusCode != http.StatusForbidden {
				t.Fatalf("ack with csrf %q: %d", form.Get("csrf"), resp.StatusCode)
			}
		}
		var got struct{ Incident incident.Incident }
		call(t, "GET", app.base+"/api/v1/incidents/"+incID, oncallTok, nil, &got)
		if got.Incident.Status != incident.StatusTriggered {
			t.Fatalf("refused post changed the incident: %s", got.Incident.Status)
		}
		// The session principal works on the API; a change needs X-CSRF-Token.
		resp, body := c.do("GET", "/api/v1/whoami", nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"oncall"`) {
			t.Fatalf("whoami by cookie: %d %s", resp.StatusCode, body)
		}
		if resp, _ := c.do("POST", "/api/v1/incidents/"+incID+"/ack", nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("API change by cookie without CSRF header: %d", resp.StatusCode)
		}
		// With the token the form works, and the audit log names the user.
		if resp, _ := c.do("POST", ackPath, url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("ack with token: %d", resp.StatusCode)
		}
		call(t, "GET", app.base+"/api/v1/incidents/"+incID, oncallTok, nil, &got)
		if got.Incident.Status != incident.StatusAcknowledged || got.Incident.AckedBy != "oncall" {
			t.Fatalf("after ack: %s by %q", got.Incident.Status, got.Incident.AckedBy)
		}
		resp, _ = c.do("POST", "/logout", url.Values{"csrf": {tok}}, nil)
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		if resp, _ := c.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after logout: %d", resp.StatusCode)
		}
	})

	t.Run("roles", func(t *testing.T) {
		for _, tc := range []struct {
			user, path string
			form       url.Values
			want       int
		}{
			{"viewer", ackPath, url.Values{}, http.StatusForbidden},
			{"helpdesk", "/rota/overrides", url.Values{"rota": {"ukevakt"}, "member": {"ana"}, "start": {"2026-11-24T09:00"}, "end": {"2026-11-24T17:00"}}, http.StatusForbidden},
			{"helpdesk", "/admin/users", url.Values{"name": {"mallory"}, "role": {"admin"}}, http.StatusForbidden},
			{"oncall", "/rota/overrides", url.Values{"rota": {"ukevakt"}, "member": {"ana"}, "start": {"2026-11-24T09:00"}, "end": {"2026-11-24T17:00"}}, http.StatusSeeOther},
		} {
			c := newClient(t, app.base)
			if resp, _ := c.login(tc.user, testPassword); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s: login %d", tc.user, resp.StatusCode)
			}
			_, page := c.do("GET", "/", nil, nil)
			tc.form.Set("csrf", formToken(t, page))
			if resp, body := c.do("POST", tc.path, tc.form, nil); resp.StatusCode != tc.want {
				t.Errorf("%s POST %s: %d, want %d\n%s", tc.user, tc.path, resp.StatusCode, tc.want, body)
			}
		}
		c := newClient(t, app.base)
		c.login("viewer", testPassword)
		if resp, _ := c.do("GET", "/admin", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer GET /admin: %d", resp.StatusCode)
		}
		if resp, _ := c.do("GET", "/trace", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer GET /trace: %d", resp.StatusCode)
		}
	})

	t.Run("pages", func(t *testing.T) {
		c := newClient(t, app.base)
		c.login("admin", testPassword)
		for _, p := range []string{"/", "/rota", "/tickets", "/tickets/new", "/tickets?state=new&all=true", "/incidents",
			"/incidents?status=resolved", "/trace", "/trace?from=nobody@example.edu", "/reports", "/admin"} {
			if resp, body := c.do("GET", p, nil, nil); resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s: %d\n%s", p, resp.StatusCode, body)
			}
		}
	})

	t.Run("throttle", func(t *testing.T) {
		c := newClient(t, app.base)
		for i := 1; i <= cfg.Web.Login.MaxFailures; i++ {
			resp, _ := c.login("helpdesk", "wrong password "+strconv.Itoa(i))
			want := http.StatusUnauthorized
			if i == cfg.Web.Login.MaxFailures {
				want = http.StatusTooManyRequests
			}
			if resp.StatusCode != want || sessionCookie(resp) != nil {
				t.Fatalf("bad password %d: %d, want %d", i, resp.StatusCode, want)
			}
		}
		// Locked out: even the right password is refused until the lockout ends.
		if resp, _ := c.login("helpdesk", testPassword); resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("right password while locked out: %d", resp.StatusCode)
		}
		clock.Set(clock.Now().Add(cfg.Web.Login.Lockout + time.Second))
		if resp, _ := c.login("helpdesk", testPassword); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("after the lockout: %d", resp.StatusCode)
		}
		admin := apiToken(t, cfg, auth.RoleAdmin)
		var audit struct{ Entries []auth.AuditEntry }
		call(t, "GET", app.base+"/api/v1/audit?since=2026-01-01T00:00:00Z", admin, nil, &audit)
		found := false
		for _, e := range audit.Entries {
			found = found || e.Action == "web.lockout" && e.Target == "user:helpdesk"
		}
		if !found {
			t.Errorf("no web.lockout in the audit log: %+v", audit.Entries)
		}
	})
}

// TestWebSSO checks trusted-header sign-in: believed from the configured
// proxy addresses only, for enabled local users only.
func TestWebSSO(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		proxies []string
		want    int
	}{
		{"trusted proxy", []string{"127.0.0.0/8"}, http.StatusOK},
		{"untrusted address", []string{"192.0.2.0/24"}, http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.HTTP.Listen = "127.0.0.1:0"
			cfg.Scheduler.Enabled = false
			cfg.SMTP.Enabled = false
			cfg.Web.SSO.Header, cfg.Web.SSO.Proxies = "X-Remote-User", tc.proxies
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			app := startApp(t, cfg, time.Now)
			webUsers(t, cfg, auth.RoleHelpdesk)
			c := newClient(t, app.base)
			resp, body := c.do("GET", "/tickets", nil, map[string]string{"X-Remote-User": "helpdesk"})
			if resp.StatusCode != tc.want {
				t.Fatalf("GET /tickets with the SSO header: %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK {
				if !strings.Contains(body, "helpdesk (helpdesk)") || sessionCookie(resp) == nil {
					t.Fatalf("not signed in as helpdesk")
				}
				if resp, _ := newClient(t, app.base).do("GET", "/", nil, map[string]string{"X-Remote-User": "nobody"}); resp.StatusCode != http.StatusSeeOther {
					t.Fatalf("unknown SSO user: %d", resp.StatusCode)
				}
			}
		})
	}
}
