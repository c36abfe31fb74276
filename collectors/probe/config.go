package probe

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// Mode says which postvakt replicas run the probes.
type Mode string

// The Mode values.
const (
	// ModeSingle runs the probes from one replica at a time: the one that
	// holds the advisory lock (Runner.Locker).
	ModeSingle Mode = "single"
	// ModeEvery runs the probes from every replica; results carry the
	// replica's node name (Runner.Node).
	ModeEvery Mode = "every"
)

// TLSMode is how a probe speaks TLS to its target.
type TLSMode string

// The TLSMode values. The empty value means TLSNone (for a loop's fetch
// endpoint: the target's own mode).
const (
	TLSNone     TLSMode = "none"
	TLSStartTLS TLSMode = "starttls" // SMTP STARTTLS (RFC 3207), IMAP STARTTLS (RFC 9051 §6.2.1), POP3 STLS (RFC 2595 §4)
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (RFC 8314 §3): smtps/465, imaps/993, pop3s/995
)

// FetchKind is where a mail loop looks for its message.
type FetchKind string

// The FetchKind values.
const (
	FetchIMAP  FetchKind = "imap"
	FetchPOP3  FetchKind = "pop3"
	FetchStore FetchKind = "store" // postvakt's own mail store (Runner.Mailbox)
)

// The runbook IDs used by default (runbooks/<id>.md).
const (
	DefaultRunbook     = "probe-failed"
	DefaultCertRunbook = "certificate-expiry"
)

