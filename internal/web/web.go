// Package web owns postvakt's server-rendered web interface: sign-in and
// sign-out, the session layer that turns a session cookie into the request's
// principal (for pages and the JSON API alike), CSRF checks on every form,
// security headers, the pages (now, rota, tickets, incidents, notices,
// directory and quarantine, trace, reports, admin) and the embedded
// static files (style sheet and htmx).
//
// Pages do not reach into the capabilities' services: they call the JSON
// API in-process with the signed-in user as principal, so the API's role
// checks and audit entries apply to every action taken from a page, and
// a page shows exactly what the API would. A page decodes each answer into
// the API package's exported response type (internal/api/…) and hands its
// template a typed view of them; an error answer is the API's envelope,
// {"error":{"code":"…","message":"…"}}, shown on an HTML error page.
package web

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/webauth"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie and header names.
const (
	SessionCookie = "postvakt_session"
	loginCookie   = "postvakt_login" // double-submit token of the sign-in form
	CSRFHeader    = "X-CSRF-Token"
	csrfField     = "csrf"
)

// Options configure the UI.
type Options struct {
	Auth     *webauth.Service
	Server   *server.Server
	Logger   *slog.Logger
	Now      func() time.Time
	Location *time.Location // how times are shown; nil: local
	Version  string
	// Tickets is the tickets: configuration, for the choices of the
	// ticket form (services, severities).
	Tickets tickets.Config
	// SubjectsFrom is the least role that sees message subjects in trace
	// (collectors.trace.show_subjects_from); the API masks them below it.
	SubjectsFrom auth.Role
	// Paging judges whether paging reaches anyone: a non-nil answer is a
	// banner on every page naming the keys to set; nil Paging (on-call
	// off) shows none.
	Paging func(ctx context.Context) *page.Health
	// Setup reports which parts of the configuration in force are filled
	// in, for the Now page's "what to do next"; nil: not shown.
	Setup func() Setup
}

// UI is the web interface.
type UI struct {
	o        Options
	cfg      webauth.Config
	pages    map[string]*template.Template
	proxies  []netip.Prefix // trusted for X-Forwarded-*
	sso      []netip.Prefix // trusted for the SSO header
	static   http.Handler
	security string // the Content-Security-Policy of pages
	setup    firstRun
}

// New parses the templates and returns the UI.
func New(o Options) (*UI, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	cfg := o.Auth.Config()
	u := &UI{o: o, cfg: cfg,
		proxies: webauth.Prefixes(cfg.TrustedProxies), sso: webauth.Prefixes(cfg.SSO.Proxies),
		security: "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"}
	var err error
	if u.pages, err = u.parsePages(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, err
	}
	u.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	return u, nil
}

// parsePages parses each page's template (templates/NAME.html, by NAME)
// on the layout.
func (u *UI) parsePages() (map[string]*template.Template, error) {
	base, err := template.New("layout.html").Funcs(u.funcs()).ParseFS(templateFS, "templates/layout.html")
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// Register adds the session layer and the pages to srv.
func (u *UI) Register() {
	s := u.o.Server
	s.Use(u.sessionLayer)
	s.Mount("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		u.static.ServeHTTP(w, r)
	}))
	s.Mount("GET /login", http.HandlerFunc(u.loginForm))
	s.Mount("POST /login", http.HandlerFunc(u.login))
	s.Mount("POST /logout", u.page(auth.RoleViewer, u.logout))
	s.Mount("GET /setup", http.HandlerFunc(u.setupForm))
	s.Mount("POST /setup", http.HandlerFunc(u.setupAdmin))
	s.Mount("GET /favicon.ico", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	}))
	u.routes()
}

// --- session layer ---

type sessionKey struct{}

type signedIn struct {
	Session webauth.Session
	User    webauth.User
}

