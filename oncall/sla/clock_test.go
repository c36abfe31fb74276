package sla

import (
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

func policy(tz string, countries []string, mut func(*Policy)) *Compiled {
	p := Policy{
		Name: "test",
		Calendar: calendar.Spec{Name: "hours", TimeZone: tz,
			Hours:     []calendar.Hours{{Days: []string{"mon-fri"}, Start: "09:00", End: "17:00"}},
			Countries: countries},
		Response: time.Hour, PauseStates: []string{"waiting"},
	}
	if mut != nil {
		mut(&p)
	}
	c, err := Compile(p)
	if err != nil {
		panic(err)
	}
	return c
}

func at(loc string, y int, m time.Month, d, hh, mm int) time.Time {
	l, err := time.LoadLocation(loc)
	if err != nil {
		panic(err)
	}
	return calendar.At(l, y, m, d, hh, mm)
}

// TestExplainUKSubmissionSLA runs the UK submission SLA of docs/tickets.md
// ("SLA policies": a response within one hour of a fault notified
// 09:00–17:00 on a working day, best effort or next opening outside) on
// the calculator itself, with bank holidays, pauses and DST changes;
// cmd/postvakt TestSLAExplainCLI runs the same cases through the command.
func TestExplainUKSubmissionSLA(t *testing.T) {
	t.Parallel()
	const lon, osl = "Europe/London", "Europe/Oslo"
	wall := func(p *Policy) { p.Time = Wall }
	next := func(p *Policy) { p.OutsideHours = NextOpening }
	cases := []struct {
		name     string
		c        *Compiled
		notified time.Time
		pauses   []calendar.Interval
		inside   bool
		status   Status
		due      time.Time
		why      string
	}{
		{"tuesday 10:00", policy(lon, []string{"gb"}, nil), at(lon, 2026, 11, 24, 10, 0), nil,
			true, Running, at(lon, 2026, 11, 24, 11, 0), "inside"},
		{"friday 16:30 business", policy(lon, []string{"gb"}, nil), at(lon, 2026, 11, 27, 16, 30), nil,
			true, Running, at(lon, 2026, 11, 30, 9, 30), "inside"},
		{"friday 16:30 wall", policy(lon, []string{"gb"}, wall), at(lon, 2026, 11, 27, 16, 30), nil,
			true, Running, at(lon, 2026, 11, 27, 17, 30), "inside"},
		{"saturday best effort", policy(lon, []string{"gb"}, nil), at(lon, 2026, 11, 28, 11, 0), nil,
			false, BestEffortStatus, time.Time{}, "Saturday is not a working day"},
		{"saturday next opening", policy(lon, []string{"gb"}, next), at(lon, 2026, 11, 28, 11, 0), nil,
			false, Running, at(lon, 2026, 11, 30, 10, 0), "Saturday is not a working day"},
		{"17 May in Norway", policy(osl, []string{"no"}, next), at(osl, 2027, 5, 17, 10, 0), nil,
			false, Running, at(osl, 2027, 5, 18, 10, 0), "17 May is"},
		{"25 December in the UK", policy(lon, []string{"gb"}, nil), at(lon, 2026, 12, 25, 10, 0), nil,
			false, BestEffortStatus, time.Time{}, "25 December is Christmas"},
		{"20-minute pause", policy(lon, []string{"gb"}, nil), at(lon, 2026, 11, 24, 10, 0),
			[]calendar.Interval{{Start: at(lon, 2026, 11, 24, 10, 10), End: at(lon, 2026, 11, 24, 10, 30)}},
			true, Running, at(lon, 2026, 11, 24, 11, 20), "paused for 20m0s"},
		{"20-minute pause wall", policy(lon, []string{"gb"}, wall), at(lon, 2026, 11, 27, 16, 30),
			[]calendar.Interval{{Start: at(lon, 2026, 11, 27, 16, 40), End: at(lon, 2026, 11, 27, 17, 0)}},
			true, Running, at(lon, 2026, 11, 27, 17, 50), "paused"},
		// Spring forward (Europe/Oslo, Sunday 29 March 2026 02:00 CET →
		// 03:00 CEST): Friday 16:30 CET is due Monday 09:30 CEST.
		{"friday before spring DST", policy(osl, []string{"no"}, nil), at(osl, 2026, 3, 27, 16, 30), nil,
			true, Running, at(osl, 2026, 3, 30, 9, 30), "CET"},
		// Fall back (Sunday 25 October 2026 03:00 CEST → 02:00 CET).
		{"friday before autumn DST", policy(osl, []string{"no"}, nil), at(osl, 2026, 10, 23, 16, 30), nil,
			true, Running, at(osl, 2026, 10, 26, 9, 30), "CEST"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := tc.c.Explain(tc.notified, tc.pauses)
			if err != nil {
				t.Fatal(err)
			}
			ck, _ := res.Clock(KindResponse)
			if res.InsideHours != tc.inside || ck.Status != tc.status || !ck.Due.Equal(tc.due) {
				t.Fatalf("inside %v status %s due %v; want %v %s %v\n%s", res.InsideHours, ck.Status, ck.Due,
					tc.inside, tc.status, tc.due, strings.Join(append([]string{res.Why}, ck.Reasons...), "\n"))
			}
			all := res.Why + "\n" + strings.Join(ck.Reasons, "\n")
			if !strings.Contains(all, tc.why) {
				t.Fatalf("explanation %q lacks %q", all, tc.why)
			}
		})
	}
}

