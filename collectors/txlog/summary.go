package txlog

import (
	"context"
	"time"
)

// Summary holds grand totals over a period in the spirit of pflogsumm,
// computed by the database from the stored logs. Definitions:
//
//   - Received: messages a client handed over and that were accepted
//     (SMTP, submission, local pickup, the engine), each once:
//     content-filter re-injections are the same message again and do not
//     count, nor do quarantine releases and the content filter's own
//     notifications. Refused: messages refused after smtpd had created
//     their queue file (header/body checks, the queue file size limit);
//     Received + Refused are the messages that entered from clients.
//   - Delivered: final deliveries (status=sent rows that are not hand-offs
//     to the content filter); Forwarded: the part of them that came from
//     outside and left again (direction relayed).
//   - Deferred: deferred delivery attempts (rows) and distinct messages.
//   - Rejected: rejects during the SMTP dialogue by stage and code;
//     header/body-check rejects are CleanupRejected.
//   - Greylisted: greylisting decisions "try again later".
//   - Logins: login outcomes by protocol and result; SASLFailures are
//     Postfix's "SASL … authentication failed"; AuthFailures are Dovecot's
//     passdb failures by login service, SMTP AUTH (no session) as "smtp".
//   - Verdicts: content-filter results ("Passed CLEAN", "Blocked SPAM", …).
type Summary struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`

	Received         int64            `json:"received"`
	Refused          int64            `json:"refused"`  // refused after the queue file was created (not received)
	Messages         int64            `json:"messages"` // message records, notifications included
	Delivered        int64            `json:"delivered"`
	DeliveredBy      map[string]int64 `json:"delivered_by_agent"`
	DeliveredByDir   map[string]int64 `json:"delivered_by_direction"`
	Forwarded        int64            `json:"forwarded"`
	SentLines        int64            `json:"sent_lines"`      // status=sent rows, hand-offs included
	FilterHandoffs   int64            `json:"filter_handoffs"` // status=sent rows to the content filter
	Deferred         int64            `json:"deferred"`
	DeferredMessages int64            `json:"deferred_messages"`
	Bounced          int64            `json:"bounced"`
	Expired          int64            `json:"expired"`
	Discarded        int64            `json:"discarded"`
	Rejected         []RejectCount    `json:"rejected"`
	RejectedTotal    int64            `json:"rejected_total"`
	CleanupRejected  int64            `json:"cleanup_rejected"`
	Greylisted       int64            `json:"greylisted"`
	GreylistPassed   int64            `json:"greylist_passed"`
	BytesReceived    int64            `json:"bytes_received"`
	BytesDelivered   int64            `json:"bytes_delivered"`
	Senders          int64            `json:"senders"`
	Recipients       int64            `json:"recipients"`
	Logins           []LoginCount     `json:"logins"`
	UniqueUsers      int64            `json:"unique_users"`
	SASLFailures     int64            `json:"sasl_failures"`
	AuthFailures     map[string]int64 `json:"auth_failures"`
	Verdicts         map[string]int64 `json:"verdicts"`
	Spam             int64            `json:"spam"`  // SPAM and SPAMMY verdicts
	Virus            int64            `json:"virus"` // INFECTED verdicts
	Banned           int64            `json:"banned"`
	// Tables are pflogsumm's detail tables of the same period, when asked
	// for (postvakt summary; GET /api/v1/mail/tables serves them alone).
	Tables *Tables `json:"tables,omitempty"`
}

// RejectCount is the number of rejects at one SMTP stage with one code.
type RejectCount struct {
	Stage string `json:"stage"`
	Code  int    `json:"code"`
	Count int64  `json:"count"`
}

// LoginCount is the number of login outcomes for a protocol and result.
type LoginCount struct {
	Protocol string `json:"protocol"`
	Result   string `json:"result"` // ok, failed
	Count    int64  `json:"count"`
}

// DomainCount is the number of messages of one domain (a sender's or a
// recipient's), as the busiest domains of a period are listed.
type DomainCount struct {
	Domain string `json:"domain"`
	Count  int64  `json:"count"`
}

// SummaryStore computes a Summary over [since, until).
type SummaryStore interface {
	TxSummary(ctx context.Context, since, until time.Time) (Summary, error)
}
