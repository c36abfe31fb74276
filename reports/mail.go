package reports

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Sender delivers one message to an SMTP relay.
type Sender interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, from string, to []string, msg []byte) error

// Send implements Sender.
func (f SenderFunc) Send(ctx context.Context, from string, to []string, msg []byte) error {
	return f(ctx, from, to, msg)
}

// SMTPSender sends through the relay of a MailConfig with go-smtp: EHLO,
// STARTTLS when configured (RFC 3207), AUTH PLAIN when a username is set
// (RFC 4954, RFC 4616), then MAIL, RCPT and DATA (RFC 5321).
type SMTPSender struct {
	Config MailConfig
	// HelloName is the EHLO name; default "localhost".
	HelloName string
	// TLS configures STARTTLS; nil means the system roots and the relay's host name.
	TLS *tls.Config
}

var _ Sender = (*SMTPSender)(nil)

// Send implements Sender.
func (s *SMTPSender) Send(ctx context.Context, from string, to []string, msg []byte) error {
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.Config.SMTP)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Config.SMTP, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	} else {
		_ = conn.SetDeadline(time.Now().Add(5 * time.Minute))
	}
	var c *smtp.Client
	if s.Config.StartTLS {
		cfg := s.TLS
		if cfg == nil {
			host, _, _ := net.SplitHostPort(s.Config.SMTP)
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		c, err = smtp.NewClientStartTLS(conn, cfg)
		if err != nil {
			conn.Close()
			return fmt.Errorf("smtp %s: starttls: %w", s.Config.SMTP, err)
		}
	} else {
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	name := s.HelloName
	if name == "" {
		name = "localhost"
	}
	if err := c.Hello(name); err != nil {
		return fmt.Errorf("smtp %s: hello: %w", s.Config.SMTP, err)
	}
	if s.Config.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.Config.Username, s.Config.Password)); err != nil {
			return fmt.Errorf("smtp %s: auth: %w", s.Config.SMTP, err)
		}
	}
	if err := c.SendMail(from, to, bytes.NewReader(msg)); err != nil {
		return fmt.Errorf("smtp %s: send: %w", s.Config.SMTP, err)
	}
	return c.Quit()
}

// Recipients returns the envelope recipients of a MailConfig: To and Cc.
func (m MailConfig) Recipients() ([]string, error) {
	var out []string
	for _, list := range []string{m.To, m.Cc} {
		if strings.TrimSpace(list) == "" {
			continue
		}
		addrs, err := mail.ParseAddressList(list)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if !slices.Contains(out, a.Address) {
				out = append(out, a.Address)
			}
		}
	}
	return out, nil
}

// MailOptions address the report's e-mail.
type MailOptions struct {
	From, To, Cc string // RFC 5322 address lists
	Date         time.Time
}

func addressList(s string) ([]*gomail.Address, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	list, err := mail.ParseAddressList(s)
	if err != nil {
		return nil, err
	}
	out := make([]*gomail.Address, len(list))
	for i, a := range list {
		out[i] = (*gomail.Address)(a)
	}
	return out, nil
}

// BuildMail returns the report as an RFC 5322 message: a plain-text summary
// and the HTML report as alternatives (RFC 2046 §5.1.4), the HTML's charts
// as related PNG parts referenced by Content-ID (RFC 2387, RFC 2392), and
// the PDF attached (RFC 2183).
func BuildMail(r *Report, html []byte, images map[string][]byte, pdf []byte, opts MailOptions) ([]byte, error) {
	var h gomail.Header
	from, err := addressList(opts.From)
	if err != nil || len(from) != 1 {
		return nil, fmt.Errorf("mail from %q: want one address", opts.From)
	}
	h.SetAddressList("From", from)
	to, err := addressList(opts.To)
	if err != nil {
		return nil, fmt.Errorf("mail to %q: %w", opts.To, err)
	}
	h.SetAddressList("To", to)
	if opts.Cc != "" {
		cc, err := addressList(opts.Cc)
		if err != nil {
			return nil, fmt.Errorf("mail cc %q: %w", opts.Cc, err)
		}
		h.SetAddressList("Cc", cc)
	}
	if opts.Date.IsZero() {
		opts.Date = time.Now()
	}
	h.SetDate(opts.Date)
	h.SetSubject(mailSubject(r))
	host := "postvakt"
	if at := strings.LastIndexByte(from[0].Address, '@'); at >= 0 {
		host = from[0].Address[at+1:]
	}
	if err := h.GenerateMessageIDWithHostname(host); err != nil {
		return nil, err
	}
	h.Set("Auto-Submitted", "auto-generated") // RFC 3834
	h.SetContentType("multipart/mixed", nil)

	var buf bytes.Buffer
	mixed, err := message.CreateWriter(&buf, h.Header)
	if err != nil {
		return nil, err
	}
	var altH message.Header
	altH.SetContentType("multipart/alternative", nil)
	alt, err := mixed.CreatePart(altH)
	if err != nil {
		return nil, err
	}
	var textH message.Header
	textH.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
	textH.Set("Content-Transfer-Encoding", "quoted-printable")
	if err := writePart(alt, textH, []byte(plainText(r))); err != nil {
		return nil, err
	}
	var relH message.Header
	relH.SetContentType("multipart/related", map[string]string{"type": "text/html"})
	rel, err := alt.CreatePart(relH)
	if err != nil {
		return nil, err
	}
	var htmlH message.Header
	htmlH.SetContentType("text/html", map[string]string{"charset": "utf-8"})
	htmlH.Set("Content-Transfer-Encoding", "quoted-printable")
	if err := writePart(rel, htmlH, html); err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(images))
	for id := range images {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		var ih message.Header
		ih.SetContentType("image/png", nil)
		ih.SetContentDisposition("inline", map[string]string{"filename": strings.TrimSuffix(id, "@postvakt") + ".png"})
		ih.Set("Content-ID", "<"+id+">")
		ih.Set("Content-Transfer-Encoding", "base64")
		if err := writePart(rel, ih, images[id]); err != nil {
			return nil, err
		}
	}
	if err := rel.Close(); err != nil {
		return nil, err
	}
	if err := alt.Close(); err != nil {
		return nil, err
	}
	if pdf != nil {
		var ph message.Header
		ph.SetContentType("application/pdf", nil)
		ph.SetContentDisposition("attachment", map[string]string{"filename": FileName(r.Period.Label, "pdf")})
		ph.Set("Content-Transfer-Encoding", "base64")
		if err := writePart(mixed, ph, pdf); err != nil {
			return nil, err
		}
	}
	if err := mixed.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writePart(parent *message.Writer, h message.Header, body []byte) error {
	w, err := parent.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, bytes.NewReader(body)); err != nil {
		return err
	}
	return w.Close()
}

