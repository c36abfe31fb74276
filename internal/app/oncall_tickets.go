package app

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/team"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// oncallTicketLinks ties the tickets and on-call capabilities together
// without either importing the other: tickets are set up first and get this
// value as their Pager and OnCallResolver; setupOncall binds the incident
// service and the team to it once they exist. Before that (or when on-call
// is not configured) pages are logged and the rota-only resolver answers.
type oncallTicketLinks struct {
	logger   *slog.Logger
	fallback tickets.OnCallResolver
	rota     string

	mu        sync.RWMutex
	incidents *incident.Service
	team      *team.Team
}

var (
	_ tickets.Pager          = (*oncallTicketLinks)(nil)
	_ tickets.OnCallResolver = (*oncallTicketLinks)(nil)
)

func (l *oncallTicketLinks) bind(svc *incident.Service, tm *team.Team) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.incidents, l.team = svc, tm
	if l.rota == "" && tm != nil {
		l.rota = tm.DefaultRota()
	}
}

// Page turns an SLA warning, breach or reminder into an on-call incident
// keyed by the page's dedup key, so it is paged (and escalated, for a
// breach) by the escalation policy like any other incident.
func (l *oncallTicketLinks) Page(ctx context.Context, req tickets.PageRequest) error {
	l.mu.RLock()
	svc := l.incidents
	l.mu.RUnlock()
	if svc == nil {
		l.logger.Warn("SLA page not sent: the on-call capability is not configured",
			"kind", req.Kind, "ticket", req.TicketID, "message", req.Message)
		return nil
	}
	sev := "warning"
	if req.Escalate {
		sev = "critical"
	}
	_, _, err := svc.Trigger(ctx, incident.Trigger{
		Key: "sla/" + req.DedupKey, Source: incidentSourceSLA, Title: req.Message,
		Summary:  "Ticket " + req.TicketID + " (" + req.Service + ", " + req.Severity + "): " + req.Clock + " due " + req.Due.Format(time.RFC3339),
		Severity: sev, ExternalURL: req.URL, Actor: "sla",
		Labels: map[string]string{"ticket": req.TicketID, "clock": req.Clock, "kind": req.Kind},
	})
	return err
}

// OnCallAt answers who is on call with the team (overrides and swaps
// honoured), or the rota alone before on-call is bound.
func (l *oncallTicketLinks) OnCallAt(ctx context.Context, at time.Time) (string, error) {
	l.mu.RLock()
	tm, rota := l.team, l.rota
	l.mu.RUnlock()
	if tm == nil || rota == "" {
		if l.fallback == nil {
			return "", nil
		}
		return l.fallback.OnCallAt(ctx, at)
	}
	sh, err := tm.OnCallAt(ctx, rota, at)
	if err != nil {
		return "", err
	}
	return sh.Member, nil
}

// incidentSourceSLA marks incidents raised for SLA pages; they page about a
// ticket that exists already, so they do not open one of their own.
const incidentSourceSLA = "sla"

// incidentTicketer implements the on-call capability's hook with the ticket
// service: an incident opens a fault ticket, its resolution resolves it.
type incidentTicketer struct {
	svc        *tickets.Service
	severities []string
	services   []string
}

var _ incident.IncidentTicketer = incidentTicketer{}

func (t incidentTicketer) OpenForIncident(ctx context.Context, inc incident.Incident) (string, error) {
	if inc.Source == incidentSourceSLA {
		return "", nil
	}
	info := tickets.IncidentInfo{
		ID: strconv.FormatInt(inc.ID, 10), Title: inc.Title, StartedAt: inc.OpenedAt, Summary: inc.Summary,
	}
	// Alert labels name a severity and a service; use them when they are in
	// the ticket configuration's closed lists, else the defaults.
	if slices.Contains(t.severities, inc.Severity) {
		info.Severity = inc.Severity
	} else if inc.Severity == "warning" && slices.Contains(t.severities, "major") {
		info.Severity = "major"
	}
	if s := inc.Labels["service"]; slices.Contains(t.services, s) {
		info.Service = s
	}
	return t.svc.OpenForIncident(ctx, info)
}

func (t incidentTicketer) ResolveForIncident(ctx context.Context, inc incident.Incident, ticketID string) error {
	if ticketID == "" {
		return nil
	}
	at := inc.ResolvedAt
	if at.IsZero() {
		at = time.Now()
	}
	return t.svc.ResolveForIncident(ctx, ticketID, at)
}
