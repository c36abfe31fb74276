package alerting

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// SourceSLA is the incident source of SLA pages. Such an incident pages
// about a ticket that exists already, so it opens no ticket of its own.
const SourceSLA = "sla"

// TicketService is what the link needs of the ticket service.
type TicketService interface {
	OpenForIncident(ctx context.Context, in tickets.IncidentInfo) (string, error)
	ResolveForIncident(ctx context.Context, ticketID string, at time.Time) error
	AckForIncident(ctx context.Context, ticketID, incidentID, by string) (bool, error)
	AssignForIncident(ctx context.Context, ticketID, member, by string) error
}

// TicketIncidents is what the link needs of package incident.
type TicketIncidents interface {
	Trigger(ctx context.Context, tr incident.Trigger) (incident.Incident, bool, error)
}

// Team is what the link needs of package team to say who is on call.
type Team interface {
	OnCallAt(ctx context.Context, rotaName string, at time.Time) (rota.Shift, error)
	DefaultRota() string
}

// LinkOptions configure a TicketLink.
type LinkOptions struct {
	// Severities and Services are the tickets' closed lists
	// (tickets.severities, the IDs of tickets.services): an incident's
	// severity and service label are kept when they are in them.
	Severities []string
	Services   []string
	// Rota names the rota whose person on call is a ticket's default
	// assignee; empty: the team's first.
	Rota string
	// Fallback answers who is on call before the team is bound (or when
	// on-call is not configured); nil answers nobody.
	Fallback tickets.OnCallResolver
	// Location is the service time zone (config/timezone) of the times in
	// incident summaries; nil: UTC.
	Location *time.Location
	Logger   *slog.Logger
	Now      func() time.Time
}

// TicketLink joins fault tickets and on-call incidents, neither of which
// imports the other:
//
//   - An SLA warning, breach or reminder of a ticket (tickets.Pager) opens
//     an incident keyed by the page's dedup key, so it is paged, and a
//     breach escalated, by the escalation policy like any other incident:
//     critical when the page escalates, else warning.
//   - Who is on call (tickets.OnCallResolver) is the team's answer, with
//     overrides and swaps, once the team is bound.
//   - An incident (incident.IncidentTicketer) opens a fault ticket, except
//     an SLA page's incident. The ticket takes the incident's severity when
//     the tickets know it, "major" for a warning when they know that, else
//     their default; and the incident's service label when it names a
//     ticket service, else the incident service. Acknowledging the
//     incident acknowledges a ticket still "new", reassigning it gives the
//     ticket to the same member, and resolving it resolves the ticket
//     (unless incident.Options.KeepTicketOpen).
//
// The ticket service needs the link when it is built, and so does the
// incident service: each is bound to the link once it exists (BindTickets,
// BindOnCall). Until then SLA pages are logged, not sent.
type TicketLink struct {
	o LinkOptions

	mu        sync.RWMutex
	tickets   TicketService
	incidents TicketIncidents
	team      Team
	rota      string
}

var (
	_ tickets.Pager             = (*TicketLink)(nil)
	_ tickets.OnCallResolver    = (*TicketLink)(nil)
	_ incident.IncidentTicketer = (*TicketLink)(nil)
	_ incident.TicketAcker      = (*TicketLink)(nil)
	_ incident.TicketAssigner   = (*TicketLink)(nil)
)

// NewTicketLink returns a link with nothing bound.
func NewTicketLink(o LinkOptions) *TicketLink {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &TicketLink{o: o, rota: o.Rota}
}

// BindTickets binds the ticket service.
func (l *TicketLink) BindTickets(ts TicketService) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.tickets = ts
}

// BindOnCall binds the incident service and the team.
func (l *TicketLink) BindOnCall(inc TicketIncidents, tm Team) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.incidents, l.team = inc, tm
	if l.rota == "" && tm != nil {
		l.rota = tm.DefaultRota()
	}
}

// Page turns an SLA page into an incident. It implements tickets.Pager.
func (l *TicketLink) Page(ctx context.Context, req tickets.PageRequest) error {
	l.mu.RLock()
	svc := l.incidents
	l.mu.RUnlock()
	if svc == nil {
		l.o.Logger.Warn("SLA page not sent: the on-call capability is not configured",
			"kind", req.Kind, "ticket", req.TicketID, "message", req.Message)
		return nil
	}
	_, _, err := svc.Trigger(ctx, slaTrigger(req, l.o.Location))
	return err
}

// slaTrigger is the incident of an SLA page.
func slaTrigger(req tickets.PageRequest, loc *time.Location) incident.Trigger {
	sev := incident.SeverityWarning
	if req.Escalate {
		sev = incident.SeverityCritical
	}
	return incident.Trigger{
		Key: "sla/" + req.DedupKey, Source: SourceSLA, Title: req.Message,
		Summary:  "Ticket " + req.TicketID + " (" + req.Service + ", " + req.Severity + "): " + req.Clock + " due " + timezone.Format(req.Due, loc),
		Severity: sev, ExternalURL: req.URL, Actor: "sla",
		Labels: map[string]string{"ticket": req.TicketID, "clock": req.Clock, "kind": req.Kind},
	}
}