// Config is the `probes:` section.
type Config struct {
	// Enabled runs the probes in `postvakt serve`; `postvakt probe run`
	// works either way. Default false.
	Enabled bool `yaml:"enabled"`
	// Mode is "single" (one replica at a time, under an advisory lock) or
	// "every" (every replica probes; results carry its node name).
	// Default "single".
	Mode Mode `yaml:"mode"`
	// Interval is the time between two runs of a probe. Default 60s.
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one attempt (for a loop: the submission and each
	// look into the mailbox; the whole loop is bounded by loop.deadline
	// plus twice Timeout). Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is the number of extra attempts before a failure is
	// declared. A loop retries only failures before its message is
	// accepted; a missing or late message fails at once. Default 2.
	Retries int `yaml:"retries"`
	// RetryInterval is the pause between attempts. Default 5s.
	RetryInterval time.Duration `yaml:"retry_interval"`
	// Jitter spreads runs: each pause is Interval ± Jitter×Interval, and
	// the first run starts within Jitter×Interval. Default 0.1.
	Jitter float64 `yaml:"jitter"`
	// CertWarningDays: a certificate that expires within this many days
	// gives a warning (and a warning incident); 0 disables. Default 14.
	CertWarningDays int `yaml:"cert_warning_days"`
	// RaiseIncidents raises an incident for the on-call person when a
	// probe goes down (critical) or sees a certificate close to expiry
	// (warning), and resolves it on recovery. Default true.
	RaiseIncidents bool `yaml:"incidents"`
	// Runbook is the runbook ID of probe-failure incidents. Default
	// "probe-failed".
	Runbook string `yaml:"runbook"`
	// CertRunbook is the runbook ID of certificate incidents. Default
	// "certificate-expiry".
	CertRunbook string `yaml:"cert_runbook"`
	// ResultsRetention is how long single runs are kept; state changes,
	// from which availability is computed, are kept for good. Default
	// 2160h (90 days).
	ResultsRetention time.Duration `yaml:"results_retention"`
	// Loop times the mail loops.
	Loop LoopConfig `yaml:"loop"`
	// Targets are the probes.
	Targets []Target `yaml:"targets"`
}

// LoopConfig times the mail loops.
type LoopConfig struct {
	// Deadline: a message not seen this long after submission is missing.
	// Default 2m.
	Deadline time.Duration `yaml:"deadline"`
	// Poll is the time between two looks into the probe mailbox.
	// Default 2s.
	Poll time.Duration `yaml:"poll"`
	// LateAfter: a message seen later than this after submission is late,
	// and a late loop is a failure. Default 60s.
	LateAfter time.Duration `yaml:"late_after"`
}

// Target is one probe: a service (or one node of it) and a probe kind.
type Target struct {
	// Name is unique, [a-z0-9-], e.g. "mx1-smtp".
	Name string `yaml:"name"`
	// Service is the service probed, free-form [a-z0-9-] (e.g. smtp,
	// submission, imap, pop, webmail, lists, dns).
	Service string `yaml:"service"`
	// Node is the node probed; "" means the service address (through the
	// load balancer).
	Node string `yaml:"node"`
	// Kind is tcp, smtp, imap, pop3, http, dns or loop.
	Kind Kind `yaml:"kind"`
	// Address is host:port; a URL (http:// or https://) for http; the
	// cache's host:port for dns; the submission (or MX) server for loop.
	Address string `yaml:"address"`
	// TLS is none, starttls or implicit (not for http, whose scheme
	// decides, nor dns). Default none.
	TLS TLSMode `yaml:"tls"`
	// TLSServerName is the name the certificate is checked against;
	// default the host of Address.
	TLSServerName string `yaml:"tls_server_name"`
	// TLSCAFile is a PEM bundle of CAs to trust instead of the system's.
	TLSCAFile string `yaml:"tls_ca_file"`
	// TLSInsecureSkipVerify accepts any certificate (its expiry is still
	// reported).
	TLSInsecureSkipVerify bool `yaml:"tls_insecure_skip_verify"`
	// User is the probe account (SMTP AUTH PLAIN, IMAP LOGIN, POP3
	// USER/PASS); "" skips authentication.
	User string `yaml:"user"`
	// PasswordEnv is the NAME of the environment variable that holds the
	// probe account's password (never the password itself); required
	// with User.
	PasswordEnv string `yaml:"password_env"`
	// ExpectStatus is the HTTP status expected. Default 200.
	ExpectStatus int `yaml:"expect_status"`
	// ExpectBody is a substring the HTTP body must contain ("" checks
	// nothing).
	ExpectBody string `yaml:"expect_body"`
	// Query is the name a dns probe asks for, as an absolute name (no
	// search domains). Go's resolver answers names in /etc/hosts from that
	// file, so pick one that is not there.
	Query string `yaml:"query"`
	// QueryType is A, AAAA, MX or TXT. Default A.
	QueryType string `yaml:"query_type"`
	// MaxLatency: a dns answer slower than this is a failure; 0 checks
	// only Timeout.
	MaxLatency time.Duration `yaml:"max_latency"`
	// Recipient is the probe mailbox a loop sends to.
	Recipient string `yaml:"recipient"`
	// From is a loop's envelope sender and From: header; default User,
	// else Recipient.
	From string `yaml:"from"`
	// Fetch is where a loop looks for its message.
	Fetch Fetch `yaml:"fetch"`
	// Interval, Timeout, Retries and RetryInterval override the section's
	// values for this probe (0 / absent: the section's).
	Interval      time.Duration `yaml:"interval"`
	Timeout       time.Duration `yaml:"timeout"`
	Retries       *int          `yaml:"retries"`
	RetryInterval time.Duration `yaml:"retry_interval"`
}

// Fetch is the mailbox end of a mail loop. Empty TLS, TLS settings, User
// and PasswordEnv are taken from the target (the submission endpoint).
type Fetch struct {
	// Kind is imap, pop3 or store.
	Kind                  FetchKind `yaml:"kind"`
	Address               string    `yaml:"address"`
	TLS                   TLSMode   `yaml:"tls"`
	TLSServerName         string    `yaml:"tls_server_name"`
	TLSCAFile             string    `yaml:"tls_ca_file"`
	TLSInsecureSkipVerify bool      `yaml:"tls_insecure_skip_verify"`
	User                  string    `yaml:"user"`
	PasswordEnv           string    `yaml:"password_env"`
}

// DefaultConfig returns the defaults of the section.
func DefaultConfig() Config {
	return Config{
		Mode:     ModeSingle,
		Interval: 60 * time.Second, Timeout: 10 * time.Second,
		Retries: 2, RetryInterval: 5 * time.Second, Jitter: 0.1,
		CertWarningDays: 14, RaiseIncidents: true,
		Runbook: DefaultRunbook, CertRunbook: DefaultCertRunbook, ResultsRetention: 90 * 24 * time.Hour,
		Loop: LoopConfig{Deadline: 2 * time.Minute, Poll: 2 * time.Second, LateAfter: 60 * time.Second},
	}
}

// bad is a validation error naming a key relative to the section.
func bad(key string, v any, format string, a ...any) error {
	return validate.Fieldf(key, v, format, a...)
}

var (
	nameRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	runbookRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`)
	envRe     = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)
)

// Validate checks the section; every error is a *validate.Error naming its key
// (e.g. "targets[2].address"), joined with errors.Join.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.Mode != ModeSingle && c.Mode != ModeEvery {
		add(bad("mode", c.Mode, "must be single or every"))
	}
	if c.Interval < time.Second {
		add(bad("interval", c.Interval, "must be at least 1s"))
	}
	if c.Timeout <= 0 {
		add(bad("timeout", c.Timeout, "must be positive"))
	}
	if c.Retries < 0 || c.Retries > 10 {
		add(bad("retries", c.Retries, "must be between 0 and 10"))
	}
	if c.RetryInterval < 0 {
		add(bad("retry_interval", c.RetryInterval, "must not be negative"))
	}
	if c.Jitter < 0 || c.Jitter > 0.5 {
		add(bad("jitter", c.Jitter, "must be between 0 and 0.5"))
	}
	if c.ResultsRetention < 24*time.Hour {
		add(bad("results_retention", c.ResultsRetention, "must be at least 24h"))
	}
	if c.CertWarningDays < 0 || c.CertWarningDays > 365 {
		add(bad("cert_warning_days", c.CertWarningDays, "must be between 0 and 365"))
	}
	if !runbookRe.MatchString(c.Runbook) {
		add(bad("runbook", c.Runbook, "must be a runbook ID ([a-z0-9-])"))
	}
	if !runbookRe.MatchString(c.CertRunbook) {
		add(bad("cert_runbook", c.CertRunbook, "must be a runbook ID ([a-z0-9-])"))
	}
	if c.Loop.Deadline <= 0 {
		add(bad("loop.deadline", c.Loop.Deadline, "must be positive"))
	}
	if c.Loop.Poll <= 0 || c.Loop.Poll > c.Loop.Deadline {
		add(bad("loop.poll", c.Loop.Poll, "must be positive and at most loop.deadline"))
	}
	if c.Loop.LateAfter <= 0 || c.Loop.LateAfter > c.Loop.Deadline {
		add(bad("loop.late_after", c.Loop.LateAfter, "must be positive and at most loop.deadline"))
	}
	if len(c.Targets) > 1000 {
		add(bad("targets", len(c.Targets), "at most 1000 probes"))
	}
	seen := map[string]bool{}
	series := map[[3]string]string{}
	for i, t := range c.Targets {
		p := fmt.Sprintf("targets[%d].", i)
		if !nameRe.MatchString(t.Name) {
			add(bad(p+"name", t.Name, "must be [a-z0-9-], 1 to 63 characters"))
		} else if seen[t.Name] {
			add(bad(p+"name", t.Name, "is used twice"))
		}
		seen[t.Name] = true
		k := [3]string{t.Service, t.Node, string(t.Kind)}
		if other, dup := series[k]; dup {
			add(bad(p+"node", t.Node, "probe %s has the same service, node and kind (the metrics could not tell them apart)", other))
		}
		series[k] = t.Name
		errs = append(errs, t.validate(p)...)
	}
	return errors.Join(errs...)
}

func (t Target) validate(p string) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if !nameRe.MatchString(t.Service) {
		add(bad(p+"service", t.Service, "must be [a-z0-9-], 1 to 63 characters"))
	}
	if t.Node != "" && !nameRe.MatchString(t.Node) {
		add(bad(p+"node", t.Node, "must be [a-z0-9-], 1 to 63 characters (or empty for the service address)"))
	}
	known := false
	for _, k := range Kinds() {
		known = known || t.Kind == k
	}
	if !known {
		add(bad(p+"kind", t.Kind, "must be one of tcp, smtp, imap, pop3, http, dns, loop"))
	}
	if t.Kind == KindHTTP {
		u, err := url.Parse(t.Address)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(bad(p+"address", t.Address, "must be an http:// or https:// URL"))
		}
		if t.TLS != "" {
			add(bad(p+"tls", t.TLS, "is not used by http probes (the URL's scheme decides)"))
		}
	} else {
		add(checkHostPort(p+"address", t.Address))
		add(checkTLS(p+"tls", t.TLS))
		if t.Kind == KindDNS && t.TLS != "" && t.TLS != TLSNone {
			add(bad(p+"tls", t.TLS, "dns probes speak plain DNS"))
		}
	}
	if t.TLSCAFile != "" && strings.TrimSpace(t.TLSCAFile) == "" {
		add(bad(p+"tls_ca_file", t.TLSCAFile, "must be a file name"))
	}
	add(checkAccount(p, t.User, t.PasswordEnv))
	if t.Kind == KindTCP || t.Kind == KindHTTP || t.Kind == KindDNS {
		if t.User != "" {
			add(bad(p+"user", t.User, "is not used by %s probes", t.Kind))
		}
	}
	if t.Kind != KindHTTP && (t.ExpectStatus != 0 || t.ExpectBody != "") {
		add(bad(p+"expect_status", t.ExpectStatus, "only for http probes"))
	}
	if t.ExpectStatus != 0 && (t.ExpectStatus < 100 || t.ExpectStatus > 599) {
		add(bad(p+"expect_status", t.ExpectStatus, "must be an HTTP status (100-599)"))
	}
	if t.Kind == KindDNS {
		if strings.TrimSpace(t.Query) == "" {
			add(bad(p+"query", t.Query, "a dns probe needs a name to ask for"))
		}
		switch strings.ToUpper(t.QueryType) {
		case "", "A", "AAAA", "MX", "TXT":
		default:
			add(bad(p+"query_type", t.QueryType, "must be A, AAAA, MX or TXT"))
		}
	} else if t.Query != "" || t.QueryType != "" || t.MaxLatency != 0 {
		add(bad(p+"query", t.Query, "only for dns probes"))
	}
	if t.MaxLatency < 0 {
		add(bad(p+"max_latency", t.MaxLatency, "must not be negative"))
	}
	if t.Kind == KindLoop {
		if !mailbox(t.Recipient) {
			add(bad(p+"recipient", t.Recipient, "a loop needs the probe mailbox's address"))
		}
		if t.From != "" && !mailbox(t.From) {
			add(bad(p+"from", t.From, "must be an e-mail address"))
		}
		f := t.Fetch
		switch f.Kind {
		case FetchIMAP, FetchPOP3:
			if f.Address != "" {
				add(checkHostPort(p+"fetch.address", f.Address))
			} else {
				add(bad(p+"fetch.address", f.Address, "an imap or pop3 fetch needs host:port"))
			}
			add(checkTLS(p+"fetch.tls", f.TLS))
			add(checkAccount(p+"fetch.", f.User, f.PasswordEnv))
			if f.User == "" && t.User == "" {
				add(bad(p+"fetch.user", f.User, "an imap or pop3 fetch needs the probe account (fetch.user or user)"))
			}
		case FetchStore:
			if f.Address != "" || f.User != "" {
				add(bad(p+"fetch.address", f.Address, "a store fetch takes no address or account"))
			}
		default:
			add(bad(p+"fetch.kind", f.Kind, "must be imap, pop3 or store"))
		}
	} else if t.Recipient != "" || t.Fetch != (Fetch{}) {
		add(bad(p+"recipient", t.Recipient, "recipient and fetch are only for loop probes"))
	}
	if t.Interval != 0 && t.Interval < time.Second {
		add(bad(p+"interval", t.Interval, "must be at least 1s"))
	}
	if t.Timeout < 0 {
		add(bad(p+"timeout", t.Timeout, "must not be negative"))
	}
	if t.Retries != nil && (*t.Retries < 0 || *t.Retries > 10) {
		add(bad(p+"retries", *t.Retries, "must be between 0 and 10"))
	}
	if t.RetryInterval < 0 {
		add(bad(p+"retry_interval", t.RetryInterval, "must not be negative"))
	}
	return errs
}

// mailbox reports whether s looks like a bare address (local@domain) that
// can go into MAIL FROM/RCPT TO.
func mailbox(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && domain != "" && !strings.ContainsAny(s, " \t\r\n<>\"")
}

func checkHostPort(key, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		return bad(key, addr, "must be host:port")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return bad(key, addr, "port must be 1-65535")
	}
	return nil
}

func checkTLS(key string, m TLSMode) error {
	switch m {
	case "", TLSNone, TLSStartTLS, TLSImplicit:
		return nil
	}
	return bad(key, m, "must be none, starttls or implicit")
}

func checkAccount(p, user, env string) error {
	if env != "" && !envRe.MatchString(env) {
		return bad(p+"password_env", env, "must be the name of an environment variable ([A-Z0-9_]), not a password")
	}
	if user != "" && env == "" {
		return bad(p+"password_env", env, "names the variable holding %s's password; required with user", user)
	}
	if user == "" && env != "" {
		return bad(p+"user", user, "password_env without user")
	}
	return nil
}

// settings are a target's effective schedule.
type settings struct {
	interval, timeout, retryInterval time.Duration
	retries                          int
}

func (c Config) settings(t Target) settings {
	s := settings{interval: c.Interval, timeout: c.Timeout, retryInterval: c.RetryInterval, retries: c.Retries}
	if t.Interval > 0 {
		s.interval = t.Interval
	}
	if t.Timeout > 0 {
		s.timeout = t.Timeout
	}
	if t.RetryInterval > 0 {
		s.retryInterval = t.RetryInterval
	}
	if t.Retries != nil {
		s.retries = *t.Retries
	}
	return s
}

// withDefaults fills a target's derived defaults (for Runner.Targets and
// the probes).
func (t Target) withDefaults(c Config) Target {
	s := c.settings(t)
	t.Interval, t.Timeout, t.RetryInterval = s.interval, s.timeout, s.retryInterval
	r := s.retries
	t.Retries = &r
	if t.TLS == "" {
		t.TLS = TLSNone
	}
	if t.Kind == KindHTTP && t.ExpectStatus == 0 {
		t.ExpectStatus = 200
	}
	if t.Kind == KindDNS && t.QueryType == "" {
		t.QueryType = "A"
	}
	t.QueryType = strings.ToUpper(t.QueryType)
	if t.Kind == KindLoop {
		if t.From == "" {
			t.From = t.User
			if !strings.Contains(t.From, "@") {
				t.From = t.Recipient
			}
		}
		f := &t.Fetch
		if f.Kind != FetchStore {
			if f.TLS == "" {
				f.TLS = t.TLS
			}
			if f.TLSServerName == "" {
				f.TLSServerName = t.TLSServerName
			}
			if f.TLSCAFile == "" {
				f.TLSCAFile = t.TLSCAFile
			}
			f.TLSInsecureSkipVerify = f.TLSInsecureSkipVerify || t.TLSInsecureSkipVerify
			if f.User == "" {
				f.User, f.PasswordEnv = t.User, t.PasswordEnv
			}
		}
	}
	return t
}
