package units

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Requirement is a new requirement or a complaint a unit puts to the mail
// team, kept with its state and the answer the unit was given
// (docs/units.md, "Requirements and complaints").
type Requirement struct {
	ID       int64            `json:"id"`
	UnitID   int64            `json:"unit_id"`
	Kind     RequirementKind  `json:"kind"`
	Title    string           `json:"title"`
	Body     string           `json:"body,omitempty"`
	State    RequirementState `json:"state"`
	OpenedAt time.Time        `json:"opened_at"`
	OpenedBy string           `json:"opened_by"`
	// Answer is the answer given to the unit; "" none yet.
	Answer     string    `json:"answer,omitempty"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
	AnsweredBy string    `json:"answered_by,omitempty"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// RequirementKind says whether the unit asks for something or complains.
type RequirementKind string

// The kinds of Requirement.
const (
	KindRequirement RequirementKind = "requirement"
	KindComplaint   RequirementKind = "complaint"
)

// RequirementState is where a requirement stands.
type RequirementState string

// The requirement states. A requirement starts new, may go under review,
// is accepted or declined, and an accepted one is done when delivered.
const (
	RequirementNew      RequirementState = "new"
	RequirementReview   RequirementState = "under_review"
	RequirementAccepted RequirementState = "accepted"
	RequirementDone     RequirementState = "done"
	RequirementDeclined RequirementState = "declined"
)

// RequirementStates lists every state in order.
func RequirementStates() []RequirementState {
	return []RequirementState{RequirementNew, RequirementReview, RequirementAccepted, RequirementDone, RequirementDeclined}
}

// requirementMoves are the allowed transitions; done and declined are
// final.
var requirementMoves = map[RequirementState][]RequirementState{
	RequirementNew:      {RequirementReview, RequirementAccepted, RequirementDeclined},
	RequirementReview:   {RequirementAccepted, RequirementDeclined},
	RequirementAccepted: {RequirementDone, RequirementDeclined},
}

// CanMove reports whether a requirement in state from may go to state to.
func (from RequirementState) CanMove(to RequirementState) bool {
	return slices.Contains(requirementMoves[from], to)
}

// Answered reports whether a requirement in state s has been decided,
// so needs an answer: accepted, done or declined.
func (s RequirementState) Answered() bool {
	return s == RequirementAccepted || s == RequirementDone || s == RequirementDeclined
}

// Open reports whether s is not final.
func (s RequirementState) Open() bool { return s != RequirementDone && s != RequirementDeclined }

// EventRequirement is the event kind of a requirement recorded or moved.
const EventRequirement = "requirement"

// AddRequirement records a new requirement or complaint of the unit.
func (s *Service) AddRequirement(ctx context.Context, r Requirement, actor string) (Requirement, error) {
	if _, err := s.o.Store.GetUnit(ctx, r.UnitID); err != nil {
		return r, err
	}
	if r.Kind == "" {
		r.Kind = KindRequirement
	}
	if r.Kind != KindRequirement && r.Kind != KindComplaint {
		return r, fmt.Errorf("%w: kind %q: must be requirement or complaint", ErrInvalid, r.Kind)
	}
	r.Title, r.Body = strings.TrimSpace(r.Title), strings.TrimSpace(r.Body)
	if r.Title == "" || len(r.Title) > 200 || strings.ContainsAny(r.Title, "\r\n") {
		return r, fmt.Errorf("%w: a requirement needs a title of one line, at most 200 characters", ErrInvalid)
	}
	if len(r.Body) > 20_000 {
		return r, fmt.Errorf("%w: the text is at most 20000 characters", ErrInvalid)
	}
	now := s.o.Now()
	r.ID, r.State, r.OpenedAt, r.OpenedBy, r.UpdatedAt = 0, RequirementNew, now, actor, now
	r.Answer, r.AnsweredAt, r.AnsweredBy = "", time.Time{}, ""
	out, err := s.o.Store.CreateRequirement(ctx, r)
	if err != nil {
		return out, err
	}
	ev := s.event(r.UnitID, actor, EventRequirement, fmt.Sprintf("%s %d recorded: %s", r.Kind, out.ID, r.Title))
	return out, s.o.Store.AddEvents(ctx, ev)
}

// MoveRequirement moves a requirement to state to. Accepting, finishing
// and declining need the answer given to the unit; a later answer
// replaces the earlier one. ErrTransition when the move is not allowed.
func (s *Service) MoveRequirement(ctx context.Context, id int64, to RequirementState, answer, actor string) (Requirement, error) {
	answer = strings.TrimSpace(answer)
	if !slices.Contains(RequirementStates(), to) {
		return Requirement{}, fmt.Errorf("%w: state %q: must be one of under_review, accepted, done, declined", ErrInvalid, to)
	}
	if len(answer) > 20_000 {
		return Requirement{}, fmt.Errorf("%w: the answer is at most 20000 characters", ErrInvalid)
	}
	if to.Answered() && answer == "" {
		return Requirement{}, fmt.Errorf("%w: state %s needs the answer given to the unit", ErrInvalid, to)
	}
	r, err := s.o.Store.GetRequirement(ctx, id)
	if err != nil {
		return r, err
	}
	if !r.State.CanMove(to) {
		return r, fmt.Errorf("requirement %d is %s and cannot become %s: %w", id, r.State, to, ErrTransition)
	}
	from := r.State
	now := s.o.Now()
	r.State, r.UpdatedAt = to, now
	if answer != "" {
		r.Answer, r.AnsweredAt, r.AnsweredBy = answer, now, actor
	}
	if r, err = s.o.Store.UpdateRequirement(ctx, r, from); err != nil {
		return r, err
	}
	text := fmt.Sprintf("%s %d %s → %s", r.Kind, r.ID, from, to)
	if answer != "" {
		text += "; answer: " + answer
	}
	return r, s.o.Store.AddEvents(ctx, s.event(r.UnitID, actor, EventRequirement, text))
}

// Requirements are the unit's requirements and complaints, oldest first.
func (s *Service) Requirements(ctx context.Context, unitID int64) ([]Requirement, error) {
	if _, err := s.o.Store.GetUnit(ctx, unitID); err != nil {
		return nil, err
	}
	return s.o.Store.Requirements(ctx, unitID)
}
