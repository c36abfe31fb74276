package rota

import (
	"slices"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// HolidaySource names the public holiday on a civil date (its year, month
// and day in the time's own location); *calendar.Calendar implements it.
type HolidaySource interface {
	Holiday(date time.Time) (name string, ok bool)
}

var _ HolidaySource = (*calendar.Calendar)(nil)

// FairnessOptions selects what Fairness counts.
type FairnessOptions struct {
	Changes Changes
	// Shifts, when not nil, are the shifts of [From, To) as they were held
	// (a recorded history, contiguous and in time order); nil computes
	// them with Schedule. Turns are still those of the rota, each counted
	// for the holder of its rota or swap shift in Shifts.
	Shifts []Shift
	// Holidays decides which days are public holidays; nil counts none.
	Holidays HolidaySource
	// From and To bound the span [From, To) that is counted.
	From, To time.Time
}

// FairnessRow is one member's share of the duty in a span.
type FairnessRow struct {
	Member string
	// Turns counts the turns starting in the span that the member holds
	// after accepted swaps (overrides do not move turns).
	Turns int
	// Hours is the time on call in the span, overrides included, in hours.
	Hours float64
	// WeekendDays counts Saturdays and Sundays (in the rota's zone) that
	// the member carries: a day is carried by whoever is on call at 12:00
	// local time, counted when that instant lies in the span.
	WeekendDays int
	// PublicHolidays counts the days carried, by the same rule, that
	// Holidays names as public holidays (weekend or not).
	PublicHolidays int
}

// Fairness returns per-member counts of the duty in [opts.From, opts.To):
// one row per member of the versions in force in the span (the latest
// version's order first), then rows for other members who held shifts,
// sorted by ID. Days are those of the zone in force at opts.From.
func (r *Rota) Fairness(opts FairnessOptions) []FairnessRow {
	rows := map[string]*FairnessRow{}
	var order []string
	row := func(m string) *FairnessRow {
		if fr, ok := rows[m]; ok {
			return fr
		}
		rows[m] = &FairnessRow{Member: m}
		order = append(order, m)
		return rows[m]
	}
	for _, m := range r.membersIn(opts.From, opts.To) {
		row(m)
	}
	nSpec := len(order)
	shifts := opts.Shifts
	if shifts == nil {
		shifts = r.Schedule(opts.Changes, opts.From, opts.To)
	}
	held := map[int]string{} // turn index → holder of its rota or swap shift
	for _, s := range shifts {
		if _, ok := held[s.Turn]; !ok && (s.Source == SourceRota || s.Source == SourceSwap) {
			held[s.Turn] = s.Member
		}
	}
	for _, s := range shifts {
		row(s.Member).Hours += s.End.Sub(s.Start).Hours()
	}
	if len(shifts) > 0 {
		swapped, _ := r.holders(opts.Changes)
		for t := r.TurnAt(opts.From); t.Start.Before(opts.To); t = r.Turn(t.Index + 1) {
			if t.Start.Before(opts.From) {
				continue
			}
			m := t.Member
			if h, ok := swapped[t.Index]; ok {
				m = h.member
			}
			if h, ok := held[t.Index]; ok && opts.Shifts != nil {
				m = h
			}
			row(m).Turns++
		}
		loc := r.LocationAt(opts.From)
		first := opts.From.In(loc)
		for d := time.Date(first.Year(), first.Month(), first.Day(), 0, 0, 0, 0, time.UTC); ; d = d.AddDate(0, 0, 1) {
			noon := calendar.At(loc, d.Year(), d.Month(), d.Day(), 12, 0)
			if !noon.Before(opts.To) {
				break
			}
			if noon.Before(opts.From) {
				continue
			}
			i, found := slices.BinarySearchFunc(shifts, noon, func(s Shift, t time.Time) int {
				if !s.End.After(t) {
					return -1
				}
				if s.Start.After(t) {
					return 1
				}
				return 0
			})
			if !found {
				continue // a gap in given shifts: nobody is counted
			}
			fr := row(shifts[i].Member)
			if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
				fr.WeekendDays++
			}
			if opts.Holidays != nil {
				if _, ok := opts.Holidays.Holiday(time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)); ok {
					fr.PublicHolidays++
				}
			}
		}
	}
	slices.Sort(order[nSpec:])
	out := make([]FairnessRow, 0, len(order))
	for _, m := range order {
		out = append(out, *rows[m])
	}
	return out
}
