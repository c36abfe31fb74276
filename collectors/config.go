// Package collectors holds the configuration of the collectors capability
// (the `collectors:` section): where log lines come from (tailed files, a
// syslog receiver, the engine), how they are correlated, how long the
// transaction log is kept, the abuse thresholds and trace masking. The
// work is done by its subpackages: logparse, correlate, txlog, ingest,
// tail, syslog, trace, rollup and abuse.
package collectors

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/config/validate"
)

// Config is the `collectors:` section.
type Config struct {
	// Enabled runs the live collectors (tailing, syslog, engine events) in
	// `postvakt serve`; import, summary and trace work either way.
	Enabled bool `yaml:"enabled"`
	// Files are tailed, their reading position saved in the database.
	Files []FileConfig `yaml:"files"`
	// Poll polls files for changes instead of using inotify.
	Poll bool `yaml:"poll"`
	// MaxLineBytes bounds a tailed line: a longer one is cut to it and
	// counted (postvakt_collector_lines_cut_total).
	MaxLineBytes int `yaml:"max_line_bytes"`
	// Lateness is how long the merge of several files and syslog
	// connections waits for a quiet source before it goes on without it
	// (docs/collectors.md, "Merging sources by time").
	Lateness time.Duration `yaml:"lateness"`
	Syslog   SyslogConfig  `yaml:"syslog"`
	// EngineEvents feeds postvakt's own engine events in-process.
	EngineEvents bool `yaml:"engine_events"`
	// LogTimezone is the zone of year-less log timestamps (traditional
	// syslog, "Nov 22 10:53:00"): the zone the log-writing hosts stamp
	// their lines in, "Local", "UTC" or an IANA name; default the server's
	// local zone. It is not the zone people read times in (the top-level
	// timezone); files[].timezone and syslog.timezone override it per
	// source.
	LogTimezone string `yaml:"log_timezone"`
	// Timezone is the old name of LogTimezone, read when LogTimezone is
	// not given (deprecated: check-config says so).
	Timezone string `yaml:"timezone"`
	// LocalNetworks are clients whose mail counts as sent by the
	// organisation (Postfix mynetworks), CIDR.
	LocalNetworks []string `yaml:"local_networks"`
	// WebmailNetworks are the webmail servers (CIDR): the messages their
	// IMAP sessions read count as read over webmail, not IMAP
	// (docs/reports.md, "Definitions").
	WebmailNetworks []string `yaml:"webmail_networks"`
	// ContentFilterRelays are relay= values of content-filter hand-offs
	// (e.g. "127.0.0.1[127.0.0.1]:10024") beyond those amavis' reply shows.
	ContentFilterRelays []string `yaml:"content_filter_relays"`
	// CorrelationHorizon: a message with no line for this long is written
	// as incomplete. Longer than Postfix's maximal_backoff_time.
	CorrelationHorizon time.Duration `yaml:"correlation_horizon"`
	BatchSize          int           `yaml:"batch_size"`
	CommitInterval     time.Duration `yaml:"commit_interval"`
	// RetentionDays is how long the transaction and login logs are kept.
	RetentionDays int `yaml:"retention_days"`
	// RollupLookback is how far back each rollup run recomputes.
	RollupLookback time.Duration      `yaml:"rollup_lookback"`
	Abuse          abusedetect.Config `yaml:"abuse"`
	Trace          TraceConfig        `yaml:"trace"`
}

// FileConfig is one tailed file.
type FileConfig struct {
	Path string `yaml:"path"`
	// Host replaces the host name in every line of this file (for files
	// that log a short name, as Postfix's maillog_file does); "" keeps it.
	Host string `yaml:"host"`
	// Timezone of this file's year-less timestamps; default log_timezone.
	Timezone string `yaml:"timezone"`
}

// SyslogConfig is the syslog receiver.
type SyslogConfig struct {
	TCP        string `yaml:"tcp"` // e.g. "0.0.0.0:601"; "" disables
	UDP        string `yaml:"udp"` // e.g. "0.0.0.0:514"; "" disables
	MaxMessage int    `yaml:"max_message"`
	// Timezone of year-less timestamps received (RFC 3164 lines carry no
	// zone); default log_timezone.
	Timezone string `yaml:"timezone"`
}

// TraceConfig controls message trace.
type TraceConfig struct {
	// ShowSubjectsFrom is the least role that sees subjects; below it they
	// are masked.
	ShowSubjectsFrom string `yaml:"show_subjects_from"`
	// MaxLimit bounds the page size.
	MaxLimit int `yaml:"max_limit"`
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Enabled: true, EngineEvents: true, LogTimezone: "Local",
		Syslog:       SyslogConfig{MaxMessage: 64 << 10},
		MaxLineBytes: 64 << 10, Lateness: 2 * time.Second,
		LocalNetworks:      []string{"127.0.0.1/32", "::1/128"},
		CorrelationHorizon: 2 * time.Hour, BatchSize: 5000, CommitInterval: time.Second,
		RetentionDays: 90, RollupLookback: 3 * time.Hour,
		Abuse: abusedetect.DefaultConfig(),
		Trace: TraceConfig{ShowSubjectsFrom: "postmaster", MaxLimit: 500},
	}
}

// bad is a validation error naming a key relative to the section.
func bad(key string, v any, format string, a ...any) error {
	return validate.Fieldf(key, v, format, a...)
}

