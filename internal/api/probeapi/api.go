// Package probeapi serves the probes' HTTP API (docs/api.md, "Probes and
// availability"; docs/probes.md): each probe's current state and its runs
// (GET /api/v1/probes, GET /api/v1/probes/{name}/results), a run on
// request (POST /api/v1/probes/{name}/run) and the availability per
// service the probes measured, maintenance left out
// (GET /api/v1/availability). One file per resource; every answer is JSON
// of an exported response type or the error envelope
// {"error":{"code":"…","message":"…"}} (internal/server).
package probeapi

import (
	"context"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/server"
)

// Store is what the API reads: states, runs and availability
// (internal/store/probestore).
type Store interface {
	ProbeStates(ctx context.Context) ([]probe.State, error)
	ProbeResults(ctx context.Context, name string, from, to time.Time, limit int) ([]probe.Result, error)
	ServiceAvailability(ctx context.Context, from, to time.Time) ([]probe.Figures, error)
	ServiceAvailabilityDaily(ctx context.Context, from, to time.Time, loc *time.Location) ([]probe.Figures, error)
}

// Runner runs a configured probe now and records the result
// (*probe.Runner); probe.ErrUnknownProbe for a name not configured.
type Runner interface {
	Check(ctx context.Context, name string) (probe.Result, error)
}

// Options configure the API.
type Options struct {
	Store  Store
	Runner Runner
	// Location is the time zone of the days of ?by=day and of the wall
	// times in ?since= and ?until= (the service time zone, timezone:);
	// nil is UTC.
	Location *time.Location
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Register adds the probes' routes to s, each with its role: reading for
// viewer and above, running a probe for oncall and above.
func Register(s *server.Server, o Options) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.UTC
	}
	registerProbes(s, o)
	registerResults(s, o)
	registerAvailability(s, o)
}

// periodParams reads ?from= and ?to= (RFC 3339); the default period is the
// span d up to now.
func periodParams(r *http.Request, now time.Time, d time.Duration) (from, to time.Time, err error) {
	to, from = now, now.Add(-d)
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.name); v != "" {
			if *p.t, err = time.Parse(time.RFC3339, v); err != nil {
				return from, to, server.BadRequest(p.name + ": want RFC 3339, e.g. 2026-11-01T00:00:00Z")
			}
		}
	}
	if !to.After(from) {
		return from, to, server.BadRequest("to must be after from")
	}
	return from, to, nil
}

// orEmpty is list, or an empty list for nil: a collection is never null.
func orEmpty[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
