package sendlimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/sendlimit"
)

type sink struct {
	mu sync.Mutex
	ev []*event.Abuse
}

func (s *sink) Emit(e event.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ev = append(s.ev, e.(*event.Abuse))
}

// TestRateLimit checks content.abuse.max_messages (docs/configuration.md;
// runbook outgoing-spam-burst): an account sending 500 messages in a
// minute is deferred once over its limit, one alarm is raised per window,
// and the limit resets with the next window.
func TestRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ev := &sink{}
	reg := prometheus.NewRegistry()
	c, err := sendlimit.New(sendlimit.Options{Window: time.Minute, MaxMessages: 100, MaxRecipients: 500, Clock: clock, Events: ev, Registerer: reg, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	allowed := 0
	for i := range 500 {
		mu.Lock()
		now = now.Add(100 * time.Millisecond) // 500 messages in 50 s
		mu.Unlock()
		if c.Allow("phished@uni.example", "phished@uni.example", 1) {
			allowed++
		}
		_ = i
	}
	if allowed != 100 {
		t.Fatalf("allowed %d of 500", allowed)
	}
	if len(ev.ev) != 1 || ev.ev[0].What != event.AbuseRateLimited || ev.ev[0].User != "phished@uni.example" || ev.ev[0].Messages != 100 {
		t.Fatalf("events = %+v", ev.ev)
	}
	if v := testutil.ToFloat64(mustVec(t, reg)); v != 400 {
		t.Fatalf("rate_limited = %v", v)
	}
	if !c.Allow("other@uni.example", "other@uni.example", 1) {
		t.Fatal("another account throttled")
	}
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if !c.Allow("phished@uni.example", "phished@uni.example", 1) {
		t.Fatal("not reset in the next window")
	}
	// Recipients count too.
	if c.Allow("bulk@uni.example", "bulk@uni.example", 501) {
		t.Fatal("501 recipients allowed")
	}
	if !c.Allow("", "anon@ext.example", 1000) {
		t.Fatal("unauthenticated mail is not rate limited here")
	}
}

func TestQueueGate(t *testing.T) {
	t.Parallel()
	ev := &sink{}
	c, _ := sendlimit.New(sendlimit.Options{MassMailing: 20, Approved: []string{"news@uni.example"}, Events: ev})
	locked := func(_ context.Context, u string) bool { return u == "locked@uni.example" }
	g := c.QueueGate(locked)
	ctx := context.Background()
	for _, tc := range []struct {
		user, sender string
		rcpts        int
		want         string
	}{
		{"a@uni.example", "a@uni.example", 20, ""},
		{"a@uni.example", "a@uni.example", 21, sendlimit.KindMassMailingHeld},
		{"news@uni.example", "news@uni.example", 400, ""},
		{"locked@uni.example", "locked@uni.example", 1, sendlimit.KindAccountLocked},
		{"", "ext@ext.example", 100, ""},
	} {
		if got := g(ctx, tc.user, tc.sender, "Q", tc.rcpts); got != tc.want {
			t.Errorf("%+v: %q", tc, got)
		}
	}
	if len(ev.ev) != 2 || ev.ev[0].What != event.AbuseMassMailingHeld || ev.ev[0].Rcpts != 21 || ev.ev[1].What != event.AbuseAccountLocked {
		t.Fatalf("events = %+v", ev.ev)
	}
}

func mustVec(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == "postvakt_abuse_events_total" && m.GetLabel()[0].GetValue() == "rate_limited" {
				g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "v"})
				g.Set(m.GetCounter().GetValue())
				return g
			}
		}
	}
	t.Fatal("no postvakt_abuse_events_total{kind=rate_limited}")
	return nil
}

// TestSetLimits: a reload's new limits apply to the next message; the
// counts of the current window are kept; approved senders change too.
func TestSetLimits(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	c, err := sendlimit.New(sendlimit.Options{Window: time.Hour, MaxMessages: 10, MassMailing: 20, Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if !c.Allow("ola@uni.example", "ola@uni.example", 1) {
			t.Fatal("refused under the limit")
		}
	}
	if !c.MassMailing("list@uni.example", 50) {
		t.Fatal("a mass mailing by an unapproved sender is not held")
	}
	c.SetLimits(sendlimit.Limits{Window: time.Hour, MaxMessages: 6, MassMailing: 20, Approved: []string{"List@uni.example"}})
	if !c.Allow("ola@uni.example", "ola@uni.example", 1) {
		t.Fatal("the 6th message refused under the new limit of 6")
	}
	if c.Allow("ola@uni.example", "ola@uni.example", 1) {
		t.Fatal("the 7th message allowed: the window's count was lost, or the new limit not applied")
	}
	if c.MassMailing("list@uni.example", 50) {
		t.Fatal("a newly approved sender's mass mailing is held")
	}
}
