package logparse

import "strings"

// Kind names an event type. The set is closed: every Event returned by this
// package is one of the types listed against the constants below.
type Kind uint8

// The kinds of event, grouped by the program that writes them.
const (
	KindUnknown Kind = iota // *Unknown: no parser knew the line

	KindNotice // *Notice: a recognised line with no event of its own (daemon start, config warnings …)

	// Postfix (program tag postfix/*, postfix/submission/smtpd, …)
	KindSmtpdConnect      // *SmtpdConnect
	KindSmtpdDisconnect   // *SmtpdDisconnect
	KindSmtpdClient       // *SmtpdClient
	KindReject            // *Reject (smtpd, cleanup header/body checks, milter, postscreen)
	KindSASLFailure       // *SASLFailure
	KindSessionError      // *SessionError (lost connection, timeout, too many errors …)
	KindTLSConnection     // *TLSConnection
	KindCleanupMessageID  // *CleanupMessageID
	KindSizeLimitExceeded // *SizeLimitExceeded
	KindQmgrQueued        // *QmgrQueued
	KindQmgrRemoved       // *QmgrRemoved
	KindQmgrExpired       // *QmgrExpired
	KindDelivery          // *Delivery
	KindBounceNotice      // *BounceNotice
	KindPickup            // *Pickup
	KindPostscreen        // *Postscreen
	KindPostfixWarning    // *PostfixWarning
	KindRateLimit         // *RateLimit (smtpd's anvil limits)

	// Dovecot (program tag dovecot)
	KindDovecotLogin        // *DovecotLogin
	KindDovecotLoginEnd     // *DovecotLoginEnd (a login process gave up before a login)
	KindDovecotAuthFailure  // *DovecotAuthFailure
	KindDovecotLogout       // *DovecotLogout
	KindDovecotLMTPDelivery // *DovecotLMTPDelivery

	KindAmavisResult   // *AmavisResult
	KindAmavisPart     // *AmavisPart (the rest of a line amavis split)
	KindAmavisRelease  // *AmavisRelease
	KindPostgrey       // *PostgreyResult
	KindClamdFound     // *ClamdFound
	KindRspamdResult   // *RspamdResult
	KindRoundcubeLogin // *RoundcubeLogin
	KindEximArrival    // *EximArrival (Exim's "<=")
	numKinds
)

var kindNames = [numKinds]string{
	"unknown", "notice",
	"smtpd_connect", "smtpd_disconnect", "smtpd_client", "reject", "sasl_failure",
	"session_error", "tls_connection", "cleanup_message_id", "size_limit_exceeded",
	"qmgr_queued", "qmgr_removed", "qmgr_expired", "delivery", "bounce_notice",
	"pickup", "postscreen", "postfix_warning", "rate_limit",
	"dovecot_login", "dovecot_login_end", "dovecot_auth_failure", "dovecot_logout",
	"dovecot_lmtp_delivery",
	"amavis_result", "amavis_part", "amavis_release", "postgrey", "clamd_found", "rspamd_result", "roundcube_login", "exim_arrival",
}

// String returns a short snake_case name, suitable as a metric label.
func (k Kind) String() string {
	if k < numKinds {
		return kindNames[k]
	}
	return "invalid"
}

// Kinds returns every Kind, in order.
func Kinds() []Kind {
	ks := make([]Kind, numKinds)
	for i := range ks {
		ks[i] = Kind(i)
	}
	return ks
}

// Event is one parsed log line. The concrete types are the pointer types
// named against the Kind constants; a type switch over them is exhaustive.
type Event interface {
	Kind() Kind
	// Header returns the framed line (time, host, program, pid, message).
	Header() Frame
	sealed()
}

// Unknown is a line no parser recognised. Callers count these per
// Frame.Program; they are never dropped silently.
type Unknown struct{ Frame }

// Notice is a recognised line that carries no event of its own, such as a
// daemon start or a configuration warning. QueueID is set when a Postfix
// line names one.
type Notice struct {
	Frame
	QueueID string
	Text    string
}

