package incident

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Errors of the actions taken on an incident by a person (Escalate, Page,
// Reassign, AddNote); wrapped with the reason.
var (
	// ErrState reports an action the incident's status does not allow
	// (escalating an acknowledged or resolved incident, paging about a
	// resolved one).
	ErrState = errors.New("not possible in the incident's state")
	// ErrInvalid reports bad input: an unknown member, an empty or too
	// long note.
	ErrInvalid = errors.New("invalid request")
)

// MaxNoteLen bounds a note on an incident's timeline (bytes).
const MaxNoteLen = 4000

// Delivery is one message of the page log for an incident: to whom (a
// member, or the team channel when Member is empty), by which channel,
// why, and how it ended.
type Delivery struct {
	Member     string    `json:"member,omitempty"`
	Channel    string    `json:"channel"`
	Kind       string    `json:"kind"` // page, acknowledged, resolved
	At         time.Time `json:"at"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Result     string    `json:"result"` // pending, sent, failed, deduplicated, skipped
	Attempts   int       `json:"attempts"`
	Error      string    `json:"error,omitempty"`
}

// TicketAcker is an IncidentTicketer that also moves an incident's
// ticket out of "new" when the incident is acknowledged (oncall/alerting's
// TicketLink does); detected by type assertion.
type TicketAcker interface {
	AckForIncident(ctx context.Context, inc Incident, ticketID, by string) (changed bool, err error)
}

// TicketAssigner is an IncidentTicketer that also gives an incident's
// ticket to the incident's new owner; detected by type assertion.
type TicketAssigner interface {
	AssignForIncident(ctx context.Context, inc Incident, ticketID, member, by string) error
}

// ackTicket moves the linked ticket out of "new" on acknowledgement and
// records it on the incident's timeline (the ticket records it on its own).
func (s *Service) ackTicket(ctx context.Context, inc Incident, by string) {
	a, ok := s.opts.Ticketer.(TicketAcker)
	if !ok || inc.TicketID == "" {
		return
	}
	changed, err := a.AckForIncident(ctx, inc, inc.TicketID, by)
	switch {
	case err != nil:
		s.opts.Logger.Error("incident: acknowledge ticket", "incident", inc.ID, "ticket", inc.TicketID, "err", err)
		s.event(ctx, inc.ID, "ticket", "", "acknowledging ticket "+inc.TicketID+" failed")
	case changed:
		s.event(ctx, inc.ID, "ticket", by, "ticket "+inc.TicketID+" acknowledged")
	}
}

// resolveTicket resolves the linked ticket of a resolved incident, unless
// KeepTicketOpen says to leave it; either way the timeline says so.
func (s *Service) resolveTicket(ctx context.Context, inc Incident) {
	if s.opts.Ticketer == nil || inc.TicketID == "" {
		return
	}
	if s.opts.KeepTicketOpen {
		s.event(ctx, inc.ID, "ticket", "", "ticket "+inc.TicketID+" left open (oncall.resolve_ticket_with_incident is false)")
		return
	}
	if err := s.opts.Ticketer.ResolveForIncident(ctx, inc, inc.TicketID); err != nil {
		s.opts.Logger.Error("incident: resolve ticket", "incident", inc.ID, "ticket", inc.TicketID, "err", err)
		s.event(ctx, inc.ID, "ticket", "", "resolving ticket "+inc.TicketID+" failed")
		return
	}
	s.event(ctx, inc.ID, "ticket", inc.ResolvedBy, "ticket "+inc.TicketID+" resolved")
}

// EscalateNow returns the state of a hand escalation at now: the round is
// moved so that the state's step falls due now, and the later steps keep
// their delays from it.
func (p Policy) EscalateNow(st State, now time.Time) State {
	if st.Step < 0 || st.Step >= len(p.Steps) {
		return st
	}
	st.RoundStart = now.Add(-p.Steps[st.Step].After)
	return st
}

// Escalate fires the incident's next escalation step now, by hand,
// instead of when the policy says; the steps after it keep their delays
// from now. Only a triggered incident with a step left escalates
// (ErrState otherwise: an acknowledged incident has an owner, who pages
// someone by hand instead).
func (s *Service) Escalate(ctx context.Context, id int64, by string) (Incident, error) {
	inc, err := s.opts.Store.GetIncident(ctx, id)
	if err != nil {
		return inc, err
	}
	if inc.Status != StatusTriggered {
		return inc, fmt.Errorf("escalate incident %d: it is %s: %w", id, inc.Status, ErrState)
	}
	pol, ok := s.opts.Policies[inc.Policy]
	if !ok {
		return inc, fmt.Errorf("escalate incident %d: unknown escalation policy %q", id, inc.Policy)
	}
	st := inc.State
	if st.Step >= len(pol.Steps) || st.Round > pol.Repeat {
		return inc, fmt.Errorf("escalate incident %d: the policy %s has no step left: %w", id, pol.Name, ErrState)
	}
	now := s.opts.Now()
	fired := pol.EscalateNow(st, now)
	nextSt, nextAt, ok := pol.Next(pol.Advance(fired), inc.Severity, s.cover(pol))
	if !ok {
		nextAt = time.Time{}
	}
	moved, err := s.opts.Store.AdvanceIncident(ctx, id, st, nextSt, nextAt, now)
	if err != nil {
		return inc, err
	}
	if !moved {
		return inc, fmt.Errorf("escalate incident %d: it changed meanwhile, try again: %w", id, ErrState)
	}
	if st.Step > 0 || st.Round > 0 {
		s.escalations.Inc()
	}
	s.event(ctx, id, "escalated", by, fmt.Sprintf("by hand: round %d step %d fired now", st.Round+1, st.Step+1))
	if err := s.fire(ctx, pol, inc, st, now); err != nil {
		s.opts.Logger.Error("incident: escalate", "incident", id, "err", err)
	}
	return s.opts.Store.GetIncident(ctx, id)
}

// Page pages one member about an unresolved incident by hand, with an
// optional note. The member must be one of the team (ErrInvalid).
func (s *Service) Page(ctx context.Context, id int64, member, by, note string) (Incident, error) {
	inc, err := s.handTarget(ctx, id, member, note)
	if err != nil {
		return inc, err
	}
	detail := "by hand: " + member
	if note != "" {
		detail += ": " + note
	}
	s.event(ctx, id, "paged", by, detail)
	s.pageByHand(ctx, inc, member, by, note)
	return inc, nil
}

// Reassign makes member the owner of an unresolved incident, pages them
// by hand and gives them the linked ticket too (the ticket records it in
// its own history).
func (s *Service) Reassign(ctx context.Context, id int64, member, by, note string) (Incident, error) {
	inc, err := s.handTarget(ctx, id, member, note)
	if err != nil {
		return inc, err
	}
	ok, err := s.opts.Store.SetIncidentAssignee(ctx, id, member, s.opts.Now())
	if err != nil {
		return inc, err
	}
	if !ok {
		return inc, fmt.Errorf("reassign incident %d: it is resolved: %w", id, ErrState)
	}
	detail := fmt.Sprintf("%s → %s", orNobody(inc.Assignee), member)
	if note != "" {
		detail += ": " + note
	}
	s.event(ctx, id, "reassigned", by, detail)
	inc.Assignee = member
	if a, ok := s.opts.Ticketer.(TicketAssigner); ok && inc.TicketID != "" {
		if err := a.AssignForIncident(ctx, inc, inc.TicketID, member, by); err != nil {
			s.opts.Logger.Error("incident: reassign ticket", "incident", id, "ticket", inc.TicketID, "err", err)
			s.event(ctx, id, "ticket", "", "giving ticket "+inc.TicketID+" to "+member+" failed")
		} else {
			s.event(ctx, id, "ticket", by, "ticket "+inc.TicketID+" assigned to "+member)
		}
	}
	s.pageByHand(ctx, inc, member, by, note)
	return s.opts.Store.GetIncident(ctx, id)
}

func orNobody(s string) string {
	if s == "" {
		return "nobody"
	}
	return s
}

// handTarget checks a page or reassignment by hand: the incident exists
// and is unresolved, the member is one of the team, the note is bounded.
func (s *Service) handTarget(ctx context.Context, id int64, member, note string) (Incident, error) {
	if len(note) > MaxNoteLen {
		return Incident{}, fmt.Errorf("note is longer than %d bytes: %w", MaxNoteLen, ErrInvalid)
	}
	member = strings.TrimSpace(member)
	if member == "" {
		return Incident{}, fmt.Errorf("choose a member: %w", ErrInvalid)
	}
	inc, err := s.opts.Store.GetIncident(ctx, id)
	if err != nil {
		return inc, err
	}
	if inc.Status == StatusResolved {
		return inc, fmt.Errorf("incident %d is resolved: %w", id, ErrState)
	}
	if s.opts.Roster == nil {
		return inc, fmt.Errorf("no team to page: %w", ErrInvalid)
	}
	rota := ""
	if pol, ok := s.opts.Policies[inc.Policy]; ok {
		rota = pol.Rota
	}
	if _, err := s.opts.Roster.Resolve(ctx, rota, Target{Kind: TargetMember, Member: member}, s.opts.Now()); err != nil {
		return inc, fmt.Errorf("member %q: %v: %w", member, err, ErrInvalid)
	}
	return inc, nil
}

func (s *Service) pageByHand(ctx context.Context, inc Incident, member, by, note string) {
	if s.opts.Notifier == nil {
		return
	}
	n := Notification{Kind: NotifyPage, Incident: inc, Members: []string{member}, Actor: by, Note: note,
		Manual: strconv.FormatInt(s.opts.Now().UnixNano(), 36)}
	if err := s.opts.Notifier.Notify(ctx, n); err != nil {
		s.opts.Logger.Error("incident: page by hand", "incident", inc.ID, "member", member, "err", err)
	}
}

// AddNote adds a note to an incident's timeline (any status: a note after
// the resolution is the post-mortem's start).
func (s *Service) AddNote(ctx context.Context, id int64, by, text string) (Event, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Event{}, fmt.Errorf("the note is empty: %w", ErrInvalid)
	}
	if len(text) > MaxNoteLen {
		return Event{}, fmt.Errorf("note is longer than %d bytes: %w", MaxNoteLen, ErrInvalid)
	}
	if _, err := s.opts.Store.GetIncident(ctx, id); err != nil {
		return Event{}, err
	}
	e := Event{IncidentID: id, At: s.opts.Now(), Kind: "note", Actor: by, Detail: text}
	if err := s.opts.Store.AddIncidentEvent(ctx, e); err != nil {
		return Event{}, err
	}
	return e, nil
}

// Deliveries returns an incident's page log, oldest first.
func (s *Service) Deliveries(ctx context.Context, id int64) ([]Delivery, error) {
	return s.opts.Store.IncidentDeliveries(ctx, id)
}

// Entry is one line of an incident's whole timeline: an Event, or a
// Delivery (Channel set).
type Entry struct {
	At     time.Time
	Kind   string
	Actor  string
	Detail string
	// Of a delivery:
	Member, Channel, Result, Error string
	Attempts                       int
}

// Delivery reports whether the entry is a message of the page log.
func (e Entry) Delivery() bool { return e.Channel != "" }

// Timeline merges an incident's events and page log into one list,
// oldest first; at the same instant an event comes before the messages
// it caused.
func Timeline(events []Event, deliveries []Delivery) []Entry {
	out := make([]Entry, 0, len(events)+len(deliveries))
	for _, e := range events {
		out = append(out, Entry{At: e.At, Kind: e.Kind, Actor: e.Actor, Detail: e.Detail})
	}
	for _, d := range deliveries {
		to := d.Member
		if to == "" {
			to = "team channel"
		}
		out = append(out, Entry{At: d.At, Kind: "sent " + d.Kind, Member: to, Channel: d.Channel, Result: d.Result,
			Error: d.Error, Attempts: d.Attempts})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].At.Equal(out[j].At) {
			return out[i].At.Before(out[j].At)
		}
		return !out[i].Delivery() && out[j].Delivery()
	})
	return out
}
