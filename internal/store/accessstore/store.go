// Package accessstore keeps who may use postvakt in the database: the API
// tokens (table api_tokens, stored under the hash of their secret), the
// audit log of changes (audit_log), and the web interface's local users
// and their sessions (web_users, web_sessions). It implements
// auth.TokenStore and auth.AuditLog for the HTTP server and the CLI, and
// webauth.Store for the web interface's sign-in; the rules (token format,
// roles, lockout, session lifetimes) live in internal/auth and
// internal/webauth.
package accessstore

import (
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// Store is the access store on one database.
type Store struct{ db *storage.DB }

// New returns the access store on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var (
	_ auth.TokenStore = (*Store)(nil)
	_ auth.AuditLog   = (*Store)(nil)
	_ webauth.Store   = (*Store)(nil)
)
