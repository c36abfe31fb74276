// Package team owns the on-call team as postvakt runs it: the members and
// rotas as data — seeded from configuration, each rota a list of versions
// changed from a stated moment without rewriting a turn that has started
// (ChangeRota, ApplyConfig) — their cover calendars, the changes people
// make at run time (overrides, swap requests, unavailability), and the
// record of the shifts as they were held (RecordShifts), all kept in the
// database (docs/oncall.md, "The rota as data", "Changing the rota", "The
// record of shifts"). It answers who is on call from the record for the
// past it covers and from the pure functions of package rota otherwise,
// and resolves escalation targets for package incident. Every process
// reads the same stored team: a revision check at each question reloads
// it when another process changed it.
package team

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
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
	// GetOverride returns a live override.
	GetOverride(ctx context.Context, id int64) (OverrideRecord, error)
	// EndOverride moves a live override's end to end.
	EndOverride(ctx context.Context, id int64, end time.Time) error
	AddSwap(ctx context.Context, s SwapRecord) (SwapRecord, error)
	GetSwap(ctx context.Context, id int64) (SwapRecord, error)
	// DecideSwap moves a swap from state from to state to, only if it is
	// still in from; it reports whether it did.
	DecideSwap(ctx context.Context, id int64, from, to rota.SwapState, by string, at time.Time) (bool, error)
	ListSwaps(ctx context.Context, rotaName string) ([]SwapRecord, error)
	AddUnavailability(ctx context.Context, u rota.Unavailability, reason, by string, at time.Time) (int64, error)
	ListUnavailability(ctx context.Context) ([]rota.Unavailability, error)
}

// Spec is the team as configured: the seed of the stored team (members,
// rotas) and the calendars the rotas' cover names.
type Spec struct {
	Members   []rota.Member
	Rotas     []rota.Spec
	Calendars []calendar.Spec
}

// Team answers on-call questions from the stored team (members and rota
// versions, when the Store is also a RotaStore), the configuration where
// nothing is stored yet, and the stored changes.
type Team struct {
	store Store
	rs    RotaStore // nil: the configuration alone

	mu   sync.Mutex
	conf *teamConf // the configuration: Reconfigure replaces it
	snap *snapshot
	// reminded holds the keys of the swap reminders handed over (RemindSwaps)
	reminded sync.Map
	// loc is the service time zone the messages to people show times in
	// (SetLocation); nil: UTC.
	loc atomic.Pointer[time.Location]
}

// SetLocation sets the service time zone (timezone:) in which the swap
// requests, reminders and lapse notices show their times.
func (t *Team) SetLocation(loc *time.Location) { t.loc.Store(loc) }

// when shows an instant to a person, in the service time zone with its
// abbreviation.
func (t *Team) when(at time.Time) string { return timezone.Format(at, t.loc.Load()) }

// New compiles spec, the configuration. store may be nil for pure
// configuration checks. When store is also a RotaStore, the members and
// rotas are read from it at every question that has a context (a cheap
// revision check first), so that every process answers from the same
// stored team; configured members and rotas not stored yet are answered
// from spec until ApplyConfig (or Seed) stores them.
func New(spec Spec, store Store) (*Team, error) {
	t := &Team{store: store}
	if rs, ok := store.(RotaStore); ok {
		t.rs = rs
	}
	conf, err := compileConf(spec)
	t.conf = conf
	snap, berr := t.build(StoredTeam{Revision: -1})
	t.snap = snap
	return t, errors.Join(err, berr)
}

// teamConf is the configuration compiled.
type teamConf struct {
	spec Spec
	cals map[string]*calendar.Calendar
}

func (t *Team) cfg() *teamConf {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.conf
}

// Reconfigure replaces the configuration (a reload): the seed of members
// and rotas not stored yet, what ApplyConfig applies, and the cover
// calendars. It changes nothing when spec is invalid.
func (t *Team) Reconfigure(spec Spec) error {
	conf, err := compileConf(spec)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.conf = conf
	t.mu.Unlock()
	snap, err := t.build(StoredTeam{Revision: -1}) // until the next refresh
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.snap = snap
	t.mu.Unlock()
	return nil
}

