// Package tickets owns fault tickets: every fault is a ticket followed
// until closed ("100% closed loop"). A ticket has a service component,
// severity, source, reporter, notified time, assignee (by default whoever
// is on call), symptoms, handling plan, links (incidents, pages, notices,
// runbooks, traced messages) and a timeline in which every change is an
// entry with actor and time. States: new → acknowledged → investigating →
// waiting (paused) → resolved → closed, and reopen.
//
// Each ticket runs the clocks of the SLA policy frozen on it when it opened
// (package sla computes them; raw and business durations are stored for
// every clock). The thin loop in Tick pages the on-call at the pre-breach
// warning, escalates a breach and reminds about unclosed tickets. Intake
// turns e-mail to the fault address into tickets and threads replies into
// them as comments; FaultIntake is the rule for which mail reaches it and
// what a failure does to the message. The package defines what it needs
// of the rest of postvakt as small interfaces: Store, OnCallResolver,
// Pager and Mailer.
package tickets

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/uni-mail/postvakt/oncall/sla"
)

// Ticket states.
const (
	StateNew           = "new"
	StateAcknowledged  = "acknowledged"
	StateInvestigating = "investigating"
	StateWaiting       = "waiting"
	StateResolved      = sla.StateResolved
	StateClosed        = sla.StateClosed
)

// States lists the ticket states in order.
var States = []string{StateNew, StateAcknowledged, StateInvestigating, StateWaiting, StateResolved, StateClosed}

// Actions move a ticket between states.
const (
	ActAck     = "ack"
	ActStart   = "start"
	ActWait    = "wait"
	ActResolve = "resolve"
	ActClose   = "close"
	ActReopen  = "reopen"
)

// Actions lists the actions.
var Actions = []string{ActAck, ActStart, ActWait, ActResolve, ActClose, ActReopen}

// target is the state an action leads to, and from which states it may be
// taken.
var transitions = map[string]struct {
	to   string
	from []string
}{
	ActAck:     {StateAcknowledged, []string{StateNew}},
	ActStart:   {StateInvestigating, []string{StateNew, StateAcknowledged, StateWaiting}},
	ActWait:    {StateWaiting, []string{StateNew, StateAcknowledged, StateInvestigating}},
	ActResolve: {StateResolved, []string{StateNew, StateAcknowledged, StateInvestigating, StateWaiting}},
	ActClose:   {StateClosed, []string{StateResolved}},
	ActReopen:  {StateInvestigating, []string{StateResolved, StateClosed}},
}

// Next returns the state that action leads to from state, or an error
// wrapping ErrTransition.
func Next(state, action string) (string, error) {
	tr, ok := transitions[action]
	if !ok {
		return "", ErrUnknownAction
	}
	if !slices.Contains(tr.from, state) {
		return "", ErrTransition
	}
	return tr.to, nil
}

// responds reports whether entering state meets the response target: the
// fault has been acknowledged or its investigation started (or it was
// resolved straight away).
func responds(state string) bool {
	return state == StateAcknowledged || state == StateInvestigating || state == StateResolved
}

// Sources of tickets, a closed set.
var Sources = []string{"alert", "helpdesk", "user_report", "abuse", "internal"}

// Link kinds, a closed set. The ticket links (LinkRelated,
// LinkDuplicateOf, LinkDuplicatedBy) name another ticket by its ID; the
// other ticket gets the reverse link.
var LinkKinds = []string{"incident", "page", "notice", "runbook", "message", "url", LinkRelated, LinkDuplicateOf, LinkDuplicatedBy}

// The links between tickets.
const (
	LinkRelated = "related"
	// LinkDuplicateOf links a ticket to the ticket of the same fault that
	// is already being handled (its parent, by ID). A duplicate runs no
	// SLA clocks of its own: its clocks are the parent's (the UK
	// submission SLA exempts a fault already being handled), so it never
	// warns or breaches separately and is not counted in compliance
	// (Service.MarkDuplicate).
	LinkDuplicateOf  = "duplicate-of"
	LinkDuplicatedBy = "duplicated-by"
)

// TicketLinkKinds lists the kinds that link a ticket to another, as a
// person chooses them (the reverse duplicated-by is recorded on the other).
var TicketLinkKinds = []string{LinkRelated, LinkDuplicateOf}

// reverseLink is the kind recorded on the other ticket of a ticket link.
func reverseLink(kind string) (string, bool) {
	switch kind {
	case LinkRelated:
		return LinkRelated, true
	case LinkDuplicateOf:
		return LinkDuplicatedBy, true
	case LinkDuplicatedBy:
		return LinkDuplicateOf, true
	}
	return "", false
}

