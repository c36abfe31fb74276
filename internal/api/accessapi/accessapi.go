// Package accessapi serves who may use postvakt's API and what they did:
// GET /api/v1/whoami, the API tokens under /api/v1/tokens (admin), the
// audit log at /api/v1/audit (admin), and the index of the runbooks at
// /api/v1/runbooks (the rendered runbooks themselves are web pages under
// /runbooks). The server authenticates every request and checks its role
// (server.Handle); the tokens and the audit log are kept by
// internal/store/accessstore.
package accessapi

import (
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/runbooks"
)

// Options are what the access API serves from.
type Options struct {
	Tokens auth.TokenStore
	Audit  auth.AuditLog
	// Runbooks is the runbook library; nil leaves out /api/v1/runbooks.
	Runbooks *runbooks.Library
	// BaseURL is http.base_url, for the runbooks' links.
	BaseURL string
	Now     func() time.Time
}

// Register registers the access API's routes on s, each with its role.
func Register(s *server.Server, o Options) {
	if o.Now == nil {
		o.Now = time.Now
	}
	registerWhoami(s)
	registerTokens(s, o)
	registerAudit(s, o)
	if o.Runbooks != nil {
		registerRunbooks(s, o)
	}
}