// OnCallAt answers who is on call with the team (overrides and swaps
// honoured), or with the fallback before the team is bound. It
// implements tickets.OnCallResolver.
func (l *TicketLink) OnCallAt(ctx context.Context, at time.Time) (string, error) {
	l.mu.RLock()
	tm, rotaName := l.team, l.rota
	l.mu.RUnlock()
	if tm == nil || rotaName == "" {
		if l.o.Fallback == nil {
			return "", nil
		}
		return l.o.Fallback.OnCallAt(ctx, at)
	}
	sh, err := tm.OnCallAt(ctx, rotaName, at)
	if err != nil {
		return "", err
	}
	return sh.Member, nil
}

// OpenForIncident opens the fault ticket of an incident and returns its
// ID; none (and "") for an SLA page's incident or before the ticket
// service is bound. It implements incident.IncidentTicketer.
func (l *TicketLink) OpenForIncident(ctx context.Context, inc incident.Incident) (string, error) {
	l.mu.RLock()
	ts := l.tickets
	l.mu.RUnlock()
	info, ok := l.ticketInfo(inc)
	if !ok || ts == nil {
		return "", nil
	}
	return ts.OpenForIncident(ctx, info)
}

// ticketInfo is what the ticket of an incident is opened with; false for
// an incident that gets no ticket.
func (l *TicketLink) ticketInfo(inc incident.Incident) (tickets.IncidentInfo, bool) {
	if inc.Source == SourceSLA {
		return tickets.IncidentInfo{}, false
	}
	info := tickets.IncidentInfo{
		ID: strconv.FormatInt(inc.ID, 10), Title: inc.Title, StartedAt: inc.OpenedAt, Summary: inc.Summary,
	}
	// Alert labels name a severity and a service; use them when they are in
	// the ticket configuration's closed lists, else the defaults.
	if slices.Contains(l.o.Severities, inc.Severity) {
		info.Severity = inc.Severity
	} else if inc.Severity == incident.SeverityWarning && slices.Contains(l.o.Severities, "major") {
		info.Severity = "major"
	}
	if s := inc.Labels["service"]; slices.Contains(l.o.Services, s) {
		info.Service = s
	}
	return info, true
}

// ResolveForIncident resolves the ticket of a resolved incident, at the
// incident's resolution (now when it has none). It implements
// incident.IncidentTicketer.
func (l *TicketLink) ResolveForIncident(ctx context.Context, inc incident.Incident, ticketID string) error {
	l.mu.RLock()
	ts := l.tickets
	l.mu.RUnlock()
	if ticketID == "" || ts == nil {
		return nil
	}
	at := inc.ResolvedAt
	if at.IsZero() {
		at = l.o.Now()
	}
	return ts.ResolveForIncident(ctx, ticketID, at)
}

// RotaOnCall answers who is on call from the rota's turns alone: the rota
// named name among specs (tickets.on_call_rota), or the first when name is
// empty. Overrides and swaps, which the team keeps in the database, are
// not consulted: it answers before the team is bound (LinkOptions.Fallback)
// and where the on-call capability does not run. Nil without rotas.
func RotaOnCall(specs []rota.Spec, name string) (tickets.OnCallResolver, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	spec := specs[0]
	if name != "" {
		found := false
		for _, s := range specs {
			if s.Name == name {
				spec, found = s, true
			}
		}
		if !found {
			return nil, fmt.Errorf("tickets.on_call_rota %q: not one of oncall.rotas", name)
		}
	}
	r, err := rota.New(spec)
	if err != nil {
		return nil, fmt.Errorf("tickets.on_call_rota: %w", err)
	}
	return tickets.OnCallFunc(func(_ context.Context, at time.Time) (string, error) {
		return r.OnCallAt(rota.Changes{}, at).Member, nil
	}), nil
}

// AckForIncident acknowledges the ticket of an acknowledged incident when
// it is still "new", as the person who acknowledged the incident. It
// implements incident.TicketAcker.
func (l *TicketLink) AckForIncident(ctx context.Context, inc incident.Incident, ticketID, by string) (bool, error) {
	l.mu.RLock()
	ts := l.tickets
	l.mu.RUnlock()
	if ticketID == "" || ts == nil {
		return false, nil
	}
	return ts.AckForIncident(ctx, ticketID, strconv.FormatInt(inc.ID, 10), by)
}

// AssignForIncident gives the ticket of a reassigned incident to its new
// owner. It implements incident.TicketAssigner.
func (l *TicketLink) AssignForIncident(ctx context.Context, inc incident.Incident, ticketID, member, by string) error {
	l.mu.RLock()
	ts := l.tickets
	l.mu.RUnlock()
	if ticketID == "" || ts == nil {
		return nil
	}
	return ts.AssignForIncident(ctx, ticketID, member, by)
}
