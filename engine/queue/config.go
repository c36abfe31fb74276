package queue

import (
	"errors"
	"net"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// Config is the `relay:` section: the transport map, retry schedule,
// lifetime and limits of the outbound relay queue.
type Config struct {
	Enabled bool `yaml:"enabled"`
	// Hostname is the name given in EHLO and in DSNs' Reporting-MTA.
	Hostname string `yaml:"hostname"`
	// Transports maps a recipient domain ("*" for every other domain) to
	// its next hop: "smtp:host:port", "lmtp:host:port" or "mx" (MX lookup,
	// RFC 5321 §5.1). Without a "*" entry other domains use MX lookup.
	Transports map[string]string `yaml:"transports"`
	// MinBackoff is the first retry delay, doubled per attempt up to
	// MaxBackoff. RFC 5321 §4.5.4.1: at least 30 minutes between retries
	// to one destination.
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// BackendRetry is the retry schedule of deliveries to local domains'
	// back ends (smtp.directory.delivery): the university's own mailbox
	// server, down for a restart rather than a congested stranger, so its
	// mail is retried sooner than the remote schedule above (RFC 5321
	// §4.5.4.1's 30 minutes protects remote destinations). MaxLifetime
	// still bounds it.
	BackendRetry RetryConfig `yaml:"backend_retry"`
	// MaxLifetime is how long a message is retried before it bounces with
	// a DSN (RFC 5321 §4.5.4.1: at least 4–5 days).
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	// ConcurrencyPerDestination bounds parallel connections to one next
	// hop; Concurrency bounds them in total.
	ConcurrencyPerDestination int `yaml:"concurrency_per_destination"`
	Concurrency               int `yaml:"concurrency"`
	// PollInterval is how often the queue looks for due entries.
	PollInterval time.Duration `yaml:"poll_interval"`
	// Batch is the most entries one node claims per poll.
	Batch int `yaml:"batch"`
	// Lease is how long a claimed entry is reserved for the claiming node.
	Lease time.Duration `yaml:"lease"`
	// Timeout bounds one SMTP/LMTP command.
	Timeout time.Duration `yaml:"timeout"`
	// TLS is the outbound TLS policy.
	TLS TLSConfig `yaml:"tls"`
}

// RetryConfig is a retry schedule: the first delay, doubled per failed
// attempt up to MaxBackoff.
type RetryConfig struct {
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
}

// TLS security levels of a destination, as Postfix's
// smtp_tls_security_level: "none" never uses TLS; "may" uses STARTTLS
// when the next hop offers it, unauthenticated (opportunistic TLS, RFC
// 7435), and sends in clear when it does not; "encrypt" requires TLS and
// defers rather than send in clear; "verify" also requires the next hop's
// certificate to be valid for its host name.
const (
	TLSNone    = "none"
	TLSMay     = "may"
	TLSEncrypt = "encrypt"
	TLSVerify  = "verify"
)

// TLSConfig is the relay's outbound TLS policy (relay.tls).
type TLSConfig struct {
	// Level is the default level of every destination.
	Level string `yaml:"level"`
	// Policies set the level per destination: a recipient domain, or a
	// next hop of the transport map as "[host]:port"; the next hop wins.
	Policies map[string]string `yaml:"policies"`
	// MTASTS looks up the MTA-STS policy (RFC 8461) of domains delivered
	// by MX lookup: under "enforce" only the MX hosts the policy names are
	// used, over TLS with a verified certificate, or the mail is deferred;
	// "testing" is logged. A level set in Policies for the domain wins.
	MTASTS bool `yaml:"mta_sts"`
}

func validLevel(l string) bool {
	return l == TLSNone || l == TLSMay || l == TLSEncrypt || l == TLSVerify
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Hostname: "localhost", Transports: map[string]string{},
		MinBackoff: 30 * time.Minute, MaxBackoff: 4 * time.Hour, MaxLifetime: 5 * 24 * time.Hour,
		BackendRetry:              RetryConfig{MinBackoff: time.Minute, MaxBackoff: 15 * time.Minute},
		ConcurrencyPerDestination: 4, Concurrency: 32, PollInterval: 5 * time.Second, Batch: 200,
		Lease: 10 * time.Minute, Timeout: 5 * time.Minute,
		TLS: TLSConfig{Level: TLSMay, Policies: map[string]string{}, MTASTS: true},
	}
}

