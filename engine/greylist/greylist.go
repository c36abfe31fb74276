// Package greylist owns greylisting (the Swedish MX layer of DOMAIN.md,
// after postgrey): a triplet of client network (/24 for IPv4, /64 for IPv6),
// sender and recipient is deferred with a temporary failure (RFC 5321
// §4.5.4.1 expects the client to retry) until it retries after the delay;
// a longer delay applies to a client on a DNS blocklist; an attempt outside
// the retry window starts over; unused triplets expire; a client network
// that passes N times is whitelisted automatically. The decision is a pure
// function (Decide); the state lives behind Store in the database, so
// several engine nodes share it.
package greylist

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// Config is the greylisting configuration (key smtp.greylist).
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Delay is how long a new triplet must wait before a retry passes.
	Delay time.Duration `yaml:"delay"`
	// ListedDelay replaces Delay for a client on a DNS blocklist.
	ListedDelay time.Duration `yaml:"listed_delay"`
	// RetryWindow is how long after the first attempt a retry still counts;
	// later, the triplet starts over.
	RetryWindow time.Duration `yaml:"retry_window"`
	// Expiry forgets passed triplets unused for this long.
	Expiry time.Duration `yaml:"expiry"`
	// AutoWhitelistAfter whitelists a client network after this many passed
	// deliveries (0 disables).
	AutoWhitelistAfter int `yaml:"auto_whitelist_after"`
	IPv4Prefix         int `yaml:"ipv4_prefix"`
	IPv6Prefix         int `yaml:"ipv6_prefix"`
}

// DefaultConfig: delay 60 s (1000 s when listed) as at the Swedish
// university; postgrey's retry window of 2 days, expiry of 35 days and
// auto-whitelisting after 5 passes.
func DefaultConfig() Config {
	return Config{
		Enabled: true, Delay: 60 * time.Second, ListedDelay: 1000 * time.Second,
		RetryWindow: 48 * time.Hour, Expiry: 35 * 24 * time.Hour, AutoWhitelistAfter: 5,
		IPv4Prefix: 24, IPv6Prefix: 64,
	}
}

// Validate names the bad key under smtp.greylist and its value: the error
// is a *validate.Error in section smtp.
func (c Config) Validate() error {
	bad := func(key string, v any, msg string) error {
		return validate.Field("greylist."+key, v, msg).In("smtp")
	}
	switch {
	case c.Delay < 0:
		return bad("delay", c.Delay, "must not be negative")
	case c.ListedDelay < 0:
		return bad("listed_delay", c.ListedDelay, "must not be negative")
	case c.RetryWindow <= c.Delay || c.RetryWindow <= c.ListedDelay:
		return bad("retry_window", c.RetryWindow, "must be longer than delay and listed_delay")
	case c.Expiry <= 0:
		return bad("expiry", c.Expiry, "must be positive")
	case c.AutoWhitelistAfter < 0:
		return bad("auto_whitelist_after", c.AutoWhitelistAfter, "must not be negative")
	case c.IPv4Prefix < 8 || c.IPv4Prefix > 32:
		return bad("ipv4_prefix", c.IPv4Prefix, "must be in 8..32")
	case c.IPv6Prefix < 16 || c.IPv6Prefix > 128:
		return bad("ipv6_prefix", c.IPv6Prefix, "must be in 16..128")
	}
	return nil
}

// Key is a greylisting triplet.
type Key struct {
	Net    string // client network, e.g. 192.0.2.0/24
	Sender string // lower-cased envelope sender, "" for the null path
	Rcpt   string // lower-cased envelope recipient
}

// Network is the client's network at the configured prefix length.
func (c Config) Network(ip netip.Addr) string {
	ip = ip.Unmap()
	bits := c.IPv6Prefix
	if ip.Is4() {
		bits = c.IPv4Prefix
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return ip.String()
	}
	return p.String()
}

// KeyFor builds the triplet for a client, sender and recipient.
func (c Config) KeyFor(ip netip.Addr, sender, rcpt string) Key {
	return Key{Net: c.Network(ip), Sender: strings.ToLower(sender), Rcpt: strings.ToLower(rcpt)}
}

// Triplet is the stored state of one triplet.
type Triplet struct {
	Key
	FirstSeen time.Time // first attempt of the current round
	LastSeen  time.Time
	PassedAt  time.Time // zero until the triplet passes
	Attempts  int       // deferred attempts in the current round
}

// Reason is the closed set of greylisting decisions (a metric label).
type Reason string

// The reasons.
const (
	ReasonNew           Reason = "new"            // unknown triplet: deferred
	ReasonEarly         Reason = "early"          // retried before the delay: deferred
	ReasonWindowExpired Reason = "window_expired" // retried after the window: deferred again
	ReasonRetried       Reason = "retried"        // retried after the delay: passes
	ReasonKnown         Reason = "known"          // triplet passed before: passes
	ReasonAutoWhitelist Reason = "auto_whitelist" // client network auto-whitelisted: passes
	ReasonDisabled      Reason = "disabled"
)

