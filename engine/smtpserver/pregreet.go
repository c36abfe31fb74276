package smtpserver

import (
	"net/netip"
	"sync"
	"time"
)

// maxPassed bounds the clients the pre-greet pass cache remembers; a flood
// from many addresses empties it rather than growing it.
const maxPassed = 100_000

// passCache remembers client addresses that waited for the greeting, until
// a TTL runs out, so that their later connections are greeted at once —
// what postscreen does with a client that passed its pre-greet test
// (postscreen_greet_ttl, one day by default). Without it every connection
// waits Limits.PregreetWait before its greeting, which bounds a client
// sending one message per connection to a few per second per session. A
// nil *passCache (TTL 0) remembers nothing.
type passCache struct {
	ttl time.Duration
	max int
	mu  sync.Mutex
	m   map[netip.Addr]time.Time // address → end of its pass
}

func newPassCache(ttl time.Duration, max int) *passCache {
	if ttl <= 0 || max <= 0 {
		return nil
	}
	return &passCache{ttl: ttl, max: max, m: make(map[netip.Addr]time.Time)}
}

// has reports whether ip passed within the TTL before now.
func (p *passCache) has(ip netip.Addr, now time.Time) bool {
	if p == nil || !ip.IsValid() {
		return false
	}
	p.mu.Lock()
	end, ok := p.m[ip]
	if ok && !now.Before(end) {
		delete(p.m, ip)
		ok = false
	}
	p.mu.Unlock()
	return ok
}

// add records that ip waited for its greeting at now. When the cache is
// full it first drops expired entries, then, if still full, everything:
// the worst a flood achieves is that clients wait for the greeting again.
func (p *passCache) add(ip netip.Addr, now time.Time) {
	if p == nil || !ip.IsValid() {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.m[ip]; !ok && len(p.m) >= p.max {
		for k, end := range p.m {
			if !now.Before(end) {
				delete(p.m, k)
			}
		}
		if len(p.m) >= p.max {
			clear(p.m)
		}
	}
	p.m[ip] = now.Add(p.ttl)
}
