package abusedetect

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"
)

// KnownAddress is a client address an account logged in or submitted mail
// from: when it was first and last seen (event time).
type KnownAddress struct {
	Account   string
	Address   string
	FirstSeen time.Time
	LastSeen  time.Time
}

// History keeps the known addresses between runs, so that an import and the
// service judge "an address new for the account" alike. The collectors'
// store implements it.
type History interface {
	// LoadKnownAddresses returns every remembered address.
	LoadKnownAddresses(ctx context.Context) ([]KnownAddress, error)
	// SaveKnownAddresses stores addresses: a stored one keeps the
	// earlier FirstSeen and the later LastSeen.
	SaveKnownAddresses(ctx context.Context, addrs []KnownAddress) error
	// ForgetKnownAddresses removes addresses last seen before a time.
	ForgetKnownAddresses(ctx context.Context, before time.Time) (int64, error)
}

type knownEntry struct {
	first, last time.Time
}

// knownSet is the bounded memory of the addresses each account was seen
// from: at most per addresses per account (the least recently seen goes
// first), each forgotten ttl after it was last seen (event time).
type knownSet struct {
	per   int
	ttl   time.Duration
	m     map[string]map[string]*knownEntry
	dirty map[[2]string]bool
}

func newKnownSet(per int, ttl time.Duration) *knownSet {
	if per <= 0 {
		per = 32
	}
	if ttl <= 0 {
		ttl = 90 * 24 * time.Hour
	}
	return &knownSet{per: per, ttl: ttl, m: map[string]map[string]*knownEntry{}, dirty: map[[2]string]bool{}}
}

// known reports whether account had been seen at ip more than age before
// t (age 0: at all before t). The comparison is with the time first seen,
// so reading the same events again gives the same answers.
func (k *knownSet) known(account, ip string, t time.Time, age time.Duration) bool {
	e := k.m[account][ip]
	return e != nil && e.first.Add(age).Before(t) && t.Sub(e.last) <= k.ttl
}

// seen records account at ip at t.
func (k *knownSet) seen(account, ip string, t time.Time) {
	k.put(account, ip, t, t, true)
}

func (k *knownSet) put(account, ip string, first, last time.Time, dirty bool) {
	addrs := k.m[account]
	if addrs == nil {
		if len(k.m) >= maxKeys {
			return
		}
		addrs = map[string]*knownEntry{}
		account = strings.Clone(account) // kept: not a view of the line
		k.m[account] = addrs
	}
	e := addrs[ip]
	if e == nil {
		if len(addrs) >= k.per {
			// forget the least recently seen
			var oldest string
			var at time.Time
			for a, x := range addrs {
				if oldest == "" || x.last.Before(at) || (x.last.Equal(at) && a < oldest) {
					oldest, at = a, x.last
				}
			}
			delete(addrs, oldest)
			delete(k.dirty, [2]string{account, oldest})
		}
		e = &knownEntry{first: first, last: last}
		ip = strings.Clone(ip)
		addrs[ip] = e
	} else {
		changed := false
		if first.Before(e.first) {
			e.first, changed = first, true
		}
		if last.After(e.last) {
			e.last, changed = last, true
		}
		if !changed {
			return
		}
	}
	if dirty {
		k.dirty[[2]string{strings.Clone(account), strings.Clone(ip)}] = true
	}
}

// expire forgets addresses last seen more than ttl before t.
func (k *knownSet) expire(t time.Time) {
	for account, addrs := range k.m {
		for ip, e := range addrs {
			if t.Sub(e.last) > k.ttl {
				delete(addrs, ip)
				delete(k.dirty, [2]string{account, ip})
			}
		}
		if len(addrs) == 0 {
			delete(k.m, account)
		}
	}
}

// takeDirty returns the changed entries, oldest account first, and clears
// the set.
func (k *knownSet) takeDirty() []KnownAddress {
	out := make([]KnownAddress, 0, len(k.dirty))
	for key := range k.dirty {
		if e := k.m[key[0]][key[1]]; e != nil {
			out = append(out, KnownAddress{Account: key[0], Address: key[1], FirstSeen: e.first, LastSeen: e.last})
		}
	}
	clear(k.dirty)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Address < out[j].Address
	})
	return out
}

// syncEvery is the number of changed addresses after which Observe writes
// them to the History on its own.
const syncEvery = 1000

// Load reads the known addresses from the History (if any). Call it once,
// before the first event.
func (d *Detector) Load(ctx context.Context) error {
	if d.o.History == nil {
		return nil
	}
	addrs, err := d.o.History.LoadKnownAddresses(ctx)
	if err != nil {
		return fmt.Errorf("abuse: load known addresses: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, a := range addrs {
		d.known.put(a.Account, a.Address, a.FirstSeen, a.LastSeen, false)
	}
	return nil
}

// Sync writes the addresses learned since the last Sync to the History and
// forgets stored ones older than the TTL (by event time). The wiring calls
// it when it commits records and at the end of an import.
func (d *Detector) Sync(ctx context.Context) error {
	if d.o.History == nil {
		return nil
	}
	d.mu.Lock()
	dirty := d.known.takeDirty()
	last := d.last
	d.mu.Unlock()
	if len(dirty) > 0 {
		if err := d.o.History.SaveKnownAddresses(ctx, dirty); err != nil {
			d.mu.Lock()
			for _, a := range dirty {
				d.known.dirty[[2]string{a.Account, a.Address}] = true
			}
			d.mu.Unlock()
			return fmt.Errorf("abuse: save known addresses: %w", err)
		}
	}
	if !last.IsZero() {
		if _, err := d.o.History.ForgetKnownAddresses(ctx, last.Add(-d.known.ttl)); err != nil {
			return fmt.Errorf("abuse: forget known addresses: %w", err)
		}
	}
	return nil
}

// syncIfFull writes the changed addresses when there are many: dirty is
// how many there were as d.mu was let go (called without it held).
func (d *Detector) syncIfFull(ctx context.Context, dirty int) {
	if dirty < syncEvery || d.o.History == nil {
		return
	}
	if err := d.Sync(ctx); err != nil && d.o.OnError != nil {
		d.o.OnError(err)
	}
}
