package tickets

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/template"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset" // decode ISO-8859-1, Windows-1252 and friends
	gomail "github.com/emersion/go-message/mail"

	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/sla"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

type mailTemplates struct{ byLang map[string]*template.Template }

func loadMailTemplates() (*mailTemplates, error) {
	m := &mailTemplates{byLang: map[string]*template.Template{}}
	for _, lang := range []string{"en", "nb"} {
		t, err := template.ParseFS(templateFS, "templates/"+lang+".txt.tmpl")
		if err != nil {
			return nil, fmt.Errorf("ticket mail templates %s: %w", lang, err)
		}
		m.byLang[lang] = t
	}
	return m, nil
}

func (m *mailTemplates) render(lang, name string, data any) (subject, text string, err error) {
	t, ok := m.byLang[lang]
	if !ok {
		t = m.byLang["en"]
	}
	var sb, tb bytes.Buffer
	if err := t.ExecuteTemplate(&sb, name+"_subject", data); err != nil {
		return "", "", err
	}
	if err := t.ExecuteTemplate(&tb, name+"_text", data); err != nil {
		return "", "", err
	}
	return strings.Join(strings.Fields(sb.String()), " "), tb.String(), nil
}

// maxBody bounds the text kept from one e-mail.
const maxBody = 32 << 10

// subjectTag finds "[#42]" in a subject.
var subjectTag = regexp.MustCompile(`\[#(\d{1,18})\]`)

// ErrIgnored is returned by Intake for messages it deliberately drops:
// automatic replies (RFC 3834) and bounces that match no ticket, and mail
// that claims to come from the fault address itself (a loop).
var ErrIgnored = errors.New("message ignored")

// ErrUnreadable is returned by Intake for a message it cannot take as a
// report: not parseable as RFC 5322, or without a From address. It wraps
// ErrInvalid.
var ErrUnreadable = fmt.Errorf("%w: unreadable message", ErrInvalid)

// inbound is what Intake takes from a message.
type inbound struct {
	fromName, fromAddr string
	subject, messageID string
	refs               []string // In-Reply-To, then References
	references         []string
	auto               bool
	body               string
	attachments        []inAttachment
}

// maxAttachments bounds the attachments read from one message.
const maxAttachments = 20

func parseInbound(r io.Reader, maxAttachment int64) (inbound, error) {
	var in inbound
	mr, err := gomail.CreateReader(io.LimitReader(r, 10<<20))
	if err != nil && !message.IsUnknownCharset(err) && !message.IsUnknownEncoding(err) {
		return in, fmt.Errorf("%w: parse message: %v", ErrUnreadable, err)
	}
	h := mr.Header
	if from, err := h.AddressList("From"); err == nil && len(from) > 0 {
		in.fromName, in.fromAddr = from[0].Name, strings.ToLower(from[0].Address)
	}
	in.subject, _ = h.Subject()
	in.subject = strings.TrimSpace(in.subject)
	in.messageID, _ = h.MessageID()
	irt, _ := h.MsgIDList("In-Reply-To")
	in.references, _ = h.MsgIDList("References")
	in.refs = append(irt, in.references...)
	// RFC 3834 §5: anything but "no" is automatic; also bulk and list
	// mail and bounces (empty Return-Path).
	if a := strings.ToLower(strings.TrimSpace(h.Get("Auto-Submitted"))); a != "" && a != "no" {
		in.auto = true
	}
	switch strings.ToLower(strings.TrimSpace(h.Get("Precedence"))) {
	case "bulk", "junk", "list":
		in.auto = true
	}
	if h.Get("Return-Path") == "<>" || strings.HasPrefix(strings.ToLower(in.fromAddr), "mailer-daemon@") {
		in.auto = true
	}
	var html string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if message.IsUnknownCharset(err) || message.IsUnknownEncoding(err) {
				continue
			}
			break
		}
		if ah, ok := p.Header.(*gomail.AttachmentHeader); ok {
			if maxAttachment <= 0 || len(in.attachments) >= maxAttachments {
				continue
			}
			name, _ := ah.Filename()
			ct, _, _ := ah.ContentType()
			b, _ := io.ReadAll(io.LimitReader(p.Body, maxAttachment+1))
			a := inAttachment{name: cleanName(name), contentType: ct, size: int64(len(b))}
			if a.contentType == "" {
				a.contentType = "application/octet-stream"
			}
			if int64(len(b)) > maxAttachment {
				a.tooLarge = true
			} else {
				a.data = b
			}
			in.attachments = append(in.attachments, a)
			continue
		}
		ih, ok := p.Header.(*gomail.InlineHeader)
		if !ok {
			continue
		}
		ct, _, _ := ih.ContentType()
		b, _ := io.ReadAll(io.LimitReader(p.Body, maxBody))
		switch {
		case ct == "text/plain" && in.body == "":
			in.body = string(b)
		case ct == "text/html" && html == "":
			html = stripTags(string(b))
		case ct == "" && in.body == "":
			in.body = string(b)
		}
	}
	if in.body == "" {
		in.body = html
	}
	in.body = strings.TrimSpace(strings.ReplaceAll(in.body, "\r\n", "\n"))
	return in, nil
}

