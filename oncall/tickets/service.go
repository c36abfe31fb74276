package tickets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/sla"
)

// Options configure a Service.
type Options struct {
	Config Config
	SLA    sla.Config
	Store  Store
	// OnCall gives the default assignee; nil: Config.DefaultAssignee.
	OnCall OnCallResolver
	// Pager pages pre-breach warnings, breaches and reminders; nil: they
	// are only logged and put on the timeline.
	Pager Pager
	// Mailer sends acknowledgements of e-mailed reports; nil: none.
	Mailer notice.Sender
	// Metrics, when not nil, records response times and breaches.
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
	// BaseURL is where the API lives, for links in pages.
	BaseURL string
	// Location is the service time zone (timezone:, config/timezone):
	// times in acknowledgements, pages and timeline entries are shown in
	// it. nil: the policy's calendar zone.
	Location *time.Location
	// TeamAddresses are the e-mail addresses of the on-call team
	// (oncall.members), staff for "[#ID]" replies besides
	// Config.StaffAddresses.
	TeamAddresses []string
	// Attachments keeps the files that come with mail to the fault
	// address; nil: they are not kept.
	Attachments AttachmentStore
	// Scanner scans each attachment before it is kept; nil: kept as "not
	// scanned".
	Scanner Scanner
}

// Service is the ticket service: the API, the CLI, e-mail intake and the
// incident hook all go through it.
type Service struct {
	o        Options
	mu       sync.Mutex
	compiled map[string]*sla.Compiled // by policy version
	mails    *mailTemplates
}

// when shows t to a person: in the service time zone with its
// abbreviation, or in c's calendar zone when no service zone is set.
func (s *Service) when(t time.Time, c *sla.Compiled) string {
	loc := s.o.Location
	if loc == nil && c != nil {
		loc = c.Calendar().Location()
	}
	return timezone.Format(t, loc)
}

// New compiles the configured SLA policies and returns a Service.
func New(o Options) (*Service, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Store != nil {
		o.Store = orderedStore{o.Store}
	}
	s := &Service{o: o, compiled: map[string]*sla.Compiled{}}
	for _, p := range o.SLA.Policies {
		c, err := sla.Compile(p)
		if err != nil {
			return nil, err
		}
		s.compiled[c.Version()] = c
	}
	mt, err := loadMailTemplates()
	if err != nil {
		return nil, err
	}
	s.mails = mt
	return s, nil
}

// policy returns the compiled policy of a frozen version, loading the
// stored copy when the configuration no longer has it.
func (s *Service) policy(ctx context.Context, version string) (*sla.Compiled, error) {
	s.mu.Lock()
	c, ok := s.compiled[version]
	s.mu.Unlock()
	if ok {
		return c, nil
	}
	b, err := s.o.Store.TicketPolicy(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("load SLA policy version %s: %w", version, err)
	}
	var p sla.Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("decode SLA policy version %s: %w", version, err)
	}
	if c, err = sla.Compile(p); err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.compiled[version] = c
	s.mu.Unlock()
	return c, nil
}

// ID formats a ticket ID for the hook and for mail subjects.
func ID(id int64) string { return strconv.FormatInt(id, 10) }

// ParseID parses a ticket ID, with or without a leading '#'.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(s), "#"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: ticket ID %q", ErrInvalid, s)
	}
	return id, nil
}

// OpenRequest opens a ticket.
type OpenRequest struct {
	Title         string    `json:"title"`
	Service       string    `json:"service"`
	Severity      string    `json:"severity"`
	Source        string    `json:"source"`
	Reporter      string    `json:"reporter"`
	ReporterEmail string    `json:"reporter_email"`
	NotifiedAt    time.Time `json:"notified_at"` // zero: now
	Assignee      string    `json:"assignee"`    // empty: who is on call
	Symptoms      string    `json:"symptoms"`
	HandlingPlan  string    `json:"handling_plan"`
	Policy        string    `json:"policy"` // empty: chosen by severity and service
	Language      string    `json:"language"`
	Links         []Link    `json:"links"`
	Actor         string    `json:"-"`
}

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

