package page

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"text/template"
	"time"
)

// The channels below post to an HTTP endpoint: a generic JSON webhook, an
// SMS gateway, and Mattermost's and Microsoft Teams' incoming webhooks.
// Each is a named channel (its Name is the configured name, the channel
// label of the metrics and what contact rules name). A failure is
// retryable when the endpoint could not be reached, timed out, or answered
// 429 or 5xx; another 4xx answer is permanent.

// HTTPOptions are what every HTTP channel has.
type HTTPOptions struct {
	// Name is the channel's name (oncall.channels[].name).
	Name string
	// URL is the endpoint; for an SMS gateway a template (SMSOptions).
	// Incoming-webhook URLs carry their own secret: never logged.
	URL string
	// Header is sent with every request, e.g. {"Authorization": "Bearer …"}
	// (a secret, never logged).
	Header     map[string]string
	HTTPClient *http.Client // default: 15 s timeout
}

func (o HTTPOptions) client() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	return &http.Client{Timeout: 15 * time.Second}
}

// post sends one request and classifies the answer.
func (o HTTPOptions) post(ctx context.Context, method, url, contentType string, body []byte) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("%s: request: %w", o.Name, redactURL(err))
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", "postvakt")
	for k, v := range o.Header {
		req.Header.Set(k, v)
	}
	resp, err := o.client().Do(req)
	if err != nil {
		var ne net.Error
		retry := errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded)
		return retry, fmt.Errorf("%s: %w", o.Name, redactURL(err))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return false, nil
	}
	retry := resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500
	return retry, fmt.Errorf("%s: HTTP %d: %s", o.Name, resp.StatusCode, strings.TrimSpace(string(snippet)))
}

// redactURL drops the URL from a *url.Error: an incoming webhook's URL is
// its secret.
func redactURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) && strings.Contains(err.Error(), "://") {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// WebhookPayload is what the generic webhook channel posts (JSON).
type WebhookPayload struct {
	Kind       Kind       `json:"kind"`
	IncidentID int64      `json:"incident_id,omitempty"`
	Severity   string     `json:"severity,omitempty"`
	Subject    string     `json:"subject"`
	Text       string     `json:"text"`
	Link       string     `json:"link,omitempty"`
	AckURL     string     `json:"ack_url,omitempty"`
	Channel    bool       `json:"channel"`
	To         *Recipient `json:"to,omitempty"`
}

// Webhook posts every message as a WebhookPayload.
type Webhook struct{ o HTTPOptions }

var _ Pager = (*Webhook)(nil)

// NewWebhook returns the generic JSON webhook channel.
func NewWebhook(o HTTPOptions) *Webhook { return &Webhook{o: o} }

// Name is the configured name.
func (w *Webhook) Name() string { return w.o.Name }

// Page posts m.
func (w *Webhook) Page(ctx context.Context, m Message) (bool, error) {
	p := WebhookPayload{Kind: m.Kind, IncidentID: m.IncidentID, Severity: m.Severity, Subject: m.Subject, Text: m.Text,
		Link: m.Link, AckURL: m.AckURL, Channel: m.Channel}
	if !m.Channel {
		to := m.To
		p.To = &to
	}
	body, err := json.Marshal(p)
	if err != nil {
		return false, err
	}
	return w.o.post(ctx, http.MethodPost, w.o.URL, "application/json", body)
}

// SMSOptions configure an HTTP SMS gateway.
type SMSOptions struct {
	HTTPOptions
	// Method is GET or POST (default POST).
	Method string
	// Body is a text/template of the request body with .Phone, .Text,
	// .Subject and .IncidentID, and the functions json (a JSON string,
	// quoted) and urlquery; empty sends no body. URL is a template too.
	Body string
	// ContentType of the body; default application/json.
	ContentType string
	// MaxText bounds the text (runes); default 300.
	MaxText int
}

// SMSData is what an SMS gateway's templates see.
type SMSData struct {
	Phone      string
	Text       string
	Subject    string
	IncidentID int64
}

// SMS sends a page as a text message to the member's phone through an HTTP
// gateway. Only pages (Kind page) to a member with a phone number apply:
// acknowledgements, handovers and team-channel posts do not go by SMS.
type SMS struct {
	o         SMSOptions
	url, body *template.Template
}

var _ Pager = (*SMS)(nil)

// ParseSMSTemplates checks an SMS gateway's URL and body templates: they
// parse and run on sample data.
func ParseSMSTemplates(url, body string) (u, b *template.Template, err error) {
	funcs := template.FuncMap{"json": func(s any) (string, error) {
		out, err := json.Marshal(s)
		return string(out), err
	}}
	u, err = template.New("url").Funcs(funcs).Option("missingkey=error").Parse(url)
	if err != nil {
		return nil, nil, err
	}
	b, err = template.New("body").Funcs(funcs).Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, nil, err
	}
	sample := SMSData{Phone: "+4712345678", Text: "[CRITICAL] #1 test", Subject: "[CRITICAL] #1 test", IncidentID: 1}
	if err := u.Execute(io.Discard, sample); err != nil {
		return nil, nil, err
	}
	if err := b.Execute(io.Discard, sample); err != nil {
		return nil, nil, err
	}
	return u, b, nil
}

// NewSMS returns an SMS gateway channel; it fails when a template does not
// parse.
func NewSMS(o SMSOptions) (*SMS, error) {
	if o.Method == "" {
		o.Method = http.MethodPost
	}
	if o.ContentType == "" {
		o.ContentType = "application/json"
	}
	if o.MaxText <= 0 {
		o.MaxText = 300
	}
	u, b, err := ParseSMSTemplates(o.URL, o.Body)
	if err != nil {
		return nil, fmt.Errorf("sms channel %s: %w", o.Name, err)
	}
	return &SMS{o: o, url: u, body: b}, nil
}

