package incident

import (
	"testing"
	"time"
)

// TestEscalateNow: a hand escalation moves the round so that the step
// falls due now and the later steps keep their delays from it.
func TestEscalateNow(t *testing.T) {
	t.Parallel()
	p, err := Compile(PolicySpec{Name: "p", Rota: "r", Steps: []StepSpec{
		{After: 0, Notify: []string{"oncall"}}, {After: 15 * time.Minute, Notify: []string{"next"}}, {After: 45 * time.Minute, Notify: []string{"channel"}}}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 29, 0, 50, 0, 0, time.UTC)
	now := start.Add(4 * time.Minute) // step 2 was due at +15m
	st := p.EscalateNow(State{Step: 1, RoundStart: start}, now)
	if due, ok := p.Due(st); !ok || !due.Equal(now) {
		t.Fatalf("the escalated step is due %v, want now %v", due, now)
	}
	next, at, ok := p.Next(p.Advance(st), "critical", nil)
	if !ok || next.Step != 2 || !at.Equal(now.Add(30*time.Minute)) {
		t.Fatalf("the step after fires %v (%+v), want 30m after the hand escalation", at, next)
	}
	if out := p.EscalateNow(State{Step: 3, RoundStart: start}, now); !out.RoundStart.Equal(start) {
		t.Fatalf("an exhausted state moved: %+v", out)
	}
}

// TestTimeline: events and the page log merge oldest first; at the same
// instant the event comes before the messages it caused; a channel
// message is to the team channel.
func TestTimeline(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	got := Timeline(
		[]Event{{At: t0, Kind: "opened"}, {At: t0.Add(time.Minute), Kind: "paged"}, {At: t0.Add(3 * time.Minute), Kind: "acknowledged", Actor: "ana"}},
		[]Delivery{{At: t0.Add(time.Minute), Member: "ana", Channel: "email", Kind: "page", Result: "sent"},
			{At: t0.Add(time.Minute), Channel: "slack", Kind: "page", Result: "failed", Error: "x"},
			{At: t0.Add(2 * time.Minute), Member: "bjorn", Channel: "email", Kind: "page", Result: "sent"}})
	want := []string{"opened", "paged", "sent page ana email", "sent page team channel slack", "sent page bjorn email", "acknowledged"}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, e := range got {
		s := e.Kind
		if e.Delivery() {
			s += " " + e.Member + " " + e.Channel
		}
		if s != want[i] {
			t.Errorf("entry %d: %q, want %q", i, s, want[i])
		}
	}
}
