// Package abusedetect finds abuse in the collectors' stream of log events
// and engine events (docs/collectors.md, "Abuse detection"): password
// guessing per account and per client address over IMAP, POP3, SMTP AUTH
// and webmail; a successful login from an address new for the account
// after failed logins (a guessed password); a submission burst from an
// account, or from an address new for it (a phished account sending
// spam); policy and rate-limit rejects; one message to a mass mailing's
// number of recipients (above 20 at the Swedish MX, where a whitelisting
// routine applies); one account logging in from many addresses.
//
// Every threshold is "at least N" (≥), counted in a sliding window of
// event time; docs/configuration.md lists them with their defaults. Names
// a log writes for "no user" ("(unavailable)", "unknown", "?", empty;
// logparse.AccountName) are never accounts.
//
// Each finding is an Alert that names the account and the client
// addresses, carries the log lines it rests on, and names its runbook
// (runbooks/account-compromise holds the account-lock commands); the
// on-call capability turns it into an incident. A key (account or
// address) alerts once per window per kind. Findings depend only on the
// events and their times, never on the wall clock, so an import and the
// live tail of the same logs give the same findings. "An address new for
// the account" is judged against a bounded history of the addresses each
// account logged in or submitted from (KnownAddresses per account, kept
// for KnownAddressTTL), which a History persists so that the import and
// the service share it.
//
// The pipeline drives it through Stream (stream.go): every log line's
// event goes to Observe, the engine's own records to Login, Message and
// the policy rejects; Stream also keeps the state across a restart of
// serve.
//
// It watches the logs of every mail server, after the fact, and only
// reports; the engine's own limits on submission, which refuse and hold
// mail as it arrives, are engine/sendlimit (see its package comment for why
// the two are apart).
package abusedetect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/config/validate"
)

// Kind names a finding. The set is closed and is a metric label.
type Kind string

// The kinds of finding.
const (
	// KindGuessingAccount: failed logins for one account, from any
	// addresses, over every protocol.
	KindGuessingAccount Kind = "guessing_account"
	// KindGuessingAddress: failed logins from one client address, for
	// any accounts.
	KindGuessingAddress Kind = "guessing_address"
	// KindLoginAfterFailures: a successful login from an address new for
	// the account after failed logins for it: a guessed password.
	KindLoginAfterFailures Kind = "login_after_failures"
	// KindSubmissionBurst: messages or recipients submitted by one
	// account (attempts refused by a rate limit included).
	KindSubmissionBurst Kind = "submission_burst"
	// KindNewAddressSubmissions: messages one account submitted from an
	// address new for it.
	KindNewAddressSubmissions Kind = "new_address_submissions"
	// KindPolicyRejects: rate-limit and policy rejects of one account (or,
	// unauthenticated, one address).
	KindPolicyRejects Kind = "policy_rejects"
	// KindMassMailing: one message to many recipients from a sender not on
	// the approved list, not held by the MTA.
	KindMassMailing Kind = "mass_mailing"
	// KindLoginManyAddresses: successful logins of one account from many
	// addresses.
	KindLoginManyAddresses Kind = "login_many_addresses"
)

// The names the kinds had before; they are the same kinds.
const (
	// Deprecated: KindGuessingAddress.
	KindAuthFailuresIP = KindGuessingAddress
	// Deprecated: KindGuessingAccount.
	KindAuthFailuresUser = KindGuessingAccount
	// Deprecated: KindMassMailing.
	KindManyRecipients = KindMassMailing
	// Deprecated: KindSubmissionBurst.
	KindSendMessages = KindSubmissionBurst
	// Deprecated: KindSubmissionBurst.
	KindSendRecipients = KindSubmissionBurst
)

// Kinds lists every Kind.
func Kinds() []Kind {
	return []Kind{KindGuessingAccount, KindGuessingAddress, KindLoginAfterFailures, KindSubmissionBurst,
		KindNewAddressSubmissions, KindPolicyRejects, KindMassMailing, KindLoginManyAddresses}
}

// Runbook IDs (files in runbooks/).
const (
	RunbookCompromise = "account-compromise"
	RunbookSpamBurst  = "outgoing-spam-burst"
	RunbookBruteForce = "auth-brute-force"
)