// SmtpdConnect is Postfix smtpd's "connect from name[ip]".
type SmtpdConnect struct {
	Frame
	ClientName, ClientIP string
}

// CommandCount is one "name=ok/total" pair of smtpd's disconnect line
// (Postfix ≥ 3.0, smtpd(8) "disconnect from … ehlo=1 mail=1 rcpt=0/1 …").
// "rcpt=1" means OK 1 of Total 1.
type CommandCount struct {
	Name      string
	OK, Total int
}

// SmtpdDisconnect is smtpd's "disconnect from name[ip] ehlo=1 … commands=3/4".
// The commands= pair is reported separately from the per-command counts.
type SmtpdDisconnect struct {
	Frame
	ClientName, ClientIP string
	Commands             []CommandCount
	CommandsOK           int
	CommandsTotal        int
}

// SmtpdClient is "QID: client=name[ip][, sasl_method=…, sasl_username=…]":
// smtpd created a queue file for a client's message.
type SmtpdClient struct {
	Frame
	QueueID              string
	ClientName, ClientIP string
	ClientPort           int // with smtpd_client_port_logging, else 0
	SASLMethod           string
	SASLUsername         string
	SASLSender           string
	OrigQueueID          string // from XFORWARD, when logged
	OrigClient           string // from XFORWARD, when logged
}

// Reject is a reject (or other access-table action) logged by smtpd,
// postscreen, cleanup (header_checks/body_checks) or a milter:
//
//	NOQUEUE: reject: RCPT from name[ip]: 450 4.2.0 <rcpt>: reason; from=<s> to=<r> proto=ESMTP helo=<h>
//	QID: reject: header Subject: text from name[ip]; from=<s> to=<r> proto=ESMTP helo=<h>: 5.7.1 reason
//
// QueueID is empty for NOQUEUE. Stage is the SMTP stage for smtpd (RCPT,
// MAIL, DATA, END-OF-MESSAGE, CONNECT, HELO, …) and "header" or "body" for
// cleanup; Detail carries the matched header or body text for cleanup.
type Reject struct {
	Frame
	QueueID              string
	Action               string // "reject", "discard", "hold", "warn", "milter-reject", …
	Stage                string
	ClientName, ClientIP string
	Code                 int    // SMTP reply code, 0 when not logged (cleanup)
	Enhanced             string // RFC 3463 enhanced status code, e.g. "4.2.0"
	Reason               string
	Detail               string
	From, To             string
	Proto, Helo          string
}

// SASLFailure is smtpd's "warning: name[ip]: SASL LOGIN authentication
// failed: reason[, sasl_username=user]".
type SASLFailure struct {
	Frame
	ClientName, ClientIP string
	Method               string
	Reason               string
	Username             string
}

// SessionError is an smtpd session that ended abnormally: "lost connection
// after STAGE from …", "timeout after STAGE from …", "too many errors after
// STAGE from …", "improper command pipelining after STAGE from …: text",
// "SSL_accept error from …".
type SessionError struct {
	Frame
	What                 string // "lost connection", "timeout", "too many errors", "improper command pipelining", "SSL_accept error"
	Stage                string // CONNECT, EHLO, RCPT, DATA, END-OF-MESSAGE, STARTTLS, …; empty for SSL_accept
	ClientName, ClientIP string
	Detail               string
}

// TLSConnection is "Anonymous TLS connection established from name[ip]:
// TLSv1.3 with cipher …" (smtpd) or "… established to name[ip]:port: …" (smtp).
type TLSConnection struct {
	Frame
	Trust            string // Anonymous, Untrusted, Trusted, Verified
	Inbound          bool   // "from" (smtpd) rather than "to" (smtp)
	PeerName, PeerIP string
	Protocol         string // e.g. TLSv1.3
	Cipher           string
}

// CleanupMessageID is cleanup's "QID: message-id=<id>", or with Resent
// its "QID: resent-message-id=<id>" (amavisd-new sets Resent-Message-ID
// "<mail_id-release_id@host>" on a message it releases from quarantine).
// MessageID excludes the angle brackets.
type CleanupMessageID struct {
	Frame
	QueueID   string
	MessageID string
	Resent    bool
}

