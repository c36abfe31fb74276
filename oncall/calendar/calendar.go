// Package calendar owns business calendars: when a service desk, an operator
// cover or an SLA clock is "open". A Calendar combines weekly opening hours
// in local wall time with public holidays (Norway, Sweden, England and
// Wales, the Czech Republic and China, including China's make-up working
// days), local closures, half days and extra working days, and answers
// questions such as "is it open now", "when does it next open" and "when
// has one business hour elapsed". It is shared by the on-call rota
// (operator cover, e.g. the UK submission SLA's 08:30–20:30 on weekdays)
// and the ticket SLA clocks (e.g. "investigation starts within one hour
// between 09:00 and 17:00 on a working day").
//
// Every function is a pure function of the Calendar and its arguments; a
// Calendar is immutable and safe for concurrent use. All arithmetic is on
// instants, with weekly hours converted from local wall time per date, so
// 09:00 stays 09:00 local across daylight-saving changes and 23- and 25-hour
// days count exactly the time that really passes.
package calendar

import (
	"time"
)

// horizonDays bounds every forward search, so that no method loops for ever.
const horizonDays = 3660

// Interval is the half-open span of instants [Start, End).
type Interval struct {
	Start time.Time
	End   time.Time
}

// Duration returns End − Start.
func (iv Interval) Duration() time.Duration { return iv.End.Sub(iv.Start) }

// Contains reports whether t lies in [Start, End).
func (iv Interval) Contains(t time.Time) bool {
	return !t.Before(iv.Start) && t.Before(iv.End)
}

// Calendar is a compiled, immutable business calendar. Build one with New.
type Calendar struct {
	c          *compiled
	weeklyOpen time.Duration
}

// New validates spec and returns its Calendar. It returns the errors of
// Spec.Validate, including one wrapping ErrNeverOpen when the weekly hours
// give no open time at all: such a calendar would make NextOpen and Add
// search for ever.
func New(spec Spec) (*Calendar, error) {
	c, err := compile(spec)
	if err != nil {
		return nil, err
	}
	var week time.Duration
	for _, spans := range c.week {
		for _, s := range spans {
			week += time.Duration(s.end-s.start) * time.Minute
		}
	}
	return &Calendar{c: c, weeklyOpen: week}, nil
}

// Name returns the Spec's name.
func (cal *Calendar) Name() string { return cal.c.name }

// Location returns the calendar's time zone.
func (cal *Calendar) Location() *time.Location { return cal.c.loc }

// Never returns the far-future sentinel 9999-12-31T23:59:59Z. NextOpen,
// NextClose and Add return it when the answer lies beyond the search
// horizon of about ten years, which for a Calendar accepted by New happens
// only to NextClose of a calendar that is open without a break (24/7) and
// to calendars whose closures cover a decade.
func Never() time.Time { return time.Date(9999, time.December, 31, 23, 59, 59, 0, time.UTC) }

