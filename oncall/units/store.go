package units

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/oncall/units/dnscheck"
)

// WorkOrder is the migration work order from the centre's customer
// service to the system administrators — a ticket of its own kind, which
// stays open until its result is recorded.
type WorkOrder struct {
	ID       int64          `json:"id"`
	UnitID   int64          `json:"unit_id"`
	State    WorkOrderState `json:"state"`
	Title    string         `json:"title"`
	Body     string         `json:"body"`
	OpenedAt time.Time      `json:"opened_at"`
	OpenedBy string         `json:"opened_by"`
	// SentTo is the address the order was mailed to; "" not mailed.
	SentTo   string    `json:"sent_to"`
	Result   string    `json:"result,omitempty"`
	ResultAt time.Time `json:"result_at,omitzero"`
	ResultBy string    `json:"result_by,omitempty"`
}

// WorkOrderState is where a work order stands.
type WorkOrderState string

// The work order states: open until the system administrators record a
// result, done or failed.
const (
	WorkOrderOpen   WorkOrderState = "open"
	WorkOrderDone   WorkOrderState = "done"
	WorkOrderFailed WorkOrderState = "failed"
)

// Check is one DNS check of one of a unit's domains, kept as history.
type Check struct {
	ID     int64           `json:"id"`
	UnitID int64           `json:"unit_id"`
	StepID int64           `json:"step_id,omitempty"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Domain string          `json:"domain"`
	OK     bool            `json:"ok"`
	TTL    *uint32         `json:"ttl"`
	Result dnscheck.Result `json:"result"`
	// Explained is set when the wrong result was mailed to the unit's
	// administrator.
	Explained bool `json:"explained"`
}

// DueQuery selects the steps a tick acts on.
type DueQuery struct {
	Now           time.Time
	Recheck       []StepKind
	CheckedBefore time.Time
}

// Filter selects units.
type Filter struct {
	Status Status
	Domain string
}

// Store keeps units and their checklists (internal/store/unitstore). It
// loads and saves; the rules are the Service's.
type Store interface {
	CreateUnit(ctx context.Context, u Unit, ev Event) (Unit, error)
	GetUnit(ctx context.Context, id int64) (Unit, error)
	ListUnits(ctx context.Context, f Filter) ([]Unit, error)
	// ChangeUnit loads the unit in a transaction, lets fn change it and
	// return the events to record, and saves both; an error from fn
	// changes nothing.
	ChangeUnit(ctx context.Context, id int64, fn func(u *Unit) ([]Event, error)) (Unit, error)
	AddEvents(ctx context.Context, evs ...Event) error
	Events(ctx context.Context, unitID int64) ([]Event, error)

	CreateLink(ctx context.Context, l SurveyLink) (SurveyLink, error)
	// LinkByHash returns the link with this token hash, ErrLinkInvalid
	// when there is none.
	LinkByHash(ctx context.Context, hash string) (SurveyLink, error)
	// UseLink marks the link used at now if it is unused and unexpired,
	// in one statement, and returns it; ErrLinkInvalid otherwise.
	UseLink(ctx context.Context, hash string, now time.Time) (SurveyLink, error)
	Links(ctx context.Context, unitID int64) ([]SurveyLink, error)

	// ReplaceOpenSteps deletes the unit's open steps and adds steps (a
	// re-plan keeps what was done).
	ReplaceOpenSteps(ctx context.Context, unitID int64, steps []Step) ([]Step, error)
	AddStep(ctx context.Context, s Step) (Step, error)
	GetStep(ctx context.Context, id int64) (Step, error)
	Steps(ctx context.Context, unitID int64) ([]Step, error)
	// DueSteps are the open steps due at or before q.Now that still need
	// something: no reminder yet, or of a kind in q.Recheck and not checked
	// since q.CheckedBefore; oldest first, at most 1000.
	DueSteps(ctx context.Context, q DueQuery) ([]Step, error)
	// ClaimReminder sets the step's reminded_at to now if it is unset and
	// reports whether this call set it: a reminder goes out once.
	ClaimReminder(ctx context.Context, stepID int64, now time.Time) (bool, error)
	// UnclaimReminder clears reminded_at after a reminder that failed, so
	// that the next tick tries again.
	UnclaimReminder(ctx context.Context, stepID int64) error
	// FinishStep records the outcome of an open step; ErrTransition when
	// it is no longer open.
	FinishStep(ctx context.Context, s Step, ev Event) (Step, error)
	SetStepChecked(ctx context.Context, stepID int64, at time.Time, outcome string) error
	// AssignStep sets an open step's assignee and records ev;
	// ErrTransition when it is no longer open.
	AssignStep(ctx context.Context, stepID int64, assignee string, ev Event) (Step, error)

	AddCheck(ctx context.Context, c Check) (Check, error)
	Checks(ctx context.Context, unitID int64, limit int) ([]Check, error)
	// LastExplained is the latest explained check of the domain for the
	// unit; ok false when none.
	LastExplained(ctx context.Context, unitID int64, domain string) (Check, bool, error)
	// MarkExplained records that the check was mailed to the unit.
	MarkExplained(ctx context.Context, checkID int64) error

	CreateWorkOrder(ctx context.Context, w WorkOrder) (WorkOrder, error)
	GetWorkOrder(ctx context.Context, id int64) (WorkOrder, error)
	// SetWorkOrderSent records where the work order was mailed.
	SetWorkOrderSent(ctx context.Context, id int64, to string) error
	WorkOrders(ctx context.Context, unitID int64) ([]WorkOrder, error)
	// FinishWorkOrder records the result of an open work order;
	// ErrTransition when it has one.
	FinishWorkOrder(ctx context.Context, w WorkOrder) (WorkOrder, error)

	CreateRequirement(ctx context.Context, r Requirement) (Requirement, error)
	GetRequirement(ctx context.Context, id int64) (Requirement, error)
	// UpdateRequirement saves r if it is still in state from;
	// ErrTransition when another change came first.
	UpdateRequirement(ctx context.Context, r Requirement, from RequirementState) (Requirement, error)
	Requirements(ctx context.Context, unitID int64) ([]Requirement, error)

	AddRef(ctx context.Context, r Ref) error
	Refs(ctx context.Context, unitID int64) ([]Ref, error)
	// RefUnits are the units a ticket or a notice is scoped to.
	RefUnits(ctx context.Context, kind string, refID int64) ([]Unit, error)
}

// Reader is what other capabilities read of units: a unit, the units a
// ticket or notice is scoped to, and so their contacts (Unit.Recipients).
type Reader interface {
	GetUnit(ctx context.Context, id int64) (Unit, error)
	ListUnits(ctx context.Context, f Filter) ([]Unit, error)
	RefUnits(ctx context.Context, kind string, refID int64) ([]Unit, error)
}

var _ Reader = Store(nil)