// DuplicateOf is the ID of the ticket t duplicates, 0 if none.
func (t Ticket) DuplicateOf() int64 {
	for _, l := range t.Links {
		if l.Kind == LinkDuplicateOf {
			if id, err := ParseID(l.Ref); err == nil {
				return id
			}
		}
	}
	return 0
}

// Event kinds on the timeline.
const (
	EvOpened   = "opened"
	EvState    = "state"
	EvComment  = "comment"
	EvUpdate   = "update" // a public update to the reporter; restarts the update clock
	EvEdit     = "edit"
	EvAssign   = "assign"
	EvLink     = "link"
	EvWarning  = "sla_warning"
	EvBreach   = "sla_breach"
	EvReminder = "reminder"
	EvMailIn   = "mail_in"
	EvMailOut  = "mail_out"
)

// Sentinel errors.
var (
	ErrNotFound      = errors.New("ticket not found")
	ErrTransition    = errors.New("action not allowed in the ticket's state")
	ErrUnknownAction = errors.New("unknown action")
	ErrInvalid       = errors.New("invalid ticket")
)

// Link ties a ticket to something else.
type Link struct {
	Kind  string `json:"kind"`
	Ref   string `json:"ref"`
	Title string `json:"title,omitempty"`
}

// Clock is the stored state of one SLA clock of a ticket.
type Clock struct {
	Kind        string        `json:"kind"`
	Status      string        `json:"status"`
	InsideHours bool          `json:"inside_hours"`
	Target      time.Duration `json:"target_ns"`
	Start       time.Time     `json:"start"`
	Due         time.Time     `json:"due,omitzero"`
	Stopped     time.Time     `json:"stopped,omitzero"`
	Raw         time.Duration `json:"raw_ns"`
	Business    time.Duration `json:"business_ns"`
	Counted     time.Duration `json:"counted_ns"`
	Paused      time.Duration `json:"paused_ns"`
	Percent     float64       `json:"percent"`
	WarnedAt    time.Time     `json:"warned_at,omitzero"`
	BreachedAt  time.Time     `json:"breached_at,omitzero"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

// Breached reports whether the clock missed its target: its status is
// breached, or a breach was recorded while it ran (BreachedAt stays when
// the status moves on).
func (c Clock) Breached() bool {
	return c.Status == string(sla.Breached) || !c.BreachedAt.IsZero()
}

// Ticket is a fault ticket.
type Ticket struct {
	ID            int64  `json:"id"`
	Title         string `json:"title"`
	Service       string `json:"service"`
	Severity      string `json:"severity"`
	Source        string `json:"source"`
	Reporter      string `json:"reporter"`
	ReporterEmail string `json:"reporter_email,omitempty"`
	Assignee      string `json:"assignee"`
	State         string `json:"state"`
	Symptoms      string `json:"symptoms"`
	HandlingPlan  string `json:"handling_plan"`
	Language      string `json:"language"`
	// Policy and PolicyVersion name the SLA policy frozen at open; the
	// version keys the stored copy of the policy.
	Policy         string    `json:"policy"`
	PolicyVersion  string    `json:"policy_version"`
	NotifiedAt     time.Time `json:"notified_at"`
	OpenedAt       time.Time `json:"opened_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	RespondedAt    time.Time `json:"responded_at,omitzero"`
	ResolvedAt     time.Time `json:"resolved_at,omitzero"`
	ClosedAt       time.Time `json:"closed_at,omitzero"`
	LastReminderAt time.Time `json:"last_reminder_at,omitzero"`
	Links          []Link    `json:"links"`
	Clocks         []Clock   `json:"clocks"`
}

// Clock returns the clock of kind.
func (t Ticket) Clock(kind string) (Clock, bool) {
	i := slices.IndexFunc(t.Clocks, func(c Clock) bool { return c.Kind == kind })
	if i < 0 {
		return Clock{}, false
	}
	return t.Clocks[i], true
}

// Event is one entry on a ticket's timeline.
type Event struct {
	ID        int64     `json:"id"`
	TicketID  int64     `json:"ticket_id"`
	At        time.Time `json:"at"`
	Actor     string    `json:"actor"`
	Kind      string    `json:"kind"`
	FromState string    `json:"from_state,omitempty"`
	ToState   string    `json:"to_state,omitempty"`
	Body      string    `json:"body,omitempty"`
}

// Filter selects tickets for List.
type Filter struct {
	States   []string // empty: every state but closed
	All      bool     // include closed tickets
	Service  string
	Severity string
	Assignee string
	Limit    int
}

