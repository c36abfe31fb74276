package correlate

// RejectKey groups smtpd rejects by SMTP stage and reply code.
type RejectKey struct {
	Stage string // RCPT, MAIL, DATA, END-OF-MESSAGE, CONNECT, HELO, …
	Code  int
}

// AuthFailures counts Dovecot passdb failures (auth_verbose lines) by the
// login service they belong to. Dovecot's login processes send a session
// ID with each auth request, which the login line then names; Postfix's
// SASL client sends none, and neither do userdb lookups (LMTP).
type AuthFailures struct {
	IMAP, POP3, Submission, Other int
	// NoSession counts failures without a session ID: SMTP AUTH through
	// Postfix, plus passdb/userdb lookups by other clients such as LMTP.
	NoSession int
	// NoSessionWithIP is the part of NoSession that carried a remote IP,
	// which only auth clients acting for a remote user (Postfix SASL) send.
	NoSessionWithIP int
	// Unresolved have a session ID whose login line was never seen.
	Unresolved int
}

// Summary holds counters in the spirit of pflogsumm. Line counters move as
// events arrive; message counters move when a Message record is emitted,
// so call Flush before reading them at the end of a run.
type Summary struct {
	// Messages counts emitted Message records (content-filter copies joined).
	Messages int
	// MessagesFromClients counts records whose first queue ID entered from
	// a client (smtpd or pickup): each client message once.
	MessagesFromClients int
	// ReceivedFromClients sums Message.Received: queue IDs that entered
	// from a client (smtpd "client=" or pickup) less those amavis reported
	// as its own re-injections ("queued_as:"), refused messages,
	// quarantine releases and the content filter's notifications.
	ReceivedFromClients int
	// Reinjections counts queue IDs amavis reported in "queued_as:";
	// ReinjectionsByHandoff those named by a hand-off's "queued as".
	Reinjections          int
	ReinjectionsByHandoff int
	// QueueIDsWithMessageID counts cleanup "message-id=" lines.
	QueueIDsWithMessageID int
	Bounces               int // notifications Postfix generated (bounce "… notification:")
	QuarantineReleases    int // amavis "Quarantined message release" lines
	// Refused counts records that ended StateRefused: the client was
	// refused the message after smtpd created its queue file.
	Refused int

	SentLines       int // status=sent lines, hand-offs included
	FilterHandoffs  int // status=sent to the content filter
	Delivered       int // status=sent, hand-offs excluded: final deliveries
	DeliveredLMTP   int
	DeliveredRemote int // smtp agent
	DeliveredLocal  int // local, virtual, pipe
	DeferredLines   int
	// DeferredMessages counts records with at least one deferred delivery.
	DeferredMessages int
	Bounced          int // status=bounced lines
	Expired          int // qmgr "status=expired"
	Removed          int // qmgr "removed" lines

	Rejects        map[RejectKey]int // smtpd and postscreen rejects ("reject" action)
	RejectsTotal   int
	CleanupRejects int // header_checks / body_checks
	SizeLimit      int // "queue file size limit exceeded"

	Greylisted   int // postgrey action=greylist
	GreylistPass int // postgrey action=pass

	SASLFailures int // Postfix "SASL … authentication failed"
	// SASLLogins counts successful SMTP AUTH: the "auth=" count of each
	// smtpd disconnect line (sessions that sent nothing included), or one
	// per session whose mail named an account when no count was logged.
	SASLLogins  int
	RateLimited int // smtpd "… rate limit exceeded" warnings

	// Warnings counts Postfix warning:, error:, fatal: and panic: lines by
	// severity (SASL failures and rate limits included).
	Warnings map[string]int

	DovecotLogins       map[string]int // by service: imap, pop3, …
	DovecotAuthFailures AuthFailures
	LMTPSaved           int
	LMTPSaveFailed      int

	Amavis map[string]int // "Passed CLEAN", "Blocked INFECTED", …
	// AmavisJoined counts amavis lines read whole from the pieces amavis
	// split them into; AmavisOrphanParts pieces whose start was not seen.
	AmavisJoined, AmavisOrphanParts int
	Virus                           int            // clamd FOUND
	Rspamd                          map[string]int // by action

	WebmailLogins, WebmailFailures int

	// Unknown counts lines no parser recognised, by program.
	Unknown map[string]int
	// Events counts every event by kind name.
	Events map[string]int
	// Orphans counts lines about a queue ID that arrive after its record
	// was emitted (e.g. a late link); they start a fresh record.
	Orphans int
}

func newSummary() Summary {
	return Summary{
		Rejects:       map[RejectKey]int{},
		DovecotLogins: map[string]int{},
		Amavis:        map[string]int{},
		Rspamd:        map[string]int{},
		Unknown:       map[string]int{},
		Events:        map[string]int{},
		Warnings:      map[string]int{},
	}
}

func (s Summary) clone() Summary {
	c := s
	c.Rejects = cloneMap(s.Rejects)
	c.DovecotLogins = cloneMap(s.DovecotLogins)
	c.Amavis = cloneMap(s.Amavis)
	c.Rspamd = cloneMap(s.Rspamd)
	c.Unknown = cloneMap(s.Unknown)
	c.Events = cloneMap(s.Events)
	c.Warnings = cloneMap(s.Warnings)
	return c
}

func cloneMap[K comparable](m map[K]int) map[K]int {
	c := make(map[K]int, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}