// Severities of findings (as oncall/incident names them).
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Runbook returns the runbook for a kind.
func (k Kind) Runbook() string {
	switch k {
	case KindLoginAfterFailures, KindSubmissionBurst, KindNewAddressSubmissions, KindPolicyRejects, KindLoginManyAddresses:
		return RunbookCompromise
	case KindMassMailing:
		return RunbookSpamBurst
	}
	return RunbookBruteForce
}

// Severity returns a kind's severity: critical when an account is most
// likely in someone else's hands, info for a mass mailing (a routine to
// follow, not an attack), warning otherwise.
func (k Kind) Severity() string {
	switch k {
	case KindLoginAfterFailures, KindSubmissionBurst, KindNewAddressSubmissions:
		return SeverityCritical
	case KindMassMailing:
		return SeverityInfo
	}
	return SeverityWarning
}

// maxEvidence bounds the log lines a finding carries: the first and the
// last of what it rests on.
const maxEvidence = 12

// maxAddresses bounds the client addresses a finding names.
const maxAddresses = 16

// Alert is one finding.
type Alert struct {
	Kind     Kind
	Runbook  string
	Severity string
	// Subject is what the finding is about and its incident's key: the
	// account, or the client address for KindGuessingAddress and for
	// unauthenticated policy rejects.
	Subject string
	// Account is the account concerned ("" when none is known); Addresses
	// the client addresses involved (at most 16, in the order seen).
	Account   string
	Addresses []string
	Count     int
	Threshold int
	Window    time.Duration // 0 for single-event findings
	First     time.Time     // event time of the first event counted
	At        time.Time     // event time of the event that reached the threshold
	Node      string
	Summary   string // one line for a page
	// Evidence are the log lines (or engine events) the finding rests on,
	// oldest first: the first and the last of them when there are many.
	Evidence []string
}

// AlertSink receives findings; the on-call capability implements it.
// Alert must not block for long: it runs on the ingestion path.
type AlertSink interface {
	Alert(ctx context.Context, a Alert) error
}

// AlertSinkFunc adapts a function to AlertSink.
type AlertSinkFunc func(ctx context.Context, a Alert) error

// Alert calls f.
func (f AlertSinkFunc) Alert(ctx context.Context, a Alert) error { return f(ctx, a) }

// Config holds the thresholds (the `collectors.abuse` section). Every
// count is a minimum: a finding is raised when the count reaches it (≥).
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Window is the sliding window of every per-window count.
	Window time.Duration `yaml:"window"`
	// AuthFailuresPerUser: failed logins for one account within Window
	// (KindGuessingAccount); AuthFailuresPerIP: failed logins from one
	// address (KindGuessingAddress).
	AuthFailuresPerUser int `yaml:"auth_failures_per_user"`
	AuthFailuresPerIP   int `yaml:"auth_failures_per_ip"`
	// FailuresBeforeLogin: failed logins for an account within
	// FailureMemory after which a successful login is a finding
	// (KindLoginAfterFailures) when it comes from an address new for the
	// account that itself failed for it (the guessing address got in), and
	// after that from any other new address (the attacker moving on).
	FailuresBeforeLogin int           `yaml:"failures_before_login"`
	FailureMemory       time.Duration `yaml:"failure_memory"`
	// MessagesPerAccount and RecipientsPerAccount: submitted by one
	// account within Window (KindSubmissionBurst).
	MessagesPerAccount   int `yaml:"messages_per_account"`
	RecipientsPerAccount int `yaml:"recipients_per_account"`
	// MessagesPerNewAddress: messages one account submits within Window
	// from an address new for it (KindNewAddressSubmissions): one the
	// account was first seen from less than NewAddressAge before.
	MessagesPerNewAddress int           `yaml:"messages_per_new_address"`
	NewAddressAge         time.Duration `yaml:"new_address_age"`
	// PolicyRejects: rate-limit and policy rejects of one account (or
	// address) within Window (KindPolicyRejects).
	PolicyRejects int `yaml:"policy_rejects"`
	// RecipientsPerMessage: a message to at least this many recipients is
	// a mass mailing (KindMassMailing), unless its sender is one of
	// MassMailingSenders or the MTA held it for review.
	RecipientsPerMessage int      `yaml:"recipients_per_message"`
	MassMailingSenders   []string `yaml:"mass_mailing_senders"`
	// AddressesPerUser: distinct addresses one account logs in from
	// within Window (KindLoginManyAddresses).
	AddressesPerUser int `yaml:"addresses_per_user"`
	// KnownAddresses: addresses remembered per account (the least recently
	// seen is forgotten first); KnownAddressTTL: an address not seen for
	// this long is forgotten.
	KnownAddresses  int           `yaml:"known_addresses"`
	KnownAddressTTL time.Duration `yaml:"known_address_ttl"`
}

