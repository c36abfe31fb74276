package tickets

import (
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
)

// ServiceComponent is one entry of the configured service list.
type ServiceComponent struct {
	// ID is the short key used in tickets, notices, metrics and the API.
	ID string `yaml:"id"`
	// Name is shown to people ("Mailing lists").
	Name string `yaml:"name"`
}

// Config is the tickets section of the configuration.
type Config struct {
	// Services is the closed list of service components.
	Services []ServiceComponent `yaml:"services"`
	// Severities is the closed list of severities, most severe first.
	Severities []string `yaml:"severities"`
	// DefaultSeverity applies when a ticket names none.
	DefaultSeverity string `yaml:"default_severity"`
	// FaultAddress receives fault reports by e-mail; a new message opens
	// a ticket, a reply becomes a comment. Acknowledgements come from it.
	FaultAddress string `yaml:"fault_address"`
	// IntakeService is the service of tickets opened from e-mail.
	IntakeService string `yaml:"intake_service"`
	// StaffAddresses are the senders besides each ticket's reporter whose
	// mail with "[#ID]" in its Subject is added to ticket ID: e-mail
	// addresses, or "@domain" for every address of a domain. The e-mail
	// addresses of oncall.members are staff as well.
	StaffAddresses []string `yaml:"staff_addresses"`
	// IncidentService is the service of tickets opened for incidents that
	// name none.
	IncidentService string `yaml:"incident_service"`
	// Language of acknowledgement e-mails: en or nb.
	Language string `yaml:"language"`
	// ReminderEvery re-pages the assignee about a ticket that is not
	// closed, at most this often and only while its calendar is open;
	// 0 disables reminders.
	ReminderEvery time.Duration `yaml:"reminder_every"`
	// DefaultAssignee is used when nobody is on call (no rota).
	DefaultAssignee string `yaml:"default_assignee"`
	// OnCallRota names the rota of oncall.rotas whose member on call is
	// the default assignee of new tickets; empty: the first rota.
	OnCallRota string `yaml:"on_call_rota"`
	// CloseAfter closes a resolved ticket this long after it was resolved
	// when the reporter has not said "not solved", with a closing mail to
	// the reporter; 0 leaves resolved tickets for a person to close.
	CloseAfter time.Duration `yaml:"close_after"`
	// AttachmentMaxBytes bounds one attachment kept from mail to the
	// fault address; a larger one is noted on the timeline, not kept.
	AttachmentMaxBytes int64 `yaml:"attachment_max_bytes"`
	// AttachmentsMaxBytes bounds all of one ticket's attachments.
	AttachmentsMaxBytes int64 `yaml:"attachments_max_bytes"`
}

// DefaultConfig lists the mail team's services (DOMAIN.md) and three
// severities.
func DefaultConfig() Config {
	return Config{
		Services: []ServiceComponent{
			{"smtp", "SMTP"}, {"imap", "IMAP"}, {"pop", "POP"}, {"lists", "Mailing lists"},
			{"webmail", "Webmail"}, {"lb", "Load balancer"}, {"proxy", "Proxy"}, {"dns", "DNS cache"},
		},
		Severities:      []string{"critical", "major", "minor"},
		DefaultSeverity: "major",
		IntakeService:   "smtp",
		IncidentService: "smtp",
		Language:        "en",
		ReminderEvery:   24 * time.Hour,
		CloseAfter:      5 * 24 * time.Hour,

		AttachmentMaxBytes:  10 << 20,
		AttachmentsMaxBytes: 25 << 20,
	}
}

// fieldErr is a validation error of the tickets section; it wraps ErrInvalid.
func fieldErr(key, value, format string, a ...any) error {
	return validate.Fieldf(key, value, format, a...).Wrapping(ErrInvalid)
}

// ServiceIDs lists the IDs of tickets.services in order, for messages that
// name the valid values.
func (c Config) ServiceIDs() []string {
	out := make([]string, 0, len(c.Services))
	for _, s := range c.Services {
		out = append(out, s.ID)
	}
	return out
}

// ServiceName returns the display name of a service ID.
func (c Config) ServiceName(id string) (string, bool) {
	for _, s := range c.Services {
		if s.ID == id {
			return s.Name, true
		}
	}
	return "", false
}

// Validate checks the section; keys are relative to "tickets".
func (c Config) Validate() error {
	var errs []error
	if len(c.Services) == 0 {
		errs = append(errs, fieldErr("services", "", "list at least one service component"))
	}
	seen := map[string]bool{}
	for i, s := range c.Services {
		if s.ID == "" || seen[s.ID] {
			errs = append(errs, fieldErr(fmt.Sprintf("services[%d].id", i), s.ID, "must be set and unique"))
		}
		seen[s.ID] = true
	}
	if len(c.Severities) == 0 {
		errs = append(errs, fieldErr("severities", "", "list at least one severity"))
	}
	if !slices.Contains(c.Severities, c.DefaultSeverity) {
		errs = append(errs, fieldErr("default_severity", c.DefaultSeverity, "must be one of tickets.severities"))
	}
	for _, k := range []struct{ key, v string }{{"intake_service", c.IntakeService}, {"incident_service", c.IncidentService}} {
		if !seen[k.v] {
			errs = append(errs, fieldErr(k.key, k.v, "must be the id of one of tickets.services"))
		}
	}
	if c.FaultAddress != "" {
		if _, err := mail.ParseAddress(c.FaultAddress); err != nil {
			errs = append(errs, fieldErr("fault_address", c.FaultAddress, "must be an e-mail address"))
		}
	}
	for i, a := range c.StaffAddresses {
		if d, ok := strings.CutPrefix(a, "@"); ok {
			if d == "" || strings.ContainsAny(d, "@ \t<>") {
				errs = append(errs, fieldErr(fmt.Sprintf("staff_addresses[%d]", i), a, "must be an e-mail address or @domain"))
			}
			continue
		}
		if m, err := mail.ParseAddress(a); err != nil || m.Address != a {
			errs = append(errs, fieldErr(fmt.Sprintf("staff_addresses[%d]", i), a, "must be an e-mail address or @domain"))
		}
	}
	if c.Language != "en" && c.Language != "nb" {
		errs = append(errs, fieldErr("language", c.Language, "must be en or nb"))
	}
	if c.ReminderEvery < 0 || (c.ReminderEvery > 0 && c.ReminderEvery < time.Minute) {
		errs = append(errs, fieldErr("reminder_every", c.ReminderEvery.String(), "must be 0 (off) or at least 1m"))
	}
	if c.AttachmentMaxBytes < 0 || c.AttachmentMaxBytes > 100<<20 {
		errs = append(errs, fieldErr("attachment_max_bytes", fmt.Sprint(c.AttachmentMaxBytes), "must be between 0 (keep none) and 104857600 (100 MiB)"))
	}
	if c.AttachmentsMaxBytes < c.AttachmentMaxBytes || c.AttachmentsMaxBytes > 1<<30 {
		errs = append(errs, fieldErr("attachments_max_bytes", fmt.Sprint(c.AttachmentsMaxBytes), "must be at least attachment_max_bytes and at most 1073741824 (1 GiB)"))
	}
	if c.CloseAfter < 0 || (c.CloseAfter > 0 && c.CloseAfter < time.Hour) {
		errs = append(errs, fieldErr("close_after", c.CloseAfter.String(), "must be 0 (off) or at least 1h"))
	}
	return errors.Join(errs...)
}
