// Package probe watches the team's services from outside, the way a user
// meets them: TCP connect, SMTP (banner, EHLO, STARTTLS, certificate,
// AUTH), IMAP and POP3 (greeting, TLS, LOGIN), HTTP(S) (status, body,
// certificate), DNS (an answer from the cache within a bound) and the mail
// loop (a message submitted and fetched back). A Runner schedules probes
// with jitter, retries before declaring a failure, records results and
// state changes through Store, raises and resolves incidents through
// Incidents, and exports metrics labelled by service, node and kind only.
// Availability turns state changes and maintenance windows into figures.
//
// The package imports nothing of ours: internal/store/probestore implements
// Store and, over the engine's mail store, Mailbox; internal/app adapts the
// on-call incident service to Incidents.
package probe

import (
	"context"
	"time"
)

// Kind is a probe kind, a closed set (also a metric label).
type Kind string

// The probe kinds.
const (
	KindTCP  Kind = "tcp"
	KindSMTP Kind = "smtp"
	KindIMAP Kind = "imap"
	KindPOP3 Kind = "pop3"
	KindHTTP Kind = "http"
	KindDNS  Kind = "dns"
	KindLoop Kind = "loop"
)

// Kinds lists every Kind.
func Kinds() []Kind {
	return []Kind{KindTCP, KindSMTP, KindIMAP, KindPOP3, KindHTTP, KindDNS, KindLoop}
}

// Status is a probe's (or a service's) state.
type Status string

// The Status values. Unknown is a probe that has not run yet.
const (
	StatusUnknown Status = "unknown"
	StatusUp      Status = "up"
	StatusDown    Status = "down"
)

// Step is one timed step of a probe run ("connect", "banner", "ehlo",
// "starttls", "auth", "submit", "fetch", ...), as `postvakt probe run`
// prints it.
type Step struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration_ns"`
	Detail   string        `json:"detail,omitempty"` // e.g. "220 mx1 ESMTP", "certificate expires in 41 days"
	Err      string        `json:"error,omitempty"`
}

// Result is the outcome of one probe run, after its retries.
type Result struct {
	Probe    string        `json:"probe"` // Spec.Name
	Service  string        `json:"service"`
	Node     string        `json:"node"`
	Kind     Kind          `json:"kind"`
	At       time.Time     `json:"at"` // start of the (last) attempt
	Duration time.Duration `json:"duration_ns"`
	OK       bool          `json:"ok"`
	// Attempts is how many tries the run took (1 when the first passed).
	Attempts int    `json:"attempts"`
	Error    string `json:"error,omitempty"`
	Steps    []Step `json:"steps"`
	// CertExpiry is the earliest NotAfter of the peer's certificate chain
	// (zero when the probe saw no certificate).
	CertExpiry time.Time `json:"cert_expiry,omitzero"`
	// LoopDelivery is the mail loop's submit-to-seen time (loop probes).
	LoopDelivery time.Duration `json:"loop_delivery_ns,omitempty"`
	// Warning is set for a passing probe that needs attention (a
	// certificate close to expiry, a slow loop).
	Warning string `json:"warning,omitempty"`
}

// State is a probe's current state as stored.
type State struct {
	Probe   string    `json:"probe"`
	Service string    `json:"service"`
	Node    string    `json:"node"`
	Kind    Kind      `json:"kind"`
	Status  Status    `json:"status"`
	Since   time.Time `json:"since"` // when Status began
	// LastAt and LastResult describe the latest run.
	LastAt      time.Time     `json:"last_at,omitzero"`
	LastOK      bool          `json:"last_ok"`
	LastError   string        `json:"last_error,omitempty"`
	LastLatency time.Duration `json:"last_duration_ns"`
	Warning     string        `json:"warning,omitempty"`
	CertExpiry  time.Time     `json:"cert_expiry,omitzero"`
	// Node of the replica that ran it last (the "every replica" mode).
	Replica string `json:"replica,omitempty"`
}

// Change is a state change of one probe: from At on, it was Status.
type Change struct {
	Probe   string    `json:"probe"`
	Service string    `json:"service"`
	Node    string    `json:"node"`
	Kind    Kind      `json:"kind"`
	Status  Status    `json:"status"`
	At      time.Time `json:"at"`
	Error   string    `json:"error,omitempty"`
}

// Store is what the package needs of the database
// (internal/store/probestore).
type Store interface {
	// SaveProbeResult records a run. When the result changes the probe's
	// status (or it has none yet) it also records a Change at r.At and
	// returns it with changed=true; the state row is updated either way.
	// replica is the node name of the postvakt replica that ran it.
	SaveProbeResult(ctx context.Context, r Result, replica string) (c Change, changed bool, err error)
	// ProbeStates lists the current state of every probe ever recorded.
	ProbeStates(ctx context.Context) ([]State, error)
	// ProbeChanges lists the changes of the given probes (all when empty)
	// with At in [from, to), plus for each probe the last change before
	// from (so the state at from is known), ordered by At.
	ProbeChanges(ctx context.Context, from, to time.Time, probes ...string) ([]Change, error)
	// ProbeResults lists a probe's runs with At in [from, to), newest
	// first, at most limit.
	ProbeResults(ctx context.Context, probe string, from, to time.Time, limit int) ([]Result, error)
}

// Incidents is how a failing probe reaches the on-call person; internal/app
// implements it with the on-call incident service (the same path the
// Alertmanager receiver uses). Key is stable per probe and problem
// ("probe/<name>" for failures, "probe/<name>/certificate" for a
// certificate close to expiry), so Raise is idempotent while open.
type Incidents interface {
	Raise(ctx context.Context, a Alert) error
	Recover(ctx context.Context, key string) error
}

// Alert is a probe problem handed to Incidents.
type Alert struct {
	Key      string
	Severity string // critical (a probe down), warning (certificate, slow loop)
	Title    string
	Summary  string
	Service  string
	Node     string
	Kind     Kind
	Runbook  string // runbook ID
}

// Mailbox is postvakt's own mail store, for a mail loop that ends in the
// engine rather than at an IMAP/POP3 server: Seen reports when a message
// carrying token in its X-Postvakt-Probe header (or subject) was stored
// for address, and removes it.
type Mailbox interface {
	Seen(ctx context.Context, address, token string) (at time.Time, ok bool, err error)
}

// Window is a maintenance window announced for services (from the notices
// of the tickets capability).
type Window struct {
	Services []string
	Start    time.Time
	End      time.Time // zero: still open (counts up to the end of the period)
	Ref      string    // e.g. "N-12"
}