var tags = regexp.MustCompile(`(?s)<(script|style)[^>]*>.*?</(script|style)>|<[^>]+>`)

func stripTags(s string) string {
	s = tags.ReplaceAllString(s, " ")
	for _, r := range [][2]string{{"&nbsp;", " "}, {"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", `"`}} {
		s = strings.ReplaceAll(s, r[0], r[1])
	}
	return s
}

// newText drops quoted lines and what follows a reply header, so that a
// comment keeps what the reporter wrote, not our own acknowledgement.
func newText(body string) string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), maxBody)
	for sc.Scan() {
		l := sc.Text()
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, ">") {
			continue
		}
		if strings.HasPrefix(t, "-----Original Message-----") ||
			(strings.HasPrefix(t, "On ") && strings.HasSuffix(t, "wrote:")) ||
			(strings.HasPrefix(t, "Den ") && strings.HasSuffix(t, "skrev:")) {
			break
		}
		out = append(out, l)
	}
	s := strings.TrimSpace(strings.Join(out, "\n"))
	if s == "" {
		return strings.TrimSpace(body)
	}
	return s
}

// Intake takes one RFC 5322 message sent to the fault address. A reply
// becomes a comment on its ticket: its In-Reply-To or References name mail
// of the ticket (only someone who received that mail knows its
// Message-ID), or its Subject carries "[#ID]" and it comes from the
// ticket's reporter or from staff (tickets.staff_addresses and the on-call
// team's addresses) — anyone can type "[#ID]", so from anyone else it is
// a new report. Any other message opens a ticket (source user_report,
// service tickets.intake_service) and the reporter gets an acknowledgement
// from the fault address, threaded on their message. Automatic replies
// that match no ticket are ignored (ErrIgnored), so an out-of-office
// answer never opens a ticket or loops.
func (s *Service) Intake(ctx context.Context, msg io.Reader) (ticketID string, created bool, err error) {
	in, err := parseInbound(msg, s.o.Config.AttachmentMaxBytes)
	if err != nil {
		s.o.Metrics.intook("error")
		return "", false, err
	}
	if in.fromAddr == "" {
		s.o.Metrics.intook("error")
		return "", false, fmt.Errorf("%w: no From address", ErrUnreadable)
	}
	if fa := strings.ToLower(notice.AddressOf(s.o.Config.FaultAddress)); fa != "" && in.fromAddr == fa {
		s.o.Metrics.intook("ignored")
		return "", false, fmt.Errorf("%w: From is the fault address", ErrIgnored)
	}
	if id, ok := s.findThread(ctx, in); ok {
		body := newText(in.body)
		if in.subject != "" {
			body = "Subject: " + in.subject + "\n\n" + body
		}
		if _, err := s.Comment(ctx, id, CommentRequest{Actor: in.fromAddr, Body: body, kind: EvMailIn}); err != nil {
			s.o.Metrics.intook("error")
			return "", false, err
		}
		if err := s.keepAttachments(ctx, id, in.fromAddr, in.attachments); err != nil {
			s.o.Logger.Warn("fault intake: attachments not kept", "ticket", id, "err", err)
		}
		if !in.auto {
			if _, err := s.reopenByReply(ctx, id, in.fromAddr, newText(in.body)); err != nil {
				s.o.Logger.Warn("fault intake: 'not solved' did not reopen the ticket", "ticket", id, "err", err)
			}
		}
		if in.messageID != "" {
			if err := s.o.Store.TicketAddMessageIDs(ctx, id, []string{in.messageID}, s.o.Now()); err != nil {
				return ID(id), false, err
			}
		}
		s.o.Metrics.intook("comment")
		return ID(id), false, nil
	}
	if in.auto {
		s.o.Metrics.intook("ignored")
		return "", false, fmt.Errorf("%w: automatic message (RFC 3834) matching no ticket", ErrIgnored)
	}
	title := in.subject
	if title == "" {
		title = "(no subject)"
	}
	reporter := in.fromName
	if reporter == "" {
		reporter = in.fromAddr
	}
	var links []Link
	if in.messageID != "" {
		links = append(links, Link{Kind: "message", Ref: in.messageID, Title: "reported by e-mail"})
	}
	t, err := s.Open(ctx, OpenRequest{
		Title: title, Service: s.o.Config.IntakeService, Source: "user_report",
		Reporter: reporter, ReporterEmail: in.fromAddr, Symptoms: in.body, Links: links, Actor: in.fromAddr,
	})
	if err != nil {
		s.o.Metrics.intook("error")
		return "", false, err
	}
	s.o.Metrics.intook("opened")
	if err := s.keepAttachments(ctx, t.ID, in.fromAddr, in.attachments); err != nil {
		s.o.Logger.Warn("fault intake: attachments not kept", "ticket", t.ID, "err", err)
	}
	if in.messageID != "" {
		if err := s.o.Store.TicketAddMessageIDs(ctx, t.ID, []string{in.messageID}, s.o.Now()); err != nil {
			return ID(t.ID), true, err
		}
	}
	if err := s.acknowledge(ctx, t, in); err != nil {
		// The ticket exists; the acknowledgement is a courtesy.
		s.o.Logger.Warn("ticket acknowledgement not sent", "ticket", t.ID, "err", err)
	}
	return ID(t.ID), true, nil
}

