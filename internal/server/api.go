package server

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
)

// HandlerFunc is an API handler: it writes a successful response itself or
// returns an error that becomes the JSON error body.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handle registers an API route, e.g. Handle("GET /api/v1/tickets",
// auth.RoleViewer, h). Every request must carry a bearer token whose role is
// at least min: no or a bad token answers 401, too small a role 403. The
// principal is in the request context (auth.FromContext).
func (s *Server) Handle(pattern string, min auth.Role, h HandlerFunc) {
	s.route(Route{Pattern: pattern, Role: min})
	s.mux.Handle(pattern, s.authenticate(min, h))
}

// HandlePublic registers an API route without token authentication, for
// endpoints that check their own credentials (a webhook's bearer secret, a
// Slack signature, a signed link).
func (s *Server) HandlePublic(pattern string, h HandlerFunc) {
	s.route(Route{Pattern: pattern})
	s.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			WriteError(w, r, err)
		}
	}))
}

// Route is a registered API route: its pattern (e.g. "GET
// /api/v1/tickets/{id}") and the least role it needs; Role is empty for a
// route that checks its own credentials (HandlePublic, or a handler
// mounted under /api/).
type Route struct {
	Pattern string
	Role    auth.Role
}

func (s *Server) route(r Route) {
	s.mu.Lock()
	s.routes = append(s.routes, r)
	s.mu.Unlock()
}

// Routes returns the API routes registered so far, in registration order.
func (s *Server) Routes() []Route {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.routes)
}

var (
	errNoToken  = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "missing bearer token"}
	errBadToken = &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized, Message: "invalid, expired or revoked token"}
)

func (s *Server) authenticate(min auth.Role, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.principal(r)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		if !p.Role.AtLeast(min) {
			WriteError(w, r, &Error{Status: http.StatusForbidden, Code: CodeForbidden,
				Message: "this action needs the role " + string(min) + " or higher"})
			return
		}
		if err := h(w, r.WithContext(auth.WithPrincipal(r.Context(), p))); err != nil {
			WriteError(w, r, err)
		}
	})
}

func (s *Server) principal(r *http.Request) (auth.Principal, error) {
	if p, ok := auth.FromContext(r.Context()); ok {
		return p, nil // set by an outer layer (the web UI's session)
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return auth.Principal{}, errNoToken
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !auth.LooksLikeSecret(strings.TrimSpace(secret)) {
		return auth.Principal{}, errBadToken
	}
	if s.opts.Tokens == nil {
		return auth.Principal{}, errBadToken
	}
	tok, err := s.opts.Tokens.TokenByHash(r.Context(), auth.HashSecret(strings.TrimSpace(secret)))
	if err != nil {
		return auth.Principal{}, errBadToken
	}
	now := s.opts.Now()
	if !tok.Active(now) {
		return auth.Principal{}, errBadToken
	}
	s.touch(r.Context(), tok.ID, now)
	return auth.Principal{Name: "token:" + tok.Name, Role: tok.Role, TokenID: tok.ID}, nil
}

// touch stores a token's last use at most once a minute.
func (s *Server) touch(ctx context.Context, id int64, now time.Time) {
	s.mu.Lock()
	last := s.touched[id]
	if now.Sub(last) < time.Minute {
		s.mu.Unlock()
		return
	}
	s.touched[id] = now
	s.mu.Unlock()
	if err := s.opts.Tokens.TouchToken(ctx, id, now); err != nil {
		s.opts.Logger.Warn("store token last use", "token", id, "err", err)
	}
}

// Audit writes an audit entry for the request's principal. Failure to audit
// fails the request: a change that cannot be audited must not pass silently.
func (s *Server) Audit(r *http.Request, action, target, detail string) error {
	if s.opts.Audit == nil {
		return nil
	}
	p, _ := auth.FromContext(r.Context())
	err := s.opts.Audit.Audit(r.Context(), auth.AuditEntry{
		At: s.opts.Now(), Actor: p.Name, Action: action, Target: target, Detail: detail, Remote: r.RemoteAddr,
	})
	if err != nil {
		return errors.Join(Internal(), err)
	}
	return nil
}
