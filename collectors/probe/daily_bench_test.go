package probe

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// ninetyDays are three services' changes over 90 days: up, down three
// hours later, up again 20 minutes after that, every six hours (the status
// page's bars: docs/performance.md, "Web").
func ninetyDays(now time.Time) (from time.Time, cs []Change) {
	from = now.Add(-90 * 24 * time.Hour)
	for _, svc := range []string{"imap", "smtp", "webmail"} {
		for at := from; at.Before(now); at = at.Add(6 * time.Hour) {
			cs = append(cs, Change{Probe: svc, Service: svc, Status: StatusUp, At: at},
				Change{Probe: svc, Service: svc, Status: StatusDown, At: at.Add(3 * time.Hour)},
				Change{Probe: svc, Service: svc, Status: StatusUp, At: at.Add(200 * time.Minute)})
		}
	}
	return from, cs
}

// BenchmarkDaily90 computes the status page's 90 days of three services:
//
//	go test ./collectors/probe/ -run '^$' -bench BenchmarkDaily90 -benchtime 20x
func BenchmarkDaily90(b *testing.B) {
	loc, _ := time.LoadLocation("Europe/Oslo")
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	from, cs := ninetyDays(now)
	for b.Loop() {
		ByService(cs, nil, from, now, loc)
	}
}

// TestDailyIsAvailabilityPerDay: Daily, which sweeps each day over the
// changes that matter for it, gives what Availability gives for each day
// from all the changes (random changes of a balancer probe and two node
// probes, maintenance windows, days across a DST change).
func TestDailyIsAvailabilityPerDay(t *testing.T) {
	t.Parallel()
	loc, _ := time.LoadLocation("Europe/Oslo")
	rng := rand.New(rand.NewPCG(1, 2))
	from := time.Date(2026, 10, 20, 0, 0, 0, 0, loc)
	to := from.Add(20 * 24 * time.Hour)
	for round := range 20 {
		var cs []Change
		probes := []Change{{Probe: "lb", Service: "imap"}, {Probe: "n1", Service: "imap", Node: "n1"}, {Probe: "n2", Service: "imap", Node: "n2"}}
		if round%2 == 1 {
			probes = probes[1:] // nodes only
		}
		for range 60 {
			c := probes[rng.IntN(len(probes))]
			c.At = from.Add(time.Duration(rng.Int64N(int64(22*24*time.Hour))) - 24*time.Hour)
			c.Status = []Status{StatusUp, StatusDown}[rng.IntN(2)]
			cs = append(cs, c)
		}
		ws := []Window{{Services: []string{"imap"}, Start: from.Add(50 * time.Hour), End: from.Add(53 * time.Hour)},
			{Services: []string{"imap"}, Start: from.Add(300 * time.Hour)}}
		got := Daily("imap", cs, ws, from, to, loc)
		i := 0
		for d := from; d.Before(to); i++ {
			y, m, dd := d.In(loc).Date()
			next := time.Date(y, m, dd+1, 0, 0, 0, 0, loc)
			if next.After(to) {
				next = to
			}
			want := Availability("imap", cs, ws, d, next)
			if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", want) {
				t.Fatalf("round %d day %s:\n%+v\nwant\n%+v", round, d, got[i], want)
			}
			d = next
		}
		if i != len(got) {
			t.Fatalf("round %d: %d days, want %d", round, len(got), i)
		}
	}
}
