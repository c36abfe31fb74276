package rota

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var members = []string{"ana", "bjorn", "chen", "dina"}

func weekly(t *testing.T) *Rota {
	t.Helper()
	r, err := New(Spec{Name: "ukevakt", Members: members, Start: "2026-01-05"})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func oslo(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Oslo")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// at parses "2006-01-02 15:04" in loc.
func at(t *testing.T, loc *time.Location, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// timeEqual compares instants, not locations.
var timeEqual = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

// changes used across the tests: an override mid-week in the spring DST
// week, an override across a handover in the autumn DST week, an accepted
// swap over New Year and a declined one that changes nothing.
func testChanges(t *testing.T) Changes {
	loc := oslo(t)
	return Changes{
		Overrides: []Override{
			{ID: "o1", Member: "chen", Start: at(t, loc, "2026-03-25 12:00"), End: at(t, loc, "2026-03-27 12:00"), Reason: "dina at a conference"},
			{ID: "o2", Member: "ana", Start: at(t, loc, "2026-10-25 18:00"), End: at(t, loc, "2026-10-26 18:00"), Reason: "bjorn travelling"},
		},
		Swaps: []Swap{
			{ID: "s1", Requester: "dina", Counterpart: "ana", TurnA: 51, TurnB: 52, State: SwapAccepted},
			{ID: "s2", Requester: "bjorn", Counterpart: "chen", TurnA: 53, TurnB: 54, State: SwapDeclined},
		},
	}
}

// oracle answers who is on call at t by wall-clock reasoning alone: find
// the latest Monday 09:00 on the local calendar at or before t, count
// weeks from the anchor Monday, then apply swaps by turn and overrides.
func oracle(loc *time.Location, c Changes, t time.Time) (string, int) {
	lt := t.In(loc)
	back := (int(lt.Weekday()) - int(time.Monday) + 7) % 7
	if back == 0 && lt.Hour()*60+lt.Minute() < 9*60 {
		back = 7
	}
	monday := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, time.UTC)
	week := int(monday.Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)).Hours()) / (24 * 7)
	who := members[((week%4)+4)%4]
	for _, s := range c.Swaps {
		if s.State != SwapAccepted {
			continue
		}
		if week == s.TurnA {
			who = s.Counterpart
		} else if week == s.TurnB {
			who = s.Requester
		}
	}
	for _, o := range c.Overrides {
		if !t.Before(o.Start) && t.Before(o.End) {
			who = o.Member
		}
	}
	return who, week
}

func TestTurnAtAcrossDST(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	cases := []struct {
		name  string
		t     time.Time
		want  Turn
		hours float64
	}{
		{"first turn", at(t, loc, "2026-01-05 09:00"), Turn{0, at(t, loc, "2026-01-05 09:00"), at(t, loc, "2026-01-12 09:00"), "ana"}, 168},
		{"minute before handover", at(t, loc, "2026-01-12 08:59"), Turn{0, at(t, loc, "2026-01-05 09:00"), at(t, loc, "2026-01-12 09:00"), "ana"}, 168},
		{"spring forward night", time.Date(2026, 3, 29, 1, 30, 0, 0, time.FixedZone("CET", 3600)), Turn{11, at(t, loc, "2026-03-23 09:00"), at(t, loc, "2026-03-30 09:00"), "dina"}, 167},
		{"fall back night, second 02:30", time.Date(2026, 10, 25, 1, 30, 0, 0, time.UTC), Turn{41, at(t, loc, "2026-10-19 09:00"), at(t, loc, "2026-10-26 09:00"), "bjorn"}, 169},
		{"New Year", at(t, loc, "2027-01-01 00:00"), Turn{51, at(t, loc, "2026-12-28 09:00"), at(t, loc, "2027-01-04 09:00"), "dina"}, 168},
		{"after New Year", at(t, loc, "2027-01-04 09:00"), Turn{52, at(t, loc, "2027-01-04 09:00"), at(t, loc, "2027-01-11 09:00"), "ana"}, 168},
		{"before the anchor", at(t, loc, "2026-01-04 12:00"), Turn{-1, at(t, loc, "2025-12-29 09:00"), at(t, loc, "2026-01-05 09:00"), "dina"}, 168},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := r.TurnAt(tc.t)
			if d := cmp.Diff(tc.want, got, timeEqual); d != "" {
				t.Errorf("TurnAt(%v) (-want +got):\n%s", tc.t, d)
			}
			if h := got.End.Sub(got.Start).Hours(); h != tc.hours {
				t.Errorf("turn lasts %vh, want %vh", h, tc.hours)
			}
		})
	}
}