func checkLinks(links []Link) error {
	for _, l := range links {
		if l.Kind == LinkDuplicateOf || l.Kind == LinkDuplicatedBy {
			return invalid("a duplicate is marked on an open ticket (its duplicate-of link or action), not when it is opened")
		}
		if !slices.Contains(LinkKinds, l.Kind) || strings.TrimSpace(l.Ref) == "" {
			return invalid("link %s %q: kind must be one of %v and ref set", l.Kind, l.Ref, LinkKinds)
		}
	}
	return nil
}

// Open validates r, freezes the SLA policy, assigns the on-call by default,
// computes the clocks and stores the ticket.
func (s *Service) Open(ctx context.Context, r OpenRequest) (Ticket, error) {
	now := s.o.Now()
	cfg := s.o.Config
	if strings.TrimSpace(r.Title) == "" {
		return Ticket{}, invalid("title is required")
	}
	if _, ok := cfg.ServiceName(r.Service); !ok {
		return Ticket{}, invalid("service %q is not one of tickets.services: %s", r.Service, strings.Join(cfg.ServiceIDs(), ", "))
	}
	if r.Severity == "" {
		r.Severity = cfg.DefaultSeverity
	}
	if !slices.Contains(cfg.Severities, r.Severity) {
		return Ticket{}, invalid("severity %q is not one of %s", r.Severity, strings.Join(cfg.Severities, ", "))
	}
	if r.Source == "" {
		r.Source = "helpdesk"
	}
	if !slices.Contains(Sources, r.Source) {
		return Ticket{}, invalid("source %q is not one of %s", r.Source, strings.Join(Sources, ", "))
	}
	if err := checkLinks(r.Links); err != nil {
		return Ticket{}, err
	}
	if r.NotifiedAt.IsZero() {
		r.NotifiedAt = now
	}
	if r.NotifiedAt.After(now.Add(time.Minute)) {
		return Ticket{}, invalid("notified_at %s is in the future", s.when(r.NotifiedAt, nil))
	}
	if r.Language == "" {
		r.Language = cfg.Language
	}
	var (
		p  sla.Policy
		ok bool
	)
	if r.Policy != "" {
		p, ok = s.o.SLA.Policy(r.Policy)
	} else {
		p, ok = s.o.SLA.Select(r.Severity, r.Service)
	}
	if !ok {
		return Ticket{}, invalid("no SLA policy %q (see sla.policies)", r.Policy)
	}
	p = p.Normalized()
	spec, err := json.Marshal(p)
	if err != nil {
		return Ticket{}, err
	}
	if err := s.o.Store.TicketSavePolicy(ctx, p.Name, p.Hash(), spec, now); err != nil {
		return Ticket{}, fmt.Errorf("freeze SLA policy %s: %w", p.Name, err)
	}
	if r.Assignee == "" {
		r.Assignee = s.onCall(ctx, now)
	}
	t := Ticket{
		Title: strings.TrimSpace(r.Title), Service: r.Service, Severity: r.Severity, Source: r.Source,
		Reporter: r.Reporter, ReporterEmail: r.ReporterEmail, Assignee: r.Assignee, State: StateNew,
		Symptoms: r.Symptoms, HandlingPlan: r.HandlingPlan, Language: r.Language,
		Policy: p.Name, PolicyVersion: p.Hash(), NotifiedAt: r.NotifiedAt, OpenedAt: now, UpdatedAt: now,
		Links: r.Links,
	}
	events := []Event{{At: now, Actor: actor(r.Actor), Kind: EvOpened, ToState: StateNew,
		Body: fmt.Sprintf("opened (%s, %s, %s); SLA policy %s version %s; assignee %s", t.Service, t.Severity, t.Source, p.Name, p.Hash(), orNone(t.Assignee))}}
	if err := s.recompute(ctx, &t, events, now); err != nil {
		return Ticket{}, err
	}
	t, err = s.o.Store.TicketCreate(ctx, t, events)
	if err != nil {
		return Ticket{}, fmt.Errorf("open ticket: %w", err)
	}
	return t, nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func actor(a string) string {
	if a == "" {
		return "postvakt"
	}
	return a
}

func (s *Service) onCall(ctx context.Context, at time.Time) string {
	if s.o.OnCall != nil {
		who, err := s.o.OnCall.OnCallAt(ctx, at)
		if err == nil && who != "" {
			return who
		}
		if err != nil {
			s.o.Logger.Warn("who is on call: falling back to tickets.default_assignee", "err", err)
		}
	}
	return s.o.Config.DefaultAssignee
}

// input builds the SLA input from a ticket's timeline.
func input(t *Ticket, timeline []Event) sla.Input {
	in := sla.Input{Notified: t.NotifiedAt, Responded: t.RespondedAt}
	for _, e := range timeline {
		switch e.Kind {
		case EvOpened:
			in.States = append(in.States, sla.Transition{At: t.NotifiedAt, State: e.ToState})
		case EvState:
			in.States = append(in.States, sla.Transition{At: e.At, State: e.ToState})
		case EvUpdate:
			in.Updates = append(in.Updates, e.At)
		}
	}
	return in
}

// recompute evaluates the ticket's clocks at now, keeping each clock's
// warning and breach marks while its start is unchanged.
func (s *Service) recompute(ctx context.Context, t *Ticket, timeline []Event, now time.Time) error {
	if t.DuplicateOf() != 0 {
		t.Clocks = nil // the parent's clocks run for it
		return nil
	}
	c, err := s.policy(ctx, t.PolicyVersion)
	if err != nil {
		return err
	}
	res := c.Evaluate(input(t, timeline), now)
	old := t.Clocks
	t.Clocks = nil
	for _, ck := range res.Clocks {
		nc := Clock{Kind: ck.Kind, Status: string(ck.Status), InsideHours: ck.InsideHours, Target: ck.Target,
			Start: ck.Start, Due: ck.Due, Stopped: ck.Stopped, Raw: ck.Raw, Business: ck.Business,
			Counted: ck.Counted, Paused: ck.PausedFor, Percent: ck.Percent, UpdatedAt: now}
		for _, o := range old {
			if o.Kind == nc.Kind && o.Start.Equal(nc.Start) {
				nc.WarnedAt, nc.BreachedAt = o.WarnedAt, o.BreachedAt
			}
		}
		t.Clocks = append(t.Clocks, nc)
	}
	return nil
}

// Explain evaluates a ticket's clocks now, with reasons.
func (s *Service) Explain(ctx context.Context, id int64) (sla.Result, error) {
	t, err := s.o.Store.TicketGet(ctx, id)
	if err != nil {
		return sla.Result{}, err
	}
	ev, err := s.o.Store.TicketEvents(ctx, id)
	if err != nil {
		return sla.Result{}, err
	}
	c, err := s.policy(ctx, t.PolicyVersion)
	if err != nil {
		return sla.Result{}, err
	}
	return c.Evaluate(input(&t, ev), s.o.Now()), nil
}

// Get returns ticket id.
func (s *Service) Get(ctx context.Context, id int64) (Ticket, error) {
	return s.o.Store.TicketGet(ctx, id)
}

// Timeline returns ticket id's timeline.
func (s *Service) Timeline(ctx context.Context, id int64) ([]Event, error) {
	if _, err := s.o.Store.TicketGet(ctx, id); err != nil {
		return nil, err
	}
	return s.o.Store.TicketEvents(ctx, id)
}

// List returns tickets.
func (s *Service) List(ctx context.Context, f Filter) ([]Ticket, error) {
	return s.o.Store.TicketList(ctx, f)
}

// ActRequest carries who acts and an optional note.
type ActRequest struct {
	Actor string    `json:"-"`
	Note  string    `json:"note"`
	At    time.Time `json:"-"` // zero: now
}

// Act applies an action (ack, start, wait, resolve, close, reopen). A
// resolution is mailed to the reporter with how to say "not solved"; a
// close by a person sends the closing mail (docs/tickets.md, "Closed
// loop").
func (s *Service) Act(ctx context.Context, id int64, action string, r ActRequest) (Ticket, error) {
	t, err := s.act(ctx, id, action, r)
	if err != nil {
		return t, err
	}
	var mailErr error
	switch t.State {
	case StateResolved:
		mailErr = s.mailResolved(ctx, t, r.Note)
	case StateClosed:
		mailErr = s.mailClosed(ctx, t)
	default:
		return t, nil
	}
	if mailErr != nil {
		s.o.Logger.Warn("ticket mail to the reporter not sent", "ticket", id, "state", t.State, "err", mailErr)
	}
	return s.o.Store.TicketGet(ctx, id)
}

func (s *Service) act(ctx context.Context, id int64, action string, r ActRequest) (Ticket, error) {
	now := s.o.Now()
	at := r.At
	if at.IsZero() || at.After(now) {
		at = now
	}
	var respondedNow bool
	t, err := s.o.Store.TicketChange(ctx, id, func(t *Ticket, timeline []Event) ([]Event, error) {
		to, err := Next(t.State, action)
		if err != nil {
			return nil, fmt.Errorf("%s ticket %d (%s): %w", action, t.ID, t.State, err)
		}
		ev := Event{At: at, Actor: actor(r.Actor), Kind: EvState, FromState: t.State, ToState: to, Body: r.Note}
		t.State, t.UpdatedAt = to, now
		if responds(to) && t.RespondedAt.IsZero() {
			t.RespondedAt, respondedNow = at, true
		}
		switch to {
		case StateResolved:
			t.ResolvedAt = at
		case StateClosed:
			t.ClosedAt = at
		case StateInvestigating:
			if action == ActReopen {
				t.ResolvedAt, t.ClosedAt = time.Time{}, time.Time{}
			}
		}
		if to == StateAcknowledged && t.Assignee == "" {
			t.Assignee = actor(r.Actor)
		}
		if err := s.recompute(ctx, t, append(timeline, ev), now); err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	})
	if err != nil {
		return Ticket{}, err
	}
	if respondedNow && s.o.Metrics != nil {
		if ck, ok := t.Clock(sla.KindResponse); ok {
			s.o.Metrics.observeResponse(t.Severity, ck)
		}
	}
	return t, nil
}

// CommentRequest adds a comment; a public one is an update to the
// reporter and restarts the update clock.
type CommentRequest struct {
	Actor  string `json:"-"`
	Body   string `json:"body"`
	Public bool   `json:"public"`
	kind   string
}

// Comment adds a comment to the timeline.
func (s *Service) Comment(ctx context.Context, id int64, r CommentRequest) (Ticket, error) {
	if strings.TrimSpace(r.Body) == "" {
		return Ticket{}, invalid("comment body is empty")
	}
	now := s.o.Now()
	kind := EvComment
	if r.Public {
		kind = EvUpdate
	}
	if r.kind != "" {
		kind = r.kind
	}
	t, err := s.o.Store.TicketChange(ctx, id, func(t *Ticket, timeline []Event) ([]Event, error) {
		ev := Event{At: now, Actor: actor(r.Actor), Kind: kind, Body: r.Body}
		t.UpdatedAt = now
		if err := s.recompute(ctx, t, append(timeline, ev), now); err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	})
	if err == nil && kind == EvUpdate {
		if err := s.MailUpdate(ctx, t, r.Body); err != nil {
			s.o.Logger.Warn("ticket update not e-mailed to the reporter", "ticket", id, "err", err)
		}
		return s.o.Store.TicketGet(ctx, id)
	}
	return t, err
}

// EditRequest changes fields of a ticket; nil leaves a field as it is.
type EditRequest struct {
	Title        *string `json:"title"`
	Service      *string `json:"service"`
	Severity     *string `json:"severity"`
	Assignee     *string `json:"assignee"`
	Symptoms     *string `json:"symptoms"`
	HandlingPlan *string `json:"handling_plan"`
	AddLinks     []Link  `json:"add_links"`
	Actor        string  `json:"-"`
}

// empty reports whether r changes nothing.
func (r EditRequest) empty() bool {
	return r.Title == nil && r.Service == nil && r.Severity == nil && r.Assignee == nil && r.Symptoms == nil &&
		r.HandlingPlan == nil && len(r.AddLinks) == 0
}

// Edit changes a ticket's fields. The SLA policy stays the one frozen at
// open even if the severity changes.
func (s *Service) Edit(ctx context.Context, id int64, r EditRequest) (Ticket, error) {
	if r.Service != nil {
		if _, ok := s.o.Config.ServiceName(*r.Service); !ok {
			return Ticket{}, invalid("service %q is not one of tickets.services: %s", *r.Service, strings.Join(s.o.Config.ServiceIDs(), ", "))
		}
	}
	if r.Severity != nil && !slices.Contains(s.o.Config.Severities, *r.Severity) {
		return Ticket{}, invalid("severity %q is not one of %s", *r.Severity, strings.Join(s.o.Config.Severities, ", "))
	}
	// A duplicate-of link marks a duplicate (MarkDuplicate: its SLA
	// follows the parent's); the parent's duplicated-by is recorded by
	// that, never asked for.
	var parent int64
	links := make([]Link, 0, len(r.AddLinks))
	for _, l := range r.AddLinks {
		switch l.Kind {
		case LinkDuplicateOf:
			p, err := ParseID(l.Ref)
			if err != nil || p == id || (parent != 0 && p != parent) {
				return Ticket{}, invalid("link %s %q: name one other ticket by its number", l.Kind, l.Ref)
			}
			parent = p
		case LinkDuplicatedBy:
			return Ticket{}, invalid("%s is recorded on the parent when the other ticket is marked as its duplicate", l.Kind)
		default:
			links = append(links, l)
		}
	}
	r.AddLinks = links
	if err := checkLinks(r.AddLinks); err != nil {
		return Ticket{}, err
	}
	if parent != 0 {
		t, err := s.MarkDuplicate(ctx, id, parent, r.Actor)
		if err != nil || r.empty() {
			return t, err
		}
	}
	// A link to another ticket names one that exists, not this one.
	var reverse []struct {
		id   int64
		link Link
	}
	for i, l := range r.AddLinks {
		rk, ok := reverseLink(l.Kind)
		if !ok {
			continue
		}
		other, err := ParseID(l.Ref)
		if err != nil || other == id {
			return Ticket{}, invalid("link %s %q: name another ticket by its number", l.Kind, l.Ref)
		}
		ot, err := s.o.Store.TicketGet(ctx, other)
		if errors.Is(err, ErrNotFound) {
			return Ticket{}, invalid("link %s %q: no such ticket", l.Kind, l.Ref)
		} else if err != nil {
			return Ticket{}, err
		}
		r.AddLinks[i].Ref, r.AddLinks[i].Title = ID(other), ot.Title
		reverse = append(reverse, struct {
			id   int64
			link Link
		}{other, Link{Kind: rk, Ref: ID(id)}})
	}
	now := s.o.Now()
	t, err := s.edit(ctx, id, r, now)
	if err != nil {
		return t, err
	}
	for _, rv := range reverse {
		rv.link.Title = t.Title
		_, err := s.edit(ctx, rv.id, EditRequest{AddLinks: []Link{rv.link}, Actor: r.Actor}, now)
		if err != nil && !errors.Is(err, ErrInvalid) { // ErrInvalid: the reverse link is there already
			return t, fmt.Errorf("link ticket %d back to %d: %w", rv.id, id, err)
		}
	}
	return t, nil
}

func (s *Service) edit(ctx context.Context, id int64, r EditRequest, now time.Time) (Ticket, error) {
	return s.o.Store.TicketChange(ctx, id, func(t *Ticket, _ []Event) ([]Event, error) {
		var evs []Event
		set := func(field string, dst *string, v *string) {
			if v == nil || *v == *dst {
				return
			}
			kind := EvEdit
			if field == "assignee" {
				kind = EvAssign
			}
			evs = append(evs, Event{At: now, Actor: actor(r.Actor), Kind: kind, Body: fmt.Sprintf("%s: %q → %q", field, *dst, *v)})
			*dst = *v
		}
		set("title", &t.Title, r.Title)
		set("service", &t.Service, r.Service)
		set("severity", &t.Severity, r.Severity)
		set("assignee", &t.Assignee, r.Assignee)
		set("symptoms", &t.Symptoms, r.Symptoms)
		set("handling_plan", &t.HandlingPlan, r.HandlingPlan)
		for _, l := range r.AddLinks {
			if slices.ContainsFunc(t.Links, func(o Link) bool { return o.Kind == l.Kind && o.Ref == l.Ref }) {
				continue
			}
			t.Links = append(t.Links, l)
			evs = append(evs, Event{At: now, Actor: actor(r.Actor), Kind: EvLink, Body: l.Kind + " " + l.Ref})
		}
		if len(evs) == 0 {
			return nil, invalid("nothing to change")
		}
		t.UpdatedAt = now
		return evs, nil
	})
}

// OpenForIncident is the ticket side of the on-call capability's
// incident → ticket hook: it opens a ticket (source alert) linked to the
// incident, or returns the ticket already linked to it.
func (s *Service) OpenForIncident(ctx context.Context, in IncidentInfo) (string, error) {
	if in.ID == "" {
		return "", invalid("incident ID is required")
	}
	if id, err := s.o.Store.TicketByLink(ctx, "incident", in.ID); err == nil {
		return ID(id), nil
	} else if !errors.Is(err, ErrNotFound) {
		return "", err
	}
	svc := in.Service
	if _, ok := s.o.Config.ServiceName(svc); !ok {
		svc = s.o.Config.IncidentService
	}
	sev := in.Severity
	if !slices.Contains(s.o.Config.Severities, sev) {
		sev = ""
	}
	t, err := s.Open(ctx, OpenRequest{
		Title: in.Title, Service: svc, Severity: sev, Source: "alert", Reporter: "alertmanager",
		NotifiedAt: in.StartedAt, Assignee: in.Assignee, Symptoms: in.Summary,
		Links: []Link{{Kind: "incident", Ref: in.ID, Title: in.URL}}, Actor: "oncall",
	})
	if err != nil {
		return "", err
	}
	return ID(t.ID), nil
}

// ResolveForIncident resolves the incident's ticket when the incident
// resolves; a ticket that is already resolved or closed is left alone.
func (s *Service) ResolveForIncident(ctx context.Context, ticketID string, at time.Time) error {
	id, err := ParseID(ticketID)
	if err != nil {
		return err
	}
	_, err = s.Act(ctx, id, ActResolve, ActRequest{Actor: "oncall", Note: "incident resolved", At: at})
	if errors.Is(err, ErrTransition) {
		return nil
	}
	return err
}

// AckForIncident is the ticket side of an incident's acknowledgement: a
// ticket still "new" is acknowledged by the same person, with a note that
// names the incident; a ticket past "new" is left alone (changed false).
func (s *Service) AckForIncident(ctx context.Context, ticketID, incidentID, by string) (bool, error) {
	id, err := ParseID(ticketID)
	if err != nil {
		return false, err
	}
	_, err = s.Act(ctx, id, ActAck, ActRequest{Actor: by, Note: "incident " + incidentID + " acknowledged"})
	if errors.Is(err, ErrTransition) {
		return false, nil
	}
	return err == nil, err
}

// AssignForIncident gives an incident's ticket to the incident's new
// owner; the ticket's history records the change (an assign event).
func (s *Service) AssignForIncident(ctx context.Context, ticketID, member, by string) error {
	id, err := ParseID(ticketID)
	if err != nil {
		return err
	}
	_, err = s.Edit(ctx, id, EditRequest{Assignee: &member, Actor: by})
	if errors.Is(err, ErrInvalid) {
		return nil // already theirs
	}
	return err
}
