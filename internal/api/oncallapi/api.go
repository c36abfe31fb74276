// Package oncallapi serves the on-call capability's HTTP API, one file per
// resource: who is on call and the schedules (rota.go), the rotas'
// versions and changes (rotaversions.go), the members (members.go), the
// record of shifts held (history.go), overrides
// (overrides.go), swap requests (swaps.go), unavailability
// (unavailability.go), the iCalendar feeds behind secret URLs (feeds.go),
// incidents with acknowledge and resolve (incidents.go), the signed
// acknowledge links of e-mail pages (acklinks.go), Slack's interactivity
// endpoint with its request signatures verified (slack.go), heartbeats
// (heartbeats.go) and the routes of the Alertmanager (and Grafana
// alerting) webhook receiver and the generic webhook intake
// (alertmanager.go), whose handlers are packages oncall/alertmanager's and
// oncall/integration's.
//
// Every answer is JSON of an exported response type, or the error
// envelope {"error":{"code":"…","message":"…"}} (internal/server).
package oncallapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Options configure the API.
type Options struct {
	Team        *team.Team
	Incidents   *incident.Service
	Heartbeats  *heartbeat.Monitor // optional
	Signer      page.Signer        // ack links; Key empty disables them
	LinkKey     string             // feed URL secrets; empty disables feeds
	BaseURL     string
	SlackSecret string // Slack signing secret; empty disables interactivity
	// SlackAPIURL is the Slack Web API base URL when it is not Slack's own
	// (tests): response URLs on its host are accepted besides
	// https://hooks.slack.com.
	SlackAPIURL  string
	MachineToken string                                                // Alertmanager token, also for heartbeats
	Notify       func(ctx context.Context, msgs ...page.Message) error // swap requests; optional
	// Alertmanager is the webhook receiver (oncall/alertmanager), served
	// at POST /api/v1/alertmanager; nil serves none.
	Alertmanager http.Handler
	// Integrations is the generic webhook intake (oncall/integration),
	// served at POST /api/v1/integrations/{name}/events; nil serves none.
	Integrations http.Handler
	// Location is the service time zone (timezone:): iCal feeds give
	// their times in it with a TZID; nil: UTC.
	Location *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
}

// API is the on-call HTTP API.
type API struct {
	o   Options
	srv *server.Server
}

// Register adds the routes to srv, each with its role (public routes check
// their own credentials: a feed's secret, a signed link, Slack's
// signature, the machine token).
func Register(srv *server.Server, o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &API{o: o, srv: srv}
	a.registerRota()
	a.registerRotaVersions()
	a.registerMembers()
	a.registerHistory()
	a.registerOverrides()
	a.registerSwaps()
	a.registerUnavailability()
	a.registerFeeds()
	a.registerIncidents()
	a.registerAckLinks()
	a.registerSlack()
	a.registerHeartbeats()
	a.registerAlertmanager()
	a.registerIntegrations()
	return a
}

// actor is the name of the request's principal.
func actor(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Name
}

// parseTime reads an instant: RFC 3339, or a date and time or a date in UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339, e.g. 2026-03-29T01:30:00+01:00", s)
}

// rotaParam reads ?rota= (default the first rota); an unknown rota is 404.
// It brings the team up to date with the database first.
func (a *API) rotaParam(r *http.Request) (string, error) {
	if err := a.o.Team.Refresh(r.Context()); err != nil {
		return "", err
	}
	name := r.URL.Query().Get("rota")
	if name == "" {
		name = a.o.Team.DefaultRota()
	}
	if _, err := a.o.Team.Rota(name); err != nil {
		return "", server.NotFound(err.Error())
	}
	return name, nil
}

// teamErr maps package team's errors to API errors.
func teamErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, team.ErrNotFound), errors.Is(err, team.ErrUnknownRota):
		return server.NotFound(err.Error())
	case errors.Is(err, team.ErrUnknownMember), errors.Is(err, team.ErrInvalid):
		return server.BadRequest(err.Error())
	case errors.Is(err, team.ErrState), errors.Is(err, team.ErrConflict), errors.Is(err, team.ErrNotStored):
		return server.Conflict(err.Error())
	case errors.Is(err, team.ErrNotYours):
		return &server.Error{Status: http.StatusForbidden, Code: server.CodeForbidden, Message: err.Error()}
	}
	return err
}
