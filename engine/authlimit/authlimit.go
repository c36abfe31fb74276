// Package authlimit owns the throttling of password guessing over SMTP
// AUTH across sessions and engine nodes, after Postfix's anvil
// (smtpd_client_auth_rate_limit): attempts are counted per client network
// and per account in the shared database, so N engine nodes allow the
// configured rate, not N times it. An attempt is counted before its
// password is checked (a conditional increment that fails once the rate is
// reached, so parallel attempts cannot overshoot), and given back when the
// password was right: what the limit bounds is failed guesses. Over the
// rate the client gets a temporary refusal (454 4.7.0, RFC 4954 §6) and
// its password is not checked at all.
//
// Rates are over a sliding window, approximated from two fixed buckets (the
// current one and the previous one weighted by how much of it still lies
// within the window). A client network that has signed in to an account
// successfully is "known" to that account for KnownClientTTL and is not
// held back by the account's limit (only by its own), so a guessing attack
// on an account does not lock its owner out.
package authlimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// Kinds of counters.
const (
	KindClient  = "client"  // key: the client's network (IPv4 /32, IPv6 /64)
	KindAccount = "account" // key: the account name as given, lower-case
	KindKnown   = "known"   // key: account + " " + client network; a success
)

// Store keeps the counters; internal/store/enginestore implements it on
// engine_auth_attempts.
type Store interface {
	// AuthCount returns the count of (kind, key) in the bucket starting at
	// bucket (0 when there is none).
	AuthCount(ctx context.Context, kind, key string, bucket time.Time) (int, error)
	// AuthIncrement adds one to (kind, key, bucket) if the count is below
	// limit, atomically; it reports whether it did.
	AuthIncrement(ctx context.Context, kind, key string, bucket time.Time, limit int, at time.Time) (bool, error)
	// AuthDecrement takes one off (kind, key, bucket), never below zero.
	AuthDecrement(ctx context.Context, kind, key string, bucket time.Time) error
	// AuthTouched reports whether some bucket of (kind, key) was
	// incremented at or after since.
	AuthTouched(ctx context.Context, kind, key string, since time.Time) (bool, error)
	// AuthPrune deletes the buckets of kind last incremented before
	// before.
	AuthPrune(ctx context.Context, kind string, before time.Time) (int64, error)
}

// Config is the AUTH rate limits (smtp.limits.auth_*).
type Config struct {
	// ClientFailures failed attempts per ClientWindow from one client
	// network; 0 disables the limit.
	ClientFailures int
	ClientWindow   time.Duration
	// AccountFailures failed attempts per AccountWindow at one account,
	// from client networks not known to it; 0 disables the limit.
	AccountFailures int
	AccountWindow   time.Duration
	// KnownClientTTL is how long a successful sign-in makes its client
	// network known to the account; 0: never.
	KnownClientTTL time.Duration
}

// Validate checks c; keys are relative to smtp.limits.
func (c Config) Validate() error {
	var errs []error
	if c.ClientFailures < 0 {
		errs = append(errs, validate.Field("auth_client_failures", c.ClientFailures, "must not be negative"))
	}
	if c.AccountFailures < 0 {
		errs = append(errs, validate.Field("auth_account_failures", c.AccountFailures, "must not be negative"))
	}
	if c.ClientFailures > 0 && c.ClientWindow < time.Second {
		errs = append(errs, validate.Field("auth_client_window", c.ClientWindow, "must be at least 1s"))
	}
	if c.AccountFailures > 0 && c.AccountWindow < time.Second {
		errs = append(errs, validate.Field("auth_account_window", c.AccountWindow, "must be at least 1s"))
	}
	if c.KnownClientTTL < 0 {
		errs = append(errs, validate.Field("auth_known_client_ttl", c.KnownClientTTL, "must not be negative"))
	}
	return errors.Join(errs...)
}

// Limiter applies Config on a Store. A nil *Limiter allows everything.
//
// A refusal is also remembered in memory for the time the rate takes to
// open again by one attempt (window / limit): a client over its rate is
// refused by this node without asking the database again, so that a flood
// of attempts does not become a flood of database writes.
type Limiter struct {
	c  Config
	st Store

	mu      sync.Mutex
	refused map[string]time.Time // kind, key → refused until
}

// maxRemembered bounds the remembered refusals (a spray of addresses).
const maxRemembered = 100_000

func (l *Limiter) refusedLocally(kind, key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	until, ok := l.refused[kind+" "+key]
	if ok && !now.Before(until) {
		delete(l.refused, kind+" "+key)
		return false
	}
	return ok
}

func (l *Limiter) forget(kind, key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.refused, kind+" "+key)
}

func (l *Limiter) remember(kind, key string, until time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.refused == nil || len(l.refused) >= maxRemembered {
		l.refused = map[string]time.Time{}
	}
	l.refused[kind+" "+key] = until
}

// New returns a Limiter, or nil when both limits are off.
func New(c Config, st Store) *Limiter {
	if st == nil || (c.ClientFailures <= 0 && c.AccountFailures <= 0) {
		return nil
	}
	return &Limiter{c: c, st: st}
}

// Why a Reserve was refused.
type Refusal string

// The refusals.
const (
	RefusedClient  Refusal = "client"
	RefusedAccount Refusal = "account"
)

// Ticket is one counted attempt; Succeeded gives it back.
type Ticket struct {
	l                      *Limiter
	client, account        string
	clientAt, accountAt    time.Time
	clientOK, accountCount bool
}

