package units

import (
	"fmt"
	"time"
)

// StepKind is one kind of checklist step; a closed set.
type StepKind string

// The step kinds, in checklist order.
const (
	// StepDocuments: the plan's documents (DNS change guide, client set-up
	// guides, migration notice) sent to the network administrator.
	StepDocuments StepKind = "documents"
	// StepWorkOrder: the work order to the system administrators, done
	// when its result is recorded.
	StepWorkOrder StepKind = "work_order"
	// StepTTLReminder: the administrator is asked to lower the MX record's
	// TTL, with the TTL published now.
	StepTTLReminder StepKind = "ttl_reminder"
	// StepMXCheck: the MX is checked, repeatedly, until it points to the
	// central service.
	StepMXCheck StepKind = "mx_check"
	// StepSuccessNotice: the "migration succeeded" notice with the
	// support contacts, sent when the MX check passes.
	StepSuccessNotice StepKind = "success_notice"
	// StepTTLRestore: the administrator is asked to restore the TTL.
	StepTTLRestore StepKind = "ttl_restore"
	// StepFollowUp: a contact with the unit (how is it going, new
	// requirements), done by a person who records the outcome.
	StepFollowUp StepKind = "follow_up"
)

// StepKinds lists every kind in checklist order.
func StepKinds() []StepKind {
	return []StepKind{StepDocuments, StepWorkOrder, StepTTLReminder, StepMXCheck, StepSuccessNotice, StepTTLRestore, StepFollowUp}
}

// Automatic reports whether postvakt itself carries the step out when it
// is due (a mail to the unit, a DNS check); the others wait for a person,
// who is reminded.
func (k StepKind) Automatic() bool {
	switch k {
	case StepTTLReminder, StepMXCheck, StepSuccessNotice, StepTTLRestore:
		return true
	}
	return false
}

// dueIn reports whether a step of kind k, once due, acts while its unit
// has status st: nothing acts for a unit taken back to new or surveyed (a
// plan abandoned), and the steps after the switch — the TTL restore and
// the follow-ups — wait until the MX check has passed and the unit is
// live: there is no TTL to restore and nothing to follow up before.
func (k StepKind) dueIn(st Status) bool {
	switch st {
	case StatusNew, StatusSurveyed:
		return false
	case StatusLive:
		return true
	}
	return k != StepTTLRestore && k != StepFollowUp
}

// StepState is where a step stands.
type StepState string

// The step states.
const (
	StepOpen    StepState = "open"
	StepDone    StepState = "done"
	StepSkipped StepState = "skipped"
)

// Step is one dated item of a unit's migration checklist.
type Step struct {
	ID     int64    `json:"id"`
	UnitID int64    `json:"unit_id"`
	Kind   StepKind `json:"kind"`
	// Label names the step for people ("follow-up after 1 week"); Seq
	// numbers follow-ups (1 day = 1, 1 week = 2, 2 weeks = 3, 1 month = 4,
	// each month after one more).
	Label    string    `json:"label"`
	Seq      int       `json:"seq"`
	DueAt    time.Time `json:"due_at"`
	Assignee string    `json:"assignee"`
	State    StepState `json:"state"`
	// RemindedAt is when the step's reminder went out (once); zero: not yet.
	RemindedAt time.Time `json:"reminded_at,omitzero"`
	// CheckedAt is the last DNS check of an MX check step.
	CheckedAt time.Time `json:"checked_at,omitzero"`
	DoneAt    time.Time `json:"done_at,omitzero"`
	DoneBy    string    `json:"done_by,omitempty"`
	Outcome   string    `json:"outcome,omitempty"`
}

// ClockTime is a time of day in the service zone, "09:00".
type ClockTime struct{ Hour, Minute int }

// ParseClockTime reads "HH:MM".
func ParseClockTime(s string) (ClockTime, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return ClockTime{}, fmt.Errorf("%w: time of day %q must be HH:MM", ErrInvalid, s)
	}
	return ClockTime{t.Hour(), t.Minute()}, nil
}

func (c ClockTime) String() string { return fmt.Sprintf("%02d:%02d", c.Hour, c.Minute) }

