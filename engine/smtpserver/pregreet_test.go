package smtpserver

import (
	"net/netip"
	"testing"
	"time"
)

func TestPassCache(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")
	p := newPassCache(time.Hour, 2)
	if p.has(a, t0) {
		t.Fatal("empty cache has a")
	}
	p.add(a, t0)
	if !p.has(a, t0.Add(59*time.Minute)) || p.has(a, t0.Add(time.Hour)) {
		t.Fatal("a should pass for exactly the TTL")
	}
	// Full: expired entries go first, then everything.
	p.add(a, t0)
	p.add(b, t0.Add(30*time.Minute))
	p.add(c, t0.Add(70*time.Minute)) // a expired, b not: a is dropped
	if len(p.m) != 2 || !p.has(b, t0.Add(70*time.Minute)) || !p.has(c, t0.Add(70*time.Minute)) {
		t.Fatalf("after dropping the expired entry: %v", p.m)
	}
	p.add(a, t0.Add(71*time.Minute)) // none expired: emptied, then a
	if len(p.m) != 1 || !p.has(a, t0.Add(71*time.Minute)) {
		t.Fatalf("a full cache with nothing expired should be emptied: %v", p.m)
	}
	if len(p.m) > 2 {
		t.Fatalf("cache grew past its bound: %d", len(p.m))
	}
	var none *passCache = newPassCache(0, 10)
	none.add(a, t0)
	if none.has(a, t0) {
		t.Fatal("TTL 0 remembers nothing")
	}
}
