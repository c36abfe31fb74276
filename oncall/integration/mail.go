package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/mail"
	"strings"
	"unicode/utf8"

	_ "github.com/emersion/go-message/charset" // decode ISO-8859-1, Windows-1252 and friends
	gomail "github.com/emersion/go-message/mail"

	"github.com/uni-mail/postvakt/oncall/incident"
)

// MailConfig is the incident address (oncall.incident_mail): mail to it
// opens an incident.
type MailConfig struct {
	// Address is the incident address; empty: off.
	Address string `yaml:"address"`
	// Policy is the escalation policy of its incidents; empty: the default.
	Policy string `yaml:"policy"`
	// Severity of its incidents: critical, warning (default) or info.
	Severity string `yaml:"severity"`
}

// Validate names the first problem of c.
func (c MailConfig) Validate() error {
	if c.Address == "" {
		return nil
	}
	if a, err := mail.ParseAddress(c.Address); err != nil || a.Address != c.Address {
		return fmt.Errorf("address %q: want a bare e-mail address", c.Address)
	}
	switch c.Severity {
	case "", incident.SeverityCritical, incident.SeverityWarning, incident.SeverityInfo:
	default:
		return fmt.Errorf("severity %q: want critical, warning or info", c.Severity)
	}
	return nil
}

// Mail is one message the engine's content filter leaves, as for the
// fault-address intake (oncall/tickets.FaultMail).
type Mail struct {
	Rcpts    []string
	Accepted bool
	Headers  []string // the lines the content filter adds (X-Spam-Flag)
	Message  io.Reader
}

// MailIntake opens incidents from mail to the incident address
// (docs/oncall.md, "Intake"): the decoded Subject is the title, the
// Message-ID the dedup key (a message delivered twice opens one
// incident), the start of the text body the summary. Spam-tagged mail,
// mail the content filter refused and automatic messages (RFC 3834 §5:
// Auto-Submitted other than "no", Precedence bulk, junk or list, a null
// sender's bounce) open nothing and are delivered as usual. It answers
// Defer when the incident cannot be stored, so that the sender retries.
type MailIntake struct {
	Config    MailConfig
	Incidents Incidents
	Logger    *slog.Logger
}

// MailResult says whether the engine must defer the message (451).
type MailResult struct {
	Defer  bool
	Reason string
	// IncidentID is the incident opened or updated; 0 when none.
	IncidentID int64
}

// errSkip marks a message the intake leaves alone on purpose.
var errSkip = errors.New("not an incident report")

// Take applies the rule to m.
func (mi *MailIntake) Take(ctx context.Context, m Mail) MailResult {
	if mi == nil || mi.Config.Address == "" || !m.Accepted || !forAddress(m.Rcpts, mi.Config.Address) || spam(m.Headers) {
		return MailResult{}
	}
	log := mi.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr, err := mi.trigger(m.Message)
	if err != nil {
		log.Info("incident mail: no incident", "reason", err)
		return MailResult{}
	}
	inc, created, err := mi.Incidents.Trigger(ctx, tr)
	if err != nil {
		log.Error("incident mail: incident not stored, message deferred", "err", err)
		return MailResult{Defer: true, Reason: "incident intake: cannot store the incident"}
	}
	log.Info("incident by e-mail", "incident", inc.ID, "new", created)
	return MailResult{IncidentID: inc.ID}
}

func (mi *MailIntake) trigger(r io.Reader) (incident.Trigger, error) {
	mr, err := gomail.CreateReader(io.LimitReader(r, 10<<20))
	if err != nil && mr == nil {
		return incident.Trigger{}, fmt.Errorf("%w: %v", errSkip, err)
	}
	defer mr.Close()
	h := mr.Header
	if a := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); a != "" && a != "no" {
		return incident.Trigger{}, fmt.Errorf("%w: Auto-Submitted %s (RFC 3834)", errSkip, a)
	}
	if p := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); p == "bulk" || p == "junk" || p == "list" {
		return incident.Trigger{}, fmt.Errorf("%w: Precedence %s", errSkip, p)
	}
	from, _ := h.AddressList("From")
	if len(from) == 0 {
		return incident.Trigger{}, fmt.Errorf("%w: no From", errSkip)
	}
	if strings.EqualFold(from[0].Address, mi.Config.Address) {
		return incident.Trigger{}, fmt.Errorf("%w: From is the incident address (a loop)", errSkip)
	}
	subject, err := h.Subject()
	if err != nil {
		subject = h.Get("Subject")
	}
	subject = strings.Join(strings.Fields(subject), " ")
	if subject == "" {
		subject = "(no subject)"
	}
	if r := []rune(subject); len(r) > 200 {
		subject = string(r[:199]) + "…"
	}
	id, _ := h.MessageID()
	if id == "" {
		return incident.Trigger{}, fmt.Errorf("%w: no Message-ID to deduplicate by", errSkip)
	}
	if len(id) > MaxDedupKey {
		id = id[:MaxDedupKey]
	}
	body := firstText(mr)
	sev := mi.Config.Severity
	if sev == "" {
		sev = incident.SeverityWarning
	}
	summary := subject
	if body != "" {
		summary = body
	}
	return incident.Trigger{Key: "mail/" + id, Source: "mail", Title: subject, Summary: summary, Severity: sev, Policy: mi.Config.Policy,
		Labels: map[string]string{"from": from[0].Address}, Actor: "mail:" + from[0].Address,
		Alerts: []incident.Alert{{Fingerprint: id, Status: "firing", Labels: map[string]string{"from": from[0].Address},
			Annotations: map[string]string{"summary": subject, "message_id": id}}}}, nil
}

// firstText is the first text/plain part, whitespace folded, at most 1000
// characters.
func firstText(mr *gomail.Reader) string {
	for {
		p, err := mr.NextPart()
		if err != nil {
			return ""
		}
		ih, ok := p.Header.(*gomail.InlineHeader)
		if !ok {
			continue
		}
		if ct, _, _ := ih.ContentType(); ct != "" && ct != "text/plain" {
			continue
		}
		var lines []string
		sc := bufio.NewScanner(io.LimitReader(p.Body, 64<<10))
		n := 0
		for sc.Scan() && n < 1000 {
			l := strings.TrimSpace(sc.Text())
			if l == "" || strings.HasPrefix(l, ">") {
				continue
			}
			if l == "--" {
				break
			}
			lines = append(lines, l)
			n += len(l)
		}
		s := strings.Join(lines, " ")
		for len(s) > 1000 || !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "")
			if len(s) > 1000 {
				s = s[:1000]
			}
		}
		return s
	}
}

func forAddress(rcpts []string, addr string) bool {
	for _, r := range rcpts {
		if strings.EqualFold(strings.Trim(r, "<>"), addr) {
			return true
		}
	}
	return false
}

func spam(headers []string) bool {
	for _, h := range headers {
		if strings.EqualFold(strings.TrimSpace(h), "X-Spam-Flag: YES") {
			return true
		}
	}
	return false
}
