// Package unitapi serves the units capability's HTTP API (docs/units.md),
// one file per resource: units with their history (units.go), the survey
// through a one-time link — JSON and the HTML form, without a token,
// rate-limited — and through the API (survey.go), and the migration:
// plan, documents, work orders, checklist steps, DNS checks and the
// tickets and notices scoped to a unit (migration.go).
//
// Every answer is JSON of an exported response type or of a domain type
// (units.Unit, units.Step …), or the error envelope
// {"error":{"code":"…","message":"…"}} (internal/server).
package unitapi

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Options configure the API.
type Options struct {
	Units *units.Service
	// Location is the service time zone: wall times in requests are read
	// in it.
	Location *time.Location
	// SurveyRate is how many survey requests (form or JSON) one client
	// address may make per minute; default 20.
	SurveyRate int
	Now        func() time.Time
}

// API is the units HTTP API.
type API struct {
	o       Options
	srv     *server.Server
	limiter *limiter
}

// Register adds the routes to srv, each with its role.
func Register(srv *server.Server, o Options) *API {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = o.Units.Location()
	}
	if o.SurveyRate <= 0 {
		o.SurveyRate = 20
	}
	a := &API{o: o, srv: srv, limiter: &limiter{per: o.SurveyRate, now: o.Now, seen: map[string]*bucket{}}}
	a.registerUnits()
	a.registerSurvey()
	a.registerMigration()
	a.registerRequirements()
	return a
}

// apiError maps the domain errors to API errors.
func apiError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, units.ErrNotFound):
		return server.NotFound(err.Error())
	case errors.Is(err, units.ErrLinkInvalid):
		return &server.Error{Status: http.StatusGone, Code: "link_invalid", Message: "this survey link is unknown, already used or expired; ask the mail team for a new one"}
	case errors.Is(err, units.ErrTransition):
		return server.Conflict(err.Error())
	case errors.Is(err, units.ErrInvalid):
		return server.BadRequest(err.Error())
	case errors.Is(err, units.ErrConflict):
		return server.Conflict(err.Error())
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

// limiter is a token bucket per client address for the unauthenticated
// survey routes: per requests a minute, bursts of the same size; at most
// 10000 addresses are remembered (the oldest are forgotten first).
type limiter struct {
	mu   sync.Mutex
	per  int
	now  func() time.Time
	seen map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *limiter) allow(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.seen[host]
	if !ok {
		if len(l.seen) >= 10000 {
			var oldest string
			for k, v := range l.seen {
				if oldest == "" || v.last.Before(l.seen[oldest].last) {
					oldest = k
				}
			}
			delete(l.seen, oldest)
		}
		b = &bucket{tokens: float64(l.per), last: now}
		l.seen[host] = b
	}
	b.tokens = min(float64(l.per), b.tokens+now.Sub(b.last).Minutes()*float64(l.per))
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

var errRate = &server.Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: "too many requests; wait a minute and try again"}
