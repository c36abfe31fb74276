package accessapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
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

// TokenList is GET /api/v1/tokens: every token, newest first.
type TokenList struct {
	Tokens []TokenView `json:"tokens"`
}

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Name      string `json:"name"`
	Role      string `json:"role"`
	ExpiresIn string `json:"expires_in"` // e.g. "720h"; empty: never
}

// CreatedToken answers POST /api/v1/tokens: the token and its secret,
// which is shown this once and never again.
type CreatedToken struct {
	Secret string    `json:"secret"`
	Token  TokenView `json:"token"`
}

// ViewToken is t as the API (and `postvakt token list --json`) shows it.
func ViewToken(t auth.Token) TokenView {
	opt := func(x time.Time) *time.Time {
		if x.IsZero() {
			return nil
		}
		return &x
	}
	return TokenView{ID: t.ID, Name: t.Name, Role: t.Role, Prefix: t.Prefix, CreatedAt: t.CreatedAt,
		CreatedBy: t.CreatedBy, ExpiresAt: opt(t.ExpiresAt), LastUsedAt: opt(t.LastUsedAt), RevokedAt: opt(t.RevokedAt)}
}

func registerTokens(s *server.Server, o Options) {
	s.Handle("GET /api/v1/tokens", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		list, err := o.Tokens.ListTokens(r.Context())
		if err != nil {
			return err
		}
		out := TokenList{Tokens: make([]TokenView, 0, len(list))}
		for _, t := range list {
			out.Tokens = append(out.Tokens, ViewToken(t))
		}
		server.WriteJSON(w, http.StatusOK, out)
		return nil
	})
	s.Handle("POST /api/v1/tokens", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		var req CreateTokenRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		p, _ := auth.FromContext(r.Context())
		var ttl time.Duration
		if req.ExpiresIn != "" {
			d, err := time.ParseDuration(req.ExpiresIn)
			if err != nil {
				return server.BadRequest("expires_in must be a duration such as 720h")
			}
			ttl = d
		}
		t, secret, err := auth.IssueToken(r.Context(), o.Tokens, auth.TokenRequest{
			Name: req.Name, Role: req.Role, TTL: ttl, By: p.Name, Now: o.Now()})
		if errors.Is(err, auth.ErrInvalidToken) {
			return server.BadRequest(err.Error())
		}
		if err != nil {
			return err
		}
		if err := s.Audit(r, "token.create", strconv.FormatInt(t.ID, 10), "name="+t.Name+" role="+string(t.Role)); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, CreatedToken{Token: ViewToken(t), Secret: secret})
		return nil
	})
	s.Handle("DELETE /api/v1/tokens/{id}", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return server.BadRequest("token id must be a number")
		}
		if err := o.Tokens.RevokeToken(r.Context(), id, o.Now()); err != nil {
			if errors.Is(err, auth.ErrNoToken) {
				return server.NotFound("no such token")
			}
			return err
		}
		if err := s.Audit(r, "token.revoke", strconv.FormatInt(id, 10), ""); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
