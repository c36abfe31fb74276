// Package event owns the mail-event vocabulary: the records the engine emits
// for every SMTP transaction, every recipient outcome and every AUTH attempt,
// and the Sink they are emitted to. It is a leaf package: it imports nothing
// of postvakt's, so collectors can consume events without importing the
// engine.
//
// Events carry addresses and client IPs because they feed the transaction
// and login logs (kept 90 days, searchable); metrics never do.
package event

import (
	"sync"
	"sync/atomic"
	"time"
)

// Kind names an event type.
type Kind string

// The event kinds.
const (
	KindTransaction Kind = "transaction"
	KindRecipient   Kind = "recipient"
	KindAuth        Kind = "auth"
	KindAbuse       Kind = "abuse"
	KindRelay       Kind = "relay"
	KindQuarantine  Kind = "quarantine"
)

// Event is one of *Transaction, *Recipient, *Auth, *Abuse, *Relay or
// *Quarantine.
type Event interface {
	// EventKind reports the concrete type of the event.
	EventKind() Kind
	// EventTime is when the event happened.
	EventTime() time.Time
}

// Session identifies the SMTP session an event belongs to.
type Session struct {
	ID       string // unique per connection, also in the service log
	Node     string // engine node name (several nodes share one database)
	Listener string // "mx" or "submission"
	ClientIP string
	HELO     string
	TLS      bool
	AuthUser string // empty when not authenticated
}

// Transaction is one completed or failed mail transaction (MAIL … DATA),
// with its RFC 5321 envelope and the RFC 5322 header fields that the
// transaction log keeps.
type Transaction struct {
	At         time.Time
	Session    Session
	QueueID    string // the ID returned in the 250 reply; empty when refused
	MailFrom   string
	Rcpts      []string // recipients accepted at RCPT time
	Size       int64
	BodyHash   string // hex SHA-256 of the stored body
	MessageID  string
	Subject    string
	HeaderFrom string
	Code       int    // final reply code to DATA (250, 451, 552, 554 …)
	Enhanced   string // e.g. "2.0.0"
	Reason     string // the closed-enum reason when Code is not 2xx
	Duration   time.Duration
	// Disposition says what became of an accepted message: stored
	// (committed to mailboxes and the relay queue), quarantined, or
	// discarded by the content filter; "" when refused.
	Disposition Disposition
	// AuthResults summarises the MX's SPF, DKIM and DMARC results
	// ("spf=pass dkim=none dmarc=pass"); "" when not checked.
	AuthResults string
	// OriginalFrom is the sender (envelope and From:) as submitted when
	// the engine rewrote it to the permanent address; "" otherwise.
	OriginalFrom string
	// DKIMSigned is the domain that signed the message on its way out.
	DKIMSigned string
}

// Disposition is what became of an accepted message.
type Disposition string

// The dispositions.
const (
	Stored      Disposition = "stored"
	Quarantined Disposition = "quarantined"
	Discarded   Disposition = "discarded"
)

// Recipient is the outcome for one recipient: accepted or refused at RCPT
// time, or delivered, forwarded or queued after DATA.
type Recipient struct {
	At       time.Time
	Session  Session
	QueueID  string
	MailFrom string
	Rcpt     string // as given by the client
	Outcome  Outcome
	Target   string // mailbox or forwarding address it resolved to
	Code     int
	Enhanced string
	Reason   string
}

// Outcome is what became of a recipient.
type Outcome string

// The recipient outcomes.
const (
	OutcomeRefused   Outcome = "refused"   // rejected at RCPT (permanent or temporary)
	OutcomeDelivered Outcome = "delivered" // stored in a local mailbox
	OutcomeTruncated Outcome = "truncated" // stored with From and Subject only (over quota, trusted sender)
	OutcomeQueued    Outcome = "queued"    // handed to the relay queue (remote or forwarded)
)

// Auth is one SMTP AUTH attempt (RFC 4954).
type Auth struct {
	At        time.Time
	Session   Session
	Mechanism string
	Username  string
	Success   bool
	Reason    string // closed enum when Success is false
}

// Abuse is an abuse-control alarm on submission (docs/configuration.md,
// content.abuse; package sendlimit): an
// account over its rate limit, a mass mailing held for review, queued mail
// held because the account is locked. It is meant for the on-call and the
// security team (IRT).
type Abuse struct {
	At       time.Time
	Node     string
	What     string // AbuseRateLimited, AbuseMassMailingHeld, AbuseAccountLocked
	User     string // the authenticated account
	Sender   string // envelope sender
	QueueID  string
	Messages int // messages in the current window (rate limits)
	Rcpts    int // recipients in the message or the window
	Detail   string
}

// The abuse kinds (Abuse.What).
const (
	AbuseRateLimited     = "rate_limited"
	AbuseMassMailingHeld = "mass_mailing_held"
	AbuseAccountLocked   = "account_locked"
)

