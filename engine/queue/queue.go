// Package queue owns the outbound relay queue (docs/configuration.md,
// `relay:`): the
// entries the engine commits for remote recipients and external forwards
// (engine_relay_queue), their delivery to a next hop chosen by a per-domain
// transport map (SMTP, LMTP or MX lookup) with connection reuse and
// per-destination concurrency, retries with exponential backoff (RFC 5321
// §4.5.4.1), bounces as delivery status notifications (RFC 3464) when a
// failure is permanent or the lifetime is over, holds by abuse control,
// and the administration a postmaster needs (list, hold, release, delete,
// retry by sender, recipient or age). Several nodes share one queue: an
// entry is claimed by a conditional UPDATE with a lease.
package queue

import (
	"context"
	"errors"
	"time"
)

// State is an entry's state (a metric label).
type State string

// The states. Delivered and bounced entries are removed.
const (
	StateQueued   State = "queued"
	StateDeferred State = "deferred"
	StateHeld     State = "held"
)

// States lists every state.
var States = []State{StateQueued, StateDeferred, StateHeld}

// Entry is one recipient's copy in the queue.
type Entry struct {
	ID            int64
	QueueID       string
	Rcpt          string // the envelope recipient it came from
	Target        string // the address delivered to (RCPT TO)
	MailFrom      string // "" for a DSN (null reverse-path)
	BodyHash      string
	State         State
	Attempts      int
	NextAttemptAt time.Time
	CreatedAt     time.Time
	LastAttemptAt time.Time
	LastError     string
	HeldReason    string
	Checked       bool   // abuse control has seen it
	AuthUser      string // from the transaction record
	TxRcpts       int    // recipients of the whole transaction
	Size          int64
}

// Filter selects entries for listing and administration; zero fields
// match everything.
type Filter struct {
	IDs       []int64
	QueueID   string
	State     State
	Sender    string // envelope sender, exact (case-insensitive)
	Recipient string // target, exact (case-insensitive)
	AuthUser  string // the submitting account, or the sender when equal
	OlderThan time.Time
	Limit     int
}

// NewEntry is an entry to enqueue with its body (DSNs, released
// quarantine).
type NewEntry struct {
	QueueID  string
	Rcpt     string
	Target   string
	MailFrom string
}

// Stat is the count and oldest entry of one state.
type Stat struct {
	State  State
	Count  int64
	Oldest time.Time // zero when Count is 0
}

// ErrNotFound is wrapped when an entry does not exist.
var ErrNotFound = errors.New("queue: not found")

// Store is the queue in the database.
type Store interface {
	// QueueClaim leases up to limit due entries (queued or deferred,
	// next attempt ≤ now, lease expired) to owner until `until`, each by a
	// conditional UPDATE so concurrent nodes never claim the same entry.
	QueueClaim(ctx context.Context, now time.Time, owner string, until time.Time, limit int) ([]Entry, error)
	QueueBody(ctx context.Context, hash string) ([]byte, error)
	// QueueDelivered removes a delivered (or bounced) entry.
	QueueDelivered(ctx context.Context, id int64) error
	// QueueDeferred records a failed attempt and the next one.
	QueueDeferred(ctx context.Context, id int64, attempts int, at, next time.Time, lastErr string) error
	QueueMarkChecked(ctx context.Context, ids []int64) error
	QueueHold(ctx context.Context, f Filter, reason string) (int, error)
	// QueueRelease makes held entries due at now (and marks them checked,
	// so abuse control does not hold them again).
	QueueRelease(ctx context.Context, f Filter, now time.Time) (int, error)
	QueueDelete(ctx context.Context, f Filter) (int, error)
	// QueueRetry makes queued and deferred entries due at now.
	QueueRetry(ctx context.Context, f Filter, now time.Time) (int, error)
	QueueList(ctx context.Context, f Filter) ([]Entry, error)
	// QueueEnqueue stores body (content-addressed) and entries in one
	// transaction, due at now.
	QueueEnqueue(ctx context.Context, body []byte, now time.Time, es []NewEntry) error
	QueueStats(ctx context.Context) ([]Stat, error)
}