// DefaultConfig returns the defaults: quiet for people, who mistype a
// password two or three times and send a handful of messages, and loud for
// the shapes of a taken account.
func DefaultConfig() Config {
	return Config{Enabled: true, Window: 10 * time.Minute,
		AuthFailuresPerUser: 10, AuthFailuresPerIP: 20,
		FailuresBeforeLogin: 5, FailureMemory: time.Hour,
		MessagesPerAccount: 50, RecipientsPerAccount: 200,
		MessagesPerNewAddress: 20, NewAddressAge: 24 * time.Hour,
		PolicyRejects:        10,
		RecipientsPerMessage: 21,
		AddressesPerUser:     6,
		KnownAddresses:       32, KnownAddressTTL: 90 * 24 * time.Hour}
}

// Validate checks the thresholds; the errors are *validate.Error keyed
// relative to the section, joined.
func (c Config) Validate() error {
	var errs []error
	for _, f := range []struct {
		k   string
		v   time.Duration
		min time.Duration
	}{{"window", c.Window, time.Second}, {"failure_memory", c.FailureMemory, time.Second},
		{"new_address_age", c.NewAddressAge, 0}, {"known_address_ttl", c.KnownAddressTTL, time.Hour}} {
		if f.v < f.min {
			errs = append(errs, validate.Field(f.k, f.v, fmt.Sprintf("must be at least %s", f.min)))
		}
	}
	for _, f := range []struct {
		k string
		v int
	}{{"messages_per_account", c.MessagesPerAccount}, {"recipients_per_account", c.RecipientsPerAccount},
		{"recipients_per_message", c.RecipientsPerMessage}, {"auth_failures_per_ip", c.AuthFailuresPerIP},
		{"auth_failures_per_user", c.AuthFailuresPerUser}, {"addresses_per_user", c.AddressesPerUser},
		{"failures_before_login", c.FailuresBeforeLogin}, {"messages_per_new_address", c.MessagesPerNewAddress},
		{"policy_rejects", c.PolicyRejects}, {"known_addresses", c.KnownAddresses}} {
		if f.v < 1 {
			errs = append(errs, validate.Field(f.k, f.v, "must be at least 1"))
		}
	}
	for i, s := range c.MassMailingSenders {
		if logparse.AccountName(s) == "" {
			errs = append(errs, validate.Field(fmt.Sprintf("mass_mailing_senders[%d]", i), s, "is not an account name"))
		}
	}
	return errors.Join(errs...)
}

// Options configure a Detector.
type Options struct {
	Config     Config
	Sink       AlertSink // nil: only counted
	Registerer prometheus.Registerer
	// History keeps the known addresses of every account between runs
	// (nil: in memory only).
	History History
	// OnError is told when the sink or the history fails; nil ignores.
	OnError func(error)
}

// Detector finds abuse. It is safe for concurrent use, but events must be
// fed in (nearly) the order of their times from one stream: Observe for
// every parsed log event, Login and Message for what does not come as a log
// line (the engine's own events). A log line must reach it through one of
// them only.
type Detector struct {
	o      Options
	alerts *prometheus.CounterVec
	allow  map[string]bool

	mu      sync.Mutex
	quiet   bool
	last    time.Time // the latest event time seen
	swept   time.Time
	windows map[winKey]*window
	fails   map[string]*failMemory // by account
	known   *knownSet
	// per-line state of Observe (observe.go)
	obs observeState
}

// New returns a Detector. The metric postvakt_collector_abuse_alerts_total
// is registered on o.Registerer when given.
func New(o Options) (*Detector, error) {
	d := &Detector{o: o, windows: map[winKey]*window{}, fails: map[string]*failMemory{}, allow: map[string]bool{}}
	d.known = newKnownSet(o.Config.KnownAddresses, o.Config.KnownAddressTTL)
	for _, s := range o.Config.MassMailingSenders {
		d.allow[strings.ToLower(s)] = true
	}
	d.obs.init()
	d.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postvakt_collector_abuse_alerts_total",
		Help: "Abuse findings raised by the collectors, by kind (runbooks account-compromise, outgoing-spam-burst, auth-brute-force).",
	}, []string{"kind"})
	for _, k := range Kinds() {
		d.alerts.WithLabelValues(string(k))
	}
	if o.Registerer != nil {
		if err := o.Registerer.Register(d.alerts); err != nil {
			return nil, fmt.Errorf("abuse metrics: %w", err)
		}
	}
	return d, nil
}