// Validate checks c; errors are *validate.Error in section relay, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, msg string) {
		errs = append(errs, validate.Field(key, v, msg).In("relay"))
	}
	if c.Hostname == "" {
		bad("hostname", "", "must be set")
	}
	for d, t := range c.Transports {
		if _, err := ParseTransport(t); err != nil {
			bad("transports."+d, t, err.Error())
		}
	}
	for _, v := range []struct {
		key string
		d   time.Duration
	}{{"min_backoff", c.MinBackoff}, {"max_backoff", c.MaxBackoff}, {"max_lifetime", c.MaxLifetime},
		{"backend_retry.min_backoff", c.BackendRetry.MinBackoff}, {"backend_retry.max_backoff", c.BackendRetry.MaxBackoff},
		{"poll_interval", c.PollInterval}, {"lease", c.Lease}, {"timeout", c.Timeout}} {
		if v.d <= 0 {
			bad(v.key, v.d, "must be positive")
		}
	}
	if c.MaxBackoff < c.MinBackoff {
		bad("max_backoff", c.MaxBackoff, "must not be less than relay.min_backoff")
	}
	if c.BackendRetry.MaxBackoff < c.BackendRetry.MinBackoff {
		bad("backend_retry.max_backoff", c.BackendRetry.MaxBackoff, "must not be less than relay.backend_retry.min_backoff")
	}
	if c.ConcurrencyPerDestination < 1 {
		bad("concurrency_per_destination", c.ConcurrencyPerDestination, "must be at least 1")
	}
	if c.Concurrency < 1 {
		bad("concurrency", c.Concurrency, "must be at least 1")
	}
	if c.Batch < 1 {
		bad("batch", c.Batch, "must be at least 1")
	}
	if !validLevel(c.TLS.Level) {
		bad("tls.level", c.TLS.Level, "must be none, may, encrypt or verify")
	}
	for d, l := range c.TLS.Policies {
		if !validLevel(l) {
			bad("tls.policies."+d, l, "must be none, may, encrypt or verify")
		}
	}
	return errors.Join(errs...)
}

// Transport is a parsed next hop.
type Transport struct {
	Proto string // "smtp", "lmtp" or "mx"
	// Addr is host:port for smtp and lmtp over TCP, or the socket's path
	// for lmtp over a unix socket.
	Addr string
	// Unix is true for "lmtp:unix:/path" (as Postfix's
	// virtual_transport = lmtp:unix:private/dovecot-lmtp).
	Unix bool
}

// Network is the network Addr is dialled on: "unix" or "tcp".
func (t Transport) Network() string {
	if t.Unix {
		return "unix"
	}
	return "tcp"
}

// String is the transport as configured.
func (t Transport) String() string {
	switch {
	case t.Proto == "mx":
		return "mx"
	case t.Unix:
		return t.Proto + ":unix:" + t.Addr
	}
	return t.Proto + ":" + t.Addr
}

// ParseTransport parses "smtp:host:port", "lmtp:host:port",
// "lmtp:unix:/path" or "mx".
func ParseTransport(s string) (Transport, error) {
	if s == "mx" {
		return Transport{Proto: "mx"}, nil
	}
	proto, addr, ok := strings.Cut(s, ":")
	if !ok || (proto != "smtp" && proto != "lmtp") {
		return Transport{}, errors.New(`must be "smtp:host:port", "lmtp:host:port", "lmtp:unix:/path" or "mx"`)
	}
	if path, ok := strings.CutPrefix(addr, "unix:"); ok && proto == "lmtp" {
		if !strings.HasPrefix(path, "/") {
			return Transport{}, errors.New("unix socket path must be absolute")
		}
		return Transport{Proto: proto, Addr: path, Unix: true}, nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return Transport{}, errors.New("next hop is not host:port")
	}
	return Transport{Proto: proto, Addr: addr}, nil
}

// Backoff is the delay before attempt number n+1 after n failed attempts
// (n ≥ 1) at a remote destination: MinBackoff doubled per earlier
// failure, capped at MaxBackoff.
func (c Config) Backoff(n int) time.Duration {
	return RetryConfig{MinBackoff: c.MinBackoff, MaxBackoff: c.MaxBackoff}.Backoff(n)
}

// Backoff is the delay before attempt number n+1 after n failed attempts
// (n ≥ 1): MinBackoff doubled per earlier failure, capped at MaxBackoff.
func (c RetryConfig) Backoff(n int) time.Duration {
	d := c.MinBackoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, c.MaxBackoff)
}
