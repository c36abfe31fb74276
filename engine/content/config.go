package content

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/engine/spam"
)

// Config is the `content:` section: MIME limits, attachment rules,
// antivirus, the spam scorer and its actions, quarantine retention and
// abuse control on submission.
type Config struct {
	Enabled     bool             `yaml:"enabled"`
	MIME        MIMEConfig       `yaml:"mime"`
	Attachments AttachmentConfig `yaml:"attachments"`
	Antivirus   AntivirusConfig  `yaml:"antivirus"`
	Spam        SpamConfig       `yaml:"spam"`
	Quarantine  QuarantineConfig `yaml:"quarantine"`
	Abuse       AbuseConfig      `yaml:"abuse"`
	Limits      LimitsConfig     `yaml:"limits"`
	// Complaints is the abuse address whose spam complaints propose
	// filter rules (engine/complaint, docs/configuration.md).
	Complaints complaint.Config `yaml:"complaints"`
}

// LimitsConfig is the budget of one message's scan (docs/resources.md):
// the built-in scan stops when any is exhausted, and
// the message is then uninspectable.
type LimitsConfig struct {
	// Timeout is the deadline of the built-in scan of one message.
	Timeout time.Duration `yaml:"timeout"`
	// MaxScanBytes bounds the bytes decoded (MIME transfer encodings) and
	// decompressed (archive entries) for one message: what a zip bomb
	// would make the scan inflate.
	MaxScanBytes int64 `yaml:"max_scan_bytes"`
	// MaxEntries bounds the archive entries opened for one message, over
	// all its archives and their nested archives.
	MaxEntries int `yaml:"max_entries"`
	// OnUninspectable is what happens to a message that cannot be fully
	// inspected: "quarantine" (as suspect) or "reject" (554 5.7.1).
	OnUninspectable string `yaml:"on_uninspectable"`
	// Concurrency is how many messages are scanned at once (0: twice the
	// CPUs); a message waits for a slot within smtp.limits.filter_timeout.
	Concurrency int `yaml:"concurrency"`
}

// MIMEConfig bounds the MIME walk.
type MIMEConfig struct {
	MaxDepth int `yaml:"max_depth"`
	MaxParts int `yaml:"max_parts"`
}

// AttachmentConfig is the attachment policy (DOMAIN.md "MX layer").
type AttachmentConfig struct {
	// ForbiddenExtensions are file name extensions (with the dot) refused
	// in a part or inside a zip archive.
	ForbiddenExtensions []string `yaml:"forbidden_extensions"`
	// Action for a forbidden attachment: "reject" (554 5.7.1) or "discard"
	// (accept and drop).
	Action string `yaml:"action"`
	// ScanArchives looks inside zip archives (nested up to MaxArchiveDepth).
	ScanArchives    bool `yaml:"scan_archives"`
	MaxArchiveDepth int  `yaml:"max_archive_depth"`
	// MaxArchiveEntries: more entries than this makes the archive suspect.
	MaxArchiveEntries int `yaml:"max_archive_entries"`
}

// AntivirusConfig configures virus scanning. The built-in EICAR check
// always runs.
type AntivirusConfig struct {
	// Clamd is "unix:/path/to/clamd.ctl" or "tcp:host:port"; empty: no clamd.
	Clamd   string        `yaml:"clamd"`
	Timeout time.Duration `yaml:"timeout"`
	// OnFailure when a configured scanner does not answer: "tempfail"
	// (451 4.7.0) or "pass" (accept with X-Virus-Scan: unavailable).
	OnFailure string `yaml:"on_failure"`
}

