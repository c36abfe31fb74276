package calendar

import (
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
)

// ParseWhen parses an instant as people type it, in the one grammar of
// people's times (config/timezone.Parse): RFC 3339, a local
// "2006-01-02 15:04" or "2006-01-02T15:04" (seconds optional) in loc, a
// date, now, or +2h / -30m from the present.
func ParseWhen(s string, loc *time.Location) (time.Time, error) {
	if strings.TrimSpace(s) == "" {
		return time.Time{}, fmt.Errorf("time %q: want %s", s, timezone.Grammar)
	}
	return timezone.Parse(s, time.Now(), loc)
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