// Reasons lists every Reason, for metric initialisation.
var Reasons = []Reason{ReasonNew, ReasonEarly, ReasonWindowExpired, ReasonRetried, ReasonKnown, ReasonAutoWhitelist, ReasonDisabled}

// Decide is the greylisting decision for an attempt at now. t is the stored
// triplet (nil when unknown); listed selects the DNSBL delay. It returns
// whether the attempt passes, why, the triplet to store, and for a deferred
// attempt how long until a retry can pass.
func (c Config) Decide(t *Triplet, k Key, now time.Time, listed bool) (pass bool, why Reason, next Triplet, wait time.Duration) {
	delay := c.Delay
	if listed {
		delay = c.ListedDelay
	}
	if t == nil || (t.PassedAt.IsZero() && now.Sub(t.FirstSeen) > c.RetryWindow) || (!t.PassedAt.IsZero() && now.Sub(t.LastSeen) > c.Expiry) {
		why = ReasonNew
		if t != nil && t.PassedAt.IsZero() {
			why = ReasonWindowExpired
		}
		return false, why, Triplet{Key: k, FirstSeen: now, LastSeen: now, Attempts: 1}, delay
	}
	next = *t
	next.LastSeen = now
	if !t.PassedAt.IsZero() {
		return true, ReasonKnown, next, 0
	}
	if elapsed := now.Sub(t.FirstSeen); elapsed < delay {
		next.Attempts++
		return false, ReasonEarly, next, delay - elapsed
	}
	next.PassedAt = now
	return true, ReasonRetried, next, 0
}

// Store is the shared greylisting state.
type Store interface {
	// GreyTriplet returns the triplet, ok false when unknown.
	GreyTriplet(ctx context.Context, k Key) (t Triplet, ok bool, err error)
	// GreyPutTriplet creates or replaces a triplet.
	GreyPutTriplet(ctx context.Context, t Triplet) error
	// GreyClientPasses is how many deliveries from net have passed.
	GreyClientPasses(ctx context.Context, net string) (int, error)
	// GreyAddClientPass counts one passed delivery from net at now.
	GreyAddClientPass(ctx context.Context, net string, now time.Time) error
	// GreyExpire deletes passed triplets last seen before passedBefore,
	// unpassed triplets first seen before pendingBefore, and client counts
	// last updated before passedBefore; it returns how many rows went.
	GreyExpire(ctx context.Context, passedBefore, pendingBefore time.Time) (int64, error)
}

// Greylister applies Config over a Store.
type Greylister struct {
	Config Config
	Store  Store
}

// Result is the outcome of Check.
type Result struct {
	Pass   bool
	Reason Reason
	Wait   time.Duration // for a deferral: until a retry can pass
}

// Attempt is one delivery attempt of one recipient.
type Attempt struct {
	IP     netip.Addr // the client
	Sender string     // the envelope sender's key, "" for the null path
	Rcpt   string     // the envelope recipient's key
	Now    time.Time
	// Listed: the client is on a DNS blocklist, so listed_delay applies.
	Listed bool
}

// Check decides one attempt and records it.
func (g *Greylister) Check(ctx context.Context, a Attempt) (Result, error) {
	if !g.Config.Enabled {
		return Result{Pass: true, Reason: ReasonDisabled}, nil
	}
	now := a.Now
	k := g.Config.KeyFor(a.IP, a.Sender, a.Rcpt)
	if n := g.Config.AutoWhitelistAfter; n > 0 {
		passes, err := g.Store.GreyClientPasses(ctx, k.Net)
		if err != nil {
			return Result{}, fmt.Errorf("greylist client %s: %w", k.Net, err)
		}
		if passes >= n {
			return Result{Pass: true, Reason: ReasonAutoWhitelist}, nil
		}
	}
	t, ok, err := g.Store.GreyTriplet(ctx, k)
	if err != nil {
		return Result{}, fmt.Errorf("greylist lookup: %w", err)
	}
	var prev *Triplet
	if ok {
		prev = &t
	}
	pass, why, next, wait := g.Config.Decide(prev, k, now, a.Listed)
	// A passed triplet seen again within a minute need not be rewritten:
	// that saves a database write per recipient on busy servers.
	if !(why == ReasonKnown && now.Sub(t.LastSeen) < time.Minute) {
		if err := g.Store.GreyPutTriplet(ctx, next); err != nil {
			return Result{}, fmt.Errorf("greylist store: %w", err)
		}
	}
	return Result{Pass: pass, Reason: why, Wait: wait}, nil
}

// Passed records a delivery that passed greylisting, for automatic
// whitelisting of the client network.
func (g *Greylister) Passed(ctx context.Context, ip netip.Addr, now time.Time) error {
	if !g.Config.Enabled || g.Config.AutoWhitelistAfter == 0 {
		return nil
	}
	return g.Store.GreyAddClientPass(ctx, g.Config.Network(ip), now)
}

// Expire forgets old state; run it periodically on any one node.
func (g *Greylister) Expire(ctx context.Context, now time.Time) (int64, error) {
	return g.Store.GreyExpire(ctx, now.Add(-g.Config.Expiry), now.Add(-g.Config.RetryWindow))
}