// SizeLimitExceeded is "warning: QID: queue file size limit exceeded"
// (message_size_limit hit while receiving; the client then gets 552).
type SizeLimitExceeded struct {
	Frame
	QueueID string
}

// QmgrQueued is qmgr's "QID: from=<s>, size=N, nrcpt=N (queue active)".
type QmgrQueued struct {
	Frame
	QueueID string
	From    string
	Size    int64
	NRcpt   int
}

// QmgrRemoved is "QID: removed": the queue file is gone and the message is
// finished (qmgr after the last delivery, or postsuper -d).
type QmgrRemoved struct {
	Frame
	QueueID string
}

// QmgrExpired is "QID: from=<s>, status=expired, returned to sender": the
// message reached maximal_queue_lifetime.
type QmgrExpired struct {
	Frame
	QueueID string
	From    string
}

// Delivery statuses written in Postfix delivery lines.
const (
	StatusSent          = "sent"
	StatusDeferred      = "deferred"
	StatusBounced       = "bounced"
	StatusExpired       = "expired"
	StatusUndeliverable = "undeliverable"
	StatusDeliverable   = "deliverable"
)

// Delivery is a delivery-agent status line (smtp, lmtp, local, virtual,
// pipe, error, retry, discard, qmgr):
//
//	QID: to=<r>, orig_to=<o>, relay=name[ip]:port, delay=0.3, delays=a/b/c/d, dsn=2.0.0, status=sent (reply)
//
// Delays are the four phases of postconf(5) "delays=a/b/c/d": before the
// queue manager, in the queue manager, connection setup, transmission.
//
// When a content filter accepted the message, amavisd-new answers
// "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as QID2":
// FilterMTA is then true and QueuedAs holds QID2, the queue ID of the
// re-injected copy. "250 2.7.0 Ok, discarded, id=… - spam" sets
// FilterDiscarded, "250 2.5.0 Ok, id=…, BOUNCE" (amavis bounces the
// message itself) FilterBounced, any other "250 … Ok, id=…" FilterAccepted.
// QueuedAs is also set from an ordinary remote "queued as" reply; only a
// hand-off to a content filter links queue IDs. The reply is the remote
// server's text, so FilterHandoff believes it only for an IP-literal relay.
type Delivery struct {
	Frame
	QueueID         string
	Agent           string // the daemon: smtp, lmtp, local, virtual, pipe, error, …
	To, OrigTo      string
	Relay           string // as logged, e.g. "mx.uni.example[private/dovecot-lmtp]"
	ConnUse         int
	Delay           float64
	Delays          [4]float64
	DSN             string
	Status          string // StatusSent, StatusDeferred, …
	Reply           string // the text in parentheses
	QueuedAs        string
	FilterMTA       bool
	FilterDiscarded bool
	FilterBounced   bool
	FilterAccepted  bool
}

// FilterHandoff reports whether the line is a hand-off to a content filter
// by its reply alone: an amavisd-new reply (see Delivery) from a relay
// reached by its address ("127.0.0.1[127.0.0.1]:10024", as a
// content_filter = smtp-amavis:[127.0.0.1]:10024 next hop logs it, or
// localhost). A remote MX, found by name, could answer the same words;
// relays of other shapes are content filters only when configured
// (collectors.content_filter_relays).
func (d *Delivery) FilterHandoff() bool {
	if !d.FilterMTA && !d.FilterDiscarded && !d.FilterBounced && !d.FilterAccepted {
		return false
	}
	name, ip, _, rest, ok := hostIP(d.Relay)
	if !ok || (rest != "" && rest[0] != ':') {
		return false
	}
	return name == ip || name == "localhost"
}

// BounceNotice is bounce's "QID: sender non-delivery notification: QID2"
// (also "delay", "delivery status", "postmaster … notification"). QID2 is
// the queue ID of the notification message.
type BounceNotice struct {
	Frame
	QueueID       string
	Type          string // e.g. "sender non-delivery", "sender delay"
	NotifyQueueID string
}

