// Package team owns the on-call team as postvakt runs it: the members and
// rotas from configuration, their cover calendars, and the changes people
// make at run time — overrides, swap requests (request, accept, decline)
// and unavailability — kept in the database. It answers who is on call
// by calling the pure functions of package rota with the stored changes,
// and resolves escalation targets for package incident.
package team

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// Errors wrapped by the Team's methods.
var (
	ErrUnknownRota   = errors.New("unknown rota")
	ErrUnknownMember = errors.New("unknown member")
	ErrNotFound      = errors.New("not found")
	ErrInvalid       = errors.New("invalid request")
	// ErrState reports a swap that is no longer in the state the action needs.
	ErrState = errors.New("swap is not pending")
	// ErrNotYours reports a member acting in another member's place: a
	// swap is requested by its requester and decided by its counterpart.
	ErrNotYours = errors.New("not yours to decide")
)

// SwapRecord is a stored swap request.
type SwapRecord struct {
	rota.Swap
	Rota      string    `json:"rota"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	DecidedBy string    `json:"decided_by,omitempty"`
	// TurnAStart and TurnBStart are filled in by the Team for display.
	TurnAStart time.Time `json:"turn_a_start,omitzero"`
	TurnBStart time.Time `json:"turn_b_start,omitzero"`
}

// OverrideRecord is a stored override.
type OverrideRecord struct {
	rota.Override
	Rota      string    `json:"rota"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Store keeps the run-time changes (internal/store/oncallstore).
type Store interface {
	AddOverride(ctx context.Context, o OverrideRecord) (OverrideRecord, error)
	DeleteOverride(ctx context.Context, id int64, at time.Time) error
	ListOverrides(ctx context.Context, rotaName string) ([]OverrideRecord, error)
	AddSwap(ctx context.Context, s SwapRecord) (SwapRecord, error)
	GetSwap(ctx context.Context, id int64) (SwapRecord, error)
	// DecideSwap moves a swap from state from to state to, only if it is
	// still in from; it reports whether it did.
	DecideSwap(ctx context.Context, id int64, from, to rota.SwapState, by string, at time.Time) (bool, error)
	ListSwaps(ctx context.Context, rotaName string) ([]SwapRecord, error)
	AddUnavailability(ctx context.Context, u rota.Unavailability, reason, by string, at time.Time) (int64, error)
	ListUnavailability(ctx context.Context) ([]rota.Unavailability, error)
}

// Spec is the team as configured.
type Spec struct {
	Members   []rota.Member
	Rotas     []rota.Spec
	Calendars []calendar.Spec
}

// Team answers on-call questions from configuration and stored changes.
type Team struct {
	members map[string]rota.Member
	order   []string
	rotas   map[string]*rota.Rota
	names   []string
	covers  map[string]*calendar.Calendar
	store   Store
	// reminded holds the keys of the swap reminders handed over (RemindSwaps)
	reminded sync.Map
}

// New compiles spec. store may be nil for pure configuration checks.
func New(spec Spec, store Store) (*Team, error) {
	t := &Team{members: map[string]rota.Member{}, rotas: map[string]*rota.Rota{}, covers: map[string]*calendar.Calendar{}, store: store}
	var errs []error
	for _, m := range spec.Members {
		if err := m.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := t.members[m.ID]; dup {
			errs = append(errs, fmt.Errorf("member %q: %w", m.ID, rota.ErrDuplicate))
			continue
		}
		t.members[m.ID] = m
		t.order = append(t.order, m.ID)
	}
	cals := map[string]*calendar.Calendar{}
	for _, c := range spec.Calendars {
		cal, err := calendar.New(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cals[c.Name] = cal
	}
	for _, rs := range spec.Rotas {
		r, err := rota.New(rs)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := t.rotas[rs.Name]; dup {
			errs = append(errs, fmt.Errorf("rota %q: %w", rs.Name, rota.ErrDuplicate))
			continue
		}
		for _, m := range rs.Members {
			if _, ok := t.members[m]; !ok {
				errs = append(errs, fmt.Errorf("rota %q: member %q: %w", rs.Name, m, ErrUnknownMember))
			}
		}
		if rs.Cover != "" {
			cal, ok := cals[rs.Cover]
			if !ok {
				errs = append(errs, fmt.Errorf("rota %q: cover %q: no such calendar", rs.Name, rs.Cover))
			}
			t.covers[rs.Name] = cal
		}
		t.rotas[rs.Name] = r
		t.names = append(t.names, rs.Name)
	}
	return t, errors.Join(errs...)
}

// Rotas lists the rota names in configuration order.
func (t *Team) Rotas() []string { return append([]string(nil), t.names...) }

// Rota returns a compiled rota.
func (t *Team) Rota(name string) (*rota.Rota, error) {
	r, ok := t.rotas[name]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownRota, name)
	}
	return r, nil
}

