package sla

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// Clock kinds, a closed set (also a metric label).
const (
	KindResponse   = "response"
	KindUpdate     = "update"
	KindResolution = "resolution"
)

// Kinds lists every clock kind in the order a ticket shows its clocks: the
// response, then the updates, then the resolution. The ticket metrics, the
// tickets' clock order and the dashboards' tests take the set from here.
func Kinds() []string { return []string{KindResponse, KindUpdate, KindResolution} }

// Status of a clock, a closed set.
type Status string

// Clock statuses.
const (
	// Running: counting toward the target, not yet due.
	Running Status = "running"
	// Paused: the ticket is in a pause state.
	Paused Status = "paused"
	// Pending: not started yet (an update clock before the first response).
	Pending Status = "pending"
	// Met: stopped at or before the due time.
	Met Status = "met"
	// Breached: stopped after the due time, or still running past it.
	Breached Status = "breached"
	// BestEffortStatus: notified outside hours under a best_effort policy;
	// tracked, never breached.
	BestEffortStatus Status = "best_effort"
)

// Transition is one ticket state change: from At the ticket is in State.
type Transition struct {
	At    time.Time `json:"at"`
	State string    `json:"state"`
}

// Input is what Evaluate needs to know about a ticket.
type Input struct {
	// Notified is when the fault was notified (reported), which may be
	// before the ticket was opened.
	Notified time.Time
	// States is the ticket's state history, oldest first.
	States []Transition
	// Responded is when the response target was met (acknowledged or
	// investigation started); zero while it has not been.
	Responded time.Time
	// Updates are the times of updates to the reporter (public comments),
	// which restart the update clock.
	Updates []time.Time
}

// Clock is the state of one clock at the evaluation time.
type Clock struct {
	Kind   string        `json:"kind"`
	Status Status        `json:"status"`
	Target time.Duration `json:"target_ns"`
	// InsideHours reports whether the clock's start event lay inside the
	// calendar.
	InsideHours bool `json:"inside_hours"`
	// Start is when counting starts (the notification, the next opening,
	// or the last update).
	Start time.Time `json:"start"`
	// Due is when the target is reached, assuming an ongoing pause ends
	// now; zero for best effort and pending clocks.
	Due time.Time `json:"due,omitzero"`
	// Stopped is when the clock stopped (response, resolution); zero while
	// it runs.
	Stopped time.Time `json:"stopped,omitzero"`
	// Raw is the wall time from Start to Stopped or now, pauses included.
	Raw time.Duration `json:"raw_ns"`
	// Business is the calendar's open time in the same span, pauses
	// excluded.
	Business time.Duration `json:"business_ns"`
	// Counted is the time that counts toward the target: Business for a
	// business-time policy, Raw minus pauses for a wall-time policy.
	Counted time.Duration `json:"counted_ns"`
	// PausedFor is the time spent in pause states in the span.
	PausedFor time.Duration `json:"paused_ns"`
	// Percent is Counted as a percentage of Target.
	Percent float64 `json:"percent"`
	// Reasons explain the clock in words.
	Reasons []string `json:"reasons"`
}

// Result is the evaluation of every clock of a policy for one ticket.
type Result struct {
	Policy      string    `json:"policy"`
	Version     string    `json:"version"`
	Time        string    `json:"time"`
	Notified    time.Time `json:"notified"`
	InsideHours bool      `json:"inside_hours"`
	// Why says why the notification was inside or outside hours.
	Why    string  `json:"why"`
	Clocks []Clock `json:"clocks"`
}

// Clock returns the clock of the given kind.
func (r Result) Clock(kind string) (Clock, bool) {
	i := slices.IndexFunc(r.Clocks, func(c Clock) bool { return c.Kind == kind })
	if i < 0 {
		return Clock{}, false
	}
	return r.Clocks[i], true
}

// Compiled is a validated Policy with its calendar, ready to evaluate.
// It is immutable and safe for concurrent use.
type Compiled struct {
	p     Policy
	hash  string
	cal   *calendar.Calendar
	pause map[string]bool
}

// Compile validates p and compiles its calendar.
func Compile(p Policy) (*Compiled, error) {
	p = p.Normalized()
	if err := p.Validate("policy " + p.Name); err != nil {
		return nil, err
	}
	cal, err := calendar.New(p.Calendar)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", p.Name, err)
	}
	c := &Compiled{p: p, hash: p.Hash(), cal: cal, pause: map[string]bool{}}
	for _, s := range p.PauseStates {
		c.pause[s] = true
	}
	return c, nil
}

// Policy returns the normalized policy.
func (c *Compiled) Policy() Policy { return c.p }

// Version returns the policy's version hash.
func (c *Compiled) Version() string { return c.hash }

// Calendar returns the policy's business calendar.
func (c *Compiled) Calendar() *calendar.Calendar { return c.cal }

// IsPause reports whether state pauses the clocks.
func (c *Compiled) IsPause(state string) bool { return c.pause[state] }

