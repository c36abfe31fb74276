package incident

import (
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

func testPolicy(t *testing.T) Policy {
	p, err := Compile(PolicySpec{Name: "mail", Rota: "r", Steps: []StepSpec{
		{After: 0, Notify: []string{"oncall"}},
		{After: 15 * time.Minute, Notify: []string{"next"}},
		{After: 30 * time.Minute, Notify: []string{"member:lead", "channel"}},
	}, Repeat: 1, RepeatAfter: 10 * time.Minute, OutOfHours: map[string]string{"critical": "page", "default": "hold", "info": "quiet"}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestEscalationTimeline walks a policy through both rounds.
func TestEscalationTimeline(t *testing.T) {
	p := testPolicy(t)
	t0 := time.Date(2026, 3, 31, 10, 0, 0, 0, time.UTC)
	st := State{RoundStart: t0}
	var got []time.Duration
	for {
		due, ok := p.Due(st)
		if !ok {
			break
		}
		got = append(got, due.Sub(t0))
		st = p.Advance(st)
	}
	want := []time.Duration{0, 15 * time.Minute, 30 * time.Minute, 40 * time.Minute, 55 * time.Minute, 70 * time.Minute}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("step %d at %v, want %v", i, got[i], want[i])
		}
	}
}

// TestOutOfHours checks page, hold and quiet minute by minute over a
// weekend and the DST change, against operator cover 08:30–20:30 on
// working days in Oslo.
func TestOutOfHours(t *testing.T) {
	cover, err := calendar.New(calendar.Spec{Name: "cover", TimeZone: "Europe/Oslo",
		Hours: []calendar.Hours{{Days: []string{"mon-fri"}, Start: "08:30", End: "20:30"}}})
	if err != nil {
		t.Fatal(err)
	}
	p := testPolicy(t)
	loc, _ := time.LoadLocation("Europe/Oslo")
	start := time.Date(2026, 3, 27, 20, 0, 0, 0, loc) // Friday evening before the DST change
	for m := 0; m < 4*24*60; m++ {
		now := start.Add(time.Duration(m) * time.Minute)
		st := State{RoundStart: now}
		open := cover.IsOpen(now)
		// critical: always at once.
		if _, at, ok := p.Next(st, "critical", cover); !ok || !at.Equal(now) {
			t.Fatalf("%s critical: %v %v", now, at, ok)
		}
		// warning: held until cover opens, later steps keep their delays.
		st2, at, ok := p.Next(st, "warning", cover)
		want := now
		if !open {
			want = cover.NextOpen(now)
		}
		if !ok || !at.Equal(want) {
			t.Fatalf("%s warning: %v, want %v", now, at, want)
		}
		if d, _ := p.Due(p.Advance(st2)); !d.Equal(want.Add(15 * time.Minute)) {
			t.Fatalf("%s warning step 2 at %v", now, d)
		}
		// info: quiet out of hours.
		if _, _, ok := p.Next(st, "info", cover); ok == !open {
			t.Fatalf("%s info: ok=%v in cover=%v", now, ok, open)
		}
	}
	if got := cover.NextOpen(time.Date(2026, 3, 28, 12, 0, 0, 0, loc)); !got.Equal(time.Date(2026, 3, 30, 8, 30, 0, 0, loc)) {
		t.Fatalf("Saturday holds until %v", got)
	}
}

func TestCompileErrors(t *testing.T) {
	for _, spec := range []PolicySpec{
		{Name: "", Rota: "r", Steps: []StepSpec{{Notify: []string{"oncall"}}}},
		{Name: "x", Rota: "r"},
		{Name: "x", Rota: "r", Steps: []StepSpec{{Notify: []string{"nobody"}}}},
		{Name: "x", Rota: "r", Steps: []StepSpec{{After: time.Hour, Notify: []string{"oncall"}}, {After: time.Minute, Notify: []string{"next"}}}},
		{Name: "x", Rota: "r", Steps: []StepSpec{{Notify: []string{"oncall"}}}, OutOfHours: map[string]string{"critical": "sometimes"}},
	} {
		if _, err := Compile(spec); err == nil {
			t.Errorf("Compile(%+v) accepted", spec)
		}
	}
}
