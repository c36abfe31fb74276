// Package txlog owns the records of the transaction log and the login log:
// one Row per recipient outcome (delivery attempt, reject, greylisting
// decision, content-filter verdict), one MessageRow per mail message, one
// Login per authentication outcome, the mapping from correlated Postfix
// messages (package collectors/correlate) and from engine events to those
// records, and the Store contract that persists them in batches together
// with the reading position of the input they came from.
//
// The transaction log keeps the RFC 5321 envelope and the RFC 5322 header
// fields the logs name (Message-ID, and From, Subject and Date where a
// source supplies them) for the retention period, 90 days by default.
package txlog

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Direction of a message or recipient outcome. The set is closed and is
// used as a metric label.
type Direction string

// Directions.
const (
	Inbound  Direction = "inbound"  // from outside to a local mailbox
	Outbound Direction = "outbound" // from a local user or system to outside
	Internal Direction = "internal" // from a local user or system to a local mailbox
	Relayed  Direction = "relayed"  // from outside on to outside (forwarding, external alias members)
	Unknown  Direction = "unknown"  // not decidable (reject before MAIL FROM, cut log)
)

// Directions lists every Direction.
func Directions() []Direction { return []Direction{Inbound, Outbound, Internal, Relayed, Unknown} }

// Status of a Row. The set is closed and is used as a metric label.
const (
	StatusSent         = "sent"          // delivered (or handed to the content filter, Handoff set)
	StatusDeferred     = "deferred"      // temporary failure, will be retried
	StatusBounced      = "bounced"       // permanent failure after acceptance
	StatusExpired      = "expired"       // maximal_queue_lifetime reached
	StatusRejected     = "rejected"      // refused during the SMTP dialogue (or by header/body checks)
	StatusGreylisted   = "greylisted"    // postgrey (or the engine) answered "try again later"
	StatusGreylistPass = "greylist_pass" // the greylisting policy let the recipient through
	StatusScanned      = "scanned"       // a content-filter verdict (amavis, rspamd)
	StatusDiscarded    = "discarded"     // accepted and dropped on purpose
	// The engine's relay queue and quarantine (docs/collectors.md, "The
	// engine"): steps before a final outcome, or instead of one.
	StatusQueued      = "queued"      // accepted into the relay queue, not delivered yet
	StatusHeld        = "held"        // held in the relay queue (abuse control, a postmaster)
	StatusReleased    = "released"    // released from a hold or from the quarantine
	StatusQuarantined = "quarantined" // kept in the quarantine instead of delivered
	StatusDeleted     = "deleted"     // deleted from the relay queue or the quarantine
)

// Statuses lists every status.
func Statuses() []string {
	return []string{StatusSent, StatusDeferred, StatusBounced, StatusExpired, StatusRejected,
		StatusGreylisted, StatusGreylistPass, StatusScanned, StatusDiscarded, StatusQueued, StatusHeld,
		StatusReleased, StatusQuarantined, StatusDeleted}
}

// Sources of records.
const (
	SourcePostfix = "postfix"
	SourceEngine  = "engine"
)

// Row is one recipient outcome in the transaction log.
type Row struct {
	Time      time.Time
	Node      string // the mail host that logged it
	Source    string // postfix, engine, amavis, postgrey, rspamd
	Direction Direction
	// MsgKey names the MessageRow this outcome belongs to; empty for
	// outcomes outside a message (a reject before the queue file existed),
	// which trace joins to messages by (Node, QueueID).
	MsgKey     string
	QueueID    string
	MessageID  string
	MailFrom   string
	Rcpt       string
	OrigRcpt   string
	HeaderFrom string
	Subject    string
	HeaderDate string
	Size       int64
	ClientIP   string
	ClientName string
	Helo       string
	AuthUser   string
	SpamScore  string // as logged ("3.2"), "" when unknown
	AVVerdict  string // the content filter's verdict, e.g. "Passed CLEAN", "Blocked INFECTED"
	Status     string
	Stage      string // SMTP stage of a reject (RCPT, MAIL, DATA, header, …)
	Code       int    // SMTP reply code, 0 when not logged
	DSN        string
	Reply      string
	Relay      string
	Agent      string // delivery agent (smtp, lmtp, …) or the program that logged it
	Handoff    bool   // a delivery to the content filter, not a final delivery
	Delay      float64
	Delays     string // "a/b/c/d" as logged
}

// MessageRow is one mail message: a correlated Postfix record (its content
// filter copies joined) or one engine transaction.
type MessageRow struct {
	FirstSeen  time.Time
	LastSeen   time.Time
	Node       string
	Source     string
	Direction  Direction
	MsgKey     string
	Origin     string // smtpd, pickup, bounce, "" (unknown: cut log), engine listener
	Service    string // smtpd, submission, pickup, mx, …
	State      string // removed, expired, incomplete, accepted, refused
	QueueIDs   []string
	MessageID  string
	MailFrom   string
	HeaderFrom string
	Subject    string
	HeaderDate string
	Size       int64
	NRcpt      int
	ClientIP   string
	ClientName string
	Helo       string
	AuthUser   string
	SpamScore  string
	AVVerdict  string
	// AuthResults are the receiving MX's SPF, DKIM and DMARC results
	// ("spf=pass dkim=none dmarc=pass"); "" when not checked.
	AuthResults string
	// OriginalFrom is the sender as submitted (envelope and From:) when
	// the engine rewrote it to the permanent address; "" otherwise.
	OriginalFrom string
	// Received is how many times the message entered from a client (0 for
	// notifications Postfix generated and for records whose start was cut
	// off; 1 otherwise): re-injections by a content filter do not count.
	Received int
}