func sessionFrom(ctx context.Context) (signedIn, bool) {
	s, ok := ctx.Value(sessionKey{}).(signedIn)
	return s, ok
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sessionLayer puts the principal of a valid session cookie (or of a
// trusted proxy's SSO header) into the request context. A cookie-
// authenticated API call that changes something must carry the session's
// CSRF token in X-CSRF-Token; without it the cookie is ignored, so the call
// is anonymous (and a protected endpoint answers 401).
func (u *UI) sessionLayer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if _, ok := auth.FromContext(r.Context()); ok || r.Header.Get("Authorization") != "" ||
			strings.HasPrefix(p, "/static/") || p == "/healthz" || p == "/readyz" || p == "/metrics" {
			next.ServeHTTP(w, r)
			return
		}
		var (
			si    signedIn
			found bool
		)
		if c, err := r.Cookie(SessionCookie); err == nil {
			sess, user, err := u.o.Auth.Lookup(r.Context(), c.Value)
			if err == nil {
				si, found = signedIn{sess, user}, true
			} else if !errors.Is(err, webauth.ErrNoSession) {
				u.o.Logger.Warn("web: session lookup", "err", err)
			}
		}
		if h := u.cfg.SSO.Header; h != "" && webauth.Contains(u.sso, r.RemoteAddr) {
			if name := strings.TrimSpace(r.Header.Get(h)); name != "" && (!found || si.User.Name != webauth.NormalizeName(name)) {
				found = false
				if user, err := u.o.Auth.SSOUser(r.Context(), name); err == nil {
					secret, sess, err := u.o.Auth.StartSession(r.Context(), user, u.clientAddr(r), "sso")
					if err == nil {
						u.setSessionCookie(w, r, secret)
						si, found = signedIn{sess, user}, true
						ctx := auth.WithPrincipal(r.Context(), principal(user))
						_ = u.o.Server.Audit(r.WithContext(ctx), "web.login", "user:"+user.Name, "via=sso")
					}
				} else {
					u.o.Logger.Info("web: SSO header names no enabled local user")
				}
			}
		}
		if !found {
			next.ServeHTTP(w, r)
			return
		}
		if strings.HasPrefix(p, "/api/") && !safeMethod(r.Method) && !webauth.ValidCSRF(si.Session, r.Header.Get(CSRFHeader)) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := auth.WithPrincipal(r.Context(), principal(si.User))
		ctx = context.WithValue(ctx, sessionKey{}, si)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func principal(u webauth.User) auth.Principal { return auth.Principal{Name: u.Name, Role: u.Role} }

// secure reports whether the request came over TLS, directly or through a
// trusted proxy that says so.
func (u *UI) secure(r *http.Request) bool {
	switch u.cfg.CookieSecure {
	case "always":
		return true
	case "never":
		return false
	}
	return r.TLS != nil || (webauth.Contains(u.proxies, r.RemoteAddr) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
}

// clientAddr is the client's address: the last hop of X-Forwarded-For when
// the request comes from a trusted proxy, else the peer.
func (u *UI) clientAddr(r *http.Request) string {
	host := r.RemoteAddr
	if ap, err := netip.ParseAddrPort(host); err == nil {
		host = ap.Addr().Unmap().String()
	}
	if webauth.Contains(u.proxies, r.RemoteAddr) {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if a, err := netip.ParseAddr(strings.TrimSpace(parts[len(parts)-1])); err == nil {
				return a.Unmap().String()
			}
		}
	}
	return host
}

func (u *UI) setSessionCookie(w http.ResponseWriter, r *http.Request, secret string) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: secret, Path: "/", HttpOnly: true,
		Secure: u.secure(r), SameSite: http.SameSiteLaxMode, MaxAge: int(u.cfg.SessionLifetime / time.Second)})
}