// SpamConfig configures the spam scorer and what happens to spam.
type SpamConfig struct {
	Enabled   bool               `yaml:"enabled"`
	Threshold float64            `yaml:"threshold"`
	Rules     map[string]float64 `yaml:"rules"`
	// Action for spam: "quarantine" (the central spam quarantine) or
	// "subject" (prefix SubjectPrefix and deliver).
	Action        string            `yaml:"action"`
	DomainActions map[string]string `yaml:"domain_actions"`
	SubjectPrefix string            `yaml:"subject_prefix"`
	// SPF turns on the SPF rules (RFC 7208) for mail from outside.
	SPF bool `yaml:"spf"`
	// Spamd is SpamAssassin's spamd, "host:port" or "unix:/path"; its
	// score is added as rule SPAMD. Rspamd is an rspamd worker's base URL
	// (e.g. http://127.0.0.1:11333); its score, scaled to Threshold over
	// its required score, is added as rule RSPAMD. Empty: not used. A
	// scanner that does not answer is counted and skipped.
	Spamd  string `yaml:"spamd"`
	Rspamd string `yaml:"rspamd"`
}

// QuarantineConfig sets how long quarantined mail is kept.
type QuarantineConfig struct {
	Retention time.Duration `yaml:"retention"`
}

// AbuseConfig is abuse control on submission.
type AbuseConfig struct {
	// MaxMessages and MaxRecipients per Window per authenticated account;
	// 0 disables the limit.
	Window        time.Duration `yaml:"window"`
	MaxMessages   int           `yaml:"max_messages"`
	MaxRecipients int           `yaml:"max_recipients"`
	// MassMailingRecipients: a message with more recipients than this from
	// a sender not in ApprovedSenders is held in the queue and raises an
	// alarm (DOMAIN.md: mass mailings above 20 recipients follow a
	// whitelisting routine).
	MassMailingRecipients int      `yaml:"mass_mailing_recipients"`
	ApprovedSenders       []string `yaml:"approved_senders"`
}

// Default returns the defaults.
func Default() Config {
	return Config{
		Enabled: false,
		MIME:    MIMEConfig{MaxDepth: 16, MaxParts: 256},
		Attachments: AttachmentConfig{
			ForbiddenExtensions: []string{".exe", ".com", ".pif", ".scr", ".bat", ".cmd", ".vbs", ".js", ".jar"},
			Action:              "reject", ScanArchives: true, MaxArchiveDepth: 2, MaxArchiveEntries: 1000,
		},
		Antivirus:  AntivirusConfig{Timeout: 30 * time.Second, OnFailure: "tempfail"},
		Spam:       SpamConfig{Enabled: true, Threshold: 5.0, Action: "quarantine", SubjectPrefix: "(SPAM)"},
		Quarantine: QuarantineConfig{Retention: 30 * 24 * time.Hour},
		Abuse:      AbuseConfig{Window: time.Minute, MaxMessages: 100, MaxRecipients: 500, MassMailingRecipients: 20},
		Limits:     LimitsConfig{Timeout: 20 * time.Second, MaxScanBytes: 64 << 20, MaxEntries: 5000, OnUninspectable: "quarantine"},
		Complaints: complaint.DefaultConfig(),
	}
}