// LogLocation is the zone of year-less log timestamps: log_timezone, or
// its old name timezone when only that is given.
func (c Config) LogLocation() (*time.Location, error) {
	name := c.LogTimezone
	if c.Timezone != "" && (name == "" || name == "Local") {
		name = c.Timezone
	}
	return timezone.Load(name)
}

// FileLocation is the zone of file i's year-less timestamps.
func (c Config) FileLocation(i int) (*time.Location, error) {
	if tz := c.Files[i].Timezone; tz != "" {
		return timezone.Load(tz)
	}
	return c.LogLocation()
}

// SyslogLocation is the zone of the year-less timestamps the syslog
// receiver gets.
func (c Config) SyslogLocation() (*time.Location, error) {
	if tz := c.Syslog.Timezone; tz != "" {
		return timezone.Load(tz)
	}
	return c.LogLocation()
}

// Networks parses LocalNetworks.
func (c Config) Networks() ([]netip.Prefix, error) { return prefixes(c.LocalNetworks) }

// Webmail parses WebmailNetworks.
func (c Config) Webmail() ([]netip.Prefix, error) { return prefixes(c.WebmailNetworks) }

func prefixes(ns []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, n := range ns {
		p, err := netip.ParsePrefix(n)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Validate checks the section; every error names its key.
func (c Config) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	seen := map[string]bool{}
	for i, f := range c.Files {
		key := fmt.Sprintf("files[%d].path", i)
		if strings.TrimSpace(f.Path) == "" {
			add(bad(key, f.Path, "must not be empty"))
		}
		if _, err := timezone.Load(f.Timezone); err != nil {
			add(bad(fmt.Sprintf("files[%d].timezone", i), f.Timezone, "unknown time zone: want Local, UTC or an IANA name such as Europe/Oslo"))
		}
		if seen[f.Path] {
			add(bad(key, f.Path, "is listed twice"))
		}
		seen[f.Path] = true
	}
	if len(c.Files) > 1000 {
		add(bad("files", len(c.Files), "at most 1000 files"))
	}
	for _, l := range []struct{ key, v string }{{"syslog.tcp", c.Syslog.TCP}, {"syslog.udp", c.Syslog.UDP}} {
		if l.v == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(l.v); err != nil {
			add(bad(l.key, l.v, "must be host:port"))
		}
	}
	if c.MaxLineBytes < 1024 || c.MaxLineBytes > 16<<20 {
		add(bad("max_line_bytes", c.MaxLineBytes, "must be between 1024 and 16777216"))
	}
	if c.Lateness < 10*time.Millisecond || c.Lateness > 10*time.Minute {
		add(bad("lateness", c.Lateness, "must be between 10ms and 10m"))
	}
	if c.Syslog.MaxMessage < 480 || c.Syslog.MaxMessage > 16<<20 {
		add(bad("syslog.max_message", c.Syslog.MaxMessage, "must be between 480 and 16777216 (RFC 5426 §3.2: at least 480)"))
	}
	for _, z := range []struct{ key, v string }{{"log_timezone", c.LogTimezone}, {"timezone", c.Timezone}, {"syslog.timezone", c.Syslog.Timezone}} {
		if _, err := timezone.Load(z.v); err != nil {
			add(bad(z.key, z.v, "unknown time zone: want Local, UTC or an IANA name such as Europe/Oslo"))
		}
	}
	if c.Timezone != "" && c.LogTimezone != "" && c.LogTimezone != "Local" && c.Timezone != c.LogTimezone {
		add(bad("timezone", c.Timezone, "is the old name of log_timezone, which is also given (%q): keep only log_timezone", c.LogTimezone))
	}
	for i, n := range c.LocalNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			add(bad(fmt.Sprintf("local_networks[%d]", i), n, "must be a CIDR prefix such as 127.0.0.1/32"))
		}
	}
	for i, n := range c.WebmailNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			add(bad(fmt.Sprintf("webmail_networks[%d]", i), n, "must be a CIDR prefix such as 192.0.2.10/32"))
		}
	}
	if c.CorrelationHorizon < time.Minute {
		add(bad("correlation_horizon", c.CorrelationHorizon, "must be at least 1m"))
	}
	if c.BatchSize < 1 || c.BatchSize > 100000 {
		add(bad("batch_size", c.BatchSize, "must be between 1 and 100000"))
	}
	if c.CommitInterval < 10*time.Millisecond || c.CommitInterval > time.Minute {
		add(bad("commit_interval", c.CommitInterval, "must be between 10ms and 1m"))
	}
	if c.RetentionDays < 1 || c.RetentionDays > 3650 {
		add(bad("retention_days", c.RetentionDays, "must be between 1 and 3650"))
	}
	if c.RollupLookback < time.Hour {
		add(bad("rollup_lookback", c.RollupLookback, "must be at least 1h"))
	}
	errs = append(errs, validate.Nest("abuse", c.Abuse.Validate())...)
	switch c.Trace.ShowSubjectsFrom {
	case "admin", "postmaster", "oncall", "helpdesk", "viewer":
	default:
		add(bad("trace.show_subjects_from", c.Trace.ShowSubjectsFrom, "must be a role: admin, postmaster, oncall, helpdesk or viewer"))
	}
	if c.Trace.MaxLimit < 1 || c.Trace.MaxLimit > trace.MaxLimit {
		add(bad("trace.max_limit", c.Trace.MaxLimit, "must be between 1 and %d", trace.MaxLimit))
	}
	return errors.Join(errs...)
}
