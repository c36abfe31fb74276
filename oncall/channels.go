package oncall

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/page"
)

// ChannelConfig is one paging channel beyond Slack and e-mail
// (oncall.channels): a generic JSON webhook, an HTTP SMS gateway, or a
// Mattermost or Microsoft Teams incoming webhook (package page).
type ChannelConfig struct {
	// Name is the channel's name in contact rules and metrics.
	Name string `yaml:"name"`
	// Type is webhook, sms, mattermost or teams.
	Type string `yaml:"type"`
	// URL is the endpoint (for sms a template with {{.Phone}} and
	// {{.Text}}); an incoming webhook's URL is its secret (url_file).
	URL string `yaml:"url"`
	// Method is the SMS gateway's GET or POST (default POST).
	Method string `yaml:"method"`
	// Body is the SMS gateway's request body template, e.g.
	// {"to":{{json .Phone}},"text":{{json .Text}}}.
	Body string `yaml:"body"`
	// ContentType of the SMS body; default application/json.
	ContentType string `yaml:"content_type"`
	// AuthHeader is the Authorization header's value (a secret,
	// auth_header_file), e.g. "Bearer …" or "Basic …".
	AuthHeader string `yaml:"auth_header"`
}

// The channel types of ChannelConfig.
var ChannelTypes = []string{"webhook", "sms", "mattermost", "teams"}

// Pager builds the channel.
func (c ChannelConfig) Pager() (page.Pager, error) {
	o := page.HTTPOptions{Name: c.Name, URL: c.URL}
	if c.AuthHeader != "" {
		o.Header = map[string]string{"Authorization": c.AuthHeader}
	}
	switch c.Type {
	case "webhook":
		return page.NewWebhook(o), nil
	case "mattermost":
		return page.NewMattermost(o), nil
	case "teams":
		return page.NewTeams(o), nil
	case "sms":
		return page.NewSMS(page.SMSOptions{HTTPOptions: o, Method: c.Method, Body: c.Body, ContentType: c.ContentType})
	}
	return nil, fmt.Errorf("type %q: want one of %s", c.Type, strings.Join(ChannelTypes, ", "))
}

// ChannelNames are the names of the configured channels: slack and email
// when configured, then oncall.channels.
func (c Config) ChannelNames() []string {
	var out []string
	if c.Slack.BotToken != "" {
		out = append(out, "slack")
	}
	if c.Email.Relay != "" {
		out = append(out, "email")
	}
	for _, ch := range c.Channels {
		out = append(out, ch.Name)
	}
	return out
}

// validateIntake checks oncall.channels, oncall.contact_rules,
// oncall.integrations and oncall.incident_mail.
func (c Config) validateIntake(bad func(key, value, msg string), pols map[string]bool) {
	seen := map[string]bool{"slack": true, "email": true}
	for i, ch := range c.Channels {
		key := fmt.Sprintf("channels[%d]", i)
		if !validName(ch.Name) {
			bad(key+".name", ch.Name, "letters, digits, '-' and '_', 1–64")
		} else if seen[ch.Name] {
			bad(key+".name", ch.Name, "duplicate channel name (slack and email are taken)")
		}
		seen[ch.Name] = true
		if !slices.Contains(ChannelTypes, ch.Type) {
			bad(key+".type", ch.Type, "want one of "+strings.Join(ChannelTypes, ", "))
			continue
		}
		shown := "(secret)"
		if ch.Type == "sms" {
			shown = ch.URL
		}
		u, err := url.Parse(strings.SplitN(ch.URL, "{{", 2)[0])
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(key+".url", shown, "must be an http or https URL")
		}
		if ch.Type == "sms" {
			if ch.Method != "" && ch.Method != http.MethodGet && ch.Method != http.MethodPost {
				bad(key+".method", ch.Method, "want GET or POST")
			}
			if _, _, err := page.ParseSMSTemplates(ch.URL, ch.Body); err != nil {
				bad(key+".body", ch.Body, "template: "+err.Error())
			}
			if !strings.Contains(ch.URL+ch.Body, ".Phone") {
				bad(key+".body", ch.Body, "neither url nor body uses {{.Phone}}")
			}
		} else if ch.Method != "" || ch.Body != "" || ch.ContentType != "" {
			bad(key+".method", ch.Method, "method, body and content_type are for type sms only")
		}
	}
	names := c.ChannelNames()
	members := map[string]bool{"*": true}
	for _, m := range c.Members {
		members[m.ID] = true
	}
	for member, rules := range c.ContactRules {
		key := "contact_rules." + member
		if !members[member] {
			bad(key, member, "no such member (or \"*\" for everyone else)")
		}
		now := false
		for i, r := range rules {
			if !slices.Contains(names, r.Channel) {
				bad(fmt.Sprintf("%s[%d].channel", key, i), r.Channel, "no such channel; configured: "+strings.Join(names, ", "))
			}
			if r.After < 0 || r.After > 24*time.Hour {
				bad(fmt.Sprintf("%s[%d].after", key, i), r.After.String(), "must be between 0 and 24h")
			}
			now = now || r.After == 0
		}
		if !now {
			bad(key, member, "needs a rule with after 0: the first page must reach the member at once")
		}
	}
	seenInt := map[string]bool{}
	for i, s := range c.Integrations {
		key := fmt.Sprintf("integrations[%d]", i)
		if err := s.Validate(); err != nil {
			bad(key, s.Name, err.Error())
		}
		if seenInt[s.Name] {
			bad(key+".name", s.Name, "duplicate integration")
		}
		seenInt[s.Name] = true
		if s.Policy != "" && !pols[s.Policy] {
			bad(key+".policy", s.Policy, "no such escalation policy")
		}
	}
	if err := c.IncidentMail.Validate(); err != nil {
		bad("incident_mail", c.IncidentMail.Address, err.Error())
	}
	if c.IncidentMail.Policy != "" && !pols[c.IncidentMail.Policy] {
		bad("incident_mail.policy", c.IncidentMail.Policy, "no such escalation policy")
	}
	if c.Slack.MaxRetryAfter != 0 && (c.Slack.MaxRetryAfter < time.Second || c.Slack.MaxRetryAfter > 10*time.Minute) {
		bad("slack.max_retry_after", c.Slack.MaxRetryAfter.String(), "must be between 1s and 10m (0: 60s)")
	}
}

func validName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