// compileConf checks and compiles the configuration.
func compileConf(spec Spec) (*teamConf, error) {
	t := &teamConf{spec: spec, cals: map[string]*calendar.Calendar{}}
	var errs []error
	for _, c := range spec.Calendars {
		cal, err := calendar.New(c)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t.cals[c.Name] = cal
	}
	seen := map[string]bool{}
	for _, m := range spec.Members {
		if err := m.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[m.ID] {
			errs = append(errs, fmt.Errorf("member %q: %w", m.ID, rota.ErrDuplicate))
		}
		seen[m.ID] = true
	}
	names := map[string]bool{}
	for _, rs := range spec.Rotas {
		if err := rs.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		if names[rs.Name] {
			errs = append(errs, fmt.Errorf("rota %q: %w", rs.Name, rota.ErrDuplicate))
			continue
		}
		names[rs.Name] = true
		for _, m := range rs.Members {
			if !seen[m] {
				errs = append(errs, fmt.Errorf("rota %q: member %q: %w", rs.Name, m, ErrUnknownMember))
			}
		}
		if rs.Cover != "" && t.cals[rs.Cover] == nil {
			errs = append(errs, fmt.Errorf("rota %q: cover %q: no such calendar", rs.Name, rs.Cover))
		}
	}
	return t, errors.Join(errs...)
}

// Rotas lists the rota names: the configured ones in configuration order,
// then those created at run time.
func (t *Team) Rotas() []string { return append([]string(nil), t.current().names...) }

// Rota returns a compiled rota with all its versions.
func (t *Team) Rota(name string) (*rota.Rota, error) {
	st, err := t.current().rota(name)
	if err != nil {
		return nil, err
	}
	return st.r, nil
}

// DefaultRota returns the first rota's name, or "".
func (t *Team) DefaultRota() string {
	if n := t.current().names; len(n) > 0 {
		return n[0]
	}
	return ""
}

// Members lists the current members (not removed): the configured ones in
// configuration order, then those added at run time.
func (t *Team) Members() []rota.Member {
	sn := t.current()
	out := make([]rota.Member, 0, len(sn.order))
	for _, id := range sn.order {
		out = append(out, sn.members[id].Member)
	}
	return out
}

// Member returns a member by ID, also one who has been removed (whose
// name the record of past shifts still shows).
func (t *Team) Member(id string) (rota.Member, bool) {
	m, ok := t.current().members[id]
	return m.Member, ok
}

