package units

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Activity is what happened to the units in [From, To): the monthly
// report's units section (docs/reports.md, "Units"). Everything is read
// from the recorded history — status changes, checklist steps and
// requirements as they were recorded — never recomputed from today's
// state.
type Activity struct {
	From, To time.Time
	// Joined are the units whose status became live in the period.
	Joined []Unit
	// Migrating are the units whose recorded status at To is migrating.
	Migrating []Unit
	// FollowUpsDone counts follow-up contacts recorded done in the period.
	FollowUpsDone int
	// FollowUpsOverdue are the follow-ups due before To (or now, if
	// earlier) that were not done by then.
	FollowUpsOverdue []Step
	// RequirementsOpened counts requirements and complaints recorded in
	// the period; RequirementsAnswered those given an answer in it.
	RequirementsOpened, RequirementsAnswered int
}

// statusEventText is the text of a status change event; ParseStatusEvent
// reads it back.
func statusEventText(from, to Status) string { return fmt.Sprintf("status %s → %s", from, to) }

// ParseStatusEvent returns the statuses of a status change event (kind
// EventStatus); ok false for any other event.
func ParseStatusEvent(e Event) (from, to Status, ok bool) {
	if e.Kind != EventStatus {
		return "", "", false
	}
	a, b, found := strings.Cut(strings.TrimPrefix(e.Text, "status "), " → ")
	if !found || !Status(a).Valid() || !Status(b).Valid() {
		return "", "", false
	}
	return Status(a), Status(b), true
}

// StatusAt is u's status at instant t as its history records it: the
// status the last status change at or before t led to, else the status
// the first later change started from, else the unit's status now.
func StatusAt(u Unit, evs []Event, t time.Time) Status {
	var last, next Status
	for _, e := range evs {
		from, to, ok := ParseStatusEvent(e)
		if !ok {
			continue
		}
		if !e.At.After(t) {
			last = to
		} else if next == "" {
			next = from
		}
	}
	switch {
	case last != "":
		return last
	case next != "":
		return next
	}
	return u.Status
}

// RequirementReader reads all units' requirements opened or answered in
// [from, to) (unitstore.Store.RequirementsBetween).
type RequirementReader interface {
	RequirementsBetween(ctx context.Context, from, to time.Time) ([]Requirement, error)
}

// Activity reads what happened to the units in [from, to); now bounds
// what counts as overdue while the period is still running.
func (s *Service) Activity(ctx context.Context, reqs RequirementReader, from, to, now time.Time) (Activity, error) {
	a := Activity{From: from, To: to}
	us, err := s.o.Store.ListUnits(ctx, Filter{})
	if err != nil {
		return a, err
	}
	cut := to
	if now.Before(cut) {
		cut = now
	}
	for _, u := range us {
		evs, err := s.o.Store.Events(ctx, u.ID)
		if err != nil {
			return a, err
		}
		for _, e := range evs {
			if _, st, ok := ParseStatusEvent(e); ok && st == StatusLive && !e.At.Before(from) && e.At.Before(to) {
				a.Joined = append(a.Joined, u)
				break
			}
		}
		if StatusAt(u, evs, to) == StatusMigrating {
			a.Migrating = append(a.Migrating, u)
		}
		steps, err := s.o.Store.Steps(ctx, u.ID)
		if err != nil {
			return a, err
		}
		for _, st := range steps {
			if st.Kind != StepFollowUp {
				continue
			}
			if st.State == StepDone && !st.DoneAt.Before(from) && st.DoneAt.Before(to) {
				a.FollowUpsDone++
			}
			doneBy := st.State != StepOpen && !st.DoneAt.After(cut)
			if st.DueAt.Before(cut) && !doneBy {
				a.FollowUpsOverdue = append(a.FollowUpsOverdue, st)
			}
		}
	}
	if reqs != nil {
		rs, err := reqs.RequirementsBetween(ctx, from, to)
		if err != nil {
			return a, err
		}
		for _, r := range rs {
			if !r.OpenedAt.Before(from) && r.OpenedAt.Before(to) {
				a.RequirementsOpened++
			}
			if !r.AnsweredAt.IsZero() && !r.AnsweredAt.Before(from) && r.AnsweredAt.Before(to) {
				a.RequirementsAnswered++
			}
		}
	}
	return a, nil
}
