// Package ticketapi serves the tickets capability's HTTP API, one file per
// resource: fault tickets with their timelines, comments and actions
// (tickets.go), the SLA policies and "when is it due" (sla.go), and outage
// and maintenance notices with their updates (notices.go), the preview
// of a notice's announcement (preview.go), and the public status page and
// Atom feed of the notices (status.go).
//
// Every answer is JSON of an exported response type or of a domain type
// (tickets.Ticket, sla.Result, notice.Notice), or the error envelope
// {"error":{"code":"…","message":"…"}} (internal/server).
package ticketapi

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// Options configure the API.
type Options struct {
	Tickets *tickets.Service
	Notices *notice.Service
	// SLA is the configured SLA section: its policies and default.
	SLA sla.Config
	// NoticesRecent is how long an ended notice is listed without ?all=true
	// (notices.status_recent).
	NoticesRecent time.Duration
	// AnnounceTo is the announce list (notices.announce_to), shown by the
	// preview; empty: nothing is e-mailed.
	AnnounceTo string
	// Location is the service time zone (timezone:): wall times in query
	// strings are read in it; nil: each policy's calendar zone.
	Location *time.Location
	Now      func() time.Time
}

// API is the tickets HTTP API.
type API struct {
	o   Options
	srv *server.Server
}

// Register adds the routes to srv, each with its role.
func Register(srv *server.Server, o Options) *API {
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &API{o: o, srv: srv}
	a.registerTickets()
	a.registerSLA()
	a.registerNotices()
	a.registerPreview()
	a.registerStatus()
	return a
}

// apiError maps the domain errors to API errors.
func apiError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tickets.ErrNotFound), errors.Is(err, notice.ErrNotFound):
		return server.NotFound(err.Error())
	case errors.Is(err, tickets.ErrTransition), errors.Is(err, notice.ErrTransition), errors.Is(err, notice.ErrWithdrawn):
		return server.Conflict(err.Error())
	case errors.Is(err, tickets.ErrInvalid), errors.Is(err, tickets.ErrUnknownAction), errors.Is(err, notice.ErrInvalid),
		errors.Is(err, sla.ErrNoPauseStates):
		return server.BadRequest(err.Error())
	}
	return err
}

// actor is the name of the request's principal.
func actor(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Name
}

// pathID reads the {id} of the path: a positive number, else 400.
func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, server.BadRequest("bad id " + strconv.Quote(r.PathValue("id")))
	}
	return id, nil
}
