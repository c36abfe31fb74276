// Package reportapi serves the monthly report's HTTP API under
// /api/v1/reports: the archive (list, one report, its HTML, PDF and CSV),
// the comment and the questions and tips written for a period, and
// generating (and e-mailing) a
// report on request. The report itself is made by the reports package's
// Service; the server authenticates every request and checks its role.
package reportapi

import (
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/reports"
)

// Options are what the report API serves from.
type Options struct {
	// Service generates, archives and sends reports; its Archive is read
	// for the list and the documents.
	Service *reports.Service
}

// Register registers the report API's routes on s, each with its role.
func Register(s *server.Server, o Options) {
	now := o.Service.Now
	if now == nil {
		now = time.Now
	}
	registerReports(s, o.Service, now)
	registerComment(s, o.Service, now)
	registerTips(s, o.Service, now)
	registerMail(s, o.Service)
}

// actorName names the caller in the archive (generated_by) and with the
// comment: the token's or the signed-in user's name.
func actorName(r *http.Request) string {
	if p, ok := auth.FromContext(r.Context()); ok {
		return p.Name
	}
	return "api"
}