// TestMinuteByMinute checks OnCallAt and Schedule against the oracle at
// every minute of three windows: the spring and autumn DST changes of 2026
// in Europe/Oslo and New Year 2026→2027, with overrides and swaps.
func TestMinuteByMinute(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	windows := []struct{ name, from, to string }{
		{"spring DST", "2026-03-22 00:00", "2026-04-06 12:00"},
		{"autumn DST", "2026-10-18 00:00", "2026-11-02 12:00"},
		{"New Year", "2026-12-21 00:00", "2027-01-12 12:00"},
	}
	for _, c := range []struct {
		name    string
		changes Changes
	}{{"plain", Changes{}}, {"with changes", testChanges(t)}} {
		for _, w := range windows {
			t.Run(c.name+"/"+w.name, func(t *testing.T) {
				t.Parallel()
				from, to := at(t, loc, w.from), at(t, loc, w.to)
				sched := r.Schedule(c.changes, from, to)
				checkContiguous(t, sched, from, to)
				k := 0
				fails := 0
				for m := from; m.Before(to); m = m.Add(time.Minute) {
					want, week := oracle(loc, c.changes, m)
					for !m.Before(sched[k].End) {
						k++
					}
					got := r.OnCallAt(c.changes, m)
					turn := r.TurnAt(m)
					if got.Member != want || sched[k].Member != want || turn.Index != week {
						t.Errorf("%v: OnCallAt %q, Schedule %q, turn %d; oracle %q, turn %d",
							m.In(loc), got.Member, sched[k].Member, turn.Index, want, week)
						if fails++; fails > 5 {
							t.FailNow()
						}
					}
					// OnCallAt's whole shift, clipped to the window, is the
					// schedule's shift.
					got.Start = later(got.Start, from)
					if got.End.After(to) {
						got.End = to
					}
					if d := cmp.Diff(sched[k], got, timeEqual); d != "" {
						t.Fatalf("%v: OnCallAt vs Schedule (-sched +OnCallAt):\n%s", m.In(loc), d)
					}
				}
			})
		}
	}
}

func checkContiguous(t *testing.T, s []Shift, from, to time.Time) {
	t.Helper()
	if len(s) == 0 || !s[0].Start.Equal(from) || !s[len(s)-1].End.Equal(to) {
		t.Fatalf("schedule does not cover [%v, %v): %v", from, to, s)
	}
	for i := range s {
		if !s[i].End.After(s[i].Start) {
			t.Fatalf("empty shift %v", s[i])
		}
		if i > 0 && !s[i].Start.Equal(s[i-1].End) {
			t.Fatalf("gap or overlap between %v and %v", s[i-1], s[i])
		}
	}
}

func TestScheduleOverrideMidWeek(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	c := testChanges(t)
	got := r.Schedule(c, at(t, loc, "2026-03-23 09:00"), at(t, loc, "2026-04-06 09:00"))
	want := []Shift{
		{Member: "dina", Start: at(t, loc, "2026-03-23 09:00"), End: at(t, loc, "2026-03-25 12:00"), Source: SourceRota, Turn: 11},
		{Member: "chen", Start: at(t, loc, "2026-03-25 12:00"), End: at(t, loc, "2026-03-27 12:00"), Source: SourceOverride, Turn: 11, Ref: "o1"},
		{Member: "dina", Start: at(t, loc, "2026-03-27 12:00"), End: at(t, loc, "2026-03-30 09:00"), Source: SourceRota, Turn: 11},
		// The override does not shift the order: ana's turn follows.
		{Member: "ana", Start: at(t, loc, "2026-03-30 09:00"), End: at(t, loc, "2026-04-06 09:00"), Source: SourceRota, Turn: 12},
	}
	if d := cmp.Diff(want, got, timeEqual); d != "" {
		t.Errorf("Schedule (-want +got):\n%s", d)
	}
}

