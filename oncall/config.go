// Package oncall holds the configuration of the on-call capability (the
// `oncall:` section): team members, rotas, cover calendars, escalation
// policies, the Slack and e-mail channels and the HTTP channels (SMS
// gateway, webhook, Mattermost, Teams) with members' contact rules, the
// Alertmanager receiver, the generic webhook and e-mail intakes,
// heartbeats and link signing. The work is done in its subpackages:
// calendar and rota (pure time maths), team, incident, page,
// alertmanager, integration, heartbeat and handover.
package oncall

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"time"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/oncall/calendar"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/integration"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Config is the `oncall:` section. The capability is off while Members is
// empty.
type Config struct {
	Members   []rota.Member         `yaml:"members"`
	Rotas     []rota.Spec           `yaml:"rotas"`
	Calendars []calendar.Spec       `yaml:"calendars"`
	Policies  []incident.PolicySpec `yaml:"escalation_policies"`
	// DefaultPolicy is used by Alertmanager groups and manual pages that
	// name none; default the first policy.
	DefaultPolicy string             `yaml:"default_policy"`
	Slack         SlackConfig        `yaml:"slack"`
	Email         EmailConfig        `yaml:"email"`
	Alertmanager  AlertmanagerConfig `yaml:"alertmanager"`
	Heartbeats    []heartbeat.Spec   `yaml:"heartbeats"`
	Links         LinksConfig        `yaml:"links"`
	Retry         RetryConfig        `yaml:"retry"`
	// EscalationInterval is how often due escalation steps are looked for.
	EscalationInterval time.Duration `yaml:"escalation_interval"`
	// Handover sends the handover summary at each change of person.
	Handover bool `yaml:"handover"`
	// Swaps configures reminders of undecided swap requests.
	Swaps SwapsConfig `yaml:"swaps"`
	// Channels are paging channels beyond Slack and e-mail: webhook, SMS
	// gateway, Mattermost, Teams (ChannelConfig).
	Channels []ChannelConfig `yaml:"channels"`
	// ContactRules say which channels page a member and after how long
	// unacknowledged (page.ContactRule), by member ID or "*"; none: every
	// channel at once.
	ContactRules page.ContactRules `yaml:"contact_rules"`
	// Integrations are the generic webhook intakes
	// (POST /api/v1/integrations/{name}/events).
	Integrations []integration.Spec `yaml:"integrations"`
	// IncidentMail opens incidents from mail to an address the engine
	// receives (integration.MailIntake).
	IncidentMail integration.MailConfig `yaml:"incident_mail"`
	// ResolveTicketWithIncident resolves an incident's linked fault ticket
	// when the incident resolves (default true); false leaves the ticket
	// open for the follow-up work. Acknowledging an incident always moves
	// its ticket out of "new".
	ResolveTicketWithIncident bool `yaml:"resolve_ticket_with_incident"`
}

// SwapsConfig configures reminders of undecided swap requests. A request
// still undecided when the earlier of its two turns starts lapses.
type SwapsConfig struct {
	// RemindEvery reminds the counterpart this long after the request and
	// every such period after; 0 turns the periodic reminders off.
	RemindEvery time.Duration `yaml:"remind_every"`
	// RemindBefore sends one last reminder when the earlier turn starts
	// within this; 0 turns it off.
	RemindBefore time.Duration `yaml:"remind_before"`
}

// SlackConfig is the Slack channel. Without a bot token Slack is off.
type SlackConfig struct {
	BotToken      string `yaml:"bot_token" env:"POSTVAKT_SLACK_BOT_TOKEN"`
	SigningSecret string `yaml:"signing_secret" env:"POSTVAKT_SLACK_SIGNING_SECRET"`
	// Channel is the team channel's ID, for channel posts.
	Channel string `yaml:"channel"`
	// APIURL is Slack's Web API base URL; only tests change it.
	APIURL string `yaml:"api_url"`
	// MaxRetryAfter bounds how long a rate-limited call (429) waits for
	// Slack's Retry-After before it is tried again; default 60s.
	MaxRetryAfter time.Duration `yaml:"max_retry_after"`
}

