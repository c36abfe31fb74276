package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// SetupLinkLifetime is how long the one-time link that creates the first
// admin stays valid (docs/web.md, "First run").
const SetupLinkLifetime = time.Hour

// firstRun is the one-time setup link that creates the first admin: a
// random token, of which only the SHA-256 is kept, valid once, until its
// expiry, and only while no enabled admin exists (docs/web.md, "First
// run"). A replica issues its own link at start; the first admin made
// through any of them ends them all, since each checks the users.
type firstRun struct {
	mu       sync.Mutex
	hash     [32]byte
	expires  time.Time
	used     bool
	hasAdmin atomic.Bool // once true, stays true: no more setup
}

// adminExists reports whether an enabled admin exists; it is cached once
// true.
func (u *UI) adminExists(ctx context.Context) (bool, error) {
	if u.setup.hasAdmin.Load() {
		return true, nil
	}
	users, err := u.o.Auth.Users(ctx)
	if err != nil {
		return false, err
	}
	for _, x := range users {
		if x.Role == auth.RoleAdmin && !x.Disabled {
			u.setup.hasAdmin.Store(true)
			return true, nil
		}
	}
	return false, nil
}

// SetupLink issues the one-time link that creates the first admin and
// returns its path ("/setup?token=…"), or "" when an admin exists. A new
// call replaces an earlier link.
func (u *UI) SetupLink(ctx context.Context) (string, error) {
	ok, err := u.adminExists(ctx)
	if err != nil || ok {
		return "", err
	}
	tok, err := webauth.RandomToken()
	if err != nil {
		return "", err
	}
	u.setup.mu.Lock()
	u.setup.hash, u.setup.expires, u.setup.used = sha256.Sum256([]byte(tok)), u.o.Now().Add(SetupLinkLifetime), false
	u.setup.mu.Unlock()
	return "/setup?token=" + tok, nil
}

// validSetupToken reports whether tok is the live setup link's token.
// Call with u.setup.mu held.
func (u *UI) validSetupToken(tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return tok != "" && !u.setup.used && !u.setup.expires.IsZero() && u.o.Now().Before(u.setup.expires) &&
		subtle.ConstantTimeCompare(h[:], u.setup.hash[:]) == 1
}

// setupView is the first-admin form.
type setupView struct {
	Token, Name, Display, Error string
}

// setupForm shows the form that creates the first admin, for the holder
// of the setup link.
func (u *UI) setupForm(w http.ResponseWriter, r *http.Request) {
	u.headers(w)
	tok := r.URL.Query().Get("token")
	if !u.setupOpen(w, r, tok) {
		return
	}
	u.render(w, http.StatusOK, "setup", &view{Title: "Create the first admin", Now: u.o.Now(), Version: u.o.Version,
		Data: setupView{Token: tok}})
}

// setupOpen answers with an error page and false unless the setup link
// tok may be used now.
func (u *UI) setupOpen(w http.ResponseWriter, r *http.Request, tok string) bool {
	has, err := u.adminExists(r.Context())
	if err != nil {
		u.o.Logger.Error("web: setup", "err", err)
		u.fail(w, r, nil, http.StatusInternalServerError, "Something went wrong on the server; it is in the log.")
		return false
	}
	if has {
		u.fail(w, r, nil, http.StatusGone, "An admin exists already: sign in, or ask an admin for an account.")
		return false
	}
	u.setup.mu.Lock()
	ok := u.validSetupToken(tok)
	u.setup.mu.Unlock()
	if !ok {
		u.fail(w, r, nil, http.StatusForbidden, "This setup link is not valid: it was used, it expired, or the service "+
			"restarted since (each start prints a new one in the log). Or run on the server: postvakt user add --role admin NAME")
		return false
	}
	return true
}

// setupAdmin creates the first admin from the form, uses up the link,
// audits it and signs the new admin in.
func (u *UI) setupAdmin(w http.ResponseWriter, r *http.Request) {
	u.headers(w)
	tok := r.PostFormValue("token")
	if !u.setupOpen(w, r, tok) {
		return
	}
	name, display := r.PostFormValue("user"), r.PostFormValue("display_name")
	again := func(msg string) {
		u.render(w, http.StatusBadRequest, "setup", &view{Title: "Create the first admin", Now: u.o.Now(), Version: u.o.Version,
			Data: setupView{Token: tok, Name: name, Display: display, Error: msg}})
	}
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password2") {
		again("The two passwords differ.")
		return
	}
	u.setup.mu.Lock()
	if !u.validSetupToken(tok) { // used by a request that came first
		u.setup.mu.Unlock()
		u.fail(w, r, nil, http.StatusForbidden, "This setup link has just been used.")
		return
	}
	usr, err := u.o.Auth.AddUser(r.Context(), name, display, string(auth.RoleAdmin), pw)
	if err == nil {
		u.setup.used = true
		u.setup.hasAdmin.Store(true)
	}
	u.setup.mu.Unlock()
	switch {
	case errors.Is(err, webauth.ErrInvalid):
		again(err.Error())
		return
	case err != nil:
		u.o.Logger.Error("web: setup: add the first admin", "err", err)
		again("The user could not be saved; the reason is in the log.")
		return
	}
	ctx := auth.WithPrincipal(r.Context(), principal(usr))
	ar := r.WithContext(ctx)
	if err := u.o.Server.Audit(ar, "user.add", "user:"+usr.Name, "role=admin via=setup-link"); err != nil {
		u.o.Logger.Error("web: audit setup", "err", err)
	}
	u.o.Logger.Info("web: first admin created through the setup link; the link is used up", "user", usr.Name)
	secret, _, err := u.o.Auth.StartSession(r.Context(), usr, u.clientAddr(r), "setup")
	if err != nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	u.setSessionCookie(w, r, secret)
	_ = u.o.Server.Audit(ar, "web.login", "user:"+usr.Name, "via=setup-link")
	http.Redirect(w, r, "/?ok=welcome", http.StatusSeeOther)
}