func (s *Service) findThread(ctx context.Context, in inbound) (int64, bool) {
	for _, ref := range in.refs {
		if id, err := s.o.Store.TicketByMessageID(ctx, ref); err == nil {
			return id, true
		}
	}
	if m := subjectTag.FindStringSubmatch(in.subject); m != nil {
		if id, err := ParseID(m[1]); err == nil {
			if t, err := s.o.Store.TicketGet(ctx, id); err == nil {
				if strings.EqualFold(t.ReporterEmail, in.fromAddr) || s.staff(in.fromAddr) {
					return id, true
				}
				s.o.Logger.Info("fault intake: [#ID] from neither the reporter nor staff; a new report", "ticket", id)
			}
		}
	}
	return 0, false
}

// staff reports whether addr is staff for "[#ID]" replies: one of
// tickets.staff_addresses (an address, or @domain for its whole domain)
// or of the on-call team's addresses.
func (s *Service) staff(addr string) bool {
	if addr == "" {
		return false
	}
	for _, a := range s.o.TeamAddresses {
		if strings.EqualFold(a, addr) {
			return true
		}
	}
	for _, a := range s.o.Config.StaffAddresses {
		if d, ok := strings.CutPrefix(a, "@"); ok {
			if at := strings.LastIndexByte(addr, '@'); at >= 0 && strings.EqualFold(addr[at+1:], d) {
				return true
			}
		} else if strings.EqualFold(a, addr) {
			return true
		}
	}
	return false
}

