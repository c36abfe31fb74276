// Package timezone owns the service time zone (the top-level `timezone:`
// key, docs/configuration.md): how the key names a zone, how a time a
// person types is read in it, and how an instant is shown to a person in it.
//
// Every time a person reads or types — the web pages and forms, the CLI,
// the notices, the mails, the reports — goes through this package, so that
// the product has one clock for people. The API speaks RFC 3339 with
// offsets; the time zones of log files (collectors.log_timezone) and of
// business calendars (sla and oncall calendars) are their own and are not
// the service zone.
//
// The input grammar (Parse) is the same everywhere:
//
//	2026-12-14T06:00:00+01:00   RFC 3339 (an instant; the zone is its own)
//	2026-12-14 06:00            wall time in the service zone (seconds optional,
//	2026-12-14T06:00            "T" or a space; the form of <input type=datetime-local>)
//	2026-12-14                  midnight at the start of that day in the service zone
//	now                         the present instant
//	+2h, -30m, +1d, -2w         from now: a Go duration or whole days and weeks
//	24h                         a bare duration counts back from now (--since 24h)
//
// A wall time that does not exist in the zone (the hour skipped when the
// clocks go forward) is refused with a message that says so; a wall time
// that exists twice (the hour repeated when they go back) is the earlier
// instant — give an RFC 3339 offset to mean the later one.
//
// The package is a leaf: it imports only the standard library, so that the
// domain packages, which must not import internal/, can use it.
package timezone

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Layout is how an instant is shown to a person: weekday, date, minute and
// the zone's abbreviation (a numeric offset for zones that have none).
const Layout = "Mon 2006-01-02 15:04 MST"

// Grammar describes the input grammar in one line, for --help texts and
// error messages.
const Grammar = `RFC 3339, "YYYY-MM-DD HH:MM" or YYYY-MM-DD in the service time zone, now, or +2h / -30m / +1d from now`

// ErrSyntax is wrapped by every error of Parse.
var ErrSyntax = errors.New("bad time")

// Load resolves a zone name as the configuration gives it: "" and "Local"
// are the server's local zone, "UTC" is UTC, anything else an IANA name
// such as "Europe/Oslo".
func Load(name string) (*time.Location, error) {
	switch strings.TrimSpace(name) {
	case "", "Local":
		return time.Local, nil
	case "UTC":
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q: want an IANA name such as Europe/Oslo", name)
	}
	return loc, nil
}

// Name is the IANA name of loc, for showing which zone times are in. The
// server's local zone (time.Local, whose own name is "Local") is named by
// the TZ environment variable or the /etc/localtime link when they say,
// else "Local".
func Name(loc *time.Location) string {
	if loc == nil {
		return "UTC"
	}
	if loc != time.Local {
		return loc.String()
	}
	if tz, ok := os.LookupEnv("TZ"); ok {
		tz = strings.TrimPrefix(tz, ":")
		switch {
		case tz == "":
			return "UTC"
		case !strings.HasPrefix(tz, "/"):
			return tz
		}
		if n := zoneFromPath(tz); n != "" {
			return n
		}
		return "Local"
	}
	if n := zoneFromPath("/etc/localtime"); n != "" {
		return n
	}
	if b, err := os.ReadFile("/etc/timezone"); err == nil {
		if n := strings.TrimSpace(string(b)); n != "" {
			return n
		}
	}
	return "Local"
}

// zoneFromPath names the zone a zoneinfo file (or a link to one) is:
// ".../zoneinfo/Europe/Oslo" is "Europe/Oslo".
func zoneFromPath(p string) string {
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	if _, after, ok := strings.Cut(p, "/zoneinfo/"); ok {
		after = strings.TrimPrefix(after, "posix/")
		return after
	}
	return ""
}

// Format shows t in loc as Layout does, "Mon 2026-12-14 06:00 CET"; the
// zero time is "-".
func Format(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return "-"
	}
	return t.In(orUTC(loc)).Format(Layout)
}

// Abbrev is the abbreviation of loc's zone at t: "CET" or "CEST" for
// Europe/Oslo (a numeric offset such as "+03" for zones without one).
func Abbrev(t time.Time, loc *time.Location) string {
	name, _ := t.In(orUTC(loc)).Zone()
	return name
}