// FileName is the file name of a report document: postvakt-report-2026-10.pdf.
func FileName(period, ext string) string { return "postvakt-report-" + period + "." + ext }

// plainText is the text/plain alternative: the title, comment, summary and
// the analysis of every section that writes one (a notes block).
func plainText(r *Report) string {
	c := r.catalog()
	var b strings.Builder
	fmt.Fprintf(&b, "%s – %s\n", r.Title, c.reportPeriod(r))
	if r.Organisation != "" {
		fmt.Fprintln(&b, r.Organisation)
	}
	b.WriteString("\n")
	if r.Comment != "" {
		fmt.Fprintf(&b, "%s\n\n%s\n\n", c.t("comment"), r.Comment)
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "%s\n\n", c.t("sec.warnings"))
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "! %s\n", w.Text)
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%s\n\n", c.t("summary"))
	for _, s := range r.Summary {
		fmt.Fprintf(&b, "- %s\n", s)
	}
	for _, sec := range r.layout(c) {
		notes, ok := notesOf(sec.Blocks)
		if !ok {
			continue // a section without analysis (the tables)
		}
		fmt.Fprintf(&b, "\n%s\n\n", sec.Title)
		for _, n := range notes {
			if n != "" {
				fmt.Fprintf(&b, "%s\n", n)
			}
		}
	}
	fmt.Fprintf(&b, "\n(%s: %s)\n", c.t("generated"), c.dateTime(r.GeneratedAt))
	return b.String()
}

// errPermanent marks a send error that retrying will not fix.
var errPermanent = errors.New("permanent")

// isPermanent reports whether err is a 5xx SMTP reply (RFC 5321 §4.2.1).
func isPermanent(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se) && se.Code >= 500
}

// MailPreview is what the report's e-mail of a period will be, shown
// before it is sent: the addresses, the subject, the plain-text part (the
// HTML part is the archived report itself) and the attachment, and when
// it was last sent.
type MailPreview struct {
	Period     string    `json:"period"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Cc         string    `json:"cc,omitempty"`
	Subject    string    `json:"subject"`
	Text       string    `json:"text"`
	Attachment string    `json:"attachment,omitempty"` // the PDF's file name; empty: none
	PDFBytes   int64     `json:"pdf_bytes"`
	SentAt     time.Time `json:"sent_at,omitzero"`
	SentTo     string    `json:"sent_to,omitempty"`
}

// mailSubject is the Subject of the report's e-mail.
func mailSubject(r *Report) string { return r.Title + " – " + r.catalog().reportPeriod(r) }

// PreviewMail returns the e-mail of the archived report of p as Deliver
// would send it now; ErrNotArchived when the period has no report yet.
// It sends nothing.
func (s *Service) PreviewMail(ctx context.Context, p Period) (MailPreview, error) {
	a, err := s.Archive.GetReport(ctx, p.Label, true)
	if err != nil {
		return MailPreview{}, err
	}
	r, err := ReportFromJSON(a.Model, s.Config.Location())
	if err != nil {
		return MailPreview{}, fmt.Errorf("report %s: archived model: %w", p.Label, err)
	}
	pv := MailPreview{Period: p.Label, From: s.Config.Mail.From, To: s.Config.Mail.To, Cc: s.Config.Mail.Cc,
		Subject: mailSubject(r), Text: plainText(r), PDFBytes: int64(len(a.PDF)), SentAt: a.SentAt, SentTo: a.SentTo}
	if len(a.PDF) > 0 {
		pv.Attachment = FileName(p.Label, "pdf")
	}
	return pv, nil
}
