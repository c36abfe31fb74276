package greylist_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/greylist"
)

func TestNetwork(t *testing.T) {
	t.Parallel()
	c := greylist.DefaultConfig()
	for ip, want := range map[string]string{
		"192.0.2.77":           "192.0.2.0/24",
		"::ffff:192.0.2.77":    "192.0.2.0/24",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
	} {
		if got := c.Network(netip.MustParseAddr(ip)); got != want {
			t.Errorf("Network(%s) = %s, want %s", ip, got, want)
		}
	}
	k := c.KeyFor(netip.MustParseAddr("192.0.2.7"), "A@B.example", "C@uni.example")
	if k != (greylist.Key{Net: "192.0.2.0/24", Sender: "a@b.example", Rcpt: "c@uni.example"}) {
		t.Errorf("KeyFor = %+v", k)
	}
}

// TestDecide walks one triplet through its life, second by second where it
// matters: 60 s delay (1000 s listed), 2-day window, 35-day expiry.
func TestDecide(t *testing.T) {
	t.Parallel()
	c := greylist.DefaultConfig()
	k := greylist.Key{Net: "192.0.2.0/24", Sender: "a@b.example", Rcpt: "c@uni.example"}
	t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)

	pass, why, tr, wait := c.Decide(nil, k, t0, false)
	if pass || why != greylist.ReasonNew || wait != 60*time.Second || !tr.FirstSeen.Equal(t0) {
		t.Fatalf("new: %v %v %+v %v", pass, why, tr, wait)
	}
	for s := 1; s < 60; s++ {
		p, w, _, rest := c.Decide(&tr, k, t0.Add(time.Duration(s)*time.Second), false)
		if p || w != greylist.ReasonEarly || rest != time.Duration(60-s)*time.Second {
			t.Fatalf("at %ds: %v %v %v", s, p, w, rest)
		}
	}
	pass, why, passed, _ := c.Decide(&tr, k, t0.Add(60*time.Second), false)
	if !pass || why != greylist.ReasonRetried || !passed.PassedAt.Equal(t0.Add(60*time.Second)) {
		t.Fatalf("at 60s: %v %v %+v", pass, why, passed)
	}
	// Listed: the same retry is early until 1000 s.
	if p, w, _, rest := c.Decide(&tr, k, t0.Add(999*time.Second), true); p || w != greylist.ReasonEarly || rest != time.Second {
		t.Fatalf("listed at 999s: %v %v %v", p, w, rest)
	}
	if p, _, _, _ := c.Decide(&tr, k, t0.Add(1000*time.Second), true); !p {
		t.Fatal("listed at 1000s: deferred")
	}
	// Known triplets pass, and are kept alive, until unused for the expiry.
	last := t0.Add(60 * time.Second)
	if p, w, next, _ := c.Decide(&passed, k, last.Add(35*24*time.Hour), false); !p || w != greylist.ReasonKnown || !next.LastSeen.Equal(last.Add(35*24*time.Hour)) {
		t.Fatalf("known at expiry: %v %v", p, w)
	}
	if p, w, _, _ := c.Decide(&passed, k, last.Add(35*24*time.Hour+time.Second), false); p || w != greylist.ReasonNew {
		t.Fatalf("after expiry: %v %v", p, w)
	}
	// A retry after the 2-day window starts over.
	if p, w, next, _ := c.Decide(&tr, k, t0.Add(48*time.Hour+time.Second), false); p || w != greylist.ReasonWindowExpired || !next.FirstSeen.Equal(t0.Add(48*time.Hour+time.Second)) {
		t.Fatalf("after window: %v %v", p, w)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	if err := greylist.DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := greylist.DefaultConfig()
	c.IPv4Prefix = 33
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), `smtp.greylist.ipv4_prefix: "33"`) {
		t.Fatalf("err = %v", err)
	}
	c = greylist.DefaultConfig()
	c.RetryWindow = time.Minute
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "smtp.greylist.retry_window") {
		t.Fatalf("err = %v", err)
	}
}