// Count is the number of unclosed tickets of a service, severity and state.
type Count struct {
	Service, Severity, State string
	N                        int
}

// Compliance counts stopped response clocks of a policy that met or
// breached their targets.
type Compliance struct {
	Policy, Clock string
	Met, Breached int
}

// Store is what the ticket service needs of the database.
type Store interface {
	// TicketSavePolicy stores a policy version (idempotent).
	TicketSavePolicy(ctx context.Context, name, version string, spec []byte, at time.Time) error
	// TicketPolicy returns a stored policy version's JSON.
	TicketPolicy(ctx context.Context, version string) ([]byte, error)
	// TicketCreate stores a new ticket with its links, clocks and events
	// and returns it with its ID.
	TicketCreate(ctx context.Context, t Ticket, events []Event) (Ticket, error)
	// TicketGet returns a ticket with links and clocks, or an error
	// wrapping ErrNotFound.
	TicketGet(ctx context.Context, id int64) (Ticket, error)
	// TicketList returns tickets (with clocks), newest first.
	TicketList(ctx context.Context, f Filter) ([]Ticket, error)
	// TicketEvents returns a ticket's timeline, oldest first.
	TicketEvents(ctx context.Context, id int64) ([]Event, error)
	// TicketChange loads ticket id and its timeline in a transaction,
	// lets fn change the ticket (links and clocks included) and return
	// events to append, and stores it all.
	TicketChange(ctx context.Context, id int64, fn func(t *Ticket, timeline []Event) ([]Event, error)) (Ticket, error)
	// TicketByMessageID returns the ticket an e-mail Message-ID belongs to.
	TicketByMessageID(ctx context.Context, messageID string) (int64, error)
	// TicketAddMessageIDs records Message-IDs of a ticket's mail.
	TicketAddMessageIDs(ctx context.Context, id int64, messageIDs []string, at time.Time) error
	// TicketByLink returns the newest ticket with the link.
	TicketByLink(ctx context.Context, kind, ref string) (int64, error)
	// TicketActiveIDs lists tickets that are not closed.
	TicketActiveIDs(ctx context.Context) ([]int64, error)
	// TicketCounts counts unclosed tickets.
	TicketCounts(ctx context.Context) ([]Count, error)
	// TicketCompliance counts met and breached clocks of tickets notified
	// since the given time.
	TicketCompliance(ctx context.Context, since time.Time) ([]Compliance, error)
}

// OnCallResolver says who is on call at a time; the assignee default.
type OnCallResolver interface {
	OnCallAt(ctx context.Context, at time.Time) (string, error)
}

// OnCallFunc adapts a function to OnCallResolver.
type OnCallFunc func(ctx context.Context, at time.Time) (string, error)

// OnCallAt calls f.
func (f OnCallFunc) OnCallAt(ctx context.Context, at time.Time) (string, error) { return f(ctx, at) }

// Page kinds, a closed set.
const (
	PageWarning  = "sla_warning"
	PageBreach   = "sla_breach"
	PageReminder = "reminder"
)

// PageRequest asks the paging capability to page someone about a ticket.
type PageRequest struct {
	Kind     string    // PageWarning, PageBreach or PageReminder
	TicketID string    // decimal ticket ID
	Title    string    // the ticket's title
	Service  string    // service component
	Severity string    // ticket severity
	Assignee string    // who holds the ticket; empty: whoever is on call
	Clock    string    // the SLA clock (response, update, resolution)
	Due      time.Time // the clock's due time
	// Escalate asks for escalation beyond the assignee (a breach).
	Escalate bool
	// DedupKey is stable per ticket, clock, kind and clock start.
	DedupKey string
	Message  string // one line for humans
	URL      string // the ticket in the API or web UI
}

// Pager pages the on-call; implemented by the paging capability.
type Pager interface {
	Page(ctx context.Context, req PageRequest) error
}

// PagerFunc adapts a function to Pager.
type PagerFunc func(ctx context.Context, req PageRequest) error

// Page calls f.
func (f PagerFunc) Page(ctx context.Context, req PageRequest) error { return f(ctx, req) }

// IncidentInfo is what the on-call capability tells the ticket service
// about an incident it opens a ticket for.
type IncidentInfo struct {
	ID        string    // the incident's ID, stored as a link
	Title     string    //
	Service   string    // service component; empty: tickets.incident_service
	Severity  string    // empty: the default severity
	StartedAt time.Time // becomes the notified time
	Summary   string    // becomes the symptoms
	Assignee  string    // who was paged; empty: whoever is on call
	URL       string    // optional link title
}
