package engine

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/authlimit"
	"github.com/uni-mail/postvakt/engine/backend"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/greylist"
	"github.com/uni-mail/postvakt/engine/mailauth"
	"github.com/uni-mail/postvakt/engine/policy"
	"github.com/uni-mail/postvakt/engine/queue"
)

// Config is the `smtp:` section of postvakt's configuration.
type Config struct {
	// Enabled runs the engine in `postvakt serve`.
	Enabled bool `yaml:"enabled" env:"POSTVAKT_SMTP_ENABLED"`
	// Hostname is announced in the greeting and Received: headers; default
	// the machine's host name.
	Hostname string `yaml:"hostname"`
	// Node names this engine node in events (several nodes share one
	// database); default Hostname.
	Node string `yaml:"node"`

	MX          ListenerConfig `yaml:"mx"`
	Submission  ListenerConfig `yaml:"submission"`
	Submissions ListenerConfig `yaml:"submissions"` // implicit TLS (465, RFC 8314); off when listen is ""

	TLS TLSConfig `yaml:"tls"`
	// InsecureAuthLoopback allows AUTH without TLS from 127.0.0.0/8 and ::1
	// (tests and local tools only).
	InsecureAuthLoopback bool `yaml:"insecure_auth_loopback"`

	Limits   LimitsConfig    `yaml:"limits"`
	DNSBL    DNSBLConfig     `yaml:"dnsbl"`
	Greylist greylist.Config `yaml:"greylist"`

	Whitelist WhitelistConfig `yaml:"whitelist"`
	// LocalNetworks may use submission without AUTH, except the ranges in
	// LocalNetworksExcept (e.g. guest Wi-Fi, eduroam).
	LocalNetworks       []string `yaml:"local_networks"`
	LocalNetworksExcept []string `yaml:"local_networks_except"`
	// Trusted are the university's own systems: their mail is never refused
	// for quota; an over-quota mailbox keeps only From and Subject.
	Trusted TrustedConfig `yaml:"trusted"`
	// Postmaster is where the bare RCPT TO:<postmaster> goes (RFC 5321 §4.5.1).
	Postmaster string `yaml:"postmaster"`
	// Auth chooses who checks SMTP AUTH passwords.
	Auth AuthConfig `yaml:"auth"`
	// EnforceSenderLogin lets an authenticated user send only as the
	// account's permanent address or nickname (553 5.7.1 otherwise).
	EnforceSenderLogin bool `yaml:"enforce_sender_login"`

	AddressRules addr.RulesConfig `yaml:"address_rules"`
	Directory    DirectoryConfig  `yaml:"directory"`
	// Backend is what the engine asks local domains' back ends at RCPT
	// (smtp.directory.delivery): recipient verification over LMTP and
	// Dovecot's quota-status.
	Backend backend.Config `yaml:"backend"`
	// DKIM signs submitted mail with per-domain keys (RFC 6376).
	DKIM DKIMConfig `yaml:"dkim"`
	// DMARC checks mail arriving on the MX: SPF, DKIM, DMARC and an
	// Authentication-Results field (RFC 7489, RFC 8601).
	DMARC     DMARCConfig     `yaml:"dmarc"`
	Commit    CommitConfig    `yaml:"commit"`
	Retention RetentionConfig `yaml:"retention"`
	// EventBuffer is how many events wait for a slow consumer before new
	// ones are dropped (and counted).
	EventBuffer int `yaml:"event_buffer"`
}

// ListenerConfig is one listener.
type ListenerConfig struct {
	Listen      string `yaml:"listen"` // host:port; "" disables
	ImplicitTLS bool   `yaml:"implicit_tls"`
	Auth        bool   `yaml:"auth"`
}

// Who checks SMTP AUTH passwords (smtp.auth.backend).
const (
	AuthEmbedded = "embedded" // postvakt's own argon2id hashes in the directory
	AuthDovecot  = "dovecot"  // Dovecot's auth service (its passdb: SSO, LDAP, passwd-file…)
)

