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
	// Node is the node that accepted the message; Listener and ClientIP
	// where it came in (from the transaction record, when there is one).
	Node     string
	Listener string
	ClientIP string
}

// Attempt is what became of one delivery attempt: the store records it in
// the transaction log, when it keeps one, in the same database
// transaction as the entry's change (docs/collectors.md, "The engine").
type Attempt struct {
	At       time.Time
	Result   string // ResultSent, ResultDeferred, ResultBounced or ResultExpired
	Agent    string // smtp or lmtp
	Remote   string // the next hop that answered (host:port), when one did
	Code     int
	Enhanced string
	Reply    string // the next hop's reply, or the error
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
	Node     string // the node the message belongs to
	Rcpt     string
	Target   string
	MailFrom string
	// DSNFor is, for a delivery status notification, the queue ID of the
	// message it reports on.
	DSNFor string
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
	// QueueDelivered removes a delivered (or bounced, or expired) entry.
	QueueDelivered(ctx context.Context, id int64, a Attempt) error
	// QueueDeferred records a failed attempt (a.At, a.Reply is the last
	// error) and when the next one is due.
	QueueDeferred(ctx context.Context, id int64, attempts int, next time.Time, a Attempt) error
	QueueMarkChecked(ctx context.Context, ids []int64) error
	// QueueHold holds the entries f selects with a reason.
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
