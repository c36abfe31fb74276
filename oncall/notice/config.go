package notice

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"slices"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/config/validate"
)

// Config is the notices section of the configuration.
type Config struct {
	// AnnounceTo is the announce list, e.g. itss-announce@uni.example;
	// empty: notices are kept and shown but never e-mailed.
	AnnounceTo string `yaml:"announce_to"`
	// From is the From address of announcements and ticket
	// acknowledgements.
	From string `yaml:"from"`
	// Relay is the SMTP relay that outgoing mail is submitted to.
	Relay RelayConfig `yaml:"relay"`
	// Language of announcements by default: en or nb.
	Language string `yaml:"language"`
	// TimeZone in which e-mails, the preview and the status page show
	// times: an IANA name, "Local" or "UTC"; "" is the server's local
	// zone. The configuration fills it from the service time zone
	// (timezone:) when the file does not set it.
	TimeZone string `yaml:"time_zone"`
	// Reminders are sent this long before planned maintenance starts.
	Reminders []time.Duration `yaml:"reminders"`
	// StatusRecent is how long ended notices stay on the status page and
	// in the feed.
	StatusRecent time.Duration `yaml:"status_recent"`
	// StatusTitle heads the status page and the feed.
	StatusTitle string `yaml:"status_title"`
}

// RelayConfig is the SMTP relay for outgoing mail.
type RelayConfig struct {
	// Addr is host:port; empty disables sending.
	Addr      string        `yaml:"addr"`
	HelloName string        `yaml:"hello_name"`
	StartTLS  bool          `yaml:"starttls"`
	Username  string        `yaml:"username"`
	Password  string        `yaml:"password" env:"POSTVAKT_NOTICES_RELAY_PASSWORD" secret:"true"`
	Timeout   time.Duration `yaml:"timeout"`
}

// DefaultConfig sends nothing until announce_to and relay.addr are set.
func DefaultConfig() Config {
	return Config{
		From:         "postvakt@localhost",
		Relay:        RelayConfig{Timeout: 30 * time.Second},
		Language:     "en",
		TimeZone:     "Europe/Oslo",
		Reminders:    []time.Duration{24 * time.Hour, time.Hour},
		StatusRecent: 14 * 24 * time.Hour,
		StatusTitle:  "E-mail service status",
	}
}

// fieldErr is a validation error of the notices section; it wraps ErrInvalid.
func fieldErr(key, value, msg string) error {
	return validate.Field(key, value, msg).Wrapping(ErrInvalid)
}

func (c Config) sortedReminders() []time.Duration {
	r := slices.Clone(c.Reminders)
	slices.Sort(r)
	return r
}
func (c Config) location() *time.Location {
	l, err := timezone.Load(c.TimeZone)
	if err != nil {
		return time.UTC
	}
	return l
}

// Validate checks the section; keys are relative to "notices".
func (c Config) Validate() error {
	var errs []error
	if c.AnnounceTo != "" {
		if _, err := mail.ParseAddress(c.AnnounceTo); err != nil {
			errs = append(errs, fieldErr("announce_to", c.AnnounceTo, "must be an e-mail address"))
		}
	}
	if _, err := mail.ParseAddress(c.From); err != nil {
		errs = append(errs, fieldErr("from", c.From, "must be an e-mail address, optionally with a name"))
	}
	if c.Relay.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Relay.Addr); err != nil {
			errs = append(errs, fieldErr("relay.addr", c.Relay.Addr, "must be host:port, e.g. smtp.uni.example:25"))
		}
	}
	if c.AnnounceTo != "" && c.Relay.Addr == "" {
		errs = append(errs, fieldErr("relay.addr", "", "is required when announce_to is set"))
	}
	if c.Relay.Timeout <= 0 {
		errs = append(errs, fieldErr("relay.timeout", c.Relay.Timeout.String(), "must be a positive duration"))
	}
	if c.Relay.Username != "" && c.Relay.Password == "" {
		errs = append(errs, fieldErr("relay.password", "", "is required with relay.username (env POSTVAKT_NOTICES_RELAY_PASSWORD)"))
	}
	if c.Language != "en" && c.Language != "nb" {
		errs = append(errs, fieldErr("language", c.Language, "must be en or nb"))
	}
	if _, err := timezone.Load(c.TimeZone); err != nil {
		errs = append(errs, fieldErr("time_zone", c.TimeZone, "must be an IANA time zone such as Europe/Oslo"))
	}
	for i, r := range c.Reminders {
		if r <= 0 {
			errs = append(errs, fieldErr(fmt.Sprintf("reminders[%d]", i), r.String(), "must be a positive duration such as 24h"))
		}
	}
	if c.StatusRecent <= 0 {
		errs = append(errs, fieldErr("status_recent", c.StatusRecent.String(), "must be a positive duration such as 336h"))
	}
	return errors.Join(errs...)
}