// AuthConfig chooses who checks SMTP AUTH passwords. With "dovecot" the
// password goes to Dovecot's auth-client socket (as Postfix's
// smtpd_sasl_type = dovecot) and never through postvakt's store; the AUTH
// rate limits (limits.auth_*) still apply, and MaxConcurrent bounds the
// requests in flight in place of the password-hash gate.
type AuthConfig struct {
	Backend string `yaml:"backend"`
	// DovecotSocket is the auth service's client socket: "unix:/path"
	// (e.g. unix:/var/spool/postfix/private/auth) or "host:port".
	DovecotSocket string        `yaml:"dovecot_socket"`
	MaxConcurrent int           `yaml:"max_concurrent"`
	Timeout       time.Duration `yaml:"timeout"`
}

// TLSConfig names the certificate. Without files, a self-signed
// certificate is generated under the data directory (development only).
type TLSConfig struct {
	CertFile   string `yaml:"cert_file"`
	KeyFile    string `yaml:"key_file"`
	SelfSigned bool   `yaml:"self_signed"`
	Disabled   bool   `yaml:"disabled"` // no STARTTLS at all (tests)
}

// LimitsConfig bounds clients and what they can make the engine hold
// (docs/resources.md).
type LimitsConfig struct {
	MaxMessageBytes  int64         `yaml:"max_message_bytes"`
	MaxRecipients    int           `yaml:"max_recipients"`
	MaxConnections   int           `yaml:"max_connections"`        // per listener
	MaxConnsPerIP    int           `yaml:"max_connections_per_ip"` // per listener
	MaxLineLength    int           `yaml:"max_line_length"`
	CommandTimeout   time.Duration `yaml:"command_timeout"`
	DataTimeout      time.Duration `yaml:"data_timeout"`
	MaxSession       time.Duration `yaml:"max_session"`
	MaxAuthFailures  int           `yaml:"max_auth_failures"`
	AuthFailureDelay time.Duration `yaml:"auth_failure_delay"`
	MaxHops          int           `yaml:"max_hops"`
	ShutdownTimeout  time.Duration `yaml:"shutdown_timeout"`
	// PregreetWait is how long the engine listens before its greeting; a
	// client that talks first (RFC 5321 §3.1: the client waits for the
	// greeting) is refused, as Postfix's postscreen does. 0 still refuses
	// what has already arrived.
	PregreetWait time.Duration `yaml:"pregreet_wait"`
	// PregreetTTL is how long a client address that waited for the
	// greeting is remembered (its later connections are greeted at once),
	// as postscreen_greet_ttl; 0 tests every connection.
	PregreetTTL time.Duration `yaml:"pregreet_ttl"`

	// PasswordHashMemory is the working memory of password hashes in
	// progress at once, for SMTP AUTH and the web sign-in together; a hash
	// that cannot start within PasswordHashWait is answered with a
	// temporary failure.
	PasswordHashMemory int64         `yaml:"password_hash_memory"`
	PasswordHashWait   time.Duration `yaml:"password_hash_wait"`
	// SpoolThreshold is how much of a message DATA keeps in memory; the
	// rest is spooled to a file under data_dir/spool.
	SpoolThreshold int64 `yaml:"spool_threshold"`
	// FilterTimeout bounds content scanning of one message, a wait for a
	// scan slot included (RFC 5321 §4.5.3.2.6: the client waits 10
	// minutes for the reply to the end of DATA).
	FilterTimeout time.Duration `yaml:"filter_timeout"`
	// MessageMemory bounds message bytes held in memory by all sessions,
	// scans and deliveries together; a message that cannot get its share
	// within MessageMemoryWait is answered 452 4.3.1.
	MessageMemory     int64         `yaml:"message_memory"`
	MessageMemoryWait time.Duration `yaml:"message_memory_wait"`

	// AUTH guessing, counted in the database across sessions and engine
	// nodes (like Postfix's smtpd_client_auth_rate_limit): failed attempts
	// per client network (IPv4 address, IPv6 /64) per window, and per
	// account from networks not known to it; over the rate, 454 4.7.0.
	// A network that signed in to an account is known to it for
	// AuthKnownClientTTL. 0 failures: no limit.
	AuthClientFailures  int           `yaml:"auth_client_failures"`
	AuthClientWindow    time.Duration `yaml:"auth_client_window"`
	AuthAccountFailures int           `yaml:"auth_account_failures"`
	AuthAccountWindow   time.Duration `yaml:"auth_account_window"`
	AuthKnownClientTTL  time.Duration `yaml:"auth_known_client_ttl"`
}

