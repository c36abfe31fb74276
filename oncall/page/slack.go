package page

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/slack-go/slack"
)

// Slack action IDs of the buttons; the interactivity endpoint dispatches on them.
const (
	ActionAck          = "postvakt_ack"
	ActionResolve      = "postvakt_resolve"
	ActionSwapAccept   = "postvakt_swap_accept"
	ActionSwapDecline  = "postvakt_swap_decline"
	DefaultSlackAPIURL = "https://slack.com/api/"
)

// SlackOptions configure the Slack channel.
type SlackOptions struct {
	// BotToken is the bot's OAuth token (xoxb-…); a secret.
	BotToken string
	// Channel is the team channel's ID (e.g. C0123456) for channel posts.
	Channel string
	// APIURL is Slack's Web API base; empty means DefaultSlackAPIURL.
	// Tests point it at a local fake.
	APIURL     string
	HTTPClient *http.Client
	// MaxRetryAfter bounds the wait Slack's rate limit asks for (HTTP 429
	// with Retry-After, Slack API "Rate limits"): a wait up to it is
	// honoured and the call tried again, up to three times; a longer one
	// returns a retryable error to the pipeline. Default 60s.
	MaxRetryAfter time.Duration
	// Sleep waits; tests replace it. Default: a timer bound to ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Registerer registers postvakt_oncall_slack_rate_limited_total.
	Registerer prometheus.Registerer
}

// Slack pages by direct message (conversations.open, then
// chat.postMessage) and posts to the team channel, with Acknowledge and
// Resolve buttons on pages.
type Slack struct {
	api         *slack.Client
	channel     string
	maxWait     time.Duration
	sleep       func(ctx context.Context, d time.Duration) error
	rateLimited prometheus.Counter
}

var _ Pager = (*Slack)(nil)

// NewSlack returns the Slack channel.
func NewSlack(o SlackOptions) *Slack {
	url := o.APIURL
	if url == "" {
		url = DefaultSlackAPIURL
	}
	if !strings.HasSuffix(url, "/") {
		url += "/"
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 15 * time.Second}
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 60 * time.Second
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	s := &Slack{api: slack.New(o.BotToken, slack.OptionAPIURL(url), slack.OptionHTTPClient(hc)), channel: o.Channel,
		maxWait: o.MaxRetryAfter, sleep: o.Sleep,
		rateLimited: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "postvakt_oncall_slack_rate_limited_total",
			Help: "Slack Web API calls answered 429 (rate limited); each is waited out (Retry-After, at most oncall.slack.max_retry_after) and tried again.",
		})}
	if o.Registerer != nil {
		if err := o.Registerer.Register(s.rateLimited); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				if c, ok := are.ExistingCollector.(prometheus.Counter); ok {
					s.rateLimited = c
				}
			}
		}
	}
	return s
}

// RateLimited is the counter of 429 answers (for tests and the wiring).
func (s *Slack) RateLimited() prometheus.Counter { return s.rateLimited }

// call runs f, waiting out Slack's rate limit (Retry-After) up to
// maxWait, at most three times.
func (s *Slack) call(ctx context.Context, f func() error) error {
	for tries := 0; ; tries++ {
		err := f()
		var rl *slack.RateLimitedError
		if !errors.As(err, &rl) {
			return err
		}
		s.rateLimited.Inc()
		if tries >= 3 || rl.RetryAfter > s.maxWait {
			return err
		}
		if err := s.sleep(ctx, max(rl.RetryAfter, time.Second)); err != nil {
			return errors.Join(rl, err)
		}
	}
}

// Name is "slack".
func (s *Slack) Name() string { return "slack" }

