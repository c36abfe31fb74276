package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
)

// TokenView is an API token as the API shows it (never the secret, nor its
// hash).
type TokenView struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       auth.Role  `json:"role"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func viewToken(t auth.Token) TokenView {
	opt := func(x time.Time) *time.Time {
		if x.IsZero() {
			return nil
		}
		return &x
	}
	return TokenView{ID: t.ID, Name: t.Name, Role: t.Role, Prefix: t.Prefix, CreatedAt: t.CreatedAt,
		CreatedBy: t.CreatedBy, ExpiresAt: opt(t.ExpiresAt), LastUsedAt: opt(t.LastUsedAt), RevokedAt: opt(t.RevokedAt)}
}

func (s *Server) registerTokenAPI() {
	s.Handle("GET /api/v1/whoami", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.FromContext(r.Context())
		WriteJSON(w, http.StatusOK, map[string]any{"name": p.Name, "role": p.Role})
		return nil
	})
	s.Handle("GET /api/v1/tokens", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		list, err := s.opts.Tokens.ListTokens(r.Context())
		if err != nil {
			return err
		}
		out := make([]TokenView, 0, len(list))
		for _, t := range list {
			out = append(out, viewToken(t))
		}
		WriteJSON(w, http.StatusOK, map[string]any{"tokens": out})
		return nil
	})
	s.Handle("POST /api/v1/tokens", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Name      string `json:"name"`
			Role      string `json:"role"`
			ExpiresIn string `json:"expires_in"` // e.g. "720h"; empty: never
		}
		if err := ReadJSON(r, &req); err != nil {
			return err
		}
		p, _ := auth.FromContext(r.Context())
		var ttl time.Duration
		if req.ExpiresIn != "" {
			d, err := time.ParseDuration(req.ExpiresIn)
			if err != nil {
				return BadRequest("expires_in must be a duration such as 720h")
			}
			ttl = d
		}
		t, secret, err := auth.IssueToken(r.Context(), s.opts.Tokens, auth.TokenRequest{
			Name: req.Name, Role: req.Role, TTL: ttl, By: p.Name, Now: s.opts.Now()})
		if errors.Is(err, auth.ErrInvalidToken) {
			return BadRequest(err.Error())
		}
		if err != nil {
			return err
		}
		if err := s.Audit(r, "token.create", strconv.FormatInt(t.ID, 10), "name="+t.Name+" role="+string(t.Role)); err != nil {
			return err
		}
		WriteJSON(w, http.StatusCreated, map[string]any{"token": viewToken(t), "secret": secret})
		return nil
	})
	s.Handle("DELETE /api/v1/tokens/{id}", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return BadRequest("token id must be a number")
		}
		if err := s.opts.Tokens.RevokeToken(r.Context(), id, s.opts.Now()); err != nil {
			if errors.Is(err, auth.ErrNoToken) {
				return NotFound("no such token")
			}
			return err
		}
		if err := s.Audit(r, "token.revoke", strconv.FormatInt(id, 10), ""); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.Handle("GET /api/v1/audit", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		since := s.opts.Now().Add(-30 * 24 * time.Hour)
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return BadRequest("since must be an RFC 3339 time")
			}
			since = t
		}
		list, err := s.opts.Audit.ListAudit(r.Context(), since, 1000)
		if err != nil {
			return err
		}
		WriteList(w, "entries", list)
		return nil
	})
}