func TestScheduleOverrideAcrossHandover(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	c := testChanges(t)
	got := r.Schedule(c, at(t, loc, "2026-10-25 00:00"), at(t, loc, "2026-10-27 00:00"))
	want := []Shift{
		{Member: "bjorn", Start: at(t, loc, "2026-10-25 00:00"), End: at(t, loc, "2026-10-25 18:00"), Source: SourceRota, Turn: 41},
		{Member: "ana", Start: at(t, loc, "2026-10-25 18:00"), End: at(t, loc, "2026-10-26 18:00"), Source: SourceOverride, Turn: 41, Ref: "o2"},
		{Member: "chen", Start: at(t, loc, "2026-10-26 18:00"), End: at(t, loc, "2026-10-27 00:00"), Source: SourceRota, Turn: 42},
	}
	if d := cmp.Diff(want, got, timeEqual); d != "" {
		t.Errorf("Schedule (-want +got):\n%s", d)
	}
	if got, want := r.OnCallAt(c, at(t, loc, "2026-10-26 10:00")), want[1]; !cmp.Equal(got, want, timeEqual) {
		t.Errorf("OnCallAt = %+v, want the whole override %+v", got, want)
	}
	// An override that is later in the slice wins where they overlap.
	c.Overrides = append(c.Overrides, Override{ID: "o3", Member: "dina", Start: at(t, loc, "2026-10-26 08:00"), End: at(t, loc, "2026-10-26 10:00")})
	if got := r.OnCallAt(c, at(t, loc, "2026-10-26 09:30")); got.Member != "dina" || got.Ref != "o3" {
		t.Errorf("OnCallAt under two overrides = %+v, want dina (o3)", got)
	}
}

func TestSwap(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	c := testChanges(t)
	got := r.Schedule(c, at(t, loc, "2026-12-28 09:00"), at(t, loc, "2027-01-25 09:00"))
	want := []Shift{
		{Member: "ana", Start: at(t, loc, "2026-12-28 09:00"), End: at(t, loc, "2027-01-04 09:00"), Source: SourceSwap, Turn: 51, Ref: "s1"},
		{Member: "dina", Start: at(t, loc, "2027-01-04 09:00"), End: at(t, loc, "2027-01-11 09:00"), Source: SourceSwap, Turn: 52, Ref: "s1"},
		// The declined swap s2 changes nothing.
		{Member: "bjorn", Start: at(t, loc, "2027-01-11 09:00"), End: at(t, loc, "2027-01-18 09:00"), Source: SourceRota, Turn: 53},
		{Member: "chen", Start: at(t, loc, "2027-01-18 09:00"), End: at(t, loc, "2027-01-25 09:00"), Source: SourceRota, Turn: 54},
	}
	if d := cmp.Diff(want, got, timeEqual); d != "" {
		t.Errorf("Schedule (-want +got):\n%s", d)
	}
	// Chained swaps apply to the holders left by the earlier ones; a swap
	// naming the wrong holders is stale, ignored and reported.
	c.Swaps = append(c.Swaps,
		Swap{ID: "s3", Requester: "ana", Counterpart: "bjorn", TurnA: 51, TurnB: 53, State: SwapAccepted},
		Swap{ID: "s4", Requester: "dina", Counterpart: "chen", TurnA: 51, TurnB: 54, State: SwapAccepted},
	)
	if got := r.OnCallAt(c, at(t, loc, "2026-12-30 12:00")); got.Member != "bjorn" || got.Ref != "s3" {
		t.Errorf("after chained swap: %+v, want bjorn (s3)", got)
	}
	if got := r.OnCallAt(c, at(t, loc, "2027-01-12 12:00")); got.Member != "ana" {
		t.Errorf("after chained swap: %+v, want ana", got)
	}
	err := r.CheckChanges(c)
	if !errors.Is(err, ErrStaleSwap) || !strings.Contains(err.Error(), `swaps[3] "s4"`) {
		t.Errorf("CheckChanges = %v, want stale swap s4", err)
	}
}