// Pickup is pickup's "QID: uid=N from=<s>": a message submitted with the
// local sendmail command.
type Pickup struct {
	Frame
	QueueID string
	UID     int
	From    string
}

// Postscreen is one postscreen(8) verdict or event: CONNECT, PASS NEW,
// PASS OLD, DNSBL, PREGREET, HANGUP, DISCONNECT, WHITELISTED, … Its
// NOQUEUE rejects are Reject events.
type Postscreen struct {
	Frame
	Action     string
	ClientIP   string
	ClientPort int
	Detail     string
}

// PostfixWarning is any "warning:", "error:", "fatal:" or "panic:" line of a
// Postfix daemon not parsed into a more specific event.
type PostfixWarning struct {
	Frame
	Severity string
	QueueID  string
	Text     string
}

// RateLimit is smtpd's warning that a client went over an anvil(8) limit
// (smtpd.c; postconf(5) smtpd_client_*_rate_limit):
//
//	warning: Message delivery request rate limit exceeded: 41 from unknown[192.0.2.7] for service submission
//
// The client got a 421 (connections) or "450 4.7.1 Error: too much mail
// from …" (messages, recipients); Postfix logs no reject line for it.
type RateLimit struct {
	Frame
	Limit                string // "Connection rate", "Connection concurrency", "Message delivery request rate", "Recipient address rate", "New TLS session rate", "AUTH command rate", …
	Count                int
	ClientName, ClientIP string
	Service              string
}

// DovecotLogin is "imap-login: Login: user=<u>, method=PLAIN, rip=…, lip=…,
// mpid=…, TLS, session=<…>" (also pop3-login, submission-login, …).
type DovecotLogin struct {
	Frame
	Service           string // imap, pop3, submission, managesieve, …
	User              string
	Method            string
	RemoteIP, LocalIP string
	MPID              int
	TLS               bool // "TLS" or "secured" in the fields
	Session           string
}

// DovecotLoginEnd is a login process ending without a login, e.g.
// "imap-login: Disconnected: Aborted login by logging out (auth failed, 1
// attempts in 2 secs): user=<u>, method=PLAIN, rip=…, session=<…>" or
// "Disconnected (no auth attempts in 0 secs): …".
type DovecotLoginEnd struct {
	Frame
	Service           string
	Reason            string // the text before the fields
	AuthFailed        bool
	Attempts          int
	User              string
	Method            string
	RemoteIP, LocalIP string
	TLS               bool
	Session           string
}

// DovecotAuthFailure is an auth_verbose passdb result from the auth process:
// "auth: passwd-file(user,ip,<session>): Password mismatch" or "unknown
// user". RemoteIP and Session are empty when the auth client did not send
// them: Postfix's SASL client sends no session ID, and userdb lookups
// (e.g. by LMTP) send neither.
type DovecotAuthFailure struct {
	Frame
	Driver   string // passwd-file, pam, sql, ldap, …
	User     string
	RemoteIP string
	Session  string
	Reason   string
}

// DovecotLogout is the end of a mail session: "imap(user)<pid><session>:
// Disconnected: Logged out in=… out=…" (or pop3, submission).
type DovecotLogout struct {
	Frame
	Service string
	User    string
	PID     int
	Session string
	Reason  string // e.g. "Logged out", "Connection closed (FETCH finished 0.1 secs ago)"
	Stats   string // the counters, as logged
	// Reads is the number of messages the session read and ReadBytes
	// their size, from the counters of Dovecot's default logout formats
	// (doc/example-config/conf.d/20-imap.conf, 20-pop3.conf): IMAP's
	// body_count= and body_bytes= (%{fetch_body_count},
	// %{fetch_body_bytes}: message bodies fetched), POP3's retr=N/B (%r/%b:
	// RETR commands and their bytes). HasReads is false when the line has no
	// such counter (another service, a site's own logout format).
	Reads     int64
	ReadBytes int64
	HasReads  bool
}

// DovecotLMTPDelivery is "lmtp(user)<pid><session>: msgid=<id>: saved mail
// to INBOX" or "… save failed to INBOX: Quota exceeded (…)".
type DovecotLMTPDelivery struct {
	Frame
	User      string
	Session   string
	MessageID string
	Mailbox   string
	Saved     bool
	Error     string
}