// Name is the configured name.
func (s *SMS) Name() string { return s.o.Name }

// Page sends m's subject (and acknowledge link) to m.To.Phone.
func (s *SMS) Page(ctx context.Context, m Message) (bool, error) {
	if m.Channel || m.To.Phone == "" || m.Kind != KindPage {
		return false, ErrNotApplicable
	}
	text := m.Subject
	if r := []rune(text); len(r) > s.o.MaxText {
		text = string(r[:s.o.MaxText-1]) + "…"
	}
	if m.AckURL != "" {
		text += "\nAck: " + m.AckURL
	}
	d := SMSData{Phone: m.To.Phone, Text: text, Subject: m.Subject, IncidentID: m.IncidentID}
	var u, b bytes.Buffer
	if err := s.url.Execute(&u, d); err != nil {
		return false, fmt.Errorf("%s: url template: %w", s.o.Name, err)
	}
	if err := s.body.Execute(&b, d); err != nil {
		return false, fmt.Errorf("%s: body template: %w", s.o.Name, err)
	}
	ct := s.o.ContentType
	if b.Len() == 0 {
		ct = ""
	}
	return s.o.post(ctx, s.o.Method, u.String(), ct, b.Bytes())
}

// Mattermost posts to a Mattermost (or Mattermost-compatible: Rocket.Chat,
// Zulip's Slack-compatible) incoming webhook: JSON {"text": …} in
// Markdown. A message to a person names them first.
type Mattermost struct {
	o        HTTPOptions
	Username string
}

var _ Pager = (*Mattermost)(nil)

// NewMattermost returns the Mattermost channel.
func NewMattermost(o HTTPOptions) *Mattermost { return &Mattermost{o: o, Username: "postvakt"} }

// Name is the configured name.
func (c *Mattermost) Name() string { return c.o.Name }

// mdEscaper keeps alert text from turning into Markdown links, mentions or
// HTML in a chat.
var mdEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`, "<", "&lt;", ">", "&gt;", "@", "@\u200b")

// chatText is a message as Markdown: the addressee, the subject in bold
// (when withSubject), the text, the link.
func chatText(m Message, withSubject bool) string {
	var lines []string
	head := ""
	if !m.Channel && m.To.ID != "" {
		name := m.To.Name
		if name == "" {
			name = m.To.ID
		}
		head = "To " + mdEscaper.Replace(name) + ":"
	}
	if withSubject {
		head = strings.TrimSpace(head + " **" + mdEscaper.Replace(m.Subject) + "**")
	}
	if head != "" {
		lines = append(lines, head)
	}
	if m.Text != "" {
		lines = append(lines, mdEscaper.Replace(m.Text))
	}
	if m.Link != "" {
		lines = append(lines, "[Details]("+strings.NewReplacer("(", "%28", ")", "%29", " ", "%20").Replace(m.Link)+")")
	}
	return strings.Join(lines, "\n")
}

// Page posts m.
func (c *Mattermost) Page(ctx context.Context, m Message) (bool, error) {
	body, err := json.Marshal(map[string]string{"text": chatText(m, true), "username": c.Username})
	if err != nil {
		return false, err
	}
	return c.o.post(ctx, http.MethodPost, c.o.URL, "application/json", body)
}

// Teams posts to a Microsoft Teams incoming webhook (or a Workflows
// webhook that accepts it) as a MessageCard: title, text, a colour by
// severity and an "Open" action with the link.
type Teams struct{ o HTTPOptions }

var _ Pager = (*Teams)(nil)

// NewTeams returns the Teams channel.
func NewTeams(o HTTPOptions) *Teams { return &Teams{o: o} }

// Name is the configured name.
func (c *Teams) Name() string { return c.o.Name }

// TeamsCard is the MessageCard Teams receives.
type TeamsCard struct {
	Type            string        `json:"@type"`
	Context         string        `json:"@context"`
	Summary         string        `json:"summary"`
	ThemeColor      string        `json:"themeColor"`
	Title           string        `json:"title"`
	Text            string        `json:"text"`
	PotentialAction []TeamsAction `json:"potentialAction,omitempty"`
}

// TeamsAction is an OpenUri action of a TeamsCard.
type TeamsAction struct {
	Type    string           `json:"@type"`
	Name    string           `json:"name"`
	Targets []map[string]any `json:"targets"`
}

// Page posts m.
func (c *Teams) Page(ctx context.Context, m Message) (bool, error) {
	color := map[string]string{"critical": "D32F2F", "warning": "F9A825", "info": "1976D2"}[m.Severity]
	if color == "" || m.Kind == KindResolved {
		color = "388E3C"
	}
	card := TeamsCard{Type: "MessageCard", Context: "http://schema.org/extensions", Summary: m.Subject, ThemeColor: color,
		Title: m.Subject, Text: chatText(Message{To: m.To, Channel: m.Channel, Text: m.Text}, false)}
	if m.Link != "" {
		card.PotentialAction = append(card.PotentialAction, TeamsAction{Type: "OpenUri", Name: "Details",
			Targets: []map[string]any{{"os": "default", "uri": m.Link}}})
	}
	if m.AckURL != "" {
		card.PotentialAction = append(card.PotentialAction, TeamsAction{Type: "OpenUri", Name: "Acknowledge",
			Targets: []map[string]any{{"os": "default", "uri": m.AckURL}}})
	}
	body, err := json.Marshal(card)
	if err != nil {
		return false, err
	}
	return c.o.post(ctx, http.MethodPost, c.o.URL, "application/json", body)
}
