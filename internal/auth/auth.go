// Package auth owns who may do what: the roles (admin, postmaster, oncall,
// helpdesk, viewer), API tokens (random secrets stored only as hashes), and
// the principal attached to a request. Stores are interfaces implemented by
// internal/storage.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Role is a closed set of roles, ordered by what they may do: each role may
// do everything the roles below it may.
type Role string

// The roles, from most to least privileged.
const (
	RoleAdmin      Role = "admin"      // users, roles, tokens, configuration
	RolePostmaster Role = "postmaster" // directory, queues, quarantine, accounts
	RoleOncall     Role = "oncall"     // acknowledge pages, work tickets, rota swaps
	RoleHelpdesk   Role = "helpdesk"   // open tickets, trace with masked subjects
	RoleViewer     Role = "viewer"     // read only
)

var rank = map[Role]int{RoleViewer: 1, RoleHelpdesk: 2, RoleOncall: 3, RolePostmaster: 4, RoleAdmin: 5}

// Roles lists every role, most privileged first.
func Roles() []Role {
	return []Role{RoleAdmin, RolePostmaster, RoleOncall, RoleHelpdesk, RoleViewer}
}

// ErrBadRole is wrapped when a role name is not one of Roles().
var ErrBadRole = errors.New("unknown role")

// ParseRole parses a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := rank[r]; !ok {
		return "", fmt.Errorf("%w %q (want admin, postmaster, oncall, helpdesk or viewer)", ErrBadRole, s)
	}
	return r, nil
}

// AtLeast reports whether r may do what min may.
func (r Role) AtLeast(min Role) bool { return rank[r] >= rank[min] && rank[r] > 0 }

// Principal is who a request acts as.
type Principal struct {
	Name    string // token name or user name; goes into the audit log
	Role    Role
	TokenID int64
}

type principalKey struct{}

// WithPrincipal attaches p to ctx.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal attached to ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Token is an API token as stored: never the secret itself.
type Token struct {
	ID         int64
	Name       string
	Role       Role
	Prefix     string // the first characters of the secret, to recognise it
	CreatedAt  time.Time
	CreatedBy  string
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Active reports whether the token may be used at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// TokenStore keeps API tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token, hash string) (Token, error)
	TokenByHash(ctx context.Context, hash string) (Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	RevokeToken(ctx context.Context, id int64, at time.Time) error
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// tokenPrefix marks postvakt tokens so that secret scanners can find them.
const tokenPrefix = "pvt_"

// NewSecret returns a fresh random token secret (160 bits of entropy).
func NewSecret() (string, error) {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// HashSecret is the stored form of a token secret. A fast hash is right here:
// the secret is random and long, so it cannot be guessed from the hash.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// DisplayPrefix is the part of a secret shown in listings.
func DisplayPrefix(secret string) string {
	if len(secret) > len(tokenPrefix)+6 {
		return secret[:len(tokenPrefix)+6]
	}
	return secret
}

// LooksLikeSecret reports whether s has the shape of a token secret.
func LooksLikeSecret(s string) bool {
	return strings.HasPrefix(s, tokenPrefix) && len(s) == len(tokenPrefix)+32
}

// EqualHash compares two hashes in constant time.
func EqualHash(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// AuditEntry is one line of the audit log: every change and every trace
// search.
type AuditEntry struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string // e.g. "token.create", "trace.search"
	Target string
	Detail string
	Remote string
}

// AuditLog appends to and reads the audit log.
type AuditLog interface {
	Audit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, since time.Time, limit int) ([]AuditEntry, error)
}

// ErrInvalidToken is wrapped by IssueToken's validation errors.
var ErrInvalidToken = errors.New("invalid token request")

// ErrNoToken is wrapped by stores when a token does not exist.
var ErrNoToken = errors.New("no such token")

// TokenRequest asks IssueToken for a token.
type TokenRequest struct {
	Name string
	Role string
	TTL  time.Duration // 0: never expires
	By   string        // who asked; goes into the token's record
	Now  time.Time
}

// IssueToken validates req, creates the token and returns it with its
// secret, which is shown once and never stored. The CLI and the API both
// issue tokens through it.
func IssueToken(ctx context.Context, store TokenStore, req TokenRequest) (Token, string, error) {
	name := strings.TrimSpace(req.Name)
	if name == "" || len(name) > 100 {
		return Token{}, "", fmt.Errorf("%w: name is required (at most 100 characters)", ErrInvalidToken)
	}
	role, err := ParseRole(req.Role)
	if err != nil {
		return Token{}, "", fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if req.TTL < 0 {
		return Token{}, "", fmt.Errorf("%w: expiry must be positive", ErrInvalidToken)
	}
	var exp time.Time
	if req.TTL > 0 {
		exp = req.Now.Add(req.TTL)
	}
	secret, err := NewSecret()
	if err != nil {
		return Token{}, "", err
	}
	t, err := store.CreateToken(ctx, Token{Name: name, Role: role, Prefix: DisplayPrefix(secret),
		CreatedAt: req.Now, CreatedBy: req.By, ExpiresAt: exp}, HashSecret(secret))
	if err != nil {
		return Token{}, "", fmt.Errorf("issue token %q: %w", name, err)
	}
	return t, secret, nil
}