// AuthLimits is the AUTH rate configuration of l.
func (l LimitsConfig) AuthLimits() authlimit.Config {
	return authlimit.Config{ClientFailures: l.AuthClientFailures, ClientWindow: l.AuthClientWindow,
		AccountFailures: l.AuthAccountFailures, AccountWindow: l.AuthAccountWindow, KnownClientTTL: l.AuthKnownClientTTL}
}

// DNSBLConfig configures DNS blocklists.
type DNSBLConfig struct {
	Zones []string `yaml:"zones"`
	// Resolver is host:port of the DNS server to ask; "" uses the system's.
	Resolver string        `yaml:"resolver"`
	Timeout  time.Duration `yaml:"timeout"`
	// Reject refuses listed clients (554 5.7.1) rather than greylisting them
	// with the longer delay.
	Reject bool `yaml:"reject"`
}

// WhitelistConfig skips greylisting for matching clients, senders or
// recipients.
type WhitelistConfig struct {
	Clients    []string `yaml:"clients"`    // IPs or CIDRs
	Senders    []string `yaml:"senders"`    // addresses or @domains
	Recipients []string `yaml:"recipients"` // addresses or @domains
}

// TrustedConfig identifies the university's own systems.
type TrustedConfig struct {
	Senders []string `yaml:"senders"`
	Clients []string `yaml:"clients"`
}

// DirectoryConfig are directory defaults, and directory entries declared
// in the configuration ("config import"): applied when the engine starts,
// creating or updating what they name and leaving everything else alone.
type DirectoryConfig struct {
	DefaultQuotaBytes  int64                `yaml:"default_quota_bytes"`
	NicknameQuarantine time.Duration        `yaml:"nickname_quarantine"`
	PasswordHash       directory.HashParams `yaml:"password_hash"`
	// CacheTTL is how long a recipient lookup is cached (0: not cached).
	CacheTTL time.Duration `yaml:"cache_ttl"`

	Domains []string `yaml:"domains"`
	// Delivery says where a local domain's mail goes, by domain: "store"
	// (the embedded store, the default for a domain not named),
	// "lmtp:host:port" or "lmtp:unix:/path" (Dovecot's LMTP, as Postfix's
	// virtual_transport), or "smtp:host:port" (an internal mail server).
	// A domain named here is local. Mail for a back end goes through the
	// relay queue (relay.enabled): durable once acknowledged, retried and
	// bounced as relay mail.
	Delivery map[string]string `yaml:"delivery"`
	// RewriteFrom are the domains whose nicknames are rewritten to the
	// mailbox's permanent address in submitted mail (envelope sender and
	// From:, the display name kept), so replies survive a nickname change.
	RewriteFrom []string        `yaml:"rewrite_from"`
	Mailboxes   []MailboxConfig `yaml:"mailboxes"`
	Aliases     []AliasConfig   `yaml:"aliases"`
}

// MailboxConfig declares a mailbox. Give password_hash (argon2id PHC), not
// a plaintext password.
type MailboxConfig struct {
	Address         string `yaml:"address"`
	Nickname        string `yaml:"nickname"`
	Name            string `yaml:"name"`
	QuotaBytes      int64  `yaml:"quota_bytes"`
	ForwardTo       string `yaml:"forward_to"`
	KeepCopy        bool   `yaml:"keep_copy"`
	ExternalForward bool   `yaml:"external_forward"`
	PasswordHash    string `yaml:"password_hash"`
	Locked          bool   `yaml:"locked"`
}