// Schedule turns a migration date into dated steps. Offsets are calendar
// days, not business days, in the service time zone: a TTL is counted in
// seconds whatever the day, so "two days before" means the caches have
// had 48 hours to forget the old TTL; a step that falls on a weekend or a
// holiday is due then and its reminder waits in the assignee's mail.
type Schedule struct {
	Location *time.Location
	// StepTime is the time of day a day's steps fall due (not the MX
	// check, which is due at the migration instant).
	StepTime ClockTime
	// DocumentsBefore is how many days before the migration the documents
	// and the work order are due.
	DocumentsBefore int
}

// localDay returns the date of t in the zone at h:m, the wall time that
// day (a wall time skipped by a DST change moves forward, as time.Date
// does).
func (s Schedule) at(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, s.StepTime.Hour, s.StepTime.Minute, 0, 0, s.Location)
}

// dayOffset is the step time on the day n calendar days from migration's
// local date.
func (s Schedule) dayOffset(migration time.Time, n int) time.Time {
	y, m, d := migration.In(s.Location).Date()
	return s.at(y, m, d+n)
}

// AddMonths is the local date n months after t's, clamped to the month's
// last day (31 January + 1 month = 28 or 29 February, not 3 March).
func AddMonths(y int, m time.Month, d, n int) (int, time.Month, int) {
	first := time.Date(y, m+time.Month(n), 1, 12, 0, 0, 0, time.UTC)
	last := first.AddDate(0, 1, -1).Day()
	return first.Year(), first.Month(), min(d, last)
}

// MonthlyFollowUp is the due time of the follow-up n months after the
// migration (n ≥ 1); Seq of that follow-up is n+3.
func (s Schedule) MonthlyFollowUp(migration time.Time, n int) Step {
	y, m, d := migration.In(s.Location).Date()
	y, m, d = AddMonths(y, m, d, n)
	label := "follow-up after 1 month"
	if n > 1 {
		label = fmt.Sprintf("follow-up after %d months", n)
	}
	return Step{Kind: StepFollowUp, Seq: n + 3, Label: label, DueAt: s.at(y, m, d), State: StepOpen}
}

// Plan returns the checklist of a migration at migration: documents and
// work order DocumentsBefore days before, the TTL reminder 2 days before,
// the MX check at the migration instant and the success notice with it,
// the TTL restore on day 1, and the follow-ups after 1 day, 1 week, 2
// weeks and 1 month; the monthly follow-ups after that are added one at a
// time as each is done (NextFollowUp).
func (s Schedule) Plan(migration time.Time, assignee string) []Step {
	docs := max(s.DocumentsBefore, 2)
	steps := []Step{
		{Kind: StepDocuments, Label: "plan and documents to the network administrator", DueAt: s.dayOffset(migration, -docs)},
		{Kind: StepWorkOrder, Label: "work order to the system administrators", DueAt: s.dayOffset(migration, -docs)},
		{Kind: StepTTLReminder, Label: "remind the administrator to lower the MX TTL", DueAt: s.dayOffset(migration, -2)},
		{Kind: StepMXCheck, Label: "check the MX on the migration day", DueAt: migration},
		{Kind: StepSuccessNotice, Label: "migration succeeded notice", DueAt: migration},
		{Kind: StepTTLRestore, Label: "remind the administrator to restore the TTL", DueAt: s.dayOffset(migration, 1)},
		{Kind: StepFollowUp, Seq: 1, Label: "follow-up after 1 day", DueAt: s.dayOffset(migration, 1)},
		{Kind: StepFollowUp, Seq: 2, Label: "follow-up after 1 week", DueAt: s.dayOffset(migration, 7)},
		{Kind: StepFollowUp, Seq: 3, Label: "follow-up after 2 weeks", DueAt: s.dayOffset(migration, 14)},
		s.MonthlyFollowUp(migration, 1),
	}
	for i := range steps {
		steps[i].State = StepOpen
		steps[i].Assignee = assignee
	}
	return steps
}

// NextFollowUp returns the monthly follow-up that comes after done, a
// follow-up just completed, and true; false when done is not the last
// planned follow-up or a follow-up before the monthly ones.
func (s Schedule) NextFollowUp(migration time.Time, done Step, all []Step) (Step, bool) {
	if done.Kind != StepFollowUp || done.Seq < 4 {
		return Step{}, false
	}
	for _, o := range all {
		if o.Kind == StepFollowUp && o.Seq > done.Seq {
			return Step{}, false
		}
	}
	n := s.MonthlyFollowUp(migration, done.Seq-3+1)
	n.Assignee = done.Assignee
	return n, true
}