func TestNext(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	c := testChanges(t)
	cases := []struct {
		name string
		t    time.Time
		who  string
		when time.Time
	}{
		{"override comes next", at(t, loc, "2026-03-24 10:00"), "chen", at(t, loc, "2026-03-25 12:00")},
		{"back after override", at(t, loc, "2026-03-26 10:00"), "dina", at(t, loc, "2026-03-27 12:00")},
		{"next turn over DST", at(t, loc, "2026-03-28 10:00"), "ana", at(t, loc, "2026-03-30 09:00")},
		{"swapped turn", at(t, loc, "2026-12-25 10:00"), "ana", at(t, loc, "2026-12-28 09:00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := r.Next(c, tc.t)
			if got.Member != tc.who || !got.Start.Equal(tc.when) {
				t.Errorf("Next(%v) = %s from %v, want %s from %v", tc.t, got.Member, got.Start, tc.who, tc.when)
			}
		})
	}
}

func TestGaps(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	c := testChanges(t)
	c.Unavailable = []Unavailability{
		// chen is on call by override but unreachable for six hours.
		{Member: "chen", Start: at(t, loc, "2026-03-26 00:00"), End: at(t, loc, "2026-03-26 06:00")},
		// dina is unavailable in her own turn; two touching spans merge.
		{Member: "dina", Start: at(t, loc, "2026-03-28 10:00"), End: at(t, loc, "2026-03-28 12:00")},
		{Member: "dina", Start: at(t, loc, "2026-03-28 12:00"), End: at(t, loc, "2026-03-28 14:00")},
		// dina is unavailable while chen covers her: no gap.
		{Member: "dina", Start: at(t, loc, "2026-03-25 13:00"), End: at(t, loc, "2026-03-26 13:00")},
		// ana is unavailable outside her turns: no gap.
		{Member: "ana", Start: at(t, loc, "2026-03-24 00:00"), End: at(t, loc, "2026-03-25 00:00")},
		// dina's unavailability runs past her turn's end: clipped.
		{Member: "dina", Start: at(t, loc, "2026-03-30 08:00"), End: at(t, loc, "2026-03-30 12:00")},
	}
	got := r.Gaps(c, at(t, loc, "2026-03-23 09:00"), at(t, loc, "2026-04-06 09:00"))
	want := []Gap{
		{Start: at(t, loc, "2026-03-26 00:00"), End: at(t, loc, "2026-03-26 06:00"), Member: "chen", Source: SourceOverride, Ref: "o1"},
		{Start: at(t, loc, "2026-03-28 10:00"), End: at(t, loc, "2026-03-28 14:00"), Member: "dina", Source: SourceRota},
		{Start: at(t, loc, "2026-03-30 08:00"), End: at(t, loc, "2026-03-30 09:00"), Member: "dina", Source: SourceRota},
	}
	if d := cmp.Diff(want, got, timeEqual); d != "" {
		t.Errorf("Gaps (-want +got):\n%s", d)
	}
}

func TestSpecValidate(t *testing.T) {
	t.Parallel()
	valid := func() Spec { return Spec{Name: "ukevakt", Members: members, Start: "2026-01-05"} }
	cases := []struct {
		name     string
		mutate   func(*Spec)
		sentinel error
		text     string
	}{
		{"no name", func(s *Spec) { s.Name = "" }, ErrRequired, `rota "": name "": required`},
		{"no members", func(s *Spec) { s.Members = nil }, ErrRequired, `rota "ukevakt": members "": required`},
		{"duplicate member", func(s *Spec) { s.Members = []string{"ana", "bjorn", "ana"} }, ErrDuplicate, `rota "ukevakt": members[2] "ana": duplicate`},
		{"bad start", func(s *Spec) { s.Start = "5 Jan 2026" }, ErrInvalidDate, `rota "ukevakt": start "5 Jan 2026": invalid date`},
		{"bad every", func(s *Spec) { s.Every = "1m" }, ErrInvalidEvery, `rota "ukevakt": every "1m": invalid turn length`},
		{"zero every", func(s *Spec) { s.Every = "0d" }, ErrInvalidEvery, `rota "ukevakt": every "0d": invalid turn length`},
		{"bad weekday", func(s *Spec) { s.HandoverWeekday = "mandag" }, ErrInvalidWeekday, `rota "ukevakt": handover_weekday "mandag": invalid weekday`},
		{"bad time", func(s *Spec) { s.HandoverTime = "9am" }, ErrInvalidTime, `rota "ukevakt": handover_time "9am": invalid time`},
		{"24:00 handover", func(s *Spec) { s.HandoverTime = "24:00" }, ErrInvalidTime, `rota "ukevakt": handover_time "24:00": invalid time`},
		{"bad zone", func(s *Spec) { s.TimeZone = "Europe/Olso" }, ErrUnknownZone, `rota "ukevakt": time_zone "Europe/Olso": unknown time zone`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := valid()
			tc.mutate(&s)
			err := s.Validate()
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("Validate() = %v, want %q wrapping %v", err, tc.text, tc.sentinel)
			}
		})
	}
	if err := valid().Validate(); err != nil {
		t.Errorf("valid spec: %v", err)
	}
	if err := (Member{Name: "Ana", TimeZone: "Mars/Olympus"}).Validate(); !errors.Is(err, ErrRequired) || !errors.Is(err, ErrUnknownZone) {
		t.Errorf("Member.Validate = %v", err)
	}
}