// status returns the wall-clock opening spans of civil date d, and the
// name of the holiday or closure that closes it, if any.
//
// Precedence, first match wins: closures; extra working days; the
// holiday table; the country sources in Spec order; the weekly hours.
// Extra and make-up working days use the hours of Spec.ExtraDayHours. A
// half day then cuts the day's spans at its closing time.
func (cal *Calendar) status(d civil) (spans []span, holiday string, isHoliday bool) {
	c := cal.c
	spans = c.week[d.weekday()]
	switch {
	case c.closures[d] != "":
		return nil, c.closures[d], true
	case c.extra[d]:
		spans = c.week[c.extraAs]
	default:
		if td, ok := c.table[d]; ok {
			if !td.Work {
				return nil, nameOr(td.Name, "holiday"), true
			}
			spans = c.week[c.extraAs]
			break
		}
		for _, src := range c.countries {
			name, kind := src.lookup(d)
			if kind == kindOff {
				return nil, name, true
			}
			if kind == kindWork {
				spans = c.week[c.extraAs]
				break
			}
		}
	}
	if cl, ok := c.halfDays[d]; ok {
		var cut []span
		for _, s := range spans {
			if s.start < cl {
				cut = append(cut, span{s.start, min(s.end, cl)})
			}
		}
		spans = cut
	}
	return spans, "", false
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// At returns the instant at which the wall clock in loc shows the given
// date and time of day; hour 24 means midnight at the end of the day. A
// wall time skipped by a daylight-saving change (e.g. 02:30 on 2026-03-29 in
// Europe/Oslo) maps to the first instant after the gap (03:00 CEST); a
// repeated wall time (02:30 on 2026-10-25) maps to its first occurrence.
// Unlike time.Date, the result never depends on undocumented choices.
func At(loc *time.Location, year int, month time.Month, day, hour, minute int) time.Time {
	t := time.Date(year, month, day, hour, minute, 0, 0, loc)
	want := time.Date(year, month, day, hour, minute, 0, 0, time.UTC)
	got := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
	switch {
	case got.After(want):
		start, _ := t.ZoneBounds()
		return start
	case got.Before(want):
		_, end := t.ZoneBounds()
		return end
	}
	return t
}

// wall returns At for civil date d and wall clock w in the calendar's zone.
func (cal *Calendar) wall(d civil, w wallClock) time.Time {
	return At(cal.c.loc, d.y, d.m, d.d, int(w)/60, int(w)%60)
}

// day returns the open intervals of civil date d in order.
func (cal *Calendar) day(d civil) []Interval {
	spans, _, _ := cal.status(d)
	out := make([]Interval, 0, len(spans))
	for _, s := range spans {
		iv := Interval{cal.wall(d, s.start), cal.wall(d, s.end)}
		if iv.Start.Before(iv.End) {
			out = append(out, iv)
		}
	}
	return out
}

// each calls yield with the open intervals of days local dates from the
// date of from onwards, for the given number of days, in order, with
// touching intervals (e.g. 00:00–24:00 followed by 00:00–08:00) merged.
// Intervals ending at or before from are skipped. It stops when yield
// returns false.
func (cal *Calendar) each(from time.Time, days int, yield func(Interval) bool) {
	d := civilOf(from.In(cal.c.loc))
	var pending *Interval
	for i := 0; i < days; i++ {
		for _, iv := range cal.day(d.addDays(i)) {
			if !iv.End.After(from) {
				continue
			}
			if pending != nil && pending.End.Equal(iv.Start) {
				pending.End = iv.End
				continue
			}
			if pending != nil && !yield(*pending) {
				return
			}
			p := iv
			pending = &p
		}
	}
	if pending != nil {
		yield(*pending)
	}
}

// IsOpen reports whether the calendar is open at t.
func (cal *Calendar) IsOpen(t time.Time) bool {
	for _, iv := range cal.day(civilOf(t.In(cal.c.loc))) {
		if iv.Contains(t) {
			return true
		}
	}
	return false
}

// NextOpen returns t if the calendar is open at t, else the next instant
// at which it opens (or Never, see there).
func (cal *Calendar) NextOpen(t time.Time) time.Time {
	res := Never()
	cal.each(t, horizonDays, func(iv Interval) bool {
		res = later(iv.Start, t)
		return false
	})
	return res
}

// NextClose returns the end of the open period that contains t or, when
// the calendar is closed at t, the end of the next open period. Open
// periods on consecutive days that touch at midnight count as one. It
// returns Never for a calendar that stays open through the search horizon.
func (cal *Calendar) NextClose(t time.Time) time.Time {
	res := Never()
	limit := cal.wall(civilOf(t.In(cal.c.loc)).addDays(horizonDays), 0)
	cal.each(t, horizonDays, func(iv Interval) bool {
		if iv.End.Before(limit) {
			res = iv.End
		}
		return false
	})
	return res
}

// Add returns the instant at which d of open time has elapsed after t. If
// t is outside opening hours, counting starts at NextOpen(t); so Add(t, 0)
// is NextOpen(t). When the last needed minute ends exactly at a closing
// time, Add returns that closing time (Friday 16:00 + 1h with 09–17 hours
// is Friday 17:00, not Monday 09:00). A negative d counts as zero. If the
// answer lies beyond the search horizon Add returns Never.
func (cal *Calendar) Add(t time.Time, d time.Duration) time.Time {
	rem := max(d, 0)
	days := horizonDays
	if cal.weeklyOpen > 0 {
		days += 14 * int(rem/cal.weeklyOpen+1)
	}
	res := Never()
	cal.each(t, days, func(iv Interval) bool {
		s := later(iv.Start, t)
		if avail := iv.End.Sub(s); rem > avail {
			rem -= avail
			return true
		}
		res = s.Add(rem)
		return false
	})
	return res
}

// Intervals returns the open intervals that overlap [from, to), clipped to
// it, in order; open periods touching at midnight are merged.
func (cal *Calendar) Intervals(from, to time.Time) []Interval {
	if !to.After(from) {
		return nil
	}
	var out []Interval
	days := int(to.Sub(from)/(24*time.Hour)) + 3
	cal.each(from, days, func(iv Interval) bool {
		if !iv.Start.Before(to) {
			return false
		}
		iv.Start = later(iv.Start, from)
		if iv.End.After(to) {
			iv.End = to
		}
		out = append(out, iv)
		return true
	})
	return out
}

// Between returns the open time in [a, b); zero when b is not after a.
func (cal *Calendar) Between(a, b time.Time) time.Duration {
	var sum time.Duration
	for _, iv := range cal.Intervals(a, b) {
		sum += iv.Duration()
	}
	return sum
}

// IsWorkingDay reports whether the civil date of date (its year, month and
// day in its own location; convert an instant with In(cal.Location())
// first) has any open time.
func (cal *Calendar) IsWorkingDay(date time.Time) bool {
	return len(cal.day(civilOf(date))) > 0
}

// Holiday reports the name of the public holiday or local closure that
// closes the civil date of date (its year, month and day in its own
// location). A weekend day is not a holiday, and a holiday overridden by
// Spec.ExtraWorkingDays is not reported.
func (cal *Calendar) Holiday(date time.Time) (name string, ok bool) {
	_, name, ok = cal.status(civilOf(date))
	return name, ok
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
