package reports

import (
	"context"
	"time"
)

// Source is everything the monthly report reads.
// internal/store/reportstore implements it over the named readers of the
// stores that own the data (the collectors' rollups and directory
// snapshots, the tickets, notices and incidents, the probes, the on-call
// pages; internal/app adds the rota's shifts); tests use
// reportstest.Memory. Every method takes the half-open interval [from, to)
// in absolute time; a day is a calendar day in the report's time zone and
// is identified by its local midnight.
type Source interface {
	// Registrations is the directory as it stood at instant at: the last
	// daily snapshot taken before it. ErrNoData when there is none.
	Registrations(ctx context.Context, at time.Time) (Registrations, error)
	// ActiveUsers counts the distinct users who logged in during [from, to).
	ActiveUsers(ctx context.Context, from, to time.Time) (int64, error)
	// MailDays returns one row per day with traffic, mail received and sent.
	MailDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]MailDay, error)
	// ScanDays returns spam and virus handling per day, verdict and action.
	ScanDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]ScanCount, error)
	// LoginDays returns logins per day and protocol, with failures and the
	// distinct users of that day.
	LoginDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]LoginDay, error)
	// TrafficHours returns bytes in and out per hour.
	TrafficHours(ctx context.Context, from, to time.Time) ([]TrafficHour, error)
	// Outages returns incidents and notices that overlap [from, to).
	Outages(ctx context.Context, from, to time.Time) ([]Outage, error)
	// Tickets returns the fault tickets opened in [from, to) and those
	// opened earlier and still open at from.
	Tickets(ctx context.Context, from, to time.Time) ([]Ticket, error)
	// OnCall returns who held on-call duty in [from, to) and the pages sent.
	OnCall(ctx context.Context, from, to time.Time) (OnCall, error)
	// TopDomains returns the n busiest sender and recipient domains of
	// external mail, by message count. Only called when the report is
	// configured to show them (reports.top_domains > 0).
	TopDomains(ctx context.Context, from, to time.Time, n int) (senders, recipients []DomainCount, err error)
}

// Registrations is a directory snapshot, taken daily (docs/collectors.md,
// "Rollups, snapshots, retention").
type Registrations struct {
	At            time.Time `json:"at"`
	Domains       int64     `json:"domains"`
	Mailboxes     int64     `json:"mailboxes"`
	AllottedBytes int64     `json:"allotted_bytes"` // sum of all mailbox quotas
	// ExtraBytes is capacity granted beyond the default quota: the sum over
	// mailboxes of max(0, quota − default quota). −1 when the source does not
	// know it; the report then derives it from reports.default_quota as
	// allotted − mailboxes × default quota.
	ExtraBytes int64 `json:"extra_bytes"`
}

// MailDay is one day of mail: received (inbound, MX) and sent
// (outbound, submission and relay), count and bytes.
type MailDay struct {
	Day           time.Time `json:"day"`
	ReceivedCount int64     `json:"received_count"`
	ReceivedBytes int64     `json:"received_bytes"`
	SentCount     int64     `json:"sent_count"`
	SentBytes     int64     `json:"sent_bytes"`
}

// Scan verdicts, as the collectors name them.
const (
	VerdictClean      = "clean"
	VerdictSpam       = "spam"
	VerdictVirus      = "virus"
	VerdictBanned     = "banned" // forbidden attachment type
	VerdictGreylisted = "greylisted"
)

// Scan actions.
const (
	ActionDelivered   = "delivered"
	ActionTagged      = "tagged"
	ActionQuarantined = "quarantined"
	ActionRejected    = "rejected"
	ActionDeferred    = "deferred"
)

// ScanCount is the number of messages of one day with one verdict handled
// with one action.
type ScanCount struct {
	Day     time.Time `json:"day"`
	Verdict string    `json:"verdict"`
	Action  string    `json:"action"`
	Count   int64     `json:"count"`
}

// Login protocols.
const (
	ProtocolWebmail  = "webmail"
	ProtocolIMAP     = "imap"
	ProtocolPOP      = "pop3"
	ProtocolSMTPAuth = "smtp_auth"
	// AllProtocols marks a LoginDay that carries only the distinct users of
	// the day over every protocol (OK and Failed zero).
	AllProtocols = ""
)

// LoginDay counts logins of one day over one protocol.
type LoginDay struct {
	Day      time.Time `json:"day"`
	Protocol string    `json:"protocol"`
	OK       int64     `json:"ok"`
	Failed   int64     `json:"failed"`
	Users    int64     `json:"users"` // distinct users with a successful login that day
}

// TrafficHour is the mail traffic of one hour.
type TrafficHour struct {
	Hour     time.Time `json:"hour"`
	InBytes  int64     `json:"in_bytes"`
	OutBytes int64     `json:"out_bytes"`
}

// Outage is an interruption of a service: an incident (unplanned) or a
// maintenance notice (planned). End is zero while it lasts.
type Outage struct {
	Service string    `json:"service"`
	Ref     string    `json:"ref"` // incident, notice or ticket ID
	Title   string    `json:"title"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Planned bool      `json:"planned"`
}

// Ticket is a fault ticket with its SLA results, as computed by the
// tickets capability on its business calendar (docs/tickets.md, "SLA
// policies").
type Ticket struct {
	ID       string    `json:"id"`
	Service  string    `json:"service"`
	Severity string    `json:"severity"`
	Title    string    `json:"title"`
	OpenedAt time.Time `json:"opened_at"`
	// InHours: the fault was notified within the SLA's service hours (e.g.
	// 09:00–17:00 on a working day), so the response target applies.
	InHours bool `json:"in_hours"`
	// ResponseTarget is the SLA's response target; zero when none applies.
	ResponseTarget time.Duration `json:"response_target"`
	// RespondedAt is the first response (acknowledgement); zero if none yet.
	RespondedAt time.Time `json:"responded_at"`
	// ResponseBreached is the SLA clock's verdict: the response came (or is
	// still missing) after the target, counted in business time.
	ResponseBreached bool      `json:"response_breached"`
	ResolvedAt       time.Time `json:"resolved_at"` // zero while open
}

// OnCall is the on-call record of a period.
type OnCall struct {
	Shifts []Shift `json:"shifts"`
	Pages  []Page  `json:"pages"`
}

// Shift is one holder of on-call duty for an interval (normally a week).
type Shift struct {
	Member string    `json:"member"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// Page is one page sent to the on-call person.
type Page struct {
	At      time.Time `json:"at"`
	Member  string    `json:"member"`
	Ref     string    `json:"ref"`      // incident ID
	AckedAt time.Time `json:"acked_at"` // zero when never acknowledged
}

// DomainCount is a domain and its message count.
type DomainCount struct {
	Domain string `json:"domain"`
	Count  int64  `json:"count"`
}