// SetConfig changes the thresholds (collectors.abuse, on a reload) for the
// events that follow; counts within the current windows are kept. It may
// be called from any goroutine.
func (d *Detector) SetConfig(c Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.o.Config = c
	d.allow = map[string]bool{}
	for _, s := range c.MassMailingSenders {
		d.allow[strings.ToLower(s)] = true
	}
	if c.KnownAddresses > 0 {
		d.known.per = c.KnownAddresses
	}
	if c.KnownAddressTTL > 0 {
		d.known.ttl = c.KnownAddressTTL
	}
}

// SetQuiet turns raising findings off (on) while state is still built: for
// input read again after a restart, whose findings were raised before.
func (d *Detector) SetQuiet(q bool) {
	d.mu.Lock()
	d.quiet = q
	d.mu.Unlock()
}

// Login is one login outcome (an event that is not a log line; log lines
// go through Observe).
type Login struct {
	At      time.Time // event time
	Node    string    // the server that logged it
	Service string    // imap, pop3, smtp, submission, webmail, …
	User    string
	IP      string // the client
	OK      bool   // the login succeeded
	// Evidence is the line or event it came from ("" : described).
	Evidence string
}

// Login observes one login outcome.
func (d *Detector) Login(ctx context.Context, l Login) {
	if l.Evidence == "" {
		res := "failed"
		if l.OK {
			res = "ok"
		}
		l.Evidence = fmt.Sprintf("%s %s login %s %s user=%s ip=%s", stamp(l.At), l.Node, l.Service, res, l.User, l.IP)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.o.Config.Enabled {
		return
	}
	d.auth(ctx, l)
}

// Message is one message submitted (an event that is not a log line).
type Message struct {
	At   time.Time // event time
	Node string    // the server that logged it

	// User is the authenticated account; "" for unauthenticated mail,
	// which only the mass-mailing rule applies to.
	User       string
	IP         string // the client, when known
	MessageID  string
	Recipients int
	// Held: the MTA held the message for review (a mass mailing that
	// follows the routine).
	Held     bool
	Evidence string
}

// Message observes one message submitted.
func (d *Detector) Message(ctx context.Context, m Message) {
	if m.Evidence == "" {
		m.Evidence = fmt.Sprintf("%s %s message <%s> from user=%s ip=%s to %d recipient(s)", stamp(m.At), m.Node, m.MessageID, m.User, m.IP, m.Recipients)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.o.Config.Enabled {
		return
	}
	d.submission(ctx, submission{at: m.At, node: m.Node, user: logparse.AccountName(m.User), ip: m.IP, evidence: m.Evidence})
	if m.Recipients > 0 {
		d.recipients(ctx, recipients{at: m.At, node: m.Node, user: logparse.AccountName(m.User), ip: m.IP, n: m.Recipients,
			held: m.Held, what: "<" + m.MessageID + ">", evidence: m.Evidence})
	}
}

// stamp formats an event time for evidence and summaries, with its zone.
func stamp(t time.Time) string { return t.Format("2006-01-02 15:04:05 MST") }

// --- the rules ---

// auth applies the login rules to one outcome.
func (d *Detector) auth(ctx context.Context, l Login) {
	d.tick(l.At)
	c := d.o.Config
	user := logparse.AccountName(l.User)
	if !l.OK {
		if l.IP != "" {
			d.count(ctx, countArgs{kind: KindGuessingAddress, key: l.IP, at: l.At, weight: 1, threshold: c.AuthFailuresPerIP,
				node: l.Node, account: "", addr: l.IP, evidence: l.Evidence, also: user})
		}
		if user != "" {
			d.count(ctx, countArgs{kind: KindGuessingAccount, key: user, at: l.At, weight: 1, threshold: c.AuthFailuresPerUser,
				node: l.Node, account: user, addr: l.IP, evidence: l.Evidence})
			d.failed(user, l)
		}
		return
	}
	if user == "" {
		return
	}
	// for a login, new is never seen before
	fresh := l.IP != "" && !d.known.known(user, l.IP, l.At, 0)
	if fresh {
		d.loginAfterFailures(ctx, user, l)
	}
	if l.IP != "" {
		d.known.seen(user, l.IP, l.At)
		d.manyAddresses(ctx, user, l)
	}
}

// failMemory holds an account's recent failed logins for the
// login-after-failures rule.
type failMemory struct {
	times    []time.Time
	addrs    []string
	evidence []string
	// guessed is when a guessing address got in (zero: not yet); raised
	// the new addresses already reported since
	guessed time.Time
	raised  map[string]bool
}

func (d *Detector) failed(user string, l Login) {
	fm := d.fails[user]
	if fm == nil {
		if len(d.fails) >= maxKeys {
			return
		}
		fm = &failMemory{}
		d.fails[strings.Clone(user)] = fm
	}
	fm.prune(l.At, d.o.Config.FailureMemory)
	fm.times = append(fm.times, l.At)
	fm.addrs = append(fm.addrs, strings.Clone(l.IP))
	fm.evidence = append(fm.evidence, l.Evidence)
	// a guessing run keeps its first and last lines
	if len(fm.times) > 4*maxEvidence {
		k := len(fm.times) - 4*maxEvidence
		fm.times, fm.addrs, fm.evidence = fm.times[k:], fm.addrs[k:], fm.evidence[k:]
	}
}

func (fm *failMemory) prune(t time.Time, keep time.Duration) {
	n := 0
	for n < len(fm.times) && t.Sub(fm.times[n]) > keep {
		n++
	}
	fm.times, fm.addrs, fm.evidence = fm.times[n:], fm.addrs[n:], fm.evidence[n:]
}

func (d *Detector) loginAfterFailures(ctx context.Context, user string, l Login) {
	c := d.o.Config
	fm := d.fails[user]
	if fm == nil {
		return
	}
	fm.prune(l.At, c.FailureMemory)
	after := !fm.guessed.IsZero() && l.At.Sub(fm.guessed) <= c.FailureMemory
	switch {
	case fm.raised[l.IP], len(fm.raised) >= maxAddresses:
		return
	case after:
		// the password was guessed: every new address since is the attacker's
	case len(fm.times) >= c.FailuresBeforeLogin && containsFail(fm.addrs, l.IP):
		fm.guessed = l.At
	default:
		// the owner's own login from elsewhere while someone guesses
		return
	}
	if fm.raised == nil {
		fm.raised = map[string]bool{}
	}
	fm.raised[strings.Clone(l.IP)] = true
	addrs := []string{l.IP}
	for _, a := range fm.addrs {
		addrs = addOnce(addrs, a)
	}
	ev := append(thin(fm.evidence, maxEvidence-1), l.Evidence)
	svc := l.Service
	if svc == "" {
		svc = "a login"
	}
	first := l.At
	if len(fm.times) > 0 {
		first = fm.times[0]
	}
	how := fmt.Sprintf("an address that failed for it, after %d failed logins from %d address(es) since %s: password guessed",
		len(fm.times), len(addrs), stamp(first))
	if after {
		how = fmt.Sprintf("another address new for it, %s after a guessing address got in at %s",
			l.At.Sub(fm.guessed).Round(time.Second), stamp(fm.guessed))
	}
	d.raise(ctx, Alert{Kind: KindLoginAfterFailures, Subject: user, Account: user, Addresses: addrs, Count: len(fm.times),
		Threshold: c.FailuresBeforeLogin, Window: c.FailureMemory, First: first, At: l.At, Node: l.Node, Evidence: ev,
		Summary: fmt.Sprintf("%s logged in (%s) from %s, %s", user, svc, l.IP, how)})
}

func containsFail(addrs []string, ip string) bool {
	for _, a := range addrs {
		if a == ip {
			return true
		}
	}
	return false
}

func (d *Detector) manyAddresses(ctx context.Context, user string, l Login) {
	c := d.o.Config
	w := d.win(winKey{KindLoginManyAddresses, user})
	if w == nil {
		return
	}
	w.prune(l.At, c.Window)
	w.add(l.At, 1, l.IP, l.Evidence)
	n := w.distinct()
	if n >= c.AddressesPerUser && !l.At.Before(w.quiet) {
		w.quiet = l.At.Add(c.Window)
		d.raise(ctx, Alert{Kind: KindLoginManyAddresses, Subject: user, Account: user, Addresses: w.addresses(), Count: n,
			Threshold: c.AddressesPerUser, Window: c.Window, First: w.first(), At: l.At, Node: l.Node, Evidence: w.lines(),
			Summary: fmt.Sprintf("%s logged in from %d addresses within %s (threshold %d)", user, n, c.Window, c.AddressesPerUser)})
	}
}

// submission is one message (or an attempt a rate limit refused) by an
// account.
type submission struct {
	at        time.Time
	node      string
	user, ip  string
	evidence  string
	attempted bool // refused by a rate limit: counts towards the burst
}

func (d *Detector) submission(ctx context.Context, s submission) {
	d.tick(s.at)
	c := d.o.Config
	if s.user == "" {
		return
	}
	d.count(ctx, countArgs{kind: KindSubmissionBurst, key: s.user, at: s.at, weight: 1, threshold: c.MessagesPerAccount,
		node: s.node, account: s.user, addr: s.ip, evidence: s.evidence, unit: "messages"})
	if s.ip == "" || s.attempted {
		return
	}
	if !d.known.known(s.user, s.ip, s.at, c.NewAddressAge) {
		d.count(ctx, countArgs{kind: KindNewAddressSubmissions, key: s.user + " " + s.ip, subject: s.user, at: s.at, weight: 1,
			threshold: c.MessagesPerNewAddress, node: s.node, account: s.user, addr: s.ip, evidence: s.evidence, unit: "messages"})
	}
	d.known.seen(s.user, s.ip, s.at)
}

// recipients is the recipient count of one message.
type recipients struct {
	at       time.Time
	node     string
	user, ip string
	n        int
	held     bool
	what     string // the message, for the summary
	evidence string
}

func (d *Detector) recipients(ctx context.Context, r recipients) {
	d.tick(r.at)
	c := d.o.Config
	// a mass mailing is an account's: mail from outside to many of our
	// users is not ours to report
	if r.user != "" && r.n >= c.RecipientsPerMessage && !r.held && !d.allow[strings.ToLower(r.user)] {
		d.raise(ctx, Alert{Kind: KindMassMailing, Subject: r.user, Account: r.user, Addresses: nonEmpty(r.ip), Count: r.n,
			Threshold: c.RecipientsPerMessage, First: r.at, At: r.at, Node: r.node, Evidence: []string{r.evidence},
			Summary: fmt.Sprintf("message %s from %s to %d recipients (mass mailing from %d, sender not on the approved list)",
				r.what, orMissing(r.user, r.ip), r.n, c.RecipientsPerMessage)})
	}
	if r.user != "" {
		d.count(ctx, countArgs{kind: KindSubmissionBurst, key: "rcpt " + r.user, subject: r.user, at: r.at, weight: r.n,
			threshold: c.RecipientsPerAccount, node: r.node, account: r.user, addr: r.ip, evidence: r.evidence, unit: "recipients"})
	}
}

// policyReject is a rate-limit or policy reject.
type policyReject struct {
	at       time.Time
	node     string
	user, ip string
	what     string
	evidence string
}

func (d *Detector) policyReject(ctx context.Context, p policyReject) {
	d.tick(p.at)
	c := d.o.Config
	key, account := p.ip, ""
	if p.user != "" {
		key, account = p.user, p.user
	}
	if key == "" {
		return
	}
	d.count(ctx, countArgs{kind: KindPolicyRejects, key: key, at: p.at, weight: 1, threshold: c.PolicyRejects,
		node: p.node, account: account, addr: p.ip, evidence: p.evidence, unit: "rate-limit and policy rejects"})
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

func orMissing(user, ip string) string {
	switch {
	case user != "":
		return user
	case ip != "":
		return "unauthenticated client " + ip
	}
	return "an unknown sender"
}

// --- windows ---

// maxKeys bounds the keys held per map: past it new keys are not counted
// until idle ones are forgotten.
const maxKeys = 200000

type winKey struct {
	kind Kind
	key  string
}

// window counts events of one key within a sliding window.
type window struct {
	times   []time.Time
	weights []int
	addrs   []string
	sum     int
	quiet   time.Time // no new alert before this
	// evidence: the first lines of the current run and the last ones
	head, tail []string
	firstAt    time.Time
	seenAddrs  []string // in order, at most maxAddresses
	also       []string // other names involved (accounts tried from an address)
}

func (w *window) prune(t time.Time, win time.Duration) {
	n := 0
	for n < len(w.times) && t.Sub(w.times[n]) > win {
		w.sum -= w.weights[n]
		n++
	}
	if n == 0 {
		return
	}
	if n == len(w.times) {
		// all of it: the arrays are used again from their start (sliced
		// off at the front, an array would be given up once its last
		// element is, and a key seen now and then would allocate three
		// arrays an event)
		clear(w.addrs)
		w.times, w.weights, w.addrs = w.times[:0], w.weights[:0], w.addrs[:0]
		clear(w.head)
		clear(w.tail)
		w.head, w.tail, w.seenAddrs, w.also = w.head[:0], w.tail[:0], w.seenAddrs[:0], w.also[:0]
		w.firstAt = time.Time{}
		return
	}
	if k := len(w.times) - n; k <= windowShift {
		// a few left: moved to the front, so that the arrays keep their
		// room (sliced off at the front, they lose it an event at a time,
		// and a window of a few events made three new arrays every few)
		copy(w.times, w.times[n:])
		copy(w.weights, w.weights[n:])
		copy(w.addrs, w.addrs[n:])
		clear(w.addrs[k:]) // no strings kept alive
		w.times, w.weights, w.addrs = w.times[:k], w.weights[:k], w.addrs[:k]
		return
	}
	w.times, w.weights, w.addrs = w.times[n:], w.weights[n:], w.addrs[n:]
}

// windowShift is the most events a window's prune moves to the front of
// its arrays; past it, the arrays are sliced off at the front (a copy of
// the whole window for every event would cost more than new arrays now
// and then).
const windowShift = 8

func (w *window) add(t time.Time, weight int, addr, evidence string) {
	if len(w.times) == 0 {
		w.firstAt = t
	}
	// what is kept outlives the line: the strings are copied (an import
	// hands out views of its read buffers)
	if k := len(w.addrs); k > 0 && w.addrs[k-1] == addr {
		addr = w.addrs[k-1] // the same address again: its copy
	} else {
		addr = strings.Clone(addr)
	}
	w.times = append(w.times, t)
	w.weights = append(w.weights, weight)
	w.addrs = append(w.addrs, addr)
	w.sum += weight
	if addr != "" && len(w.seenAddrs) < maxAddresses {
		w.seenAddrs = addOnce(w.seenAddrs, addr)
	}
	if evidence == "" {
		return
	}
	if len(w.head) < maxEvidence/2 {
		w.head = append(w.head, evidence)
		return
	}
	if len(w.tail) < maxEvidence/2 {
		w.tail = append(w.tail, evidence)
		return
	}
	// the last lines: moved down in place (sliced off at the front, the
	// array would be given up every few lines)
	copy(w.tail, w.tail[1:])
	w.tail[len(w.tail)-1] = evidence
}

func (w *window) first() time.Time { return w.firstAt }

func (w *window) lines() []string {
	out := make([]string, 0, len(w.head)+len(w.tail))
	out = append(out, w.head...)
	return append(out, w.tail...)
}

// addresses returns the window's addresses, the most frequent first.
func (w *window) addresses() []string {
	n := map[string]int{}
	for _, a := range w.addrs {
		n[a]++
	}
	out := append([]string(nil), w.seenAddrs...)
	sort.SliceStable(out, func(i, j int) bool { return n[out[i]] > n[out[j]] })
	return out
}

// distinct counts the different addresses in the window. It runs on every
// login: the few addresses of an ordinary account are counted without a
// map, a map takes over past 16.
func (w *window) distinct() int {
	var buf [16]string
	few := buf[:0]
	var many map[string]bool
	for _, a := range w.addrs {
		switch {
		case a == "":
		case many != nil:
			many[a] = true
		case slices.Contains(few, a):
		case len(few) < len(buf):
			few = append(few, a)
		default:
			many = make(map[string]bool, 2*len(buf))
			for _, f := range few {
				many[f] = true
			}
			many[a] = true
		}
	}
	if many != nil {
		return len(many)
	}
	return len(few)
}

func (d *Detector) win(k winKey) *window {
	w := d.windows[k]
	if w == nil {
		if len(d.windows) >= maxKeys {
			return nil
		}
		w = &window{}
		d.windows[winKey{k.kind, strings.Clone(k.key)}] = w
	}
	return w
}

type countArgs struct {
	kind          Kind
	key, subject  string // subject defaults to key
	at            time.Time
	weight        int
	threshold     int
	node          string
	account, addr string
	evidence      string
	also          string // another name involved (the account a guessing address tried)
	unit          string
}

// count adds weight for a key at a time and raises a finding when the
// window's sum reaches the threshold (once per window).
func (d *Detector) count(ctx context.Context, a countArgs) {
	w := d.win(winKey{a.kind, a.key})
	if w == nil {
		return
	}
	win := d.o.Config.Window
	w.prune(a.at, win)
	w.add(a.at, a.weight, a.addr, a.evidence)
	if a.also != "" && len(w.also) < maxAddresses && !slices.Contains(w.also, a.also) {
		w.also = append(w.also, strings.Clone(a.also))
	}
	if w.sum < a.threshold || a.at.Before(w.quiet) {
		return
	}
	w.quiet = a.at.Add(win)
	subject := a.subject
	if subject == "" {
		subject = a.key
	}
	var summary string
	switch a.kind {
	case KindGuessingAddress:
		summary = fmt.Sprintf("%d failed logins from %s within %s (threshold %d) for %d account(s): %s",
			w.sum, subject, win, a.threshold, len(w.also), strings.Join(w.also, ", "))
	case KindGuessingAccount:
		summary = fmt.Sprintf("%d failed logins for %s within %s (threshold %d) from %d address(es): %s",
			w.sum, subject, win, a.threshold, len(w.seenAddrs), strings.Join(w.seenAddrs, ", "))
	default:
		summary = fmt.Sprintf("%d %s by %s within %s (threshold %d) from %s",
			w.sum, a.unit, subject, win, a.threshold, strings.Join(w.addresses(), ", "))
		if a.kind == KindNewAddressSubmissions {
			summary = fmt.Sprintf("%d messages by %s from %s, an address new for the account, within %s (threshold %d)",
				w.sum, subject, a.addr, win, a.threshold)
		}
	}
	d.raise(ctx, Alert{Kind: a.kind, Subject: subject, Account: a.account, Addresses: w.addresses(), Count: w.sum,
		Threshold: a.threshold, Window: win, First: w.first(), At: a.at, Node: a.node, Summary: summary, Evidence: w.lines()})
}

func (d *Detector) raise(ctx context.Context, a Alert) {
	a.Runbook = a.Kind.Runbook()
	a.Severity = a.Kind.Severity()
	if a.Kind == KindPolicyRejects && a.Account == "" {
		a.Runbook = RunbookSpamBurst
	}
	if d.quiet {
		return
	}
	d.alerts.WithLabelValues(string(a.Kind)).Inc()
	if d.o.Sink == nil {
		return
	}
	if err := d.o.Sink.Alert(ctx, a); err != nil && d.o.OnError != nil {
		d.o.OnError(fmt.Errorf("abuse alert %s %s: %w", a.Kind, a.Subject, err))
	}
}

// tick forgets idle state once per window of event time, bounding memory.
func (d *Detector) tick(t time.Time) {
	if t.After(d.last) {
		d.last = t
	}
	c := d.o.Config
	if t.Sub(d.swept) < c.Window {
		return
	}
	d.swept = t
	for k, w := range d.windows {
		w.prune(t, c.Window)
		if len(w.times) == 0 && !t.Before(w.quiet) {
			delete(d.windows, k)
		}
	}
	for k, fm := range d.fails {
		fm.prune(t, c.FailureMemory)
		if len(fm.times) == 0 {
			delete(d.fails, k)
		}
	}
	d.known.expire(t)
	d.obs.sweep(t, c.Window)
}

// thin keeps the first and the last lines of evidence, n in all.
func thin(lines []string, n int) []string {
	if len(lines) <= n {
		return append([]string(nil), lines...)
	}
	out := append([]string(nil), lines[:n/2]...)
	return append(out, lines[len(lines)-(n-n/2):]...)
}

func addOnce(list []string, s string) []string {
	if s == "" {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