// MemberBySlackID returns the current member with a Slack user ID.
func (t *Team) MemberBySlackID(slackID string) (rota.Member, bool) {
	sn := t.current()
	for _, id := range sn.order {
		if m := sn.members[id]; m.SlackID != "" && m.SlackID == slackID {
			return m.Member, true
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
	for _, m := range t.Members() {
		if strings.EqualFold(m.ID, name) || (m.Email != "" && strings.EqualFold(m.Email, name)) {
			return m, true
		}
	}
	return rota.Member{}, false
}

// Recipient implements page.Directory.
func (t *Team) Recipient(id string) (page.Recipient, bool) {
	m, ok := t.current().members[id]
	if !ok || !m.RemovedAt.IsZero() {
		return page.Recipient{}, false
	}
	return page.Recipient{ID: m.ID, Name: m.Name, Email: m.Email, SlackID: m.SlackID, TimeZone: m.TimeZone, Phone: m.Phone}, true
}

// Changes loads a rota's stored changes.
func (t *Team) Changes(ctx context.Context, rotaName string) (rota.Changes, error) {
	if _, err := t.rota(ctx, rotaName); err != nil {
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

// OnCallAt returns the shift that contains at: for an instant the record
// of shifts held covers, the recorded shift (RecordShifts); otherwise the
// shift the stored rota versions and changes give.
func (t *Team) OnCallAt(ctx context.Context, rotaName string, at time.Time) (rota.Shift, error) {
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return rota.Shift{}, err
	}
	if t.rs != nil && st.stored {
		rec, err := t.rs.RecordedShifts(ctx, rotaName, at, at.Add(time.Microsecond)) // instants are stored to the microsecond
		if err != nil {
			return rota.Shift{}, err
		}
		for _, s := range rec {
			if !s.End.IsZero() && !at.Before(s.Start) && at.Before(s.End) {
				return s.Shift, nil
			}
		}
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return rota.Shift{}, err
	}
	return st.r.OnCallAt(c, at), nil
}

// Schedule returns the shifts in [from, to), contiguous and in time order:
// where the record of shifts held covers the span, the recorded shifts
// (clipped to it); elsewhere the shifts the stored rota versions and
// changes give.
func (t *Team) Schedule(ctx context.Context, rotaName string, from, to time.Time) ([]rota.Shift, error) {
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	if t.rs == nil || !st.stored || !to.After(from) {
		return st.r.Schedule(c, from, to), nil
	}
	rec, err := t.rs.RecordedShifts(ctx, rotaName, from, to)
	if err != nil {
		return nil, err
	}
	return mergeRecorded(st.r, c, rec, from, to), nil
}

// WholeSchedule is Schedule widened to whole shifts: the first shift
// keeps its real start before from and the last its real end after to,
// so that what is derived from a shift's start (an iCalendar UID, RFC
// 5545 §3.8.4.7) does not move as the span slides with the clock.
func (t *Team) WholeSchedule(ctx context.Context, rotaName string, from, to time.Time) ([]rota.Shift, error) {
	if !to.After(from) {
		return nil, nil
	}
	first, err := t.OnCallAt(ctx, rotaName, from)
	if err != nil {
		return nil, err
	}
	if first.Start.Before(from) {
		from = first.Start
	}
	last, err := t.OnCallAt(ctx, rotaName, to)
	if err != nil {
		return nil, err
	}
	if last.Start.Before(to) && last.End.After(to) {
		to = last.End
	}
	return t.Schedule(ctx, rotaName, from, to)
}

// mergeRecorded is the schedule of [from, to): the closed recorded shifts
// where they lie, and r's shifts with c in the spans they leave.
func mergeRecorded(r *rota.Rota, c rota.Changes, rec []RecordedShift, from, to time.Time) []rota.Shift {
	var out []rota.Shift
	cursor := from
	for _, s := range rec {
		if s.End.IsZero() || !s.End.After(cursor) || !s.Start.Before(to) {
			continue
		}
		if s.Start.After(cursor) {
			out = append(out, r.Schedule(c, cursor, s.Start)...)
		}
		sh := s.Shift
		if sh.Start.Before(cursor) {
			sh.Start = cursor
		}
		if sh.End.After(to) {
			sh.End = to
		}
		out = append(out, sh)
		cursor = sh.End
	}
	if cursor.Before(to) {
		out = append(out, r.Schedule(c, cursor, to)...)
	}
	return out
}

// Gaps returns the spans in [from, to) where the person on call is
// unavailable, from the stored rota versions and changes.
func (t *Team) Gaps(ctx context.Context, rotaName string, from, to time.Time) ([]rota.Gap, error) {
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	return st.r.Gaps(c, from, to), nil
}

// Fairness returns per-member counts in [from, to) of the shifts as
// Schedule gives them (recorded where the record reaches), with public
// holidays from the cover calendar in force at from.
func (t *Team) Fairness(ctx context.Context, rotaName string, from, to time.Time) ([]rota.FairnessRow, error) {
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	c, err := t.Changes(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	shifts, err := t.Schedule(ctx, rotaName, from, to)
	if err != nil {
		return nil, err
	}
	if shifts == nil {
		shifts = []rota.Shift{}
	}
	opts := rota.FairnessOptions{Changes: c, Shifts: shifts, From: from, To: to}
	if cal := t.cfg().cals[st.r.SpecAt(from).Cover]; cal != nil {
		opts.Holidays = cal
	}
	return st.r.Fairness(opts), nil
}

// Cover implements incident.Roster: the cover calendar of the rota's
// last version.
func (t *Team) Cover(rotaName string) incident.Cover {
	st, err := t.current().rota(rotaName)
	if err != nil {
		return nil
	}
	if cal := t.cfg().cals[st.r.Spec().Cover]; cal != nil {
		return cal
	}
	return nil
}

// InCover reports whether at is inside the cover of the rota version in
// force at at; true without a cover calendar.
func (t *Team) InCover(rotaName string, at time.Time) bool {
	st, err := t.current().rota(rotaName)
	if err != nil {
		return true
	}
	if cal := t.cfg().cals[st.r.SpecAt(at).Cover]; cal != nil {
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
		if _, err := t.refresh(ctx); err != nil {
			return nil, err
		}
		if _, ok := t.Recipient(tg.Member); !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownMember, tg.Member)
		}
		return []string{tg.Member}, nil
	}
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return nil, err
	}
	r := st.r
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

// PastGrace is how far in the past an override may start: a start within
// it is taken as now (a form filled in a minute ago); an earlier one is
// refused, because who held the duty then is on record (docs/oncall.md,
// "The record of shifts").
const PastGrace = 5 * time.Minute

// AddOverride stores an override. It must end after it starts, and start
// no earlier than PastGrace before r.Now (when r.Now is set).
func (t *Team) AddOverride(ctx context.Context, r OverrideRequest) (OverrideRecord, error) {
	if _, err := t.rota(ctx, r.Rota); err != nil {
		return OverrideRecord{}, err
	}
	if err := t.current().live(r.Member); err != nil {
		return OverrideRecord{}, err
	}
	if !r.Now.IsZero() && r.Start.Before(r.Now) {
		if r.Now.Sub(r.Start) > PastGrace {
			return OverrideRecord{}, fmt.Errorf("%w: start %s is in the past: who was on call then is on record; an override starts now or later",
				ErrInvalid, r.Start.Format(time.RFC3339))
		}
		r.Start = r.Now
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
	st, err := t.rota(ctx, rotaName)
	if err != nil {
		return SwapRecord{}, err
	}
	if q.Actor != "" && q.Actor != requester {
		return SwapRecord{}, fmt.Errorf("%w: %s may not ask for a swap in %s's name", ErrNotYours, q.Actor, requester)
	}
	r := st.r
	for _, m := range []string{requester, counterpart} {
		if err := t.current().live(m); err != nil {
			return SwapRecord{}, err
		}
	}
	if requester == counterpart {
		return SwapRecord{}, fmt.Errorf("%w: requester and counterpart are the same", ErrInvalid)
	}
	a, b := r.TurnAt(q.Mine), r.TurnAt(q.Theirs)
	if a.Index == b.Index {
		return SwapRecord{}, fmt.Errorf("%w: both dates are in the same turn", ErrInvalid)
	}
	if !q.Now.IsZero() && (a.Start.Before(q.Now) || b.Start.Before(q.Now)) {
		return SwapRecord{}, fmt.Errorf("%w: a turn that has started is not swapped (the turns start %s and %s); add an override instead",
			ErrInvalid, a.Start.Format(time.RFC3339), b.Start.Format(time.RFC3339))
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
	if st, ok := t.current().rotas[s.Rota]; ok {
		s.TurnAStart, s.TurnBStart = st.r.Turn(s.TurnA).Start, st.r.Turn(s.TurnB).Start
	}
	return s
}

// GetSwap returns a stored swap.
func (t *Team) GetSwap(ctx context.Context, id int64) (SwapRecord, error) {
	if _, err := t.refresh(ctx); err != nil {
		return SwapRecord{}, err
	}
	s, err := t.store.GetSwap(ctx, id)
	return t.decorate(s), err
}

// ListSwaps lists a rota's swaps.
func (t *Team) ListSwaps(ctx context.Context, rotaName string) ([]SwapRecord, error) {
	if _, err := t.refresh(ctx); err != nil {
		return nil, err
	}
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
// longer allows, or one of whose turns has started, fails.
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
		st, err := t.rota(ctx, s.Rota)
		if err != nil {
			return s, err
		}
		r := st.r
		if a, b := r.Turn(s.TurnA), r.Turn(s.TurnB); !d.Now.IsZero() && (a.Start.Before(d.Now) || b.Start.Before(d.Now)) {
			return s, fmt.Errorf("%w: swap %d: a turn that has started is not swapped (the turns start %s and %s)",
				ErrState, id, a.Start.Format(time.RFC3339), b.Start.Format(time.RFC3339))
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
	if _, err := t.refresh(ctx); err != nil {
		return 0, err
	}
	if err := t.current().live(r.Member); err != nil {
		return 0, err
	}
	if !r.End.After(r.Start) {
		return 0, fmt.Errorf("%w: end not after start", ErrInvalid)
	}
	return t.store.AddUnavailability(ctx, rota.Unavailability{Member: r.Member, Start: r.Start, End: r.End}, r.Reason, r.By, r.Now)
}

// ListOverrides lists a rota's overrides.
func (t *Team) ListOverrides(ctx context.Context, rotaName string) ([]OverrideRecord, error) {
	if _, err := t.rota(ctx, rotaName); err != nil {
		return nil, err
	}
	return t.store.ListOverrides(ctx, rotaName)
}

// DeleteOverride removes an override that has not started. One in
// progress is ended at now instead (the part already held stays on
// record); one that has ended is refused.
func (t *Team) DeleteOverride(ctx context.Context, id int64, now time.Time) error {
	o, err := t.store.GetOverride(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case now.IsZero() || !o.Start.Before(now):
		return t.store.DeleteOverride(ctx, id, now)
	case o.End.After(now):
		return t.store.EndOverride(ctx, id, now)
	}
	return fmt.Errorf("%w: override %d ended at %s: who was on call then is on record", ErrState, id, o.End.Format(time.RFC3339))
}

// ParseID parses a stored ID.
func ParseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: id %q", ErrInvalid, s)
	}
	return id, nil
}