// Network is the key of a client address: IPv4 as is, IPv6 by its /64
// (what one subscriber is given, RFC 6177).
func Network(ip netip.Addr) string {
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		return p.String()
	}
	return ip.String()
}

func bucketOf(now time.Time, w time.Duration) time.Time {
	return time.UnixMicro(now.UnixMicro() - now.UnixMicro()%w.Microseconds())
}

// reserve counts one attempt at (kind, key) if the sliding-window count
// is below limit.
func (l *Limiter) reserve(ctx context.Context, kind, key string, limit int, w time.Duration, now time.Time) (ok bool, bucket time.Time, err error) {
	cur := bucketOf(now, w)
	if l.refusedLocally(kind, key, now) {
		return false, cur, nil
	}
	defer func() {
		if err == nil && !ok {
			l.remember(kind, key, now.Add(max(w/time.Duration(limit), time.Second)))
		}
	}()
	prev, err := l.st.AuthCount(ctx, kind, key, cur.Add(-w))
	if err != nil {
		return false, cur, err
	}
	// The previous bucket's attempts still inside the window, assuming
	// they were spread evenly over it.
	left := 1 - float64(now.Sub(cur))/float64(w)
	allowed := limit - int(float64(prev)*left)
	if allowed <= 0 {
		return false, cur, nil
	}
	ok, err = l.st.AuthIncrement(ctx, kind, key, cur, allowed, now)
	return ok, cur, err
}

// Reserve counts one AUTH attempt by client ip at account (the user name as
// given). It returns a Ticket to give back on success, or the limit that
// refused it; an error means the database did not answer (the caller
// answers with a temporary failure).
func (l *Limiter) Reserve(ctx context.Context, ip netip.Addr, account string, now time.Time) (*Ticket, Refusal, error) {
	if l == nil {
		return nil, "", nil
	}
	t := &Ticket{l: l, client: Network(ip), account: strings.ToLower(strings.TrimSpace(account))}
	if l.c.ClientFailures > 0 {
		ok, at, err := l.reserve(ctx, KindClient, t.client, l.c.ClientFailures, l.c.ClientWindow, now)
		if err != nil {
			return nil, "", fmt.Errorf("auth limit: %w", err)
		}
		if !ok {
			return nil, RefusedClient, nil
		}
		t.clientOK, t.clientAt = true, at
	}
	if l.c.AccountFailures > 0 && t.account != "" {
		known := false
		if l.c.KnownClientTTL > 0 {
			var err error
			if known, err = l.st.AuthTouched(ctx, KindKnown, t.account+" "+t.client, now.Add(-l.c.KnownClientTTL)); err != nil {
				return nil, "", fmt.Errorf("auth limit: %w", err)
			}
		}
		if !known {
			ok, at, err := l.reserve(ctx, KindAccount, t.account, l.c.AccountFailures, l.c.AccountWindow, now)
			if err != nil {
				return nil, "", fmt.Errorf("auth limit: %w", err)
			}
			if !ok {
				// The client did make an attempt: it stays counted.
				return nil, RefusedAccount, nil
			}
			t.accountCount, t.accountAt = true, at
		}
	}
	return t, "", nil
}

// Cancel gives the attempt back without a verdict (the password could not
// be checked, e.g. the hashing budget was full).
func (t *Ticket) Cancel(ctx context.Context) error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.clientOK {
		errs = append(errs, t.l.st.AuthDecrement(ctx, KindClient, t.client, t.clientAt))
		t.l.forget(KindClient, t.client) // the attempt given back is room again
	}
	if t.accountCount {
		errs = append(errs, t.l.st.AuthDecrement(ctx, KindAccount, t.account, t.accountAt))
		t.l.forget(KindAccount, t.account)
	}
	return errors.Join(errs...)
}

// Succeeded gives the attempt back (it was not a failed guess) and makes
// the client network known to the account for KnownClientTTL.
func (t *Ticket) Succeeded(ctx context.Context, account string, now time.Time) error {
	if t == nil {
		return nil
	}
	err := t.Cancel(ctx)
	if t.l.c.KnownClientTTL > 0 {
		// One row per account (as given and as resolved) and network, in
		// one bucket; each success touches it, and Prune forgets it once
		// untouched for the TTL.
		for _, a := range uniq(t.account, strings.ToLower(account)) {
			if _, ierr := t.l.st.AuthIncrement(ctx, KindKnown, a+" "+t.client, time.Unix(0, 0), math.MaxInt32, now); ierr != nil {
				err = errors.Join(err, ierr)
			}
		}
	}
	return err
}

func uniq(a, b string) []string {
	if a == b || b == "" {
		return []string{a}
	}
	if a == "" {
		return []string{b}
	}
	return []string{a, b}
}

// Prune forgets buckets no window looks at any more and known clients not
// seen within KnownClientTTL; the engine calls it hourly.
func (l *Limiter) Prune(ctx context.Context, now time.Time) (int64, error) {
	if l == nil {
		return 0, nil
	}
	var total int64
	var errs []error
	for _, k := range []struct {
		kind string
		keep time.Duration
	}{{KindClient, 2 * l.c.ClientWindow}, {KindAccount, 2 * l.c.AccountWindow}, {KindKnown, l.c.KnownClientTTL}} {
		n, err := l.st.AuthPrune(ctx, k.kind, now.Add(-k.keep))
		total += n
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}