// AliasConfig declares an alias, list or function address.
type AliasConfig struct {
	Address string   `yaml:"address"`
	Kind    string   `yaml:"kind"` // alias, list or function
	Targets []string `yaml:"targets"`
}

// DKIMConfig are the signing keys.
type DKIMConfig struct {
	Keys []DKIMKeyConfig `yaml:"keys"`
}

// DKIMKeyConfig is one domain's key: a PEM file (PKCS #8 or PKCS #1),
// RSA-2048 or Ed25519, written by `postvakt dkim rotate`. The key signs
// the domain's mail and its subdomains'.
type DKIMKeyConfig struct {
	Domain         string `yaml:"domain"`
	Selector       string `yaml:"selector"`
	PrivateKeyFile string `yaml:"private_key_file"`
}

// DefaultDMARCTimeout is smtp.dmarc.timeout's default; MaxDMARCTimeout
// its upper bound (the session waits this long at the end of DATA).
const (
	DefaultDMARCTimeout = 5 * time.Second
	MaxDMARCTimeout     = time.Minute
)

// DMARCConfig configures the MX's checks of incoming mail. DNS questions go
// to smtp.dnsbl.resolver (the system's resolver when unset).
type DMARCConfig struct {
	// Check runs SPF, DKIM and DMARC on mail arriving unauthenticated and
	// adds Authentication-Results (on by default, as on any mature MX).
	Check bool `yaml:"check"`
	// Timeout bounds all DNS questions of one message's checks together:
	// what is not answered by then is a temperror (never a refusal), so
	// a slow or dead resolver delays a session by at most this much.
	Timeout time.Duration `yaml:"timeout"`
	// Enforce refuses mail failing DMARC whose domain publishes p=reject
	// (550 5.7.1 at the end of DATA); false only marks it.
	Enforce bool `yaml:"enforce"`
}

// CommitConfig tunes the group committer.
type CommitConfig struct {
	MaxBatch int `yaml:"max_batch"`
	Workers  int `yaml:"workers"` // 1 on SQLite; a few on PostgreSQL
	// MaxDelay waits this long for more messages before committing a
	// partial batch (fewer fsyncs under load, a little more latency).
	MaxDelay time.Duration `yaml:"max_delay"`
}

// RetentionConfig bounds what the engine's store keeps; the engine prunes
// hourly.
type RetentionConfig struct {
	// Transactions is how long the per-message transaction rows are kept
	// (0: for ever). The collectors' transaction log keeps its own 90 days.
	Transactions time.Duration `yaml:"transactions"`
	// BodyGrace is how long a body nothing refers to any more (its mailbox
	// messages deleted, its relay entries delivered or bounced) is kept.
	BodyGrace time.Duration `yaml:"body_grace"`
}

