package web

import (
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

func (u *UI) funcs() template.FuncMap {
	loc := u.o.Location
	asTime := func(v any) time.Time {
		switch x := v.(type) {
		case time.Time:
			return x
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err == nil {
				return t
			}
		}
		return time.Time{}
	}
	return template.FuncMap{
		// when shows an instant in the service's zone.
		"when": func(v any) string {
			t := asTime(v)
			if t.IsZero() || t.Year() < 1971 {
				return "—"
			}
			return t.In(loc).Format("Mon 2 Jan 15:04")
		},
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
		"pct": func(v any) string {
			f, _ := v.(float64)
			return fmt.Sprintf("%.0f%%", math.Max(0, f))
		},
		"int": func(v any) int64 {
			switch x := v.(type) {
			case float64:
				return int64(x)
			case int:
				return int64(x)
			case int64:
				return x
			}
			return 0
		},
		"str": func(v any) string {
			if v == nil {
				return ""
			}
			return fmt.Sprint(v)
		},
		"list": func(v any) []any { l, _ := v.([]any); return l },
		"keys": func(v any) []string {
			m, _ := v.(map[string]any)
			out := make([]string, 0, len(m))
			for k := range m {
				out = append(out, k)
			}
			sort.Strings(out)
			return out
		},
		"get": func(v any, k string) any {
			m, _ := v.(map[string]any)
			return m[k]
		},
		"join": func(v any) string {
			l, _ := v.([]any)
			s := make([]string, 0, len(l))
			for _, x := range l {
				s = append(s, fmt.Sprint(x))
			}
			return strings.Join(s, ", ")
		},
		// can reports whether a ticket in state allows action.
		"allowed": func(state any, action string) bool {
			s, _ := state.(string)
			_, err := tickets.Next(s, action)
			return err == nil
		},
		"actions": func() []string { return tickets.Actions },
		"states":  func() []string { return tickets.States },
		"scalar": func(v any) bool {
			switch v.(type) {
			case string, float64, bool:
				return true
			}
			return false
		},
		"eq2": func(a any, b string) bool { return fmt.Sprint(a) == b },
		"spark": func(v any, field, name string) *sparkline {
			l, _ := v.([]obj)
			return spark(l, field, name)
		},
		// size shows a byte count in binary units: 1.5 GiB.
		"size": func(v any) string {
			f, _ := v.(float64)
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
		"strlist": func(v any) []string {
			switch x := v.(type) {
			case []string:
				return x
			case []any:
				return strs(x)
			}
			return nil
		},
		"has": func(l any, s string) bool {
			switch x := l.(type) {
			case []string:
				for _, y := range x {
					if y == s {
						return true
					}
				}
			case []any:
				for _, y := range x {
					if fmt.Sprint(y) == s {
						return true
					}
				}
			}
			return false
		},
		"noticeStates": func(kind any) []string { return notice.States(fmt.Sprint(kind)) },
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
