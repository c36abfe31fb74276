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
	// DirectoryChanges names the domains and mailboxes added and removed
	// between the directory as it stood at before and at after (the
	// snapshots Registrations returns for those instants). ErrNoData when
	// the record of names does not reach back to before.
	DirectoryChanges(ctx context.Context, before, after time.Time) (DirectoryChanges, error)
	// ActiveUsers counts the distinct accounts with a successful login on
	// the days [from, to) (local midnights), per protocol and over all
	// (AllProtocols).
	ActiveUsers(ctx context.Context, from, to time.Time) (ActiveUsers, error)
	// MailDays returns one row per day with messages accepted: received
	// from outside, sent by local users and of unknown direction.
	MailDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]MailDay, error)
	// Flow counts the messages accepted in [from, to) by side and outcome.
	Flow(ctx context.Context, from, to time.Time) ([]FlowCount, error)
	// Rejects counts the refusals in [from, to) by SMTP stage and code.
	Rejects(ctx context.Context, from, to time.Time) ([]RejectCount, error)
	// ScanDays returns spam and virus handling per day, verdict and action.
	ScanDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]ScanCount, error)
	// LoginDays returns logins per day and protocol, with failures and the
	// distinct users of that day.
	LoginDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]LoginDay, error)
	// ReadDays returns the messages read per day and protocol.
	ReadDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]ReadDay, error)
	// TrafficHours returns bytes in and out per hour.
	TrafficHours(ctx context.Context, from, to time.Time) ([]TrafficHour, error)
	// Coverage returns, per day, each log source and host that has records.
	Coverage(ctx context.Context, loc *time.Location, from, to time.Time) ([]CoverageDay, error)
	// Availability returns the availability the probes measured for each
	// probed service over [from, to); none when no probe has results.
	Availability(ctx context.Context, from, to time.Time) ([]ServiceAvailability, error)
	// Outages returns incidents and notices that overlap [from, to), and
	// the down intervals the probes measured.
	Outages(ctx context.Context, from, to time.Time) ([]Outage, error)
	// Tickets returns the fault tickets opened in [from, to) and those
	// opened earlier and still open at from.
	Tickets(ctx context.Context, from, to time.Time) ([]Ticket, error)
	// OnCall returns who held on-call duty in [from, to) and the pages sent.
	OnCall(ctx context.Context, from, to time.Time) (OnCall, error)
	// MailTables returns the busiest senders, recipients and their domains
	// (the first n of each; addresses only when asked) and the reply texts
	// of rejects, deferrals and bounces, in [from, to).
	MailTables(ctx context.Context, from, to time.Time, n int, addresses bool) (MailTables, error)
	// Totals are the raw logs' own totals of [from, to) (txlog.Summary's
	// definitions), to check the report's figures against. ErrNoData when
	// the raw logs no longer reach back to from (retention).
	Totals(ctx context.Context, from, to time.Time) (Totals, error)
}

// Registrations is a directory snapshot, taken daily (docs/collectors.md,
// "Rollups, snapshots, retention").
type Registrations struct {
	At            time.Time `json:"at"`
	Domains       int64     `json:"domains"`
	Mailboxes     int64     `json:"mailboxes"`
	AllottedBytes int64     `json:"allotted_bytes"` // sum of all mailbox quotas
	UsedBytes     int64     `json:"used_bytes"`     // sum of the bytes the mailboxes hold
	// ExtraBytes is capacity granted beyond the default quota: the sum over
	// mailboxes of max(0, quota − default quota), as the directory counted
	// it. −1 when the snapshot did not record it: the report then shows it
	// as missing, never estimated.
	ExtraBytes int64 `json:"extra_bytes"`
}

// DirectoryChanges are the domains and mailboxes added and removed between
// two directory snapshots, sorted.
type DirectoryChanges struct {
	AddedDomains     []string `json:"added_domains"`
	RemovedDomains   []string `json:"removed_domains"`
	AddedMailboxes   []string `json:"added_mailboxes"`
	RemovedMailboxes []string `json:"removed_mailboxes"`
}

// ActiveUsers are the distinct accounts with a successful login in a run
// of days, by protocol (ProtocolIMAP, …) and over every protocol
// (AllProtocols). Days is the number of those days with any login.
type ActiveUsers struct {
	ByProtocol map[string]int64 `json:"by_protocol"`
	Days       int              `json:"days"`
}

