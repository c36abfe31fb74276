package webauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
)

// LoginLimits are the sign-in limits at one instant, as the store's
// conditional updates need them (web.login in the configuration).
type LoginLimits struct {
	Now time.Time
	// WindowStart is Now minus web.login.window: counts that began at or
	// before it have lapsed.
	WindowStart time.Time
	// MaxFailures is web.login.max_failures; MaxPerAddress is
	// web.login.max_per_address.
	MaxFailures, MaxPerAddress int
	// LockUntil is when a lockout that begins now ends.
	LockUntil time.Time
	// StaleBefore: a user's attempts still counted as being checked whose
	// latest began before it are forgotten (a replica that died while
	// hashing must not block the user).
	StaleBefore time.Time
}

// staleAttempt is how long an attempt may be "being checked" before it is
// taken for lost: well beyond HashWait plus one hash.
const staleAttempt = 2 * time.Minute

// LoginStore counts sign-in attempts atomically, so that the limits hold
// under parallel requests and across replicas sharing the database. Each
// method is one conditional statement: it never writes a row from a copy
// read earlier.
type LoginStore interface {
	// ReserveAddress counts an attempt from addr within the window (a
	// lapsed window starts again at one) unless addr already has
	// MaxPerAddress attempts in it; it reports whether it counted.
	ReserveAddress(ctx context.Context, addr string, l LoginLimits) (bool, error)
	// RefundAddress takes one attempt of addr back (it succeeded or was
	// never checked).
	RefundAddress(ctx context.Context, addr string) error
	// PruneAddresses forgets the addresses whose window began before.
	PruneAddresses(ctx context.Context, before time.Time) error
	// ReserveLogin counts an attempt for the user before the password is
	// checked — in failed_count (a lapsed window starts again at one) and
	// among the attempts being checked — unless the user is locked out or
	// already has MaxFailures attempts in the window; it reports whether
	// it counted.
	ReserveLogin(ctx context.Context, userID int64, l LoginLimits) (bool, error)
	// FinishLogin ends a reserved attempt whose password was right: it
	// clears the failures and records the sign-in, only if no other
	// attempt for the user is being checked (unless they are stale) and
	// the user is not locked out; it reports whether it did. When it did
	// not, nothing changed and the attempt must end with FailLogin.
	FinishLogin(ctx context.Context, userID int64, l LoginLimits) (bool, error)
	// FailLogin ends a reserved attempt as a failure. When the user has
	// MaxFailures or more counted, it locks the user out until LockUntil
	// and starts the count again; it reports whether this call locked.
	FailLogin(ctx context.Context, userID int64, l LoginLimits) (bool, error)
	// ReleaseLogin takes a reserved attempt back unchecked.
	ReleaseLogin(ctx context.Context, userID int64) error
	// ResetLogin clears the user's failures and lockout (a new password).
	ResetLogin(ctx context.Context, userID int64) error
}

// HashGate bounds how many password hashes run at once: an argon2id hash
// holds its memory (19 MiB by default) while it runs, so unbounded
// parallel sign-ins are unbounded memory. Acquire waits for a slot until
// ctx ends; every successful Acquire is paired with one Release.
//
// The process's one gate is shared by web sign-in, SMTP AUTH and the
// probes (docs/resources.md); NewHashGate is a gate of its own for a
// service built alone (the CLI, tests).
type HashGate interface {
	Acquire(ctx context.Context) error
	Release()
}

// DefaultConcurrentHashes is the size of the gate a Service makes when
// given none: 4 × 19 MiB of argon2id memory at most.
const DefaultConcurrentHashes = 4

// NewHashGate returns a gate of n slots (at least one).
func NewHashGate(n int) HashGate {
	if n < 1 {
		n = 1
	}
	return chanGate(make(chan struct{}, n))
}

type chanGate chan struct{}

func (g chanGate) Acquire(ctx context.Context) error {
	select {
	case g <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g chanGate) Release() { <-g }

// gated runs fn holding a slot of the hash gate, waiting at most HashWait
// for it; ErrBusy when none came free.
func (s *Service) gated(ctx context.Context, fn func()) error {
	wctx, cancel := context.WithTimeout(ctx, s.o.HashWait)
	defer cancel()
	if err := s.o.Hashes.Acquire(wctx); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w (%v)", ErrBusy, err)
	}
	defer s.o.Hashes.Release()
	fn()
	return nil
}

// verify checks password against an argon2id hash through the gate.
func (s *Service) verify(ctx context.Context, hash, password string) (bool, error) {
	if s.o.Hasher != nil {
		ok, err := s.o.Hasher.Verify(ctx, hash, password)
		if errors.Is(err, directory.ErrHashBusy) {
			return false, fmt.Errorf("%w (%v)", ErrBusy, err)
		}
		return ok, err
	}
	var ok bool
	err := s.gated(ctx, func() { ok, _ = directory.VerifyPassword(hash, password) })
	return ok, err
}

// hashPassword hashes a new password through the gate.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	if s.o.Hasher != nil {
		h, err := s.o.Hasher.Hash(ctx, password, s.o.Hash)
		if errors.Is(err, directory.ErrHashBusy) {
			return "", fmt.Errorf("%w (%v)", ErrBusy, err)
		}
		return h, err
	}
	var (
		h   string
		err error
	)
	if gerr := s.gated(ctx, func() { h, err = directory.HashPassword(password, s.o.Hash) }); gerr != nil {
		return "", gerr
	}
	return h, err
}