type mailData struct {
	Ticket                     Ticket
	Subject, Service, Notified string
	Due, State, Body           string
	InsideHours                bool
}

func (s *Service) mailData(t Ticket) mailData {
	name, _ := s.o.Config.ServiceName(t.Service)
	d := mailData{Ticket: t, Service: name, State: t.State}
	c, err := s.policy(context.Background(), t.PolicyVersion)
	if err != nil {
		c = nil
	}
	d.Notified = s.when(t.NotifiedAt, c)
	if ck, ok := t.Clock(sla.KindResponse); ok {
		d.InsideHours = ck.Status != string(sla.BestEffortStatus)
		if !ck.Due.IsZero() {
			d.Due = s.when(ck.Due, c)
		}
	}
	return d
}

// acknowledge sends the acknowledgement of a reported fault to the
// reporter, threaded on their message (RFC 5322 §3.6.4), and records its
// Message-ID so that a reply to it finds the ticket.
func (s *Service) acknowledge(ctx context.Context, t Ticket, in inbound) error {
	if s.o.Mailer == nil || s.o.Config.FaultAddress == "" {
		return nil
	}
	d := s.mailData(t)
	d.Subject = in.subject
	subject, text, err := s.mails.render(t.Language, "ack", d)
	if err != nil {
		return err
	}
	m := notice.Mail{
		From: s.o.Config.FaultAddress, To: []string{in.fromAddr}, Subject: subject, Date: s.o.Now(),
		MessageID: notice.NewMessageID(fmt.Sprintf("ticket-%d", t.ID), notice.DomainOf(s.o.Config.FaultAddress)),
		Text:      text, AutoSubmitted: true,
	}
	if in.messageID != "" {
		m.InReplyTo = []string{in.messageID}
		m.References = append(append([]string(nil), in.references...), in.messageID)
	}
	return s.sendToReporter(ctx, t, m)
}

func (s *Service) sendToReporter(ctx context.Context, t Ticket, m notice.Mail) error {
	b, err := m.Bytes()
	if err != nil {
		return err
	}
	// Record the Message-ID first, so a fast reply already finds the ticket.
	if err := s.o.Store.TicketAddMessageIDs(ctx, t.ID, []string{m.MessageID}, s.o.Now()); err != nil {
		return err
	}
	sendErr := s.o.Mailer.Send(ctx, s.o.Config.FaultAddress, m.To, b)
	body := "to " + strings.Join(m.To, ", ") + ": " + m.Subject
	if sendErr != nil {
		body += " (not sent: " + sendErr.Error() + ")"
	}
	if _, err := s.o.Store.TicketChange(ctx, t.ID, func(*Ticket, []Event) ([]Event, error) {
		return []Event{{At: s.o.Now(), Actor: "postvakt", Kind: EvMailOut, Body: body}}, nil
	}); err != nil {
		return errors.Join(sendErr, err)
	}
	return sendErr
}

// MailUpdate e-mails a public update to the ticket's reporter.
func (s *Service) MailUpdate(ctx context.Context, t Ticket, body string) error {
	if s.o.Mailer == nil || s.o.Config.FaultAddress == "" || t.ReporterEmail == "" {
		return nil
	}
	d := s.mailData(t)
	d.Body = body
	subject, text, err := s.mails.render(t.Language, "update", d)
	if err != nil {
		return err
	}
	return s.sendToReporter(ctx, t, notice.Mail{
		From: s.o.Config.FaultAddress, To: []string{t.ReporterEmail}, Subject: subject, Date: s.o.Now(),
		MessageID: notice.NewMessageID(fmt.Sprintf("ticket-%d", t.ID), notice.DomainOf(s.o.Config.FaultAddress)),
		Text:      text, AutoSubmitted: true,
	})
}