// Default is the configuration the engine runs on without a file: MX on
// 127.0.0.1:2525, submission on 127.0.0.1:2587 with AUTH, a self-signed
// certificate, greylisting on.
func Default() Config {
	host, _ := os.Hostname()
	if host == "" {
		host = "localhost"
	}
	return Config{
		Enabled:            true,
		Hostname:           host,
		EnforceSenderLogin: true,
		MX:                 ListenerConfig{Listen: "127.0.0.1:2525"},
		Submission:         ListenerConfig{Listen: "127.0.0.1:2587", Auth: true},
		TLS:                TLSConfig{SelfSigned: true},
		Limits: LimitsConfig{
			MaxMessageBytes: 25 << 20, MaxRecipients: 1000, MaxConnections: 1000, MaxConnsPerIP: 20,
			MaxLineLength: 2000, CommandTimeout: 5 * time.Minute, DataTimeout: 10 * time.Minute,
			MaxSession: 30 * time.Minute, MaxAuthFailures: 3, AuthFailureDelay: time.Second, MaxHops: 50,
			ShutdownTimeout: 15 * time.Second, PregreetWait: 300 * time.Millisecond, PregreetTTL: 24 * time.Hour,
			PasswordHashMemory: directory.DefaultHashMemory, PasswordHashWait: directory.DefaultHashWait,
			SpoolThreshold: 256 << 10, MessageMemory: 128 << 20, MessageMemoryWait: 2 * time.Minute, FilterTimeout: 5 * time.Minute,
			AuthClientFailures: 10, AuthClientWindow: time.Minute,
			AuthAccountFailures: 20, AuthAccountWindow: 15 * time.Minute, AuthKnownClientTTL: 30 * 24 * time.Hour,
		},
		DNSBL:       DNSBLConfig{Timeout: 2 * time.Second},
		Greylist:    greylist.DefaultConfig(),
		Directory:   DirectoryConfig{DefaultQuotaBytes: directory.DefaultQuota, NicknameQuarantine: 90 * 24 * time.Hour, PasswordHash: directory.DefaultHashParams(), CacheTTL: 2 * time.Second},
		Backend:     backend.DefaultConfig(),
		DMARC:       DMARCConfig{Check: true, Enforce: true, Timeout: DefaultDMARCTimeout},
		Auth:        AuthConfig{Backend: AuthEmbedded, MaxConcurrent: 16, Timeout: 10 * time.Second},
		Commit:      CommitConfig{MaxBatch: 64, Workers: 1},
		Retention:   RetentionConfig{Transactions: 90 * 24 * time.Hour, BodyGrace: 24 * time.Hour},
		EventBuffer: 10000,
	}
}

// ErrInvalid is wrapped by every validation error: it is validate.ErrInvalid.
var ErrInvalid = validate.ErrInvalid

// section is the configuration section the engine's keys are relative to.
const section = "smtp"