// Describe names the zone for a footer or a heading: "Europe/Oslo (CET)",
// with the abbreviation in effect at t.
func Describe(t time.Time, loc *time.Location) string {
	n, a := Name(loc), Abbrev(t, loc)
	if n == a {
		return n
	}
	return n + " (" + a + ")"
}

func orUTC(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// wallLayouts are the wall-time forms Parse reads in the service zone.
var wallLayouts = []string{
	"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02",
}

// Parse reads a time as a person types it (the grammar in the package
// comment): wall times in loc, relative times from now. "" is the zero time
// with no error: the caller decides whether the value is required.
func Parse(s string, now time.Time, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	loc = orUTC(loc)
	switch {
	case s == "":
		return time.Time{}, nil
	case strings.EqualFold(s, "now"):
		return now, nil
	case s[0] == '+' || s[0] == '-':
		d, err := ParseDuration(s[1:])
		if err != nil {
			return time.Time{}, fmt.Errorf("%w %q: %v; want %s", ErrSyntax, s, err, Grammar)
		}
		if s[0] == '-' {
			d = -d
		}
		return now.Add(d), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02 15:04:05Z07:00", "2006-01-02 15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	for _, layout := range wallLayouts {
		if w, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return Wall(loc, w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second())
		}
	}
	if d, err := ParseDuration(s); err == nil && s[0] >= '0' && s[0] <= '9' {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("%w %q: want %s", ErrSyntax, s, Grammar)
}

// ParseDuration reads a Go duration ("90m", "2h30m") or whole days or
// weeks ("3d", "2w"), which time.ParseDuration does not know.
func ParseDuration(s string) (time.Duration, error) {
	for suffix, unit := range map[string]time.Duration{"d": 24 * time.Hour, "w": 7 * 24 * time.Hour} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("bad duration %q", s)
			}
			return time.Duration(v) * unit, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	return d, nil
}

// Wall is the instant at which the clocks in loc show the given wall time.
// A wall time the clocks skip (the spring-forward hour) is an error that
// says so; one they show twice (the autumn hour) is the earlier instant.
func Wall(loc *time.Location, year int, month time.Month, day, hour, min, sec int) (time.Time, error) {
	t := time.Date(year, month, day, hour, min, sec, 0, loc)
	if t.Year() != year || t.Month() != month || t.Day() != day || t.Hour() != hour || t.Minute() != min {
		// The clocks skip this wall time: name the change around it.
		start, _ := t.ZoneBounds()
		if w := time.Date(year, month, day, hour, min, sec, 0, time.UTC); t.Unix()+int64(offset(t)) < w.Unix() {
			start, _ = t.Add(time.Hour * 24).ZoneBounds() // t fell before the change
		}
		prevName, prevOff := start.Add(-time.Nanosecond).Zone()
		return time.Time{}, fmt.Errorf("%w: %04d-%02d-%02d %02d:%02d does not exist in %s: the clocks go from %s to %s; give an RFC 3339 offset or another time",
			ErrSyntax, year, month, day, hour, min, Name(loc),
			start.In(time.FixedZone(prevName, prevOff)).Format("15:04 MST"), start.In(loc).Format("15:04 MST"))
	}
	// The earlier of two instants with this wall time: the hour before
	// may show the same wall clock under the previous offset.
	if e := t.Add(-time.Hour); sameWall(e.In(loc), t) {
		return e, nil
	}
	if start, _ := t.ZoneBounds(); !start.IsZero() {
		prev := start.Add(-time.Nanosecond)
		_, prevOff := prev.Zone()
		_, off := t.Zone()
		if d := time.Duration(prevOff-off) * time.Second; d > 0 {
			if e := t.Add(-d); sameWall(e.In(loc), t) {
				return e, nil
			}
		}
	}
	return t, nil
}

func offset(t time.Time) int {
	_, off := t.Zone()
	return off
}

func sameWall(a, b time.Time) bool {
	return a.Year() == b.Year() && a.YearDay() == b.YearDay() && a.Hour() == b.Hour() && a.Minute() == b.Minute() && a.Second() == b.Second()
}