// spans returns the merged intervals in which the ticket was in a state
// for which match is true, the last one ending at now if still ongoing.
func spans(states []Transition, now time.Time, match func(string) bool) []calendar.Interval {
	var out []calendar.Interval
	for i, t := range states {
		if !match(t.State) {
			continue
		}
		end := now
		if i+1 < len(states) {
			end = states[i+1].At
		}
		if end.After(now) {
			end = now
		}
		if !end.After(t.At) {
			continue
		}
		if n := len(out); n > 0 && !t.At.After(out[n-1].End) {
			out[n-1].End = later(out[n-1].End, end)
			continue
		}
		out = append(out, calendar.Interval{Start: t.At, End: end})
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// subtract returns ivs minus the (sorted, disjoint) holes.
func subtract(ivs, holes []calendar.Interval) []calendar.Interval {
	var out []calendar.Interval
	for _, iv := range ivs {
		cur := iv
		for _, h := range holes {
			if !h.End.After(cur.Start) || !h.Start.Before(cur.End) {
				continue
			}
			if h.Start.After(cur.Start) {
				out = append(out, calendar.Interval{Start: cur.Start, End: h.Start})
			}
			cur.Start = h.End
			if !cur.End.After(cur.Start) {
				break
			}
		}
		if cur.End.After(cur.Start) {
			out = append(out, cur)
		}
	}
	return out
}

func sum(ivs []calendar.Interval) time.Duration {
	var d time.Duration
	for _, iv := range ivs {
		d += iv.Duration()
	}
	return d
}

// base is the time that counts in [from, to) before pauses: the open
// intervals for business time, the whole span for wall time.
func (c *Compiled) base(from, to time.Time) []calendar.Interval {
	if !to.After(from) {
		return nil
	}
	if c.p.Time == Wall {
		return []calendar.Interval{{Start: from, End: to}}
	}
	return c.cal.Intervals(from, to)
}

// addCounted returns the instant at which d of counted time (per the
// policy's time base, holes excluded) has elapsed after start. When the
// last needed minute ends exactly at a closing time, that closing time is
// the answer.
func (c *Compiled) addCounted(start time.Time, d time.Duration, holes []calendar.Interval) time.Time {
	if d <= 0 {
		return start
	}
	rem, from := d, start
	const window = 7 * 24 * time.Hour
	for range 600 { // about 11 years, the calendar's own horizon
		to := from.Add(window)
		for _, iv := range subtract(c.base(from, to), holes) {
			if iv.Duration() >= rem {
				return iv.Start.Add(rem)
			}
			rem -= iv.Duration()
		}
		from = to
	}
	return calendar.Never()
}

// Evaluate runs every clock of the policy for in at now. It is a pure
// function: equal arguments give equal results.
func (c *Compiled) Evaluate(in Input, now time.Time) Result {
	states := append([]Transition(nil), in.States...)
	sort.SliceStable(states, func(i, j int) bool { return states[i].At.Before(states[j].At) })
	if len(states) == 0 || states[0].At.After(in.Notified) {
		states = append([]Transition{{At: in.Notified, State: "new"}}, states...)
	}
	inside := c.cal.IsOpen(in.Notified)
	res := Result{
		Policy: c.p.Name, Version: c.hash, Time: c.p.Time,
		Notified: in.Notified, InsideHours: inside, Why: c.why(in.Notified),
	}
	pauses := spans(states, now, c.IsPause)
	current := states[len(states)-1].State

	// Response clock.
	res.Clocks = append(res.Clocks, c.clock(clockArgs{
		kind: KindResponse, target: c.p.Response, from: in.Notified, inside: inside,
		stop: in.Responded, holes: pauses, now: now, paused: c.IsPause(current),
		outside: true,
	}))

	// Update clock: from the response, then from each later update.
	if c.p.Update > 0 {
		var from time.Time
		if !in.Responded.IsZero() && !in.Responded.After(now) {
			from = in.Responded
			for _, u := range in.Updates {
				if u.After(from) && !u.After(now) {
					from = u
				}
			}
		}
		ck := Clock{Kind: KindUpdate, Target: c.p.Update, Status: Pending,
			Reasons: []string{fmt.Sprintf("update target %s of %s time, counted from the response and then from each update", c.p.Update, c.p.Time)}}
		if !from.IsZero() {
			var stop time.Time
			if current == StateResolved || current == StateClosed {
				stop = states[len(states)-1].At
			}
			ck = c.clock(clockArgs{kind: KindUpdate, target: c.p.Update, from: from, inside: c.cal.IsOpen(from),
				stop: stop, holes: pauses, now: now, paused: c.IsPause(current)})
			if !stop.IsZero() {
				ck.Status = Met
				if stop.After(ck.Due) {
					ck.Status = Breached
				}
			}
		}
		res.Clocks = append(res.Clocks, ck)
	}

	// Resolution clock: resolved and closed time is excluded like a pause,
	// so a reopened ticket resumes where it stopped.
	if c.p.Resolution > 0 {
		done := func(s string) bool { return s == StateResolved || s == StateClosed }
		holes := spans(states, now, func(s string) bool { return c.IsPause(s) || done(s) })
		var stop time.Time
		if done(current) {
			stop = states[len(states)-1].At
		}
		res.Clocks = append(res.Clocks, c.clock(clockArgs{
			kind: KindResolution, target: c.p.Resolution, from: in.Notified, inside: inside,
			stop: stop, holes: holes, now: now, paused: c.IsPause(current), outside: true,
			pausedOnly: pauses,
		}))
	}
	return res
}

type clockArgs struct {
	kind       string
	target     time.Duration
	from       time.Time
	inside     bool
	stop       time.Time
	holes      []calendar.Interval
	pausedOnly []calendar.Interval // pauses for PausedFor when holes include more
	now        time.Time
	paused     bool
	outside    bool // the outside-hours mode applies
}

func (c *Compiled) clock(a clockArgs) Clock {
	ck := Clock{Kind: a.kind, Target: a.target, InsideHours: a.inside, Start: a.from}
	unit := "business time (calendar hours only)"
	if c.p.Time == Wall {
		unit = "wall time"
	}
	ck.Reasons = append(ck.Reasons, fmt.Sprintf("%s target %s of %s", a.kind, a.target, unit))
	end := a.now
	if !a.stop.IsZero() && a.stop.Before(a.now) {
		end = a.stop
	}
	bestEffort := false
	if a.outside && !a.inside {
		if c.p.OutsideHours == BestEffort {
			bestEffort = true
			ck.Reasons = append(ck.Reasons, "notified outside hours: best effort, tracked but never counted as breached")
		} else {
			ck.Start = c.cal.NextOpen(a.from)
			ck.Reasons = append(ck.Reasons, "notified outside hours: the clock starts at the next opening, "+c.fmt(ck.Start))
		}
	}
	pauses := a.holes
	if a.pausedOnly != nil {
		pauses = a.pausedOnly
	}
	if end.After(a.from) {
		ck.Raw = end.Sub(a.from)
	}
	ck.PausedFor = sum(clip(pauses, a.from, end))
	ck.Business = sum(subtract(c.cal.Intervals(ck.Start, end), a.holes))
	if c.p.Time == Wall {
		ck.Counted = sum(subtract([]calendar.Interval{{Start: ck.Start, End: end}}, a.holes))
		if !end.After(ck.Start) {
			ck.Counted = 0
		}
	} else {
		ck.Counted = ck.Business
	}
	if a.target > 0 {
		ck.Percent = float64(ck.Counted) / float64(a.target) * 100
	}
	if ck.PausedFor > 0 {
		ck.Reasons = append(ck.Reasons, fmt.Sprintf("paused for %s (states %v), which does not count", ck.PausedFor.Round(time.Second), c.p.PauseStates))
	}
	if !a.stop.IsZero() && !a.stop.After(a.now) {
		ck.Stopped = a.stop
	}
	if bestEffort {
		ck.Status = BestEffortStatus
		return ck
	}
	ck.Due = c.addCounted(ck.Start, a.target, a.holes)
	ck.Reasons = append(ck.Reasons, "due "+c.fmt(ck.Due))
	switch {
	case !ck.Stopped.IsZero() && ck.Stopped.After(ck.Due):
		ck.Status = Breached
	case !ck.Stopped.IsZero():
		ck.Status = Met
	case a.now.After(ck.Due):
		ck.Status = Breached
	case a.paused:
		ck.Status = Paused
	default:
		ck.Status = Running
	}
	return ck
}

func clip(ivs []calendar.Interval, from, to time.Time) []calendar.Interval {
	var out []calendar.Interval
	for _, iv := range ivs {
		if iv.Start.Before(from) {
			iv.Start = from
		}
		if iv.End.After(to) {
			iv.End = to
		}
		if iv.End.After(iv.Start) {
			out = append(out, iv)
		}
	}
	return out
}

// fmt formats t in the calendar's zone, e.g. "Mon 2026-11-30 09:30 GMT".
func (c *Compiled) fmt(t time.Time) string {
	if t.Equal(calendar.Never()) {
		return "never"
	}
	return t.In(c.cal.Location()).Format("Mon 2006-01-02 15:04 MST")
}

// why explains whether t is inside the calendar.
func (c *Compiled) why(t time.Time) string {
	local := t.In(c.cal.Location())
	if c.cal.IsOpen(t) {
		return fmt.Sprintf("%s is inside the calendar %q (open until %s)", c.fmt(t), c.cal.Name(),
			c.cal.NextClose(t).In(c.cal.Location()).Format("15:04"))
	}
	next := c.fmt(c.cal.NextOpen(t))
	if name, ok := c.cal.Holiday(local); ok {
		return fmt.Sprintf("%s is outside the calendar %q: %s is %s, not a working day; it next opens %s",
			c.fmt(t), c.cal.Name(), local.Format("2 January"), name, next)
	}
	if !c.cal.IsWorkingDay(local) {
		return fmt.Sprintf("%s is outside the calendar %q: %s is not a working day; it next opens %s",
			c.fmt(t), c.cal.Name(), local.Weekday(), next)
	}
	return fmt.Sprintf("%s is outside the calendar %q's hours on a working day; it next opens %s", c.fmt(t), c.cal.Name(), next)
}
