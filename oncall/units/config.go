package units

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// Config is the `units:` section: the central service as units see it
// (its MX hosts, client settings, support contacts) and how the migration
// checklist runs. Outgoing mail goes through notices.relay.
type Config struct {
	// CentralMX are the central service's MX host names; a unit's MX must
	// point to these (and to nothing else) to pass the check. Empty: the
	// MX check cannot pass, and says so.
	CentralMX []string `yaml:"central_mx"`
	// Resolvers are the DNS servers (host:port) the checks ask; empty:
	// the nameservers of /etc/resolv.conf.
	Resolvers []string `yaml:"resolvers"`
	// AskZoneServers asks each domain's own name servers for its MX, so
	// that the TTL reported is the published one, not a cache's remainder.
	AskZoneServers bool `yaml:"ask_zone_servers"`
	// NSPort is the port the zones' name servers are asked on (53; tests
	// change it).
	NSPort int `yaml:"ns_port"`
	// ResolverTimeout bounds one DNS query to one server.
	ResolverTimeout time.Duration `yaml:"resolver_timeout"`
	// StepTime is the time of day, in the service time zone, that a day's
	// checklist steps fall due.
	StepTime string `yaml:"step_time"`
	// DocumentsBefore is how many calendar days before the migration the
	// documents and the work order are due.
	DocumentsBefore int `yaml:"documents_before_days"`
	// RecheckEvery is how often an open MX check is repeated from its due
	// time until the MX is right.
	RecheckEvery time.Duration `yaml:"recheck_every"`
	// SurveyLinkTTL is how long a one-time survey link stays valid.
	SurveyLinkTTL time.Duration `yaml:"survey_link_ttl"`
	// From is the From address of mail to units and reminders.
	From string `yaml:"from"`
	// TeamAddress receives the reminders of steps whose assignee is not
	// an e-mail address; empty: those go to the on-call channels only.
	TeamAddress string `yaml:"team_address"`
	// SysadminAddress receives work orders; empty: work orders are kept
	// and shown but not mailed.
	SysadminAddress string `yaml:"sysadmin_address"`
	// TTLTarget is the MX TTL, in seconds, a unit is asked to lower to
	// before the switch.
	TTLTarget int `yaml:"ttl_target"`
	// Support are the contacts given in the success notice.
	Support SupportConfig `yaml:"support"`
	// Clients are the settings in the client set-up guide.
	Clients ClientConfig `yaml:"clients"`
}

// SupportConfig are the support contacts a migrated unit is given.
type SupportConfig struct {
	Phone   string `yaml:"phone"`
	Address string `yaml:"address"`
	Abuse   string `yaml:"abuse"`
	Hours   string `yaml:"hours"`
}

// ClientConfig are the server settings of the client set-up guide.
type ClientConfig struct {
	IMAPHost   string `yaml:"imap_host"`
	SMTPHost   string `yaml:"smtp_host"`
	WebmailURL string `yaml:"webmail_url"`
}

// DefaultConfig is the section's defaults.
func DefaultConfig() Config {
	return Config{
		ResolverTimeout: 5 * time.Second,
		AskZoneServers:  true,
		NSPort:          53,
		StepTime:        "09:00",
		DocumentsBefore: 7,
		RecheckEvery:    10 * time.Minute,
		SurveyLinkTTL:   14 * 24 * time.Hour,
		From:            "postvakt@localhost",
		TTLTarget:       300,
	}
}

func fieldErr(key, value, msg string) error {
	return validate.Field(key, value, msg).Wrapping(ErrInvalid)
}

// Validate checks the section; keys are relative to "units".
func (c Config) Validate() error {
	var errs []error
	for i, h := range c.CentralMX {
		if _, err := NormalizeDomain(h); err != nil {
			errs = append(errs, fieldErr(fmt.Sprintf("central_mx[%d]", i), h, "must be a host name such as mx1.uni.example"))
		}
	}
	for i, r := range c.Resolvers {
		if _, _, err := net.SplitHostPort(r); err != nil {
			errs = append(errs, fieldErr(fmt.Sprintf("resolvers[%d]", i), r, "must be host:port, e.g. 127.0.0.1:53"))
		}
	}
	if c.NSPort < 1 || c.NSPort > 65535 {
		errs = append(errs, fieldErr("ns_port", fmt.Sprint(c.NSPort), "must be a port number, normally 53"))
	}
	if c.ResolverTimeout <= 0 || c.ResolverTimeout > time.Minute {
		errs = append(errs, fieldErr("resolver_timeout", c.ResolverTimeout.String(), "must be a duration between 0 and 1m, e.g. 5s"))
	}
	if _, err := ParseClockTime(c.StepTime); err != nil {
		errs = append(errs, fieldErr("step_time", c.StepTime, "must be a time of day HH:MM, e.g. 09:00"))
	}
	if c.DocumentsBefore < 2 || c.DocumentsBefore > 90 {
		errs = append(errs, fieldErr("documents_before_days", fmt.Sprint(c.DocumentsBefore), "must be between 2 and 90 days"))
	}
	if c.RecheckEvery < time.Minute {
		errs = append(errs, fieldErr("recheck_every", c.RecheckEvery.String(), "must be at least 1m"))
	}
	if c.SurveyLinkTTL < time.Hour || c.SurveyLinkTTL > 90*24*time.Hour {
		errs = append(errs, fieldErr("survey_link_ttl", c.SurveyLinkTTL.String(), "must be between 1h and 2160h (90 days)"))
	}
	for _, a := range []struct{ key, v string }{{"from", c.From}, {"team_address", c.TeamAddress},
		{"sysadmin_address", c.SysadminAddress}, {"support.address", c.Support.Address}, {"support.abuse", c.Support.Abuse}} {
		if a.v == "" && a.key != "from" {
			continue
		}
		if _, err := mail.ParseAddress(a.v); err != nil {
			errs = append(errs, fieldErr(a.key, a.v, "must be an e-mail address"))
		}
	}
	if c.TTLTarget < 30 || c.TTLTarget > 86400 {
		errs = append(errs, fieldErr("ttl_target", fmt.Sprint(c.TTLTarget), "must be between 30 and 86400 seconds"))
	}
	for _, v := range []struct{ key, v string }{{"support.phone", c.Support.Phone}, {"support.hours", c.Support.Hours},
		{"clients.imap_host", c.Clients.IMAPHost}, {"clients.smtp_host", c.Clients.SMTPHost}, {"clients.webmail_url", c.Clients.WebmailURL}} {
		if strings.ContainsAny(v.v, "\r\n") {
			errs = append(errs, fieldErr(v.key, v.v, "must be one line"))
		}
	}
	return errors.Join(errs...)
}