func TestEveryDaysAndAnchorWeekday(t *testing.T) {
	t.Parallel()
	loc := oslo(t)
	// Start on a Thursday with a Monday handover: the first turn starts on
	// the following Monday. Three-day turns hand over at 08:00.
	r, err := New(Spec{Name: "short", Members: []string{"a", "b"}, Start: "2026-03-26", Every: "3d", HandoverTime: "08:00"})
	if err != nil {
		t.Fatal(err)
	}
	got := []Turn{r.Turn(0), r.Turn(1), r.TurnAt(at(t, loc, "2026-04-05 07:59"))}
	want := []Turn{
		{0, at(t, loc, "2026-03-30 08:00"), at(t, loc, "2026-04-02 08:00"), "a"},
		{1, at(t, loc, "2026-04-02 08:00"), at(t, loc, "2026-04-05 08:00"), "b"},
		{1, at(t, loc, "2026-04-02 08:00"), at(t, loc, "2026-04-05 08:00"), "b"},
	}
	if d := cmp.Diff(want, got, timeEqual); d != "" {
		t.Errorf("turns (-want +got):\n%s", d)
	}
	if s := r.Spec(); s.Every != "3d" || s.TimeZone != DefaultTimeZone || s.HandoverWeekday != DefaultHandoverWeekday {
		t.Errorf("Spec() = %+v, want defaults applied", s)
	}
}

func TestCheckChanges(t *testing.T) {
	t.Parallel()
	r := weekly(t)
	loc := oslo(t)
	if err := r.CheckChanges(testChanges(t)); err != nil {
		t.Errorf("CheckChanges(valid) = %v", err)
	}
	c := Changes{
		Overrides:   []Override{{ID: "bad", Member: "ana", Start: at(t, loc, "2026-03-25 12:00"), End: at(t, loc, "2026-03-25 12:00")}},
		Unavailable: []Unavailability{{Member: "ana", Start: at(t, loc, "2026-03-25 12:00"), End: at(t, loc, "2026-03-24 12:00")}},
		Swaps:       []Swap{{ID: "x", State: "maybe"}},
	}
	err := r.CheckChanges(c)
	for _, want := range []error{ErrEmptySpan, ErrInvalidState} {
		if !errors.Is(err, want) {
			t.Errorf("CheckChanges = %v, want %v", err, want)
		}
	}
	// The empty override is ignored by Schedule.
	if got := r.OnCallAt(c, at(t, loc, "2026-03-25 12:00")); got.Member != "dina" {
		t.Errorf("OnCallAt = %+v, want dina", got)
	}
}

type openFunc func(time.Time) bool

func (f openFunc) IsOpen(t time.Time) bool { return f(t) }

func TestInCover(t *testing.T) {
	t.Parallel()
	cover := openFunc(func(t time.Time) bool { return t.Hour() >= 8 })
	if !InCover(cover, time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)) || InCover(cover, time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC)) {
		t.Error("InCover does not follow the cover calendar")
	}
}
