package calendar

import (
	"fmt"
	"strings"
	"time"
)

// ParseWhen parses an instant as people type it: RFC 3339, or a local
// "2006-01-02 15:04" or "2006-01-02T15:04" (seconds optional) in loc.
func ParseWhen(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return At(loc, t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()).Add(time.Duration(t.Second()) * time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or YYYY-MM-DD HH:MM", s)
}

// ParsePause parses a pause as START/END or START/DURATION, each instant
// as ParseWhen reads it.
func ParsePause(s string, loc *time.Location) (Interval, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return Interval{}, fmt.Errorf("pause %q: want START/END or START/DURATION", s)
	}
	start, err := ParseWhen(a, loc)
	if err != nil {
		return Interval{}, err
	}
	if d, err := time.ParseDuration(b); err == nil {
		return Interval{Start: start, End: start.Add(d)}, nil
	}
	end, err := ParseWhen(b, loc)
	if err != nil {
		return Interval{}, err
	}
	return Interval{Start: start, End: end}, nil
}