// Relay is one step of one relay-queue entry — one recipient's copy on its
// way to a next hop (package queue): queued, held and released by abuse
// control or a postmaster, deferred with the next hop's reply, delivered
// with its reply, bounced or expired (a delivery status notification goes
// to the sender), or deleted by a postmaster.
type Relay struct {
	At      time.Time
	Node    string // the node that accepted the message (its key is Node/QueueID)
	QueueID string
	// DSNFor, on the queued step of a delivery status notification, is the
	// queue ID of the message it reports on.
	DSNFor   string
	Listener string // where the message came in, when known
	ClientIP string
	AuthUser string
	MailFrom string
	Rcpt     string // the envelope recipient the copy came from
	Target   string // the address delivered to
	Step     RelayStep
	Attempt  int    // the delivery attempt, from 1
	Agent    string // smtp or lmtp, for attempts
	Remote   string // the next hop that answered (host:port)
	Code     int
	Enhanced string
	Reply    string // the next hop's reply, the error, or why it is held
	Size     int64
}

// RelayStep is a step of a relay-queue entry.
type RelayStep string

// The relay steps.
const (
	RelayQueued    RelayStep = "queued"
	RelayHeld      RelayStep = "held"
	RelayReleased  RelayStep = "released"
	RelayDeferred  RelayStep = "deferred"
	RelayDelivered RelayStep = "delivered"
	RelayBounced   RelayStep = "bounced"
	RelayExpired   RelayStep = "expired"
	RelayDeleted   RelayStep = "deleted"
)

// Quarantine is one step of a quarantined message (package quarantine):
// quarantined at DATA, released to its recipients, deleted by a
// postmaster, or expired at the end of the retention.
type Quarantine struct {
	At         time.Time
	Node       string
	QueueID    string
	Step       QuarantineStep
	Reason     string // virus, spam, suspect, banned
	Detail     string
	Listener   string
	ClientIP   string
	AuthUser   string
	MailFrom   string
	Rcpts      []string
	MessageID  string
	Subject    string
	HeaderFrom string
	Size       int64
	// Mailboxes are the mailboxes a released message was stored in (its
	// remote targets get Relay events of their own).
	Mailboxes []string
}

// QuarantineStep is a step of a quarantined message.
type QuarantineStep string

// The quarantine steps.
const (
	QuarantineAdded    QuarantineStep = "quarantined"
	QuarantineReleased QuarantineStep = "released"
	QuarantineDeleted  QuarantineStep = "deleted"
	QuarantineExpired  QuarantineStep = "expired"
)

func (e *Relay) EventKind() Kind           { return KindRelay }
func (e *Relay) EventTime() time.Time      { return e.At }
func (e *Quarantine) EventKind() Kind      { return KindQuarantine }
func (e *Quarantine) EventTime() time.Time { return e.At }

func (e *Abuse) EventKind() Kind      { return KindAbuse }
func (e *Abuse) EventTime() time.Time { return e.At }

func (e *Transaction) EventKind() Kind      { return KindTransaction }
func (e *Transaction) EventTime() time.Time { return e.At }
func (e *Recipient) EventKind() Kind        { return KindRecipient }
func (e *Recipient) EventTime() time.Time   { return e.At }
func (e *Auth) EventKind() Kind             { return KindAuth }
func (e *Auth) EventTime() time.Time        { return e.At }

// Sink receives events. Emit must not block the SMTP session: a slow
// consumer should drop (and count) rather than stall mail. Use Buffer to
// decouple a consumer that may block.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(Event)

// Emit calls f(e).
func (f SinkFunc) Emit(e Event) { f(e) }

// Discard is a Sink that drops every event.
var Discard Sink = SinkFunc(func(Event) {})

// Buffer is a non-blocking Sink: Emit puts the event on a bounded queue and
// drops it, counting, when the queue is full. C delivers the events to one
// consumer.
type Buffer struct {
	ch      chan Event
	dropped atomic.Uint64
	once    sync.Once
}

// NewBuffer returns a Buffer holding up to size events.
func NewBuffer(size int) *Buffer {
	if size <= 0 {
		size = 1024
	}
	return &Buffer{ch: make(chan Event, size)}
}

// Emit queues e, or drops it when the buffer is full. It never blocks.
func (b *Buffer) Emit(e Event) {
	select {
	case b.ch <- e:
	default:
		b.dropped.Add(1)
	}
}

// C is the channel the consumer reads events from.
func (b *Buffer) C() <-chan Event { return b.ch }

// Dropped is the number of events dropped because the consumer was slow.
func (b *Buffer) Dropped() uint64 { return b.dropped.Load() }

// Len is the number of queued events.
func (b *Buffer) Len() int { return len(b.ch) }

// Close closes C; Emit must not be called afterwards.
func (b *Buffer) Close() { b.once.Do(func() { close(b.ch) }) }
