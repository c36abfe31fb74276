package reports

import (
	"fmt"
	"time"
)

// Period is the interval a report covers, [Start, End) in the report's time
// zone. With the default start day 1 it is a calendar month; with start day
// d > 1 it runs from day d of one month to day d−1 of the next (the Chinese
// academy's report runs from the 21st to the 20th) and is labelled by the
// month in which it ends, so "2026-10" with start day 21 is 21 September to
// 20 October 2026.
type Period struct {
	Label string    `json:"label"` // YYYY-MM
	Start time.Time `json:"start"`
	End   time.Time `json:"end"` // exclusive
}

// ParsePeriod returns the period labelled YYYY-MM for a start day in loc.
func ParsePeriod(label string, startDay int, loc *time.Location) (Period, error) {
	t, err := time.ParseInLocation("2006-01", label, loc)
	if err != nil {
		return Period{}, fmt.Errorf("period %q: want YYYY-MM: %w", label, ErrBadPeriod)
	}
	return periodFor(t.Year(), t.Month(), startDay, loc), nil
}

func periodFor(year int, month time.Month, startDay int, loc *time.Location) Period {
	var end time.Time
	if startDay <= 1 {
		end = time.Date(year, month+1, 1, 0, 0, 0, 0, loc)
	} else {
		end = time.Date(year, month, startDay, 0, 0, 0, 0, loc)
	}
	start := time.Date(end.Year(), end.Month()-1, end.Day(), 0, 0, 0, 0, loc)
	label := time.Date(year, month, 1, 0, 0, 0, 0, loc).Format("2006-01")
	return Period{Label: label, Start: start, End: end}
}

// LastCompleted returns the latest period that ended at or before t: the
// period a report generated at t is about.
func LastCompleted(t time.Time, startDay int, loc *time.Location) Period {
	lt := t.In(loc)
	p := periodFor(lt.Year(), lt.Month()+1, startDay, loc)
	for p.End.After(t) {
		p = p.Previous(startDay)
	}
	return p
}

// Previous returns the period before p.
func (p Period) Previous(startDay int) Period {
	t, _ := time.ParseInLocation("2006-01", p.Label, p.Start.Location())
	return periodFor(t.Year(), t.Month()-1, startDay, p.Start.Location())
}

// Days returns the local midnight of every day in p.
func (p Period) Days() []time.Time {
	var out []time.Time
	for d := p.Start; d.Before(p.End); d = time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, d.Location()) {
		out = append(out, d)
	}
	return out
}

// Duration is the length of p (23 or 25 hours on DST days included).
func (p Period) Duration() time.Duration { return p.End.Sub(p.Start) }

// Contains reports whether t lies in p.
func (p Period) Contains(t time.Time) bool { return !t.Before(p.Start) && t.Before(p.End) }