// Validate checks the configuration; each error is a *validate.Error
// naming the key in the smtp section and the bad value, and wraps
// ErrInvalid. All problems are reported (errors.Join).
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, val any, why string) {
		errs = append(errs, validate.Field(key, val, why).In(section))
	}
	if !c.Enabled {
		return nil
	}
	if c.Hostname == "" {
		bad("hostname", "", "must be set")
	}
	for _, l := range []struct {
		key string
		cfg ListenerConfig
	}{{"mx", c.MX}, {"submission", c.Submission}, {"submissions", c.Submissions}} {
		if l.cfg.Listen == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.cfg.Listen); err != nil {
			bad(l.key+".listen", l.cfg.Listen, "is not host:port")
		}
		if (l.cfg.ImplicitTLS || l.cfg.Auth) && c.TLS.Disabled && !(l.cfg.Auth && !l.cfg.ImplicitTLS && c.InsecureAuthLoopback) {
			bad(l.key+".listen", l.cfg.Listen, "needs TLS (auth or implicit_tls) but smtp.tls.disabled is true")
		}
	}
	if c.MX.Listen == "" && c.Submission.Listen == "" && c.Submissions.Listen == "" {
		bad("mx.listen", "", "no listener is enabled")
	}
	if !c.TLS.Disabled && (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls.cert_file", c.TLS.CertFile, "and smtp.tls.key_file must be set together")
	}
	if !c.TLS.Disabled && c.TLS.CertFile == "" && !c.TLS.SelfSigned {
		bad("tls.cert_file", "", "is required unless smtp.tls.self_signed or smtp.tls.disabled")
	}
	l := c.Limits
	for _, v := range []struct {
		key string
		val int64
		min int64
	}{
		{"limits.max_message_bytes", l.MaxMessageBytes, 1024},
		{"limits.max_recipients", int64(l.MaxRecipients), 1},
		{"limits.max_connections", int64(l.MaxConnections), 1},
		{"limits.max_connections_per_ip", int64(l.MaxConnsPerIP), 1},
		{"limits.max_line_length", int64(l.MaxLineLength), 1000}, // RFC 5321 §4.5.3.1.6
		{"limits.max_hops", int64(l.MaxHops), 10},
		{"limits.max_auth_failures", int64(l.MaxAuthFailures), 1},
		{"commit.max_batch", int64(c.Commit.MaxBatch), 1},
		{"commit.workers", int64(c.Commit.Workers), 1},
		{"event_buffer", int64(c.EventBuffer), 1},
	} {
		if v.val < v.min {
			bad(v.key, v.val, fmt.Sprintf("must be at least %d", v.min))
		}
	}
	for _, v := range []struct {
		key string
		val time.Duration
	}{
		{"limits.command_timeout", l.CommandTimeout}, {"limits.data_timeout", l.DataTimeout},
		{"limits.max_session", l.MaxSession}, {"limits.shutdown_timeout", l.ShutdownTimeout},
	} {
		if v.val <= 0 {
			bad(v.key, v.val, "must be positive")
		}
	}
	if l.AuthFailureDelay < 0 {
		bad("limits.auth_failure_delay", l.AuthFailureDelay, "must not be negative")
	}
	if l.PregreetWait < 0 || l.PregreetWait > 30*time.Second {
		bad("limits.pregreet_wait", l.PregreetWait, "must be between 0s and 30s")
	}
	if l.PregreetTTL < 0 || l.PregreetTTL > 30*24*time.Hour {
		bad("limits.pregreet_ttl", l.PregreetTTL, "must be between 0s and 720h")
	}
	if min := int64(c.Directory.PasswordHash.MemoryKiB) * 1024; l.PasswordHashMemory < min {
		bad("limits.password_hash_memory", l.PasswordHashMemory, fmt.Sprintf("must hold at least one hash (%d bytes at smtp.directory.password_hash.memory_kib)", min))
	}
	if l.PasswordHashWait <= 0 {
		bad("limits.password_hash_wait", l.PasswordHashWait, "must be positive")
	}
	if l.SpoolThreshold < 0 {
		bad("limits.spool_threshold", l.SpoolThreshold, "must not be negative")
	}
	if l.MessageMemory < 1<<20 {
		bad("limits.message_memory", l.MessageMemory, "must be at least 1 MiB")
	}
	if l.MessageMemoryWait <= 0 {
		bad("limits.message_memory_wait", l.MessageMemoryWait, "must be positive")
	}
	if l.FilterTimeout < time.Second || l.FilterTimeout > 9*time.Minute {
		bad("limits.filter_timeout", l.FilterTimeout, "must be between 1s and 9m (clients wait 10m for the reply to DATA)")
	}
	errs = append(errs, validate.InSection(section, errors.Join(validate.Nest("limits", l.AuthLimits().Validate())...))...)
	if len(c.DNSBL.Zones) > 0 && c.DNSBL.Timeout <= 0 {
		bad("dnsbl.timeout", c.DNSBL.Timeout, "must be positive")
	}
	if c.DMARC.Check && (c.DMARC.Timeout <= 0 || c.DMARC.Timeout > MaxDMARCTimeout) {
		bad("dmarc.timeout", c.DMARC.Timeout, "must be positive and at most "+MaxDMARCTimeout.String())
	}
	if c.DNSBL.Resolver != "" {
		if _, _, err := net.SplitHostPort(c.DNSBL.Resolver); err != nil {
			bad("dnsbl.resolver", c.DNSBL.Resolver, "is not host:port")
		}
	}
	for i, z := range c.DNSBL.Zones {
		if _, err := addr.ParseDomain(z); err != nil {
			bad(fmt.Sprintf("dnsbl.zones[%d]", i), z, "is not a domain")
		}
	}
	if c.Greylist.Enabled {
		errs = append(errs, validate.InSection(section, c.Greylist.Validate())...)
	}
	if _, err := c.compileLists(); err != nil {
		errs = append(errs, validate.InSection(section, err)...)
	}
	if c.Postmaster != "" {
		if a, err := addr.Parse(c.Postmaster); err != nil || a.Domain == "" {
			bad("postmaster", c.Postmaster, "is not an address")
		}
	}
	if _, err := c.AddressRules.Compile(); err != nil {
		errs = append(errs, validate.InSection(section, err)...)
	}
	if c.Commit.MaxDelay < 0 || c.Commit.MaxDelay > time.Second {
		bad("commit.max_delay", c.Commit.MaxDelay, "must be between 0s and 1s")
	}
	if c.Retention.Transactions != 0 && c.Retention.Transactions < 24*time.Hour {
		bad("retention.transactions", c.Retention.Transactions, "must be 0 (keep) or at least 24h")
	}
	if c.Retention.BodyGrace < time.Hour {
		bad("retention.body_grace", c.Retention.BodyGrace, "must be at least 1h (a body is reused by later mail only within it)")
	}
	for i, d := range c.Directory.Domains {
		if _, err := addr.ParseDomain(d); err != nil {
			bad(fmt.Sprintf("directory.domains[%d]", i), d, "is not a domain")
		}
	}
	switch c.Auth.Backend {
	case AuthEmbedded:
	case AuthDovecot:
		if _, _, err := backend.ParseSocket(c.Auth.DovecotSocket); err != nil {
			bad("auth.dovecot_socket", c.Auth.DovecotSocket, err.Error()+" (needed by smtp.auth.backend dovecot)")
		}
	default:
		bad("auth.backend", c.Auth.Backend, "must be embedded or dovecot")
	}
	if c.Auth.MaxConcurrent < 1 || c.Auth.MaxConcurrent > 1000 {
		bad("auth.max_concurrent", c.Auth.MaxConcurrent, "must be between 1 and 1000")
	}
	if c.Auth.Timeout < time.Second || c.Auth.Timeout > time.Minute {
		bad("auth.timeout", c.Auth.Timeout, "must be between 1s and 1m")
	}
	c.Backend.Validate(func(key string, val any, why string) { bad("backend."+key, val, why) })
	for d, v := range c.Directory.Delivery {
		if _, err := addr.ParseDomain(d); err != nil {
			bad("directory.delivery."+d, v, "names no domain")
		}
		if _, err := ParseDelivery(v); err != nil {
			bad("directory.delivery."+d, v, err.Error())
		}
	}
	for i, m := range c.Directory.Mailboxes {
		if a, err := addr.Parse(m.Address); err != nil || a.Domain == "" {
			bad(fmt.Sprintf("directory.mailboxes[%d].address", i), m.Address, "is not an address")
		}
		if m.PasswordHash != "" {
			if err := directory.CheckHash(m.PasswordHash); err != nil {
				bad(fmt.Sprintf("directory.mailboxes[%d].password_hash", i), "(hidden)", "is not an argon2id PHC hash")
			}
		}
	}
	for i, a := range c.Directory.Aliases {
		if p, err := addr.Parse(a.Address); err != nil || p.Domain == "" {
			bad(fmt.Sprintf("directory.aliases[%d].address", i), a.Address, "is not an address")
		}
		switch directory.EntryKind(a.Kind) {
		case directory.KindAlias, directory.KindList, directory.KindFunction:
		default:
			bad(fmt.Sprintf("directory.aliases[%d].kind", i), a.Kind, "must be alias, list or function")
		}
		if len(a.Targets) == 0 {
			bad(fmt.Sprintf("directory.aliases[%d].targets", i), "[]", "must name at least one target")
		}
	}
	if c.Directory.DefaultQuotaBytes < 0 {
		bad("directory.default_quota_bytes", c.Directory.DefaultQuotaBytes, "must not be negative")
	}
	if c.Directory.CacheTTL < 0 || c.Directory.CacheTTL > time.Minute {
		bad("directory.cache_ttl", c.Directory.CacheTTL, "must be between 0 and 1m")
	}
	for i, d := range c.Directory.RewriteFrom {
		if _, err := addr.ParseDomain(d); err != nil {
			bad(fmt.Sprintf("directory.rewrite_from[%d]", i), d, "is not a domain")
		}
	}
	seen := map[string]bool{}
	for i, k := range c.DKIM.Keys {
		key := fmt.Sprintf("dkim.keys[%d]", i)
		if _, err := addr.ParseDomain(k.Domain); err != nil {
			bad(key+".domain", k.Domain, "is not a domain")
		} else if d := strings.ToLower(k.Domain); seen[d] {
			bad(key+".domain", k.Domain, "has a key already")
		} else {
			seen[d] = true
		}
		if !mailauth.ValidSelector(k.Selector) {
			bad(key+".selector", k.Selector, "is not a selector (labels of letters, digits and '-', RFC 6376 §3.1)")
		}
		if k.PrivateKeyFile == "" {
			bad(key+".private_key_file", "", "must be set")
		} else if _, err := mailauth.LoadKey(k.PrivateKeyFile); err != nil {
			// The reason, never the file's contents.
			bad(key+".private_key_file", k.PrivateKeyFile, "cannot be used: "+keyError(err))
		}
	}
	if c.Directory.NicknameQuarantine < 0 {
		bad("directory.nickname_quarantine", c.Directory.NicknameQuarantine, "must not be negative")
	}
	return errors.Join(errs...)
}