// EmailConfig is the e-mail channel. Without a relay e-mail is off.
type EmailConfig struct {
	Relay    string `yaml:"relay"` // host:port
	From     string `yaml:"from"`
	StartTLS bool   `yaml:"starttls"`
	Username string `yaml:"username"`
	Password string `yaml:"password" env:"POSTVAKT_ONCALL_SMTP_PASSWORD"`
}

// AlertmanagerConfig is the webhook receiver. Without a token it refuses
// every request.
type AlertmanagerConfig struct {
	Token string `yaml:"token" env:"POSTVAKT_ALERTMANAGER_TOKEN"`
	// Policy is the escalation policy of groups; a group's
	// postvakt_policy label overrides it. Empty means default_policy.
	Policy       string `yaml:"policy"`
	MaxBodyBytes int64  `yaml:"max_body_bytes"`
}

// LinksConfig signs the acknowledge links in e-mail and the secret URLs
// of the iCalendar feeds.
type LinksConfig struct {
	// Key is the HMAC key (at least 32 characters).
	Key string `yaml:"key" env:"POSTVAKT_ONCALL_LINK_KEY"`
	// AckTTL is how long an acknowledge link works; default 24h.
	AckTTL time.Duration `yaml:"ack_ttl"`
}

// RetryConfig is the retry stage of paging.
type RetryConfig struct {
	Attempts int           `yaml:"attempts"`
	Initial  time.Duration `yaml:"initial"`
	Max      time.Duration `yaml:"max"`
}

// Default returns the section's defaults.
func Default() Config {
	c := Config{
		Alertmanager:       AlertmanagerConfig{MaxBodyBytes: 1 << 20},
		Slack:              SlackConfig{MaxRetryAfter: 60 * time.Second},
		Links:              LinksConfig{AckTTL: 24 * time.Hour},
		Retry:              RetryConfig{Attempts: 5, Initial: time.Second, Max: 30 * time.Second},
		EscalationInterval: 15 * time.Second,
		Handover:           true,
		Swaps:              SwapsConfig{RemindEvery: 24 * time.Hour, RemindBefore: 48 * time.Hour},
	}
	c.ResolveTicketWithIncident = true
	return c
}

// Enabled reports whether the capability runs.
func (c Config) Enabled() bool { return len(c.Members) > 0 }

// TeamSpec is the team as configured: the seed of the stored members and
// rotas, and the cover calendars.
func (c Config) TeamSpec() team.Spec {
	return team.Spec{Members: c.Members, Rotas: c.Rotas, Calendars: c.Calendars}
}

// Compile builds the team and the policies, or says what is wrong: the
// errors are *validate.Error keyed relative to the oncall section.
func (c Config) Compile(store team.Store) (*team.Team, map[string]incident.Policy, error) {
	var errs []error
	bad := func(key, value, msg string) { errs = append(errs, validate.Field(key, value, msg)) }
	t, err := team.New(c.TeamSpec(), store)
	if err != nil {
		bad("rotas", "", err.Error())
	}
	pols := map[string]incident.Policy{}
	for i, ps := range c.Policies {
		p, err := incident.Compile(ps)
		if err != nil {
			bad(fmt.Sprintf("escalation_policies[%d]", i), ps.Name, err.Error())
			continue
		}
		if _, err := t.Rota(p.Rota); err != nil {
			bad(fmt.Sprintf("escalation_policies[%d].rota", i), p.Rota, "no such rota")
		}
		for _, st := range p.Steps {
			for _, tg := range st.Targets {
				if _, ok := t.Member(tg.Member); tg.Kind == incident.TargetMember && !ok {
					bad(fmt.Sprintf("escalation_policies[%d].steps", i), tg.Member, "no such member")
				}
			}
		}
		if _, dup := pols[p.Name]; dup {
			bad(fmt.Sprintf("escalation_policies[%d].name", i), p.Name, "duplicate policy")
		}
		pols[p.Name] = p
	}
	return t, pols, errors.Join(errs...)
}