// AmavisResult is amavisd-new's main log line for a message (log_level 0):
//
//	(27924-01) Passed CLEAN {RelayedInbound}, [ip]:port [ip] <from> -> <to>,<to2>, Queue-ID: QID,
//	  Message-ID: <id>, mail_id: …, Hits: 1.2, size: 1234, queued_as: QID2[/QID3], 453 ms
//
// QueuedAs holds the queue IDs of the copies re-injected into Postfix (one
// per recipient group). Long lines are split by amavis with "..."; the
// first part is parsed and Truncated is set, the continuation "(id) ...rest"
// is a Notice.
type AmavisResult struct {
	Frame
	LogID       string // "27924-01"
	Action      string // Passed, Blocked
	Category    string // CLEAN, SPAMMY, SPAM, INFECTED, BANNED, BAD-HEADER, UNCHECKED, …
	Detail      string // the parenthesised text after the category: virus or banned part
	Flags       string // the {…} text, e.g. "RelayedInbound" or "DiscardedInbound,Quarantined"
	Originating bool
	ClientIP    string
	ClientPort  int
	From        string
	To          []string
	QueueID     string
	MessageID   string
	MailID      string
	Hits        string // "1.199", "-" or "999" as logged
	Size        int64
	QueuedAs    []string
	Quarantine  string
	ElapsedMS   int
	Truncated   bool
}

// AmavisPart is a piece of a line amavisd-new split because it was longer
// than $logline_maxlen: "(27924-01) ...rest of the line[...]". The first
// piece is an AmavisResult with Truncated set; the pieces that follow
// carry the same LogID, and More is set while the piece itself ends in
// "..." (collectors/correlate joins them and reads the whole line).
type AmavisPart struct {
	Frame
	LogID string
	Text  string // without the leading and any trailing "..."
	More  bool
}

// AmavisRelease is amavisd-new releasing a message from its quarantine
// (amavisd-release, or the AM.PDP "request=release"):
//
//	(rel-bwvMRikSD6z4) Quarantined message release (miscategorized): 75KqW2aHviSR <from> -> <to>[,<to>…]
//
// The released copy is sent again with Resent-Message-ID
// "<MailID-ReleaseID@host>" (ReleaseID is LogID without "rel-").
type AmavisRelease struct {
	Frame
	LogID  string
	Reason string
	MailID string
	From   string
	To     []string
}

// ReleaseID returns the ID amavis puts after the mail_id in the released
// copy's Resent-Message-ID.
func (e *AmavisRelease) ReleaseID() string { return strings.TrimPrefix(e.LogID, "rel-") }

// PostgreyResult is postgrey's policy decision: "[QID: ]action=greylist,
// reason=new, client_name=…, client_address=…, sender=…, recipient=…".
// Delay is -1 when not logged; RetryMissing is the N of "early-retry (Ns
// missing)".
type PostgreyResult struct {
	Frame
	QueueID       string
	Action        string // greylist, pass
	Reason        string // new, early-retry, triplet found, recipient whitelist, client whitelist, client AWL, …
	RetryMissing  int
	Delay         int
	ClientName    string
	ClientAddress string
	Sender        string
	Recipient     string
}

// ClamdFound is clamd's "path: Signature FOUND".
type ClamdFound struct {
	Frame
	Path      string
	Signature string
}

// RspamdResult is rspamd's task log line (rspamd_task_write_log), e.g.
// "<id>; task; rspamd_task_write_log: id: <mid>, qid: <QID>, ip: 1.2.3.4,
// from: <s>, (default: F (no action): [1.50/15.00] [SYM1(1.00){},…]), len: 123, …".
type RspamdResult struct {
	Frame
	MessageID string
	QueueID   string
	IP        string
	From      string
	IsSpam    bool   // the T/F flag
	Action    string // no action, greylist, add header, rewrite subject, soft reject, reject
	Score     float64
	Threshold float64
	Symbols   []string
}