func (u *UI) clearCookie(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: u.secure(r),
		SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

// --- pages ---

// pageFunc serves one page for a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *view) error

// page wraps a page: it needs a session (GET without one redirects to the
// sign-in form), the role min, and, for anything but GET, the session's
// CSRF token in the form field csrf or the X-CSRF-Token header (else 403).
func (u *UI) page(min auth.Role, fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.headers(w)
		si, ok := sessionFrom(r.Context())
		if !ok {
			if safeMethod(r.Method) {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			u.fail(w, r, nil, http.StatusForbidden, "Your session has ended. Sign in again.")
			return
		}
		v := u.newView(r, si)
		if !safeMethod(r.Method) {
			tok := r.Header.Get(CSRFHeader)
			if tok == "" {
				tok = r.PostFormValue(csrfField)
			}
			if !webauth.ValidCSRF(si.Session, tok) {
				u.fail(w, r, v, http.StatusForbidden, "The form was missing its security token or it was stale. Reload the page and try again.")
				return
			}
		}
		if !si.User.Role.AtLeast(min) {
			u.fail(w, r, v, http.StatusForbidden, "This needs the role "+string(min)+" or higher; you are "+string(si.User.Role)+".")
			return
		}
		if err := fn(w, r, v); err != nil {
			var ae *apiError
			switch {
			case errors.As(err, &ae):
				u.fail(w, r, v, ae.Status, ae.Message)
			default:
				u.o.Logger.Error("web page", "path", r.URL.Path, "err", err)
				u.fail(w, r, v, http.StatusInternalServerError, "Something went wrong on the server; it is in the log.")
			}
		}
	})
}

// headers sets what pages add to the security headers every response
// carries (the server's middleware, docs/web.md "Security headers"): the
// pages' Content-Security-Policy, which lets them load this site's own
// script, style and images, and no caching.
func (u *UI) headers(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", u.security)
	h.Set("Cache-Control", "no-store")
}

// view is what every page template gets: the layout's fields, and in
// Data the page's own view, a struct of the API's response types (nowView,
// rotaView, … beside each page's handler).
type view struct {
	Title   string
	Nav     string
	User    webauth.User
	CSRF    string
	Notice  string
	Now     time.Time
	Version string
	Data    any
	// Paging is the banner when paging may reach nobody; nil: none.
	Paging *page.Health
}

// Can reports whether the signed-in user has at least role.
func (v *view) Can(role string) bool { return v.User.Role.AtLeast(auth.Role(role)) }

var notices = map[string]string{
	"acked": "Acknowledged.", "resolved": "Resolved.", "saved": "Saved.", "opened": "Ticket opened.",
	"commented": "Comment added.", "done": "Done.", "requested": "Swap requested.", "generated": "Report generated.",
	"revoked": "Token revoked.", "user": "User saved.", "sent": "Notice sent.", "updated": "Notice updated.", "withdrawn": "Notice withdrawn: it is no longer on the status page or in the feed.",
	"welcome": "Welcome: you are the first admin. The list below says what to set up next.",
	"locked":  "Account locked.", "unlocked": "Account unlocked.", "released": "Released for delivery.", "deleted": "Deleted.",
	// The incident page and the report's sending.
	"escalated": "Escalated: the next step was paged.", "paged": "Paged.", "reassigned": "Reassigned and paged.", "noted": "Note added.",
	"reportsent": "Report e-mailed.", "notsent": "Not sent: it was sent before (use Send again) or is being sent.",
}

func (u *UI) newView(r *http.Request, si signedIn) *view {
	v := &view{User: si.User, CSRF: si.Session.CSRF, Now: u.o.Now(), Version: u.o.Version,
		Notice: notices[r.URL.Query().Get("ok")]}
	if u.o.Paging != nil && safeMethod(r.Method) {
		v.Paging = u.o.Paging(r.Context())
	}
	return v
}

