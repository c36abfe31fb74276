package web

import (
	"fmt"
	"html/template"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

func (u *UI) funcs() template.FuncMap {
	loc := u.o.Location
	// asTime takes an instant as the API types carry it: a time.Time, or
	// a *time.Time that is nil when it is not set (an API token's uses).
	asTime := func(v any) time.Time {
		switch x := v.(type) {
		case time.Time:
			return x
		case *time.Time:
			if x != nil {
				return *x
			}
		}
		return time.Time{}
	}
	return template.FuncMap{
		// off names the configuration key and doc page that turn on a
		// capability that is off (guide.go).
		"off": func(name string) guideStep { return off[name] },
		// when shows an instant in the service time zone with the zone's
		// abbreviation, "Fri 4 Dec 09:00 CET", so that it cannot be read
		// as another zone's.
		"when": func(v any) string {
			t := asTime(v)
			if t.IsZero() || t.Year() < 1971 {
				return "—"
			}
			return t.In(loc).Format("Mon 2 Jan 15:04 MST")
		},
		// zone names the service time zone for the footer: "Europe/Oslo
		// (CET)", with the abbreviation in effect now.
		"zone": func() string { return timezone.Describe(u.o.Now(), loc) },
		// zoneName is the IANA name of the service time zone, for the
		// labels of time inputs, which are read in it.
		"zoneName": func() string { return timezone.Name(loc) },
		// iso is an instant for a <time datetime> attribute.
		"iso": func(v any) string {
			t := asTime(v)
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
		// rel says how far an instant is from now: "in 3h 10m", "25m ago".
		"rel": func(v any) string {
			t := asTime(v)
			if t.IsZero() || t.Year() < 1971 {
				return ""
			}
			d := t.Sub(u.o.Now())
			if d > -time.Minute && d < time.Minute {
				return "just now"
			}
			if d >= 0 {
				return "in " + short(d)
			}
			return short(-d) + " ago"
		},
		// pct shows a percentage, never below 0%.
		"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", math.Max(0, f)) },
		// int shows a fractional count whole (rounded towards zero).
		"int":  func(f float64) int64 { return int64(f) },
		"join": func(l []string) string { return strings.Join(l, ", ") },
		// deref shows an optional count or choice (the template tests for
		// nil first: a missing value is shown as missing, never as 0).
		"deref": func(v any) any {
			switch p := v.(type) {
			case *int:
				return *p
			case *bool:
				return *p
			case *uint32:
				return *p
			}
			return v
		},
		// weekdays are the handover weekdays a rota form offers.
		"weekdays": func() []string {
			return []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
		},
		// allowed reports whether a ticket in state allows action.
		"allowed": func(state, action string) bool {
			_, err := tickets.Next(state, action)
			return err == nil
		},
		"actions": func() []string { return tickets.Actions },
		"states":  func() []string { return tickets.States },
		// size shows a byte count in binary units: 1.5 GiB.
		"size": func(n int64) string {
			f := float64(n)
			units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
			i := 0
			for f >= 1024 && i < len(units)-1 {
				f /= 1024
				i++
			}
			if i == 0 {
				return fmt.Sprintf("%.0f B", f)
			}
			return fmt.Sprintf("%.1f %s", f, units[i])
		},
		"has": func(l []string, s string) bool { return slices.Contains(l, s) },
	}
}

// short formats a duration coarsely: 2d 3h, 3h 10m, 25m, 40s.
func short(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	}
	return fmt.Sprintf("%ds", int(d.Seconds()))
}