// RoundcubeLogin is a webmail sign-in: Roundcube's userlogins entry
// ("Successful login for USER (ID: n) from IP in session S" or "Failed
// login for USER from IP in session S (error: n)"), and the sign-in lines
// of any other webmail family, which fill the fields they have. The login
// record's source is the family's name.
type RoundcubeLogin struct {
	Frame
	OK       bool
	User     string
	UserID   int
	RemoteIP string
	Session  string
}

// EximArrival is Exim's arrival line: a message was received and queued
// under ID (Exim spec, "Reading log files"):
//
//	1xaRNo-0006UC-1l <= maria@uni.example H=([127.0.2.22]) [127.0.2.22]:59703 P=esmtpa A=LOGIN:maria@uni.example S=25405 id=x@uni.example T="Subject" for a@b.example
//
// Bounce is set for Exim's own bounce ("<= <>", with R= the message it
// bounces); LocalUser (U=) for local submission (P=local).
type EximArrival struct {
	Frame
	ID                   string
	From                 string
	Bounce               bool
	BounceOf             string // R= of a bounce: the ID of the bounced message
	ClientName, Helo     string
	ClientIP             string
	ClientPort           int
	LocalIP              string // I=, the interface the message came in on (+incoming_interface)
	LocalPort            int
	Protocol             string // P=: smtp, esmtp, esmtps, esmtpa, esmtpsa, local, …
	AuthMethod, AuthUser string // A=authenticator:set_id
	LocalUser            string // U=
	Size                 int64
	MessageID            string // id=
	Subject              string // T= (+subject)
	Recipients           []string
}

func (*Unknown) Kind() Kind             { return KindUnknown }
func (*Notice) Kind() Kind              { return KindNotice }
func (*SmtpdConnect) Kind() Kind        { return KindSmtpdConnect }
func (*SmtpdDisconnect) Kind() Kind     { return KindSmtpdDisconnect }
func (*SmtpdClient) Kind() Kind         { return KindSmtpdClient }
func (*Reject) Kind() Kind              { return KindReject }
func (*SASLFailure) Kind() Kind         { return KindSASLFailure }
func (*SessionError) Kind() Kind        { return KindSessionError }
func (*TLSConnection) Kind() Kind       { return KindTLSConnection }
func (*CleanupMessageID) Kind() Kind    { return KindCleanupMessageID }
func (*SizeLimitExceeded) Kind() Kind   { return KindSizeLimitExceeded }
func (*QmgrQueued) Kind() Kind          { return KindQmgrQueued }
func (*QmgrRemoved) Kind() Kind         { return KindQmgrRemoved }
func (*QmgrExpired) Kind() Kind         { return KindQmgrExpired }
func (*Delivery) Kind() Kind            { return KindDelivery }
func (*BounceNotice) Kind() Kind        { return KindBounceNotice }
func (*Pickup) Kind() Kind              { return KindPickup }
func (*Postscreen) Kind() Kind          { return KindPostscreen }
func (*PostfixWarning) Kind() Kind      { return KindPostfixWarning }
func (*RateLimit) Kind() Kind           { return KindRateLimit }
func (*DovecotLogin) Kind() Kind        { return KindDovecotLogin }
func (*DovecotLoginEnd) Kind() Kind     { return KindDovecotLoginEnd }
func (*DovecotAuthFailure) Kind() Kind  { return KindDovecotAuthFailure }
func (*DovecotLogout) Kind() Kind       { return KindDovecotLogout }
func (*DovecotLMTPDelivery) Kind() Kind { return KindDovecotLMTPDelivery }
func (*AmavisResult) Kind() Kind        { return KindAmavisResult }
func (*AmavisPart) Kind() Kind          { return KindAmavisPart }
func (*AmavisRelease) Kind() Kind       { return KindAmavisRelease }
func (*PostgreyResult) Kind() Kind      { return KindPostgrey }
func (*ClamdFound) Kind() Kind          { return KindClamdFound }
func (*RspamdResult) Kind() Kind        { return KindRspamdResult }
func (*RoundcubeLogin) Kind() Kind      { return KindRoundcubeLogin }
func (*EximArrival) Kind() Kind         { return KindEximArrival }
