// Package rota owns the weekly on-call rota ("ukevakt"): the duty that
// passes among all members of the operations group in turn, with
// overrides, swaps and unavailability layered on top. It answers who is on
// call at an instant, the schedule of a span, the next handover, the gaps
// where nobody is reachable, per-person fairness counts, and the rota as
// an iCalendar feed.
//
// A rota is one or more versions (NewVersions), each a Spec in force from
// an instant until the next: a change of members, order or handover takes
// effect from a stated moment and leaves every turn before it as it was
// (docs/oncall.md, "Changing the rota"). Everything here is a pure function
// of (the rota's versions, changes, time): no clock, no storage, no
// package-level state. Handovers happen at a local wall time in the
// version's zone, so a weekly turn from Monday 09:00 to Monday 09:00 lasts
// 167 or 169 real hours in the weeks of a daylight-saving change. Storing
// the versions, overrides and swaps, the record of shifts, paging, and the
// loop that acts on handovers live elsewhere in package oncall.
package rota

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// Turn is one turn of the rota: the span [Start, End) that Member holds
// by the rota order alone (before swaps and overrides). Turn 0 starts at
// the Spec's anchor; negative indexes extend the order backwards.
type Turn struct {
	Index  int
	Start  time.Time
	End    time.Time
	Member string
}

// Source says why a shift's member holds it. It is a closed set, fit to be
// a metric label.
type Source string

// The Source values.
const (
	SourceRota     Source = "rota"     // the member's own turn
	SourceSwap     Source = "swap"     // a turn taken by an accepted swap
	SourceOverride Source = "override" // a span taken by an override
)

// Shift is a span [Start, End) during which Member is on call.
type Shift struct {
	Member string
	Start  time.Time
	End    time.Time
	Source Source
	// Turn is the index of the turn in which the shift starts.
	Turn int
	// Ref is the ID of the override or swap behind the shift, if any.
	Ref string
}

// Override puts Member on call for [Start, End), replacing whoever held
// that span; it does not move the rota order, so nobody's turn is skipped
// or shifted. Where overrides overlap, the later one in the slice wins.
type Override struct {
	ID     string    `yaml:"id"`
	Member string    `yaml:"member"`
	Start  time.Time `yaml:"start"`
	End    time.Time `yaml:"end"`
	Reason string    `yaml:"reason"`
}

// Unavailability says that Member cannot be reached in [Start, End).
type Unavailability struct {
	Member string    `yaml:"member"`
	Start  time.Time `yaml:"start"`
	End    time.Time `yaml:"end"`
}

// SwapState is the state of a swap request.
type SwapState string

// The SwapState values; only SwapAccepted changes the schedule.
const (
	SwapRequested SwapState = "requested"
	SwapAccepted  SwapState = "accepted"
	SwapDeclined  SwapState = "declined"
	SwapCancelled SwapState = "cancelled"
	// SwapLapsed is a request nobody decided before the earlier of its
	// two turns started.
	SwapLapsed SwapState = "lapsed"
)

// Swap exchanges two whole turns, referenced by Turn.Index: Requester
// holds TurnA and Counterpart holds TurnB; once accepted, Requester holds
// TurnB and Counterpart holds TurnA. Accepted swaps apply in slice order,
// each to the holders left by the swaps before it, so swaps can chain. An
// accepted swap whose Requester and Counterpart do not hold TurnA and
// TurnB when it applies is stale and ignored; CheckChanges reports it.
type Swap struct {
	ID          string    `yaml:"id"`
	Requester   string    `yaml:"requester"`
	Counterpart string    `yaml:"counterpart"`
	TurnA       int       `yaml:"turn_a"`
	TurnB       int       `yaml:"turn_b"`
	State       SwapState `yaml:"state"`
}

