package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// safeNext keeps a post-login redirect on this site: it returns s when s
// is a path on this site, else "/". Browsers drop ASCII tab, line feed and
// carriage return anywhere in a URL and treat "\\" as "/" (WHATWG URL
// Standard, "basic URL parser"), so "/\t/evil.example" is
// "//evil.example", another host. So: those characters are removed first,
// any other control character or space refuses s, and what remains must
// start with exactly one "/" (not "//" nor "/\\"), parse with no scheme,
// host or user, and not be an API path.
func safeNext(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
	if s == "" || s[0] != '/' || len(s) > 2048 {
		return "/"
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return "/"
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '\\' }) {
		return "/"
	}
	p, err := url.Parse(s)
	if err != nil || p.Scheme != "" || p.Host != "" || p.User != nil || p.Opaque != "" ||
		!strings.HasPrefix(p.Path, "/") || strings.HasPrefix(p.Path, "//") || strings.HasPrefix(p.Path, "/api/") {
		return "/"
	}
	return s
}

// loginForm shows the sign-in form. Its CSRF protection is a double-submit
// token: a fresh random value in a cookie and in the form, which must match.
func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	u.headers(w)
	if _, ok := sessionFrom(r.Context()); ok {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	u.showLogin(w, r, http.StatusOK, "", "")
}

// loginView is the sign-in form: where to go after it, the name typed,
// why the last attempt failed, and whether single sign-on is set up.
type loginView struct {
	Next  string
	Name  string
	Error string
	SSO   bool
	// NoAdmin: no enabled admin exists yet, so the form says how to make
	// the first one (docs/web.md, "First run").
	NoAdmin bool
}

func (u *UI) showLogin(w http.ResponseWriter, r *http.Request, status int, name, msg string) {
	tok, err := webauth.RandomToken()
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: tok, Path: "/login", HttpOnly: true,
		Secure: u.secure(r), SameSite: http.SameSiteStrictMode, MaxAge: 3600})
	has, err := u.adminExists(r.Context())
	if err != nil {
		u.o.Logger.Warn("web: sign-in form: list users", "err", err)
		has = true // say nothing rather than something wrong
	}
	v := &view{Title: "Sign in", Now: u.o.Now(), Version: u.o.Version, CSRF: tok, Data: loginView{
		Next: safeNext(r.FormValue("next")), Name: name, Error: msg, SSO: u.cfg.SSO.Header != "", NoAdmin: !has,
	}}
	u.render(w, status, "login", v)
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	u.headers(w)
	c, err := r.Cookie(loginCookie)
	if err != nil || !webauth.EqualToken(c.Value, r.PostFormValue(csrfField)) {
		u.fail(w, r, nil, http.StatusForbidden, "The sign-in form was missing its security token or it was stale. Reload the page and try again.")
		return
	}
	name := r.PostFormValue("user")
	addr := u.clientAddr(r)
	res, secret, _, err := u.o.Auth.Login(r.Context(), name, r.PostFormValue("password"), addr)
	switch {
	case errors.Is(err, webauth.ErrThrottled):
		if res.LockedNow {
			ctx := auth.WithPrincipal(r.Context(), auth.Principal{Name: res.User.Name})
			_ = u.o.Server.Audit(r.WithContext(ctx), "web.lockout", "user:"+res.User.Name, "too many failed sign-ins")
		}
		w.Header().Set("Retry-After", "60")
		u.showLogin(w, r, http.StatusTooManyRequests, name, "Too many failed sign-ins. Wait a while and try again.")
		return
	case errors.Is(err, webauth.ErrBadCredentials):
		u.showLogin(w, r, http.StatusUnauthorized, name, "Wrong user name or password.")
		return
	case errors.Is(err, webauth.ErrBusy):
		w.Header().Set("Retry-After", "5")
		u.showLogin(w, r, http.StatusServiceUnavailable, name, "Too many sign-ins at once. Try again in a few seconds.")
		return
	case err != nil:
		u.o.Logger.Error("web: sign-in", "err", err)
		u.showLogin(w, r, http.StatusInternalServerError, name, "Sign-in failed on the server; try again.")
		return
	}
	// Rotate: a session cookie the browser had before is ended.
	if old, err := r.Cookie(SessionCookie); err == nil {
		_ = u.o.Auth.Logout(r.Context(), old.Value)
	}
	u.setSessionCookie(w, r, secret)
	u.clearCookie(w, r, loginCookie)
	ctx := auth.WithPrincipal(r.Context(), principal(res.User))
	if err := u.o.Server.Audit(r.WithContext(ctx), "web.login", "user:"+res.User.Name, "via=password"); err != nil {
		u.o.Logger.Error("web: audit sign-in", "err", err)
	}
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request, v *view) error {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := u.o.Auth.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	u.clearCookie(w, r, SessionCookie)
	if err := u.o.Server.Audit(r, "web.logout", "user:"+v.User.Name, ""); err != nil {
		return err
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}