// PolicyName returns the effective default policy.
func (c Config) PolicyName() string {
	if c.DefaultPolicy != "" {
		return c.DefaultPolicy
	}
	if len(c.Policies) > 0 {
		return c.Policies[0].Name
	}
	return ""
}

// Validate checks the section; errors are *validate.Error keyed relative to
// the oncall section.
func (c Config) Validate() error {
	if !c.Enabled() {
		if len(c.Rotas) > 0 || len(c.Policies) > 0 {
			return validate.Field("members", "", "rotas and policies need at least one member")
		}
		return nil
	}
	var errs []error
	bad := func(key, value, msg string) { errs = append(errs, validate.Field(key, value, msg)) }
	_, pols, err := c.Compile(nil)
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = append(errs, j.Unwrap()...)
	}
	if len(c.Rotas) == 0 {
		bad("rotas", "", "at least one rota is required")
	}
	if len(c.Policies) == 0 {
		bad("escalation_policies", "", "at least one escalation policy is required")
	}
	if n := c.PolicyName(); n != "" {
		if _, ok := pols[n]; !ok && c.DefaultPolicy != "" {
			bad("default_policy", n, "no such escalation policy")
		}
	}
	if c.Alertmanager.Policy != "" {
		if _, ok := pols[c.Alertmanager.Policy]; !ok {
			bad("alertmanager.policy", c.Alertmanager.Policy, "no such escalation policy")
		}
	}
	if c.Alertmanager.MaxBodyBytes < 1024 {
		bad("alertmanager.max_body_bytes", fmt.Sprint(c.Alertmanager.MaxBodyBytes), "must be at least 1024")
	}
	if c.Email.Relay != "" {
		if _, _, err := net.SplitHostPort(c.Email.Relay); err != nil {
			bad("email.relay", c.Email.Relay, "must be host:port")
		}
		if _, err := mail.ParseAddress(c.Email.From); err != nil {
			bad("email.from", c.Email.From, "must be an e-mail address")
		}
	}
	if c.Slack.BotToken != "" && c.Slack.SigningSecret == "" {
		bad("slack.signing_secret", "", "required with a bot token, to verify button clicks (env POSTVAKT_SLACK_SIGNING_SECRET)")
	}
	if c.Links.Key != "" && len(c.Links.Key) < 32 {
		bad("links.key", "(secret)", "must be at least 32 characters")
	}
	if c.Links.AckTTL < time.Minute {
		bad("links.ack_ttl", c.Links.AckTTL.String(), "must be at least 1m")
	}
	if c.Retry.Attempts < 1 || c.Retry.Attempts > 20 {
		bad("retry.attempts", fmt.Sprint(c.Retry.Attempts), "must be between 1 and 20")
	}
	if c.Retry.Initial <= 0 || c.Retry.Max < c.Retry.Initial {
		bad("retry.initial", c.Retry.Initial.String(), "must be positive and not above retry.max")
	}
	if c.EscalationInterval < 10*time.Millisecond {
		bad("escalation_interval", c.EscalationInterval.String(), "must be at least 10ms")
	}
	if c.Swaps.RemindEvery != 0 && c.Swaps.RemindEvery < time.Hour {
		bad("swaps.remind_every", c.Swaps.RemindEvery.String(), "must be 0 (off) or at least 1h")
	}
	if c.Swaps.RemindBefore < 0 {
		bad("swaps.remind_before", c.Swaps.RemindBefore.String(), "must not be negative")
	}
	names := map[string]bool{}
	for i, h := range c.Heartbeats {
		if err := h.Validate(); err != nil {
			bad(fmt.Sprintf("heartbeats[%d]", i), h.Name, err.Error())
		}
		if names[h.Name] {
			bad(fmt.Sprintf("heartbeats[%d].name", i), h.Name, "duplicate heartbeat")
		}
		names[h.Name] = true
		if _, ok := pols[h.Policy]; h.Policy != "" && !ok {
			bad(fmt.Sprintf("heartbeats[%d].policy", i), h.Policy, "no such escalation policy")
		}
	}
	polNames := map[string]bool{}
	for n := range pols {
		polNames[n] = true
	}
	c.validateIntake(bad, polNames)
	return errors.Join(errs...)
}
