package directory

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/uni-mail/postvakt/engine/membudget"
)

// ErrHashBusy is returned by a Hasher that could not start a password hash
// within its wait bound: the caller answers with a temporary failure (SMTP
// 454 4.7.0, HTTP 503 with Retry-After) rather than queueing without end.
var ErrHashBusy = errors.New("directory: password hashing is busy, try again later")

// DefaultHashMemory is the default memory for password hashes in progress
// at once: three argon2id hashes at the default 19 MiB.
const DefaultHashMemory = 64 << 20

// DefaultHashWait is how long a caller waits for room to hash by default.
const DefaultHashWait = 2 * time.Second

// Hasher is the one gate every password hash of the service goes through
// (SMTP AUTH, web sign-in, setting passwords; the probes' accounts sign in
// through SMTP AUTH): argon2id (RFC 9106) needs its memory parameter in
// working memory for each hash in progress, so hashes started at once are
// bounded by memory, not by how many clients ask. A hash reserves its own
// parameter m (in KiB, read from the stored hash) from a budget of Memory
// bytes; the number of hashes in progress is therefore
//
//	concurrent hashes = max(1, floor(Memory / (m × 1024)))
//
// (3 at the defaults, 64 MiB and m = 19456), and never more than 2 ×
// GOMAXPROCS, since hashing is CPU-bound and more at once only share the
// cores (docs/resources.md). A caller that cannot
// start within Wait gets ErrHashBusy. A nil *Hasher hashes without a limit.
type Hasher struct {
	mem  *membudget.Budget
	cpu  *membudget.Budget
	wait time.Duration
}

// HasherOptions configure a Hasher.
type HasherOptions struct {
	// Memory is the budget for hashes in progress, in bytes; 0 takes
	// DefaultHashMemory.
	Memory int64
	// Wait bounds how long a caller waits for room; 0 takes
	// DefaultHashWait.
	Wait time.Duration
	// MaxConcurrent bounds hashes in progress whatever their memory; 0
	// takes 2 × GOMAXPROCS.
	MaxConcurrent int
}

// NewHasher returns a Hasher.
func NewHasher(o HasherOptions) *Hasher {
	if o.Memory <= 0 {
		o.Memory = DefaultHashMemory
	}
	if o.Wait <= 0 {
		o.Wait = DefaultHashWait
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	return &Hasher{mem: membudget.New(o.Memory), cpu: membudget.New(int64(o.MaxConcurrent)), wait: o.Wait}
}

// HashSlots is how many hashes with parameters p run at once within memory
// bytes: max(1, floor(memory / (p.MemoryKiB × 1024))).
func HashSlots(memory int64, p HashParams) int {
	per := int64(p.MemoryKiB) * 1024
	if per <= 0 {
		per = int64(DefaultHashParams().MemoryKiB) * 1024
	}
	return int(max(1, memory/per))
}

// HasherStats describe a Hasher at one moment.
type HasherStats struct {
	MemoryBytes, MemoryUsed int64
	InProgress, Waiting     int
	PeakInProgress          int    // the most hashes ever in progress at once
	PeakMemory              int64  // the most working memory ever reserved at once
	Refused                 uint64 // callers sent away with ErrHashBusy so far
	Hashes                  uint64 // hashes started so far
}

// Stats returns the Hasher's figures (zero for a nil Hasher).
func (h *Hasher) Stats() HasherStats {
	if h == nil {
		return HasherStats{}
	}
	m, c := h.mem.Stats(), h.cpu.Stats()
	return HasherStats{MemoryBytes: m.Capacity, MemoryUsed: m.Used, InProgress: int(c.Used), Waiting: m.Waiting + c.Waiting,
		PeakInProgress: int(c.Peak), PeakMemory: m.Peak, Refused: m.Refused + c.Refused, Hashes: c.Granted}
}

// acquire reserves room for one hash needing memKiB, waiting at most the
// Hasher's wait (or until ctx ends).
func (h *Hasher) acquire(ctx context.Context, memKiB uint32) (func(), error) {
	if h == nil {
		return func() {}, nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.wait)
	defer cancel()
	relMem, err := h.mem.Acquire(ctx, int64(memKiB)*1024)
	if err != nil {
		return nil, ErrHashBusy
	}
	relCPU, err := h.cpu.Acquire(ctx, 1)
	if err != nil {
		relMem()
		return nil, ErrHashBusy
	}
	return func() { relCPU(); relMem() }, nil
}

// Verify is VerifyPassword through the gate. A hash that is not argon2id
// is reported (ErrBadHash) without waiting.
func (h *Hasher) Verify(ctx context.Context, hash, password string) (bool, error) {
	m, err := hashMemoryKiB(hash)
	if err != nil {
		return false, err
	}
	release, err := h.acquire(ctx, m)
	if err != nil {
		return false, err
	}
	defer release()
	return VerifyPassword(hash, password)
}

// Hash is HashPassword through the gate.
func (h *Hasher) Hash(ctx context.Context, password string, p HashParams) (string, error) {
	if p.MemoryKiB == 0 || p.Time == 0 || p.Threads == 0 {
		p = DefaultHashParams()
	}
	release, err := h.acquire(ctx, p.MemoryKiB)
	if err != nil {
		return "", err
	}
	defer release()
	return HashPassword(password, p)
}

// hashMemoryKiB reads m from a PHC argon2id hash
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func hashMemoryKiB(hash string) (uint32, error) {
	m, _, _, _, _, err := parseHash(hash)
	return m, err
}