// MailDay is one day of accepted messages (docs/reports.md,
// "Definitions"): received from outside (directions inbound and relayed),
// sent by local users (internal and outbound), and those of unknown
// direction; count and bytes.
type MailDay struct {
	Day           time.Time `json:"day"`
	ReceivedCount int64     `json:"received_count"`
	ReceivedBytes int64     `json:"received_bytes"`
	SentCount     int64     `json:"sent_count"`
	SentBytes     int64     `json:"sent_bytes"`
	UnknownCount  int64     `json:"unknown_count"`
	UnknownBytes  int64     `json:"unknown_bytes"`
}

// Sides of the mail flow: who handed the message over.
const (
	SideOutside = "outside" // a sender outside (directions inbound, relayed)
	SideLocal   = "local"   // a local user or system (internal, outbound)
	SideUnknown = "unknown" // not decidable (the log was cut)
)

// FlowCount is the messages accepted from one side that ended with one
// outcome (FlowOutcomes), and their bytes.
type FlowCount struct {
	Side    string `json:"side"`
	Outcome string `json:"outcome"`
	Count   int64  `json:"count"`
	Bytes   int64  `json:"bytes"`
}

// RejectCount is the refusals at one SMTP stage with one reply code;
// stages "header" and "body" are header and body checks after the data.
type RejectCount struct {
	Stage string `json:"stage"`
	Code  int    `json:"code"`
	Count int64  `json:"count"`
}

// ReadDay is the messages one protocol read on one day, and their bytes.
type ReadDay struct {
	Day      time.Time `json:"day"`
	Protocol string    `json:"protocol"`
	Reads    int64     `json:"reads"`
	Bytes    int64     `json:"bytes"`
}

// CoverageDay says that a log source (postfix, dovecot, amavis, …) of a
// host has records on a day.
type CoverageDay struct {
	Day     time.Time `json:"day"`
	Source  string    `json:"source"`
	Host    string    `json:"host"`
	Records int64     `json:"records"`
}

// ServiceAvailability is what the probes measured of one service
// (collectors/probe.Figures): the time measured (the period less planned
// maintenance and time without probe results) and the unplanned downtime
// in it.
type ServiceAvailability struct {
	Service  string        `json:"service"`
	Probes   []string      `json:"probes"`
	Total    time.Duration `json:"total"`
	Planned  time.Duration `json:"planned"`
	NoData   time.Duration `json:"no_data"`
	Measured time.Duration `json:"measured"`
	Down     time.Duration `json:"down"`
}

// MailTables are pflogsumm's tables of a period: the busiest senders,
// recipients and their domains (each with the total over every name, so
// that the rest can be shown), and the replies of rejects, deferrals and
// bounces as logged.
type MailTables struct {
	Senders          NameTable    `json:"senders"`
	Recipients       NameTable    `json:"recipients"`
	SenderDomains    NameTable    `json:"sender_domains"`
	RecipientDomains NameTable    `json:"recipient_domains"`
	Replies          []ReplyCount `json:"replies"`
}

// NameTable is the first names of a busiest-names list and the total
// over all of them.
type NameTable struct {
	Top        []NameCount `json:"top"`
	Names      int64       `json:"names"` // distinct names in all
	TotalCount int64       `json:"total_count"`
	TotalBytes int64       `json:"total_bytes"`
}

// NameCount is an address or domain with its messages and bytes.
type NameCount struct {
	Name  string `json:"name"`
	Count int64  `json:"count"`
	Bytes int64  `json:"bytes"`
}

// ReplyCount is how many outcomes of one status had one reply as logged.
type ReplyCount struct {
	Status string `json:"status"` // rejected, deferred, bounced, expired
	Stage  string `json:"stage"`
	Code   int    `json:"code"`
	DSN    string `json:"dsn"`
	Reply  string `json:"reply"`
	Count  int64  `json:"count"`
}

// Totals are the raw logs' totals of a period (collectors/txlog.Summary):
// messages received, their bytes, SMTP rejects and header/body-check
// rejects.
type Totals struct {
	Received        int64 `json:"received"`
	BytesReceived   int64 `json:"bytes_received"`
	Rejected        int64 `json:"rejected"`
	CleanupRejected int64 `json:"cleanup_rejected"`
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
