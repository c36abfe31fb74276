// Package membudget owns the engine's memory budgets: a weighted semaphore
// of bytes that callers reserve before they hold something whose size an
// untrusted client chooses (a message body, a password hash's working
// memory), so that the sum of what is held at once stays under the
// configured budget however many clients ask (docs/resources.md).
// Waiters are served in arrival order, so a large
// reservation is not starved by a stream of small ones, and every wait is
// bounded by its context: a caller that cannot get its bytes in time gets
// ErrBusy and answers the client with a temporary failure.
package membudget

import (
	"context"
	"errors"
	"sync"
)

// ErrBusy is returned when the budget cannot grant a reservation before the
// caller's context ends.
var ErrBusy = errors.New("membudget: budget exhausted, try again later")

// Budget is a weighted semaphore of bytes. The zero value is not usable;
// a nil *Budget grants everything at once (no limit).
//
// A budget made by NewSplit keeps a share for small reservations (a small
// message's commit, a spool's chunk), so that they do not queue behind
// large ones (a 25 MB message waiting for room): reservations up to
// SmallMax bytes come from the small share, the rest from the remainder,
// each share in arrival order.
type Budget struct {
	small    *Budget // nil: one pool
	smallMax int64
	mu       sync.Mutex
	cap      int64
	used     int64
	waiters  []*waiter
	// counters, read by Stats
	granted, refused uint64
	peak             int64
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

// New returns a budget of capacity bytes (at least 1).
func New(capacity int64) *Budget {
	return &Budget{cap: max(capacity, 1)}
}

// NewSplit returns a budget of capacity bytes of which smallShare serve
// reservations of at most smallMax bytes (see Budget).
func NewSplit(capacity, smallShare, smallMax int64) *Budget {
	smallShare = min(max(smallShare, smallMax), capacity/2)
	if smallShare <= 0 || smallMax <= 0 {
		return New(capacity)
	}
	return &Budget{cap: max(capacity-smallShare, 1), small: New(smallShare), smallMax: smallMax}
}

// pool is the pool a reservation of n bytes comes from.
func (b *Budget) pool(n int64) *Budget {
	if b.small != nil && n <= b.smallMax {
		return b.small
	}
	return b
}

// Stats describe a budget at one moment.
type Stats struct {
	Capacity int64
	Used     int64
	Peak     int64 // the most ever reserved at once
	Waiting  int
	Granted  uint64 // reservations granted so far
	Refused  uint64 // reservations given up (ErrBusy) so far
}

// Stats returns the budget's current figures.
func (b *Budget) Stats() Stats {
	if b == nil {
		return Stats{}
	}
	b.mu.Lock()
	st := Stats{Capacity: b.cap, Used: b.used, Peak: b.peak, Waiting: len(b.waiters), Granted: b.granted, Refused: b.refused}
	b.mu.Unlock()
	if b.small != nil {
		// Peak is each share's own at most: the sum bounds the whole.
		s := b.small.Stats()
		st.Capacity += s.Capacity
		st.Used += s.Used
		st.Peak += s.Peak
		st.Waiting += s.Waiting
		st.Granted += s.Granted
		st.Refused += s.Refused
	}
	return st
}

// Capacity is the budget's size in bytes (0 for a nil budget: no limit).
func (b *Budget) Capacity() int64 {
	if b == nil {
		return 0
	}
	if b.small != nil {
		return b.cap + b.small.cap
	}
	return b.cap
}

// clamp: a reservation larger than the whole budget waits for the whole
// budget, so that it runs alone rather than never.
func (b *Budget) clamp(n int64) int64 { return min(max(n, 0), b.cap) }

// TryAcquire reserves n bytes if they are free now and no one is waiting;
// it never blocks. The returned release must be called exactly once when
// ok is true.
func (b *Budget) TryAcquire(n int64) (release func(), ok bool) {
	if b == nil {
		return func() {}, true
	}
	b = b.pool(n)
	n = b.clamp(n)
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.waiters) > 0 || b.used+n > b.cap {
		return nil, false
	}
	b.take(n)
	return b.releaser(n), true
}

// Acquire reserves n bytes, waiting in arrival order until they are free
// or ctx ends (then ErrBusy). The returned release must be called exactly
// once.
func (b *Budget) Acquire(ctx context.Context, n int64) (release func(), err error) {
	if b == nil {
		return func() {}, nil
	}
	b = b.pool(n)
	n = b.clamp(n)
	b.mu.Lock()
	if len(b.waiters) == 0 && b.used+n <= b.cap {
		b.take(n)
		b.mu.Unlock()
		return b.releaser(n), nil
	}
	if ctx.Err() != nil {
		b.refused++
		b.mu.Unlock()
		return nil, ErrBusy
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	b.waiters = append(b.waiters, w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return b.releaser(n), nil
	case <-ctx.Done():
		b.mu.Lock()
		defer b.mu.Unlock()
		select {
		case <-w.ready:
			// Granted while giving up: give it back.
			b.used -= n
			b.grant()
		default:
			for i, x := range b.waiters {
				if x == w {
					b.waiters = append(b.waiters[:i], b.waiters[i+1:]...)
					break
				}
			}
			// The head may have been blocking smaller waiters behind it.
			b.grant()
		}
		b.refused++
		return nil, ErrBusy
	}
}

func (b *Budget) take(n int64) {
	b.used += n
	b.granted++
	b.peak = max(b.peak, b.used)
}

func (b *Budget) releaser(n int64) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.used -= n
			b.grant()
			b.mu.Unlock()
		})
	}
}

// grant wakes waiters from the head while they fit. Called with mu held.
func (b *Budget) grant() {
	for len(b.waiters) > 0 {
		w := b.waiters[0]
		if b.used+w.n > b.cap {
			return
		}
		b.waiters = b.waiters[1:]
		b.take(w.n)
		close(w.ready)
	}
}