// DefaultRota returns the first rota's name, or "".
func (t *Team) DefaultRota() string {
	if len(t.names) == 0 {
		return ""
	}
	return t.names[0]
}

// Members lists the members in configuration order.
func (t *Team) Members() []rota.Member {
	out := make([]rota.Member, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, t.members[id])
	}
	return out
}

// Member returns a member by ID.
func (t *Team) Member(id string) (rota.Member, bool) {
	m, ok := t.members[id]
	return m, ok
}

// MemberBySlackID returns the member with a Slack user ID.
func (t *Team) MemberBySlackID(slackID string) (rota.Member, bool) {
	for _, id := range t.order {
		if m := t.members[id]; m.SlackID != "" && m.SlackID == slackID {
			return m, true
		}
	}
	return rota.Member{}, false
}

// MemberByLogin returns the member a signed-in person is: the member
// whose ID or e-mail address is name, compared case-insensitively (a web
// user named after the member, or a single sign-on name that is the
// member's address).
func (t *Team) MemberByLogin(name string) (rota.Member, bool) {
	if name == "" {
		return rota.Member{}, false
	}
	for _, id := range t.order {
		m := t.members[id]
		if strings.EqualFold(m.ID, name) || (m.Email != "" && strings.EqualFold(m.Email, name)) {
			return m, true
		}
	}
	return rota.Member{}, false
}

// Recipient implements page.Directory.
func (t *Team) Recipient(id string) (page.Recipient, bool) {
	m, ok := t.members[id]
	if !ok {
		return page.Recipient{}, false
	}
	return page.Recipient{ID: m.ID, Name: m.Name, Email: m.Email, SlackID: m.SlackID, TimeZone: m.TimeZone}, true
}

// Changes loads a rota's stored changes.
func (t *Team) Changes(ctx context.Context, rotaName string) (rota.Changes, error) {
	if _, err := t.Rota(rotaName); err != nil {
		return rota.Changes{}, err
	}
	if t.store == nil {
		return rota.Changes{}, nil
	}
	var c rota.Changes
	ovs, err := t.store.ListOverrides(ctx, rotaName)
	if err != nil {
		return c, err
	}
	for _, o := range ovs {
		c.Overrides = append(c.Overrides, o.Override)
	}
	sws, err := t.store.ListSwaps(ctx, rotaName)
	if err != nil {
		return c, err
	}
	for _, s := range sws {
		c.Swaps = append(c.Swaps, s.Swap)
	}
	if c.Unavailable, err = t.store.ListUnavailability(ctx); err != nil {
		return c, err
	}
	return c, nil
}

// OnCallAt returns the shift that contains at.
func (t *Team) OnCallAt(ctx context.Context, rotaName string, at time.Time) (rota.Shift, error) {
	r, err := t.Rota(rotaName)
	if err != nil {
		return rota.Shift{}, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return rota.Shift{}, err
	}
	return r.OnCallAt(c, at), nil
}

