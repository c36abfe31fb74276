// Package correlate joins parsed log events (package collectors/logparse)
// into one record per mail message, login records and reject records, and
// keeps pflogsumm-style summary counters.
//
// It owns the state that spans lines: which Postfix queue IDs belong to one
// message (including the second queue ID a content filter such as
// amavisd-new creates when it re-injects a message), which Dovecot login
// session an auth failure belongs to, and when a message is finished. It
// does not read files or frame lines (logparse does), and it does not store
// anything: finished records go to the sinks given in Options.
package correlate

import (
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// Origin says how a queue ID entered Postfix.
type Origin string

// Origins. The SMTP ones are the master.cf service name of the smtpd that
// logged "client=", so a submission service shows as "submission".
const (
	OriginUnknown Origin = ""       // first seen in a later line (log cut or rotation)
	OriginSMTP    Origin = "smtpd"  // port 25 (or a content filter's re-injection listener)
	OriginPickup  Origin = "pickup" // local sendmail(1)
	OriginBounce  Origin = "bounce" // a notification Postfix generated (bounce(8))
	// OriginRelease is the copy amavis sends again when it releases a
	// message from its quarantine (Message.ReleasedMailID): not a new
	// message.
	OriginRelease Origin = "release"
	// OriginFilter is the content filter's own notification (amavis' DSN
	// of a message it bounced), handed in on its re-injection path:
	// internal mail, like OriginBounce.
	OriginFilter Origin = "filter"
)

// State says how a Message record ended.
type State string

// States of a finished record.
const (
	StateRemoved    State = "removed"    // every queue ID was removed (qmgr "removed")
	StateExpired    State = "expired"    // maximal_queue_lifetime reached
	StateIncomplete State = "incomplete" // flushed before its end was seen (log cut, idle horizon)
	// StateRefused: the client was refused the message after smtpd had
	// created its queue file (header_checks or body_checks reject, the
	// queue file size limit, a milter reject at the end of the data); the
	// queue manager never saw it. It was not received.
	StateRefused State = "refused"
)

// Queue is one Postfix queue ID of a message.
type Queue struct {
	ID        string
	Origin    Origin // how this queue ID entered Postfix
	FirstSeen time.Time
	// Reinjected is true for the copy a content filter re-injected; the
	// Linked* fields say which lines proved it.
	Reinjected      bool
	LinkedByHandoff bool // the smtp hand-off's "queued as QID2"
	LinkedByAmavis  bool // amavis' "queued_as: QID2"
	Removed         bool
	Expired         bool
	// Queued is set by the queue manager's "from=<…>, size=…" line: the
	// message was accepted into the queue.
	Queued bool
}

// Delivery is one delivery attempt for one recipient (a Postfix delivery
// agent status line).
type Delivery struct {
	Time       time.Time
	QueueID    string
	Agent      string
	To, OrigTo string
	Relay      string
	Delay      float64
	Delays     [4]float64
	DSN        string
	Status     string
	Reply      string
	// Handoff is true for the delivery to the content filter; it is not a
	// final delivery.
	Handoff bool
}

// Filter is the content filter's verdict (amavisd-new).
type Filter struct {
	Action   string // Passed, Blocked
	Category string // CLEAN, SPAMMY, SPAM, INFECTED, BANNED, …
	Detail   string // virus name, banned part
	Hits     string
	LogID    string
	MailID   string // amavis' mail_id, the quarantine's key
	QueuedAs []string
}

// Greylist is one postgrey decision logged with this message's queue ID.
type Greylist struct {
	Time      time.Time
	Action    string
	Reason    string
	Recipient string
}

// Reject is a reject logged with this message's queue ID (smtpd after the
// queue file was created, or cleanup header/body checks).
type Reject struct {
	Time     time.Time
	Action   string // reject, milter-reject, hold, discard, warn, …
	Stage    string
	Code     int
	Enhanced string
	Reason   string
	To       string
}

// Message is one mail message as it went through Postfix: keyed by host
// and its first queue ID, with the queue IDs of content-filter re-injections
// joined in, so a filtered message is one record.
type Message struct {
	Host      string
	Queues    []Queue // Queues[0] is the queue ID the message first had
	FirstSeen time.Time
	LastSeen  time.Time
	State     State
	// FirstPos is the input position (Correlator.SetPos) of the first event
	// of the record, the smallest when copies were merged.
	FirstPos int64

	Origin       Origin // Queues[0].Origin
	Service      string // the smtpd service ("smtpd", "submission", …) or "pickup"
	ClientName   string
	ClientIP     string
	Helo         string
	SASLMethod   string
	SASLUsername string
	PickupUID    int // -1 unless Origin is pickup

	MessageID string
	From      string
	Size      int64 // from qmgr for the first queue ID (before filter headers)
	NRcpt     int

	Deliveries        []Delivery
	Filter            *Filter
	Greylist          []Greylist
	Rejects           []Reject
	SizeLimitExceeded bool
	// NotificationIDs are the queue IDs of bounce/delay notifications
	// Postfix generated for this message; ParentQueueID is set on such a
	// notification.
	NotificationIDs []string
	ParentQueueID   string
	// ReleasedMailID is set on the copy amavis sent again when it
	// released a message from its quarantine: the quarantined message's
	// mail_id (its Resent-Message-ID names the release). The copy is not
	// a new message.
	ReleasedMailID string
	// FilterNotification is set on a message with the null sender that
	// the content filter's re-injection client handed in without amavis
	// naming it as a re-injection: amavis' own notification (a DSN of a
	// D_BOUNCE'd message), internal mail like Postfix's bounces.
	FilterNotification bool
}

// Received is how many times the message entered from a client: the queue
// IDs that came from smtpd or pickup, less the copies amavis re-injected
// (the same message again), and 0 for a message the client was refused
// (a header_checks or size-limit reject after smtpd created the queue
// file, which the queue manager never saw), for a quarantine release and
// for the content filter's own notifications.
func (m *Message) Received() int {
	if m.Refused() {
		return 0
	}
	n := 0
	for _, q := range m.Queues {
		if (q.Origin == OriginSMTP || q.Origin == OriginPickup) && !q.LinkedByAmavis {
			n++
		}
	}
	return n
}

// Refused reports whether the message was refused after its queue file
// was created: a reject logged with its queue ID (cleanup's header or
// body checks, smtpd at END-OF-MESSAGE) or the queue file size limit, and
// no queue manager line for the first queue ID.
func (m *Message) Refused() bool {
	if m.Queues[0].Queued {
		return false
	}
	if m.SizeLimitExceeded {
		return true
	}
	for _, r := range m.Rejects {
		if r.Action == "reject" || r.Action == "milter-reject" {
			return true
		}
	}
	return false
}

func (m *Message) key() qkey { return qkey{m.Host, m.Queues[0].ID} }

// FromClient reports whether the message entered Postfix from a client
// (smtpd or pickup) rather than being generated by Postfix.
func (m *Message) FromClient() bool {
	return m.Origin == OriginSMTP || m.Origin == OriginPickup
}

// Login is one authentication outcome from any source.
type Login struct {
	Time     time.Time
	Host     string
	Source   string // "dovecot", "postfix", or the webmail's logparse family ("roundcube")
	Service  string // imap, pop3, submission, smtp, webmail, … ("" if unresolved)
	User     string
	RemoteIP string
	Method   string
	Session  string
	TLS      bool
	OK       bool
	Reason   string // the failure reason, as logged
}

// Warning is a Postfix "warning:", "error:", "fatal:" or "panic:" line
// (msg(3) severities), as pflogsumm lists them. Text is the message after
// the severity, as logged.
type Warning struct {
	Time     time.Time
	Host     string
	Program  string
	Severity string // warning, error, fatal, panic
	Text     string
}

// WarningSink receives warning lines.
type WarningSink interface {
	WriteWarning(Warning) error
}

// WarningSinkFunc adapts a function to WarningSink.
type WarningSinkFunc func(Warning) error

// WriteWarning calls f(w).
func (f WarningSinkFunc) WriteWarning(w Warning) error { return f(w) }

// MessageSink receives finished Message records.
type MessageSink interface {
	WriteMessage(*Message) error
}

// RejectSink receives every reject line (NOQUEUE and with a queue ID).
type RejectSink interface {
	WriteReject(*logparse.Reject) error
}

// LoginSink receives login outcomes.
type LoginSink interface {
	WriteLogin(Login) error
}

// MessageSinkFunc adapts a function to MessageSink.
type MessageSinkFunc func(*Message) error

// WriteMessage calls f(m).
func (f MessageSinkFunc) WriteMessage(m *Message) error { return f(m) }

// RejectSinkFunc adapts a function to RejectSink.
type RejectSinkFunc func(*logparse.Reject) error

// WriteReject calls f(r).
func (f RejectSinkFunc) WriteReject(r *logparse.Reject) error { return f(r) }

// LoginSinkFunc adapts a function to LoginSink.
type LoginSinkFunc func(Login) error

// WriteLogin calls f(l).
func (f LoginSinkFunc) WriteLogin(l Login) error { return f(l) }

var (
	_ MessageSink = MessageSinkFunc(nil)
	_ RejectSink  = RejectSinkFunc(nil)
	_ LoginSink   = LoginSinkFunc(nil)
	_ WarningSink = WarningSinkFunc(nil)
)