// Page sends m.
func (s *Slack) Page(ctx context.Context, m Message) (bool, error) {
	var channel string
	switch {
	case m.Channel:
		if s.channel == "" {
			return false, ErrNotApplicable
		}
		channel = s.channel
	case m.To.SlackID != "":
		var ch *slack.Channel
		err := s.call(ctx, func() (err error) {
			ch, _, _, err = s.api.OpenConversationContext(ctx, &slack.OpenConversationParameters{Users: []string{m.To.SlackID}, ReturnIM: true})
			return err
		})
		if err != nil {
			return slackRetryable(err), fmt.Errorf("slack conversations.open: %w", err)
		}
		if ch == nil || ch.ID == "" {
			return false, errors.New("slack conversations.open: no channel in the answer")
		}
		channel = ch.ID
	default:
		return false, ErrNotApplicable
	}
	err := s.call(ctx, func() error {
		_, _, err := s.api.PostMessageContext(ctx, channel, slack.MsgOptionText(EscapeSlack(fallback(m)), false), slack.MsgOptionBlocks(blocks(m)...))
		return err
	})
	if err != nil {
		return slackRetryable(err), fmt.Errorf("slack chat.postMessage: %w", err)
	}
	return false, nil
}

func fallback(m Message) string {
	if m.Subject == "" {
		return m.Text
	}
	return m.Subject
}

func blocks(m Message) []slack.Block {
	text := "*" + EscapeSlack(m.Subject) + "*"
	if m.Text != "" {
		text += "\n" + EscapeSlack(m.Text)
	}
	if m.Link != "" {
		text += "\n" + slackLink(m.Link, "Details")
	}
	out := []slack.Block{slack.NewSectionBlock(slack.NewTextBlockObject(slack.MarkdownType, text, false, false), nil, nil)}
	if m.Buttons && m.IncidentID > 0 {
		id := strconv.FormatInt(m.IncidentID, 10)
		ack := slack.NewButtonBlockElement(ActionAck, id, slack.NewTextBlockObject(slack.PlainTextType, "Acknowledge", false, false))
		ack.Style = slack.StylePrimary
		res := slack.NewButtonBlockElement(ActionResolve, id, slack.NewTextBlockObject(slack.PlainTextType, "Resolve", false, false))
		out = append(out, slack.NewActionBlock("incident_"+id, ack, res))
	}
	if m.SwapID > 0 {
		id := strconv.FormatInt(m.SwapID, 10)
		acc := slack.NewButtonBlockElement(ActionSwapAccept, id, slack.NewTextBlockObject(slack.PlainTextType, "Accept swap", false, false))
		acc.Style = slack.StylePrimary
		dec := slack.NewButtonBlockElement(ActionSwapDecline, id, slack.NewTextBlockObject(slack.PlainTextType, "Decline", false, false))
		out = append(out, slack.NewActionBlock("swap_"+id, acc, dec))
	}
	return out
}

// EscapeSlack escapes the three characters Slack treats as control in
// message text, mrkdwn and the fallback text alike: &, < and > become
// &amp;, &lt; and &gt; (Slack API, "Formatting text for app surfaces",
// "Escaping text"). Every text postvakt sends to Slack passes through it,
// so no alert label, ticket subject or AUTH user name can mention
// @channel (<!channel>), a user (<@U…>) or dress a link (<url|text>).
func EscapeSlack(s string) string { return slackEscaper.Replace(s) }

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackLink is Slack's link markup <url|label>: the URL's characters that
// would end it early (|, >, <, space, control) are percent-encoded and &
// is escaped, the label escaped.
func slackLink(url, label string) string {
	var b strings.Builder
	for _, r := range url {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '|' || r == '<' || r == '>' || r <= ' ' || r == 0x7f:
			fmt.Fprintf(&b, "%%%02X", r)
		default:
			b.WriteRune(r)
		}
	}
	return "<" + b.String() + "|" + EscapeSlack(label) + ">"
}

// slackRetryable says whether a Slack API error is worth retrying: rate
// limits, 5xx answers and network errors are; Slack's own error answers
// (invalid_auth, user_not_found, channel_not_found) are not.
func slackRetryable(err error) bool {
	var rl *slack.RateLimitedError
	if errors.As(err, &rl) {
		return true
	}
	var sc slack.StatusCodeError
	if errors.As(err, &sc) {
		return sc.Code >= 500 || sc.Code == http.StatusTooManyRequests
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return false
	}
	return errors.Is(err, context.DeadlineExceeded)
}