// Schedule returns the shifts in [from, to).
func (t *Team) Schedule(ctx context.Context, rotaName string, from, to time.Time) ([]rota.Shift, error) {
	r, err := t.Rota(rotaName)
	if err != nil {
		return nil, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	return r.Schedule(c, from, to), nil
}

// Gaps returns the spans in [from, to) where the person on call is unavailable.
func (t *Team) Gaps(ctx context.Context, rotaName string, from, to time.Time) ([]rota.Gap, error) {
	r, err := t.Rota(rotaName)
	if err != nil {
		return nil, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	return r.Gaps(c, from, to), nil
}

// Fairness returns per-member counts in [from, to), with public holidays
// from the rota's cover calendar.
func (t *Team) Fairness(ctx context.Context, rotaName string, from, to time.Time) ([]rota.FairnessRow, error) {
	r, err := t.Rota(rotaName)
	if err != nil {
		return nil, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	opts := rota.FairnessOptions{Changes: c, From: from, To: to}
	if cal := t.covers[rotaName]; cal != nil {
		opts.Holidays = cal
	}
	return r.Fairness(opts), nil
}

// Cover implements incident.Roster.
func (t *Team) Cover(rotaName string) incident.Cover {
	if cal := t.covers[rotaName]; cal != nil {
		return cal
	}
	return nil
}

// InCover reports whether at is inside the rota's cover; true without a cover calendar.
func (t *Team) InCover(rotaName string, at time.Time) bool {
	if cal := t.covers[rotaName]; cal != nil {
		return cal.IsOpen(at)
	}
	return true
}

// Resolve implements incident.Roster: oncall is the holder at at, next the
// holder of the following shift with a different member, member:ID the
// member itself.
func (t *Team) Resolve(ctx context.Context, rotaName string, tg incident.Target, at time.Time) ([]string, error) {
	switch tg.Kind {
	case incident.TargetChannel:
		return nil, nil
	case incident.TargetMember:
		if _, ok := t.members[tg.Member]; !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownMember, tg.Member)
		}
		return []string{tg.Member}, nil
	}
	r, err := t.Rota(rotaName)
	if err != nil {
		return nil, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	cur := r.OnCallAt(c, at)
	if tg.Kind == incident.TargetOnCall {
		return []string{cur.Member}, nil
	}
	// next: the person who takes over after the current holder.
	s := cur
	for i := 0; i < 64; i++ {
		s = r.OnCallAt(c, s.End)
		if s.Member != cur.Member {
			return []string{s.Member}, nil
		}
	}
	return []string{cur.Member}, nil
}

var _ incident.Roster = (*Team)(nil)
var _ page.Directory = (*Team)(nil)

// OverrideRequest puts Member on call in Rota for [Start, End).
type OverrideRequest struct {
	Rota       string
	Member     string
	Start, End time.Time
	Reason     string
	By         string    // who asks
	Now        time.Time // when
}

// AddOverride stores an override.
func (t *Team) AddOverride(ctx context.Context, r OverrideRequest) (OverrideRecord, error) {
	if _, err := t.Rota(r.Rota); err != nil {
		return OverrideRecord{}, err
	}
	if _, ok := t.members[r.Member]; !ok {
		return OverrideRecord{}, fmt.Errorf("%w %q", ErrUnknownMember, r.Member)
	}
	if !r.End.After(r.Start) {
		return OverrideRecord{}, fmt.Errorf("%w: end %s is not after start %s", ErrInvalid, r.End.Format(time.RFC3339), r.Start.Format(time.RFC3339))
	}
	return t.store.AddOverride(ctx, OverrideRecord{Override: rota.Override{Member: r.Member, Start: r.Start, End: r.End, Reason: r.Reason},
		Rota: r.Rota, CreatedAt: r.Now, CreatedBy: r.By})
}

// SwapRequest asks Counterpart to take Requester's turn containing Mine in
// exchange for Counterpart's turn containing Theirs.
type SwapRequest struct {
	Rota        string
	Requester   string
	Counterpart string
	Mine        time.Time // an instant in the requester's turn
	Theirs      time.Time // an instant in the counterpart's turn
	Note        string
	// Actor is the member who asks, who must be the requester; empty for
	// an administrator, who may ask in anyone's name.
	Actor string
	By    string    // who asks, as recorded
	Now   time.Time // when
}

// RequestSwap stores a swap request. Both people must hold those turns
// now (after earlier accepted swaps). Only the requester (or an
// administrator) asks: ErrNotYours otherwise.
func (t *Team) RequestSwap(ctx context.Context, q SwapRequest) (SwapRecord, error) {
	rotaName, requester, counterpart := q.Rota, q.Requester, q.Counterpart
	r, err := t.Rota(rotaName)
	if err != nil {
		return SwapRecord{}, err
	}
	if q.Actor != "" && q.Actor != requester {
		return SwapRecord{}, fmt.Errorf("%w: %s may not ask for a swap in %s's name", ErrNotYours, q.Actor, requester)
	}
	for _, m := range []string{requester, counterpart} {
		if _, ok := t.members[m]; !ok {
			return SwapRecord{}, fmt.Errorf("%w %q", ErrUnknownMember, m)
		}
	}
	if requester == counterpart {
		return SwapRecord{}, fmt.Errorf("%w: requester and counterpart are the same", ErrInvalid)
	}
	a, b := r.TurnAt(q.Mine), r.TurnAt(q.Theirs)
	if a.Index == b.Index {
		return SwapRecord{}, fmt.Errorf("%w: both dates are in the same turn", ErrInvalid)
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return SwapRecord{}, err
	}
	sw := rota.Swap{Requester: requester, Counterpart: counterpart, TurnA: a.Index, TurnB: b.Index, State: rota.SwapAccepted}
	c.Swaps = append(c.Swaps, sw)
	if err := r.CheckChanges(c); err != nil {
		if errors.Is(err, rota.ErrStaleSwap) {
			return SwapRecord{}, fmt.Errorf("%w: %s does not hold the turn starting %s, or %s the turn starting %s",
				ErrInvalid, requester, a.Start.Format(time.RFC3339), counterpart, b.Start.Format(time.RFC3339))
		}
	}
	sw.State = rota.SwapRequested
	rec, err := t.store.AddSwap(ctx, SwapRecord{Swap: sw, Rota: rotaName, Note: q.Note, CreatedAt: q.Now, CreatedBy: q.By})
	if err != nil {
		return rec, err
	}
	return t.decorate(rec), nil
}

func (t *Team) decorate(s SwapRecord) SwapRecord {
	if r, ok := t.rotas[s.Rota]; ok {
		s.TurnAStart, s.TurnBStart = r.Turn(s.TurnA).Start, r.Turn(s.TurnB).Start
	}
	return s
}

// GetSwap returns a stored swap.
func (t *Team) GetSwap(ctx context.Context, id int64) (SwapRecord, error) {
	s, err := t.store.GetSwap(ctx, id)
	return t.decorate(s), err
}

// ListSwaps lists a rota's swaps.
func (t *Team) ListSwaps(ctx context.Context, rotaName string) ([]SwapRecord, error) {
	list, err := t.store.ListSwaps(ctx, rotaName)
	for i := range list {
		list[i] = t.decorate(list[i])
	}
	return list, err
}

// SwapDecision accepts, declines or cancels the pending swap ID.
type SwapDecision struct {
	ID    int64
	To    rota.SwapState // SwapAccepted, SwapDeclined or SwapCancelled
	Actor string         // the member who decides; empty for an administrator
	By    string         // who decides, as recorded
	Now   time.Time      // when
}

// DecideSwap accepts or declines a pending swap; only the counterpart (or
// an administrator, when Actor is empty) may decide, and cancel is the
// requester's (ErrNotYours otherwise). Accepting a swap that the rota no
// longer allows fails.
func (t *Team) DecideSwap(ctx context.Context, d SwapDecision) (SwapRecord, error) {
	id, to, actor := d.ID, d.To, d.Actor
	s, err := t.store.GetSwap(ctx, id)
	if err != nil {
		return s, err
	}
	switch to {
	case rota.SwapAccepted, rota.SwapDeclined:
		if actor != "" && actor != s.Counterpart {
			return s, fmt.Errorf("%w: only %s may accept or decline swap %d", ErrNotYours, s.Counterpart, id)
		}
	case rota.SwapCancelled:
		if actor != "" && actor != s.Requester {
			return s, fmt.Errorf("%w: only %s may cancel swap %d", ErrNotYours, s.Requester, id)
		}
	default:
		return s, fmt.Errorf("%w: state %q", ErrInvalid, to)
	}
	if s.State != rota.SwapRequested {
		if s.State == to {
			return t.decorate(s), nil // idempotent
		}
		return s, fmt.Errorf("%w: swap %d is %s", ErrState, id, s.State)
	}
	if to == rota.SwapAccepted {
		r, err := t.Rota(s.Rota)
		if err != nil {
			return s, err
		}
		c, err := t.Changes(ctx, s.Rota)
		if err != nil {
			return s, err
		}
		acc := s.Swap
		acc.State = rota.SwapAccepted
		c.Swaps = append(c.Swaps, acc)
		if err := r.CheckChanges(c); err != nil && errors.Is(err, rota.ErrStaleSwap) {
			return s, fmt.Errorf("%w: the turns changed hands since the request", ErrInvalid)
		}
	}
	ok, err := t.store.DecideSwap(ctx, id, rota.SwapRequested, to, d.By, d.Now)
	if err != nil {
		return s, err
	}
	if !ok {
		return s, fmt.Errorf("%w: swap %d was decided meanwhile", ErrState, id)
	}
	s, err = t.store.GetSwap(ctx, id)
	return t.decorate(s), err
}

// UnavailabilityRequest records that Member cannot be reached in
// [Start, End).
type UnavailabilityRequest struct {
	Member     string
	Start, End time.Time
	Reason     string
	By         string    // who records it
	Now        time.Time // when
}

// AddUnavailability stores a span in which a member cannot be reached.
func (t *Team) AddUnavailability(ctx context.Context, r UnavailabilityRequest) (int64, error) {
	if _, ok := t.members[r.Member]; !ok {
		return 0, fmt.Errorf("%w %q", ErrUnknownMember, r.Member)
	}
	if !r.End.After(r.Start) {
		return 0, fmt.Errorf("%w: end not after start", ErrInvalid)
	}
	return t.store.AddUnavailability(ctx, rota.Unavailability{Member: r.Member, Start: r.Start, End: r.End}, r.Reason, r.By, r.Now)
}

// ListOverrides lists a rota's overrides.
func (t *Team) ListOverrides(ctx context.Context, rotaName string) ([]OverrideRecord, error) {
	if _, err := t.Rota(rotaName); err != nil {
		return nil, err
	}
	return t.store.ListOverrides(ctx, rotaName)
}

// DeleteOverride removes an override.
func (t *Team) DeleteOverride(ctx context.Context, id int64, now time.Time) error {
	return t.store.DeleteOverride(ctx, id, now)
}

// ParseID parses a stored ID.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: id %q", ErrInvalid, s)
	}
	return id, nil
}