// TestDSTRawDurations checks that raw (wall) durations count the time that
// really passes across a DST change: the spring weekend is an hour short (Fri 16:30 CET → Mon 09:15 CEST is 63h45m, not 64h45m).
func TestDSTRawDurations(t *testing.T) {
	t.Parallel()
	const osl = "Europe/Oslo"
	c := policy(osl, []string{"no"}, nil)
	notified := at(osl, 2026, 3, 27, 16, 30)
	responded := at(osl, 2026, 3, 30, 9, 15)
	res := c.Evaluate(Input{Notified: notified, Responded: responded}, responded.Add(time.Hour))
	ck, _ := res.Clock(KindResponse)
	if ck.Status != Met || ck.Raw != 63*time.Hour+45*time.Minute || ck.Business != 45*time.Minute {
		t.Fatalf("status %s raw %v business %v", ck.Status, ck.Raw, ck.Business)
	}
	// A wall-time clock on a round-the-clock calendar across the spring
	// gap: 01:30 CET + 60 min is 03:30 CEST.
	c = policy(osl, nil, func(p *Policy) {
		p.Time = Wall
		p.Calendar.Hours = []calendar.Hours{{Days: []string{"mon-sun"}, Start: "00:00", End: "24:00"}}
	})
	res, _ = c.Explain(at(osl, 2026, 3, 29, 1, 30), nil)
	if ck, _ := res.Clock(KindResponse); !ck.Due.Equal(at(osl, 2026, 3, 29, 3, 30)) {
		t.Fatalf("due %v", ck.Due)
	}
}

func TestStatuses(t *testing.T) {
	t.Parallel()
	const lon = "Europe/London"
	c := policy(lon, []string{"gb"}, func(p *Policy) { p.Resolution = 4 * time.Hour; p.Update = 2 * time.Hour })
	n := at(lon, 2026, 11, 24, 10, 0)
	in := Input{Notified: n, States: []Transition{{At: n, State: "new"}}}
	check := func(kind string, now time.Time, want Status) Clock {
		t.Helper()
		ck, ok := c.Evaluate(in, now).Clock(kind)
		if !ok || ck.Status != want {
			t.Fatalf("%s at %v: %s, want %s (%v)", kind, now, ck.Status, want, ck.Reasons)
		}
		return ck
	}
	if ck := check(KindResponse, n.Add(45*time.Minute), Running); ck.Percent != 75 {
		t.Fatalf("percent %v", ck.Percent)
	}
	check(KindResponse, n.Add(61*time.Minute), Breached)
	check(KindUpdate, n.Add(61*time.Minute), Pending)
	in.Responded = n.Add(30 * time.Minute)
	in.States = append(in.States, Transition{At: in.Responded, State: "investigating"})
	check(KindResponse, n.Add(2*time.Hour), Met)
	check(KindUpdate, n.Add(2*time.Hour), Running)
	check(KindUpdate, n.Add(3*time.Hour), Breached)
	in.Updates = []time.Time{n.Add(2 * time.Hour)}
	check(KindUpdate, n.Add(3*time.Hour), Running)
	// Waiting pauses the resolution clock; resolving stops it; reopening
	// resumes it.
	in.States = append(in.States, Transition{At: n.Add(time.Hour), State: "waiting"})
	check(KindResolution, n.Add(90*time.Minute), Paused)
	in.States = append(in.States, Transition{At: n.Add(2 * time.Hour), State: "investigating"},
		Transition{At: n.Add(3 * time.Hour), State: StateResolved})
	ck := check(KindResolution, n.Add(6*time.Hour), Met)
	if ck.Counted != 2*time.Hour || ck.PausedFor != time.Hour || ck.Raw != 3*time.Hour {
		t.Fatalf("resolution counted %v paused %v raw %v", ck.Counted, ck.PausedFor, ck.Raw)
	}
	in.States = append(in.States, Transition{At: n.Add(5 * time.Hour), State: "investigating"})
	ck = check(KindResolution, n.Add(5*time.Hour+30*time.Minute), Running)
	if ck.Counted != 2*time.Hour+30*time.Minute {
		t.Fatalf("after reopen counted %v", ck.Counted)
	}
	check(KindResolution, n.Add(7*time.Hour+1*time.Minute), Breached)
}

func TestHashAndValidate(t *testing.T) {
	t.Parallel()
	a := DefaultConfig().Policies[0]
	b := a
	b.Response = 2 * time.Hour
	if a.Hash() == b.Hash() || a.Hash() != DefaultConfig().Policies[0].Hash() {
		t.Fatal("hash must follow the policy's content")
	}
	cfg := DefaultConfig()
	cfg.Policies[0].OutsideHours = "never"
	cfg.Policies[0].WarnPercent = 120
	cfg.BySeverity = map[string]string{"critical": "missing"}
	err := cfg.Validate()
	for _, want := range []string{`policies[0].outside_hours: "never"`, `policies[0].warn_percent: "120"`, `by_severity.critical: "missing"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("validate: %v; want %s", err, want)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzEvaluate(f *testing.F) {
	c := policy("Europe/Oslo", []string{"no"}, func(p *Policy) { p.Resolution = 8 * time.Hour })
	f.Add(int64(1790000000), int64(600), int64(1200), int64(3600))
	f.Fuzz(func(t *testing.T, n, p1, p2, resp int64) {
		notified := time.Unix(n%4000000000, 0)
		a := notified.Add(time.Duration(p1%100000) * time.Second)
		b := a.Add(time.Duration(p2%100000) * time.Second)
		in := Input{Notified: notified, States: []Transition{{At: notified, State: "new"}, {At: a, State: "waiting"}, {At: b, State: "investigating"}}}
		res := c.Evaluate(in, b.Add(time.Duration(resp%100000)*time.Second))
		for _, ck := range res.Clocks {
			if ck.Counted < 0 || ck.Business < 0 || ck.PausedFor < 0 || (!ck.Due.IsZero() && ck.Due.Before(notified)) {
				t.Fatalf("%+v", ck)
			}
		}
	})
}
