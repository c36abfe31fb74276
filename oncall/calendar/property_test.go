package calendar

import (
	"math/rand/v2"
	"testing"
	"time"
)

// refCalendar is a deliberately naive model of propertySpec: a minute is
// open when the local wall clock falls inside the day's hours. It knows
// nothing of intervals, instants or zone transitions.
type refCalendar struct {
	loc      *time.Location
	closed   map[string]bool // holidays and closures, "2006-01-02"
	halfDays map[string]int  // date → closing minute of day
	hours    map[time.Weekday][][2]int
}

func (r refCalendar) open(t time.Time) bool {
	lt := t.In(r.loc)
	date := lt.Format(time.DateOnly)
	if r.closed[date] {
		return false
	}
	m := lt.Hour()*60 + lt.Minute()
	if cl, ok := r.halfDays[date]; ok && m >= cl {
		return false
	}
	for _, h := range r.hours[lt.Weekday()] {
		if m >= h[0] && m < h[1] {
			return true
		}
	}
	return false
}

func propertySpec() (Spec, refCalendar) {
	s := Spec{
		Name:     "property",
		TimeZone: "Europe/Oslo",
		Hours: []Hours{
			{Days: []string{"mon-fri"}, Start: "08:30", End: "12:00"},
			{Days: []string{"mon-fri"}, Start: "13:00", End: "17:00"},
			{Days: []string{"sat"}, Start: "10:00", End: "14:00"},
			// Sunday night spans the DST change at 02:00/03:00.
			{Days: []string{"sun"}, Start: "00:00", End: "04:00"},
			{Days: []string{"sun"}, Start: "22:00", End: "24:00"},
		},
		Countries: []string{"no"},
		Closures:  []Closure{{Date: "2026-10-21", Name: "staff day"}},
		HalfDays:  []HalfDay{{Date: "2026-03-31", Close: "11:00"}, {Date: "2026-10-27", Close: "15:30"}},
	}
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		panic(err)
	}
	weekday := [][2]int{{8*60 + 30, 12 * 60}, {13 * 60, 17 * 60}}
	r := refCalendar{
		loc: loc,
		// Maundy Thursday and Good Friday 2026 are Norwegian holidays.
		closed:   map[string]bool{"2026-04-02": true, "2026-04-03": true, "2026-10-21": true},
		halfDays: map[string]int{"2026-03-31": 11 * 60, "2026-10-27": 15*60 + 30},
		hours: map[time.Weekday][][2]int{
			time.Monday: weekday, time.Tuesday: weekday, time.Wednesday: weekday,
			time.Thursday: weekday, time.Friday: weekday,
			time.Saturday: {{10 * 60, 14 * 60}},
			time.Sunday:   {{0, 4 * 60}, {22 * 60, 24 * 60}},
		},
	}
	return s, r
}

// TestPropertyMinuteByMinute compares IsOpen, Between, Add and NextOpen with
// the naive reference at every minute of two weeks around each Oslo DST
// change of 2026.
func TestPropertyMinuteByMinute(t *testing.T) {
	t.Parallel()
	spec, ref := propertySpec()
	cal := mustNew(t, spec)
	windows := []struct{ name, from string }{
		{"spring 2026", "2026-03-22"},
		{"autumn 2026", "2026-10-18"},
	}
	for _, w := range windows {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			from := at(t, ref.loc, w.from+" 00:00")
			to := from.AddDate(0, 0, 14)
			n := int(to.Sub(from) / time.Minute)
			minute := func(i int) time.Time { return from.Add(time.Duration(i) * time.Minute) }

			// cum[i] is the reference open time in minutes in [from, minute(i)).
			cum := make([]int, n+1)
			open := make([]bool, n)
			for i := range n {
				open[i] = ref.open(minute(i))
				cum[i+1] = cum[i]
				if open[i] {
					cum[i+1]++
				}
			}
			if cum[n] == 0 {
				t.Fatal("reference never open")
			}

			for i := range n {
				if got := cal.IsOpen(minute(i)); got != open[i] {
					t.Fatalf("IsOpen(%v) = %v, reference %v", minute(i).In(ref.loc), got, open[i])
				}
			}

			rng := rand.New(rand.NewPCG(1, uint64(len(w.name))))
			failures := 0
			check := func(format string, args ...any) {
				t.Helper()
				t.Errorf(format, args...)
				if failures++; failures > 10 {
					t.FailNow()
				}
			}

			// Between over pairs of minutes.
			for i := 0; i < n; i += 37 {
				for _, j := range []int{i, i + 1, i + 59, i + rng.IntN(n-i+1), i + rng.IntN(n-i+1)} {
					if j > n {
						continue
					}
					want := time.Duration(cum[j]-cum[i]) * time.Minute
					if got := cal.Between(minute(i), minute(j)); got != want {
						check("Between(%v, %v) = %v, reference %v", minute(i).In(ref.loc), minute(j).In(ref.loc), got, want)
					}
				}
			}

			// Add and NextOpen: the reference answer is the end of the d-th
			// open minute after i, or for d == 0 the first open minute.
			refAdd := func(i, d int) (int, bool) {
				for j := i; j <= n; j++ {
					if d == 0 && j < n && open[j] {
						return j, true
					}
					if d > 0 && cum[j]-cum[i] == d {
						return j, true
					}
				}
				return 0, false
			}
			for i := 0; i < n; i += 7 {
				for _, d := range []int{0, 1, 30, 60, 61, 180, rng.IntN(1200)} {
					j, ok := refAdd(i, d)
					if !ok {
						continue // beyond the window
					}
					if got := cal.Add(minute(i), time.Duration(d)*time.Minute); !got.Equal(minute(j)) {
						check("Add(%v, %dm) = %v, reference %v", minute(i).In(ref.loc), d, got.In(ref.loc), minute(j).In(ref.loc))
					}
					if d == 0 {
						if got := cal.NextOpen(minute(i)); !got.Equal(minute(j)) {
							check("NextOpen(%v) = %v, reference %v", minute(i).In(ref.loc), got.In(ref.loc), minute(j).In(ref.loc))
						}
					}
				}
			}
		})
	}
}

func TestPropertyReferenceSanity(t *testing.T) {
	t.Parallel()
	// The reference model itself: the 23- and 25-hour Sundays open 3 and
	// 5 real hours before 04:00 local.
	_, ref := propertySpec()
	for _, c := range []struct {
		day  string
		want int
	}{{"2026-03-29", 3 * 60}, {"2026-10-25", 5 * 60}} {
		from := at(t, ref.loc, c.day+" 00:00")
		to := at(t, ref.loc, c.day+" 04:00")
		got := 0
		for m := from; m.Before(to); m = m.Add(time.Minute) {
			if ref.open(m) {
				got++
			}
		}
		if got != c.want {
			t.Errorf("%s: reference open %d minutes, want %d", c.day, got, c.want)
		}
	}
}