// keyError says why a key file cannot be used without quoting it.
func keyError(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// DeliveryStore is the delivery of a local domain kept in the embedded
// store.
const DeliveryStore = "store"

// ParseDelivery parses a value of smtp.directory.delivery: the back
// end's next hop, or the zero Transport (Proto "") for "store".
func ParseDelivery(v string) (t queue.Transport, err error) {
	if v == DeliveryStore || v == "" {
		return queue.Transport{}, nil
	}
	t, err = queue.ParseTransport(v)
	switch {
	case err != nil && (strings.HasPrefix(v, "lmtp:") || strings.HasPrefix(v, "smtp:")):
		return queue.Transport{}, err // what is wrong with the next hop
	case err != nil || t.Proto == "mx":
		return queue.Transport{}, errors.New(`must be "store", "lmtp:host:port", "lmtp:unix:/path" or "smtp:host:port"`)
	}
	return t, nil
}

// Backends are the local domains delivered to a back end and their next
// hops, by lower-case domain (the relay queue's Options.Backends); nil
// when every domain uses the embedded store. c must be valid.
func (c DirectoryConfig) Backends() map[string]queue.Transport {
	var m map[string]queue.Transport
	for d, v := range c.Delivery {
		t, err := ParseDelivery(v)
		if err != nil || t.Proto == "" {
			continue
		}
		if m == nil {
			m = map[string]queue.Transport{}
		}
		m[strings.ToLower(strings.TrimSuffix(d, "."))] = t
	}
	return m
}

type lists struct {
	whitelistClients policy.NetSet
	whitelistSenders policy.AddrSet
	whitelistRcpts   policy.AddrSet
	local            policy.Networks
	trustedSenders   policy.AddrSet
	trustedClients   policy.NetSet
}

func (c Config) compileLists() (lists, error) {
	var l lists
	var errs []error
	var err error
	if l.whitelistClients, err = policy.ParseNetSet("whitelist.clients", c.Whitelist.Clients); err != nil {
		errs = append(errs, err)
	}
	if l.whitelistSenders, err = policy.ParseAddrSet("whitelist.senders", c.Whitelist.Senders); err != nil {
		errs = append(errs, err)
	}
	if l.whitelistRcpts, err = policy.ParseAddrSet("whitelist.recipients", c.Whitelist.Recipients); err != nil {
		errs = append(errs, err)
	}
	if l.local.Allow, err = policy.ParseNetSet("local_networks", c.LocalNetworks); err != nil {
		errs = append(errs, err)
	}
	if l.local.Except, err = policy.ParseNetSet("local_networks_except", c.LocalNetworksExcept); err != nil {
		errs = append(errs, err)
	}
	if l.trustedSenders, err = policy.ParseAddrSet("trusted.senders", c.Trusted.Senders); err != nil {
		errs = append(errs, err)
	}
	if l.trustedClients, err = policy.ParseNetSet("trusted.clients", c.Trusted.Clients); err != nil {
		errs = append(errs, err)
	}
	return l, errors.Join(errs...)
}