// Validate checks c; errors are *validate.Error in section content, joined.
func (c Config) Validate() error {
	var errs []error
	bad := func(key string, v any, msg string) {
		errs = append(errs, validate.Field(key, v, msg).In("content"))
	}
	if c.MIME.MaxDepth < 1 {
		bad("mime.max_depth", c.MIME.MaxDepth, "must be at least 1")
	}
	if c.MIME.MaxParts < 1 {
		bad("mime.max_parts", c.MIME.MaxParts, "must be at least 1")
	}
	for i, e := range c.Attachments.ForbiddenExtensions {
		if !strings.HasPrefix(e, ".") || len(e) < 2 {
			bad(fmt.Sprintf("attachments.forbidden_extensions[%d]", i), e, "must start with a dot, e.g. .exe")
		}
	}
	if c.Attachments.Action != "reject" && c.Attachments.Action != "discard" {
		bad("attachments.action", c.Attachments.Action, "must be reject or discard")
	}
	if c.Attachments.MaxArchiveDepth < 0 {
		bad("attachments.max_archive_depth", c.Attachments.MaxArchiveDepth, "must not be negative")
	}
	if a := c.Antivirus.Clamd; a != "" && !strings.HasPrefix(a, "unix:") && !strings.HasPrefix(a, "tcp:") {
		bad("antivirus.clamd", a, "must be unix:/path or tcp:host:port")
	}
	if c.Antivirus.OnFailure != "tempfail" && c.Antivirus.OnFailure != "pass" {
		bad("antivirus.on_failure", c.Antivirus.OnFailure, "must be tempfail or pass")
	}
	if c.Antivirus.Timeout <= 0 {
		bad("antivirus.timeout", c.Antivirus.Timeout, "must be positive")
	}
	if c.Spam.Threshold <= 0 {
		bad("spam.threshold", c.Spam.Threshold, "must be positive")
	}
	for name := range c.Spam.Rules {
		if !spam.KnownRule(name) {
			bad("spam.rules."+name, name, "is not a known rule")
		}
	}
	okAction := func(a string) bool { return a == "quarantine" || a == "subject" }
	if !okAction(c.Spam.Action) {
		bad("spam.action", c.Spam.Action, "must be quarantine or subject")
	}
	for d, a := range c.Spam.DomainActions {
		if !okAction(a) {
			bad("spam.domain_actions."+d, a, "must be quarantine or subject")
		}
	}
	if r := c.Spam.Rspamd; r != "" && !strings.HasPrefix(r, "http://") && !strings.HasPrefix(r, "https://") {
		bad("spam.rspamd", r, "must be an http:// or https:// URL")
	}
	if c.Quarantine.Retention <= 0 {
		bad("quarantine.retention", c.Quarantine.Retention, "must be positive")
	}
	if c.Abuse.Window <= 0 {
		bad("abuse.window", c.Abuse.Window, "must be positive")
	}
	if c.Limits.Timeout <= 0 || c.Limits.Timeout > 2*time.Minute {
		// Within the engine's smtp.limits.filter_timeout (5m by default).
		bad("limits.timeout", c.Limits.Timeout, "must be between 0s and 2m")
	}
	if c.Limits.MaxScanBytes < 1<<20 {
		bad("limits.max_scan_bytes", c.Limits.MaxScanBytes, "must be at least 1 MiB")
	}
	if c.Limits.MaxEntries < 1 {
		bad("limits.max_entries", c.Limits.MaxEntries, "must be at least 1")
	}
	if c.Limits.OnUninspectable != "quarantine" && c.Limits.OnUninspectable != "reject" {
		bad("limits.on_uninspectable", c.Limits.OnUninspectable, "must be quarantine or reject")
	}
	if c.Limits.Concurrency < 0 {
		bad("limits.concurrency", c.Limits.Concurrency, "must not be negative")
	}
	if c.Abuse.MaxMessages < 0 || c.Abuse.MaxRecipients < 0 || c.Abuse.MassMailingRecipients < 0 {
		bad("abuse.max_messages", c.Abuse.MaxMessages, "limits must not be negative")
	}
	cc := c.Complaints
	if cc.Address != "" {
		if a, err := mail.ParseAddress(cc.Address); err != nil || a.Address != cc.Address {
			bad("complaints.address", cc.Address, "must be a bare e-mail address (abuse@uni.example)")
		}
	}
	if cc.RuleScore <= 0 || cc.RuleScore > 1000 {
		bad("complaints.rule_score", cc.RuleScore, "must be above 0 and at most 1000")
	}
	if cc.ReloadEvery < time.Second || cc.ReloadEvery > time.Hour {
		bad("complaints.reload_every", cc.ReloadEvery, "must be between 1s and 1h")
	}
	if cc.MaxPerHour < 0 {
		bad("complaints.max_per_hour", cc.MaxPerHour, "must be 0 (no bound) or more")
	}
	if cc.MaxBytes < 1<<10 || cc.MaxBytes > 100<<20 {
		bad("complaints.max_bytes", cc.MaxBytes, "must be between 1 KiB and 100 MiB")
	}
	for i, d := range cc.ExemptDomains {
		if d == "" || strings.ContainsAny(d, "@ \t<>/") {
			bad(fmt.Sprintf("complaints.exempt_domains[%d]", i), d, "must be a domain name")
		}
	}
	return errors.Join(errs...)
}