// Changes are the adjustments to a rota: overrides, swaps and
// unavailability, as stored by the caller.
type Changes struct {
	Overrides   []Override
	Swaps       []Swap
	Unavailable []Unavailability
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func mod(a, b int) int { return ((a % b) + b) % b }

type held struct {
	member string
	ref    string
}

// holders returns the turns whose holder accepted swaps change.
func (r *Rota) holders(c Changes) (map[int]held, []error) {
	out := map[int]held{}
	var errs []error
	get := func(i int) string {
		if h, ok := out[i]; ok {
			return h.member
		}
		return r.Turn(i).Member
	}
	for i, s := range c.Swaps {
		if s.State != SwapAccepted {
			continue
		}
		a, b := get(s.TurnA), get(s.TurnB)
		if s.TurnA == s.TurnB || a != s.Requester || b != s.Counterpart {
			errs = append(errs, fmt.Errorf("swaps[%d] %q: turns %d (%s) and %d (%s), requester %q, counterpart %q: %w",
				i, s.ID, s.TurnA, a, s.TurnB, b, s.Requester, s.Counterpart, ErrStaleSwap))
			continue
		}
		out[s.TurnA] = held{b, s.ID}
		out[s.TurnB] = held{a, s.ID}
	}
	return out, errs
}

// CheckChanges reports overrides and unavailability with an empty span,
// overrides without a member, swaps with an unknown state, and stale
// accepted swaps (ErrStaleSwap). Schedule and the other functions ignore
// such entries; CheckChanges says which they are.
func (r *Rota) CheckChanges(c Changes) error {
	var errs []error
	for i, o := range c.Overrides {
		if o.Member == "" {
			errs = append(errs, fmt.Errorf("overrides[%d] %q: member %q: %w", i, o.ID, o.Member, ErrRequired))
		}
		if !o.End.After(o.Start) {
			errs = append(errs, fmt.Errorf("overrides[%d] %q: end %s: %w", i, o.ID, o.End.Format(time.RFC3339), ErrEmptySpan))
		}
	}
	for i, u := range c.Unavailable {
		if !u.End.After(u.Start) {
			errs = append(errs, fmt.Errorf("unavailable[%d] %q: end %s: %w", i, u.Member, u.End.Format(time.RFC3339), ErrEmptySpan))
		}
	}
	for i, s := range c.Swaps {
		switch s.State {
		case SwapRequested, SwapAccepted, SwapDeclined, SwapCancelled:
		default:
			errs = append(errs, fmt.Errorf("swaps[%d] %q: state %q: %w", i, s.ID, s.State, ErrInvalidState))
		}
	}
	_, swapErrs := r.holders(c)
	errs = append(errs, swapErrs...)
	return errors.Join(errs...)
}

// Schedule returns who is on call in [from, to): contiguous shifts in
// time order with no gaps or overlaps, clipped to the span. Each turn
// yields one shift for its holder after accepted swaps (Source rota or
// swap); overrides cut their span out of the turns they overlap (Source
// override), and the pieces of one override across a handover are one
// shift. Overrides never shift the rota order. It returns nil when to is
// not after from.
func (r *Rota) Schedule(c Changes, from, to time.Time) []Shift {
	if !to.After(from) {
		return nil
	}
	swapped, _ := r.holders(c)
	var out []Shift
	for turn := r.TurnAt(from); turn.Start.Before(to); turn = r.Turn(turn.Index + 1) {
		base := Shift{Member: turn.Member, Start: turn.Start, End: turn.End, Source: SourceRota, Turn: turn.Index}
		if h, ok := swapped[turn.Index]; ok {
			base.Member, base.Source, base.Ref = h.member, SourceSwap, h.ref
		}
		pieces := []Shift{base}
		for _, o := range c.Overrides {
			pieces = overlay(pieces, o, turn)
		}
		for _, p := range pieces {
			p.Start = later(p.Start, from)
			if p.End.After(to) {
				p.End = to
			}
			if !p.End.After(p.Start) {
				continue
			}
			if n := len(out); n > 0 && p.Source == SourceOverride && out[n-1].Source == SourceOverride &&
				out[n-1].Ref == p.Ref && out[n-1].Member == p.Member && out[n-1].End.Equal(p.Start) {
				out[n-1].End = p.End
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// overlay cuts override o, clipped to turn, into pieces.
func overlay(pieces []Shift, o Override, turn Turn) []Shift {
	s, e := later(o.Start, turn.Start), o.End
	if e.After(turn.End) {
		e = turn.End
	}
	if o.Member == "" || !e.After(s) {
		return pieces
	}
	out := make([]Shift, 0, len(pieces)+2)
	for _, p := range pieces {
		if !p.End.After(s) || !p.Start.Before(e) {
			out = append(out, p)
			continue
		}
		if p.Start.Before(s) {
			q := p
			q.End = s
			out = append(out, q)
		}
		if p.End.After(e) {
			q := p
			q.Start = e
			out = append(out, q)
		}
	}
	out = append(out, Shift{Member: o.Member, Start: s, End: e, Source: SourceOverride, Turn: turn.Index, Ref: o.ID})
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// OnCallAt returns the whole shift that contains t (not clipped to t's
// turn when an override spans a handover).
func (r *Rota) OnCallAt(c Changes, t time.Time) Shift {
	turn := r.TurnAt(t)
	lo, hi := turn.Start, turn.End
	for _, o := range c.Overrides {
		if !t.Before(o.Start) && t.Before(o.End) {
			if o.Start.Before(lo) {
				lo = o.Start
			}
			hi = later(hi, o.End)
		}
	}
	for _, s := range r.Schedule(c, lo, hi) {
		if !t.Before(s.Start) && t.Before(s.End) {
			return s
		}
	}
	panic("rota: schedule does not cover its span") // unreachable: Schedule is contiguous
}

// Next returns the shift that follows the one containing t: who is on
// call next, and from when (Shift.Start). It may be the same member, e.g.
// after an override ends inside the member's own turn.
func (r *Rota) Next(c Changes, t time.Time) Shift {
	return r.OnCallAt(c, r.OnCallAt(c, t).End)
}

// Gap is a span in which the member on call is unavailable, so nobody
// is reachable: an override whose member is unavailable, or an
// unavailable scheduled member whose span no override covers.
type Gap struct {
	Start  time.Time
	End    time.Time
	Member string // the unreachable member on call
	Source Source // the Source of the shift in which the gap lies
	Ref    string // the shift's override or swap ID, if any
}

// Gaps returns the gaps in [from, to) in time order; touching gaps of the
// same member and shift are merged.
func (r *Rota) Gaps(c Changes, from, to time.Time) []Gap {
	var out []Gap
	for _, s := range r.Schedule(c, from, to) {
		for _, u := range c.Unavailable {
			if u.Member != s.Member {
				continue
			}
			gs, ge := later(u.Start, s.Start), u.End
			if ge.After(s.End) {
				ge = s.End
			}
			if !ge.After(gs) {
				continue
			}
			out = append(out, Gap{Start: gs, End: ge, Member: s.Member, Source: s.Source, Ref: s.Ref})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	var merged []Gap
	for _, g := range out {
		if n := len(merged); n > 0 {
			last := &merged[n-1]
			if last.Member == g.Member && last.Source == g.Source && last.Ref == g.Ref && !g.Start.After(last.End) {
				last.End = later(last.End, g.End)
				continue
			}
		}
		merged = append(merged, g)
	}
	return merged
}

// OpenChecker reports whether a calendar is open at an instant;
// *calendar.Calendar implements it.
type OpenChecker interface {
	IsOpen(t time.Time) bool
}

var _ OpenChecker = (*calendar.Calendar)(nil)

// InCover reports whether t is inside operator cover as given by the
// Spec.Cover calendar (e.g. the UK submission SLA: 08:30–20:30 on working
// days); outside it, monitoring is periodic and call-out is informal.
func InCover(cover OpenChecker, t time.Time) bool {
	return cover.IsOpen(t)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