func (u *UI) render(w http.ResponseWriter, status int, name string, v any) {
	t, ok := u.pages[name]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		u.o.Logger.Error("web: render", "page", name, "err", err)
		http.Error(w, "render error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorView is the error page: the status, a message safe for the user,
// and the page to go back to.
type errorView struct {
	Status  int
	Message string
	Back    string
}

// fail shows an error page with a message safe for the user.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, v *view, status int, msg string) {
	if v == nil {
		v = &view{Now: u.o.Now(), Version: u.o.Version}
	}
	v.Title = http.StatusText(status)
	v.Data = errorView{Status: status, Message: msg, Back: r.Referer()}
	u.render(w, status, "error", v)
}

// --- in-process API calls ---

// apiError is a non-2xx answer of the API.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("api %d %s: %s", e.Status, e.Code, e.Message) }

type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// call sends an API request in-process as the request's principal and
// decodes a JSON answer into out (if not nil). A non-2xx answer is an
// *apiError.
func (u *UI) call(r *http.Request, method, path string, body, out any) error {
	rec, err := u.raw(r, method, path, body)
	if err != nil {
		return err
	}
	if out != nil && rec.body.Len() > 0 {
		if err := json.Unmarshal(rec.body.Bytes(), out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

func (u *UI) raw(r *http.Request, method, path string, body any) (*recorder, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(r.Context(), method, path, rd)
	if err != nil {
		return nil, err
	}
	req.RemoteAddr = r.RemoteAddr
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := &recorder{h: http.Header{}}
	u.o.Server.Dispatch(rec, req)
	if rec.status < 200 || rec.status > 299 {
		var e struct {
			Error apiError `json:"error"`
		}
		_ = json.Unmarshal(rec.body.Bytes(), &e)
		if e.Error.Message == "" {
			e.Error.Message = http.StatusText(rec.status)
		}
		e.Error.Status = rec.status
		return rec, &e.Error
	}
	return rec, nil
}

// notConfigured reports whether err only says that a capability is not
// configured (its API routes are absent).
func notConfigured(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Code == server.CodeNotFound &&
		strings.Contains(ae.Message, "no such API endpoint")
}

// redirect answers a successful form post (post/redirect/get).
func redirect(w http.ResponseWriter, r *http.Request, to, ok string) {
	if ok != "" {
		sep := "?"
		if strings.Contains(to, "?") {
			sep = "&"
		}
		to += sep + "ok=" + url.QueryEscape(ok)
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

func isErr(err, target error) bool { return errors.Is(err, target) }

// stream sends a GET API request in-process as the request's principal and
// streams a 2xx answer to w as it is written (an export of any size never
// sits in memory), with the response headers named in keep; a non-2xx
// answer is an *apiError and nothing of it reaches w.
func (u *UI) stream(w http.ResponseWriter, r *http.Request, path string, keep ...string) error {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, path, nil)
	if err != nil {
		return err
	}
	req.RemoteAddr = r.RemoteAddr
	sw := &streamWriter{w: w, h: http.Header{}, keep: keep}
	u.o.Server.Dispatch(sw, req)
	if sw.status == 0 {
		sw.WriteHeader(http.StatusOK)
	}
	if sw.ok() {
		return nil
	}
	var e struct {
		Error apiError `json:"error"`
	}
	_ = json.Unmarshal(sw.failed.Bytes(), &e)
	if e.Error.Message == "" {
		e.Error.Message = http.StatusText(sw.status)
	}
	e.Error.Status = sw.status
	return &e.Error
}

// streamWriter passes a successful API answer through to w and keeps an
// error answer for stream to return.
type streamWriter struct {
	w      http.ResponseWriter
	h      http.Header
	keep   []string
	status int
	failed bytes.Buffer
}

func (s *streamWriter) ok() bool            { return s.status >= 200 && s.status <= 299 }
func (s *streamWriter) Header() http.Header { return s.h }
func (s *streamWriter) WriteHeader(code int) {
	if s.status != 0 {
		return
	}
	s.status = code
	if s.ok() {
		for _, k := range s.keep {
			if v := s.h.Get(k); v != "" {
				s.w.Header().Set(k, v)
			}
		}
		s.w.WriteHeader(code)
	}
}
func (s *streamWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.WriteHeader(http.StatusOK)
	}
	if s.ok() {
		return s.w.Write(b)
	}
	return s.failed.Write(b)
}

// Unwrap lets the API handler's http.ResponseController reach the real
// connection (its rolling write deadline, flushes).
func (s *streamWriter) Unwrap() http.ResponseWriter { return s.w }