// Login is one authentication outcome.
type Login struct {
	Time     time.Time
	Node     string
	Source   string // dovecot, postfix, roundcube, engine, dovecot-auth
	Service  string // imap, pop3, smtp, submission, webmail, "" when unresolved
	User     string
	RemoteIP string
	Method   string
	Session  string
	TLS      bool
	OK       bool
	Reason   string
}

// Session is the end of a mailbox session (Dovecot's IMAP or POP3 logout
// line) with the messages it read: the mailbox reads the monthly report
// counts per protocol (docs/reports.md, "Definitions").
type Session struct {
	Time     time.Time
	Node     string
	Source   string // dovecot
	Service  string // imap, pop3; webmail for IMAP sessions of a webmail host (collectors.webmail_networks)
	User     string
	Session  string
	RemoteIP string // the client's address from the session's login line, "" when not seen
	// Reads is the messages read (IMAP bodies fetched, POP3 RETR) and
	// ReadBytes their size.
	Reads     int64
	ReadBytes int64
}

// SourceDovecotAuth marks Dovecot passdb failures without a login session
// (SMTP AUTH through Postfix's SASL client, userdb lookups): stored for the
// auth-failure figures, never counted as logins, since Postfix logs the
// login outcome itself.
const SourceDovecotAuth = "dovecot-auth"

// Checkpoint is the reading position of one tailed file, committed in the
// same transaction as the records its lines produced; or, for the
// pseudo-source StateSource, the pipeline's state at those positions.
type Checkpoint struct {
	Source string // "file:" + path, or StateSource
	// Identity of the file: its inode and a hash of its first line, so a
	// rotated or truncated file is recognised.
	Inode    uint64
	HeadHash string
	// Offset is the end of the last line whose records are committed:
	// reading resumes there.
	Offset int64
	// State is the pipeline's state as of the offsets committed with it,
	// only in StateSource's checkpoint: its global part in State, and its
	// items (one per message and session held) in Items. In a checkpoint
	// written, Items are the items new or changed since the last commit
	// and Drop the keys of those gone; with ReplaceItems, Items are all of
	// them. In a checkpoint loaded, Items are all of them.
	State        []byte
	Items        map[string][]byte
	Drop         []string
	ReplaceItems bool
	Updated      time.Time
}

// StateSource names the checkpoint that holds the live pipeline's state.
const StateSource = "state:live"

// Batch is a set of records written in one transaction.
type Batch struct {
	Messages []MessageRow
	Rows     []Row
	Logins   []Login
	Warnings []Warning
	Sessions []Session
}

// Len is the number of records in b.
func (b *Batch) Len() int {
	return len(b.Messages) + len(b.Rows) + len(b.Logins) + len(b.Warnings) + len(b.Sessions)
}

// Reset empties b, keeping its capacity.
func (b *Batch) Reset() {
	clear(b.Messages)
	clear(b.Rows)
	clear(b.Logins)
	clear(b.Warnings)
	clear(b.Sessions)
	b.Messages, b.Rows, b.Logins, b.Warnings, b.Sessions = b.Messages[:0], b.Rows[:0], b.Logins[:0], b.Warnings[:0], b.Sessions[:0]
}

// ErrNoCheckpoint is returned by Store.Checkpoint for a source never seen.
var ErrNoCheckpoint = errors.New("txlog: no checkpoint")

// Store persists batches. WriteBatch writes the records and the checkpoints
// in one transaction (PostgreSQL COPY, SQLite multi-row INSERT).
type Store interface {
	WriteBatch(ctx context.Context, b *Batch, cps []Checkpoint) error
	Checkpoint(ctx context.Context, source string) (Checkpoint, error)
}

// MsgKey names a message: node, first queue ID and first-seen time.
func MsgKey(node, queueID string, first time.Time) string {
	var buf [96]byte
	b := append(buf[:0], node...)
	b = append(b, '/')
	b = append(b, queueID...)
	b = append(b, '/')
	b = strconv.AppendInt(b, first.UnixMicro(), 10)
	return string(b)
}

// FormatDelays writes Postfix's "delays=a/b/c/d".
func FormatDelays(d [4]float64) string {
	var buf [64]byte
	b := buf[:0]
	for i, v := range d {
		if i > 0 {
			b = append(b, '/')
		}
		b = strconv.AppendFloat(b, v, 'f', -1, 64)
	}
	return string(b)
}
