package page

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// EmailOptions configure the e-mail channel.
type EmailOptions struct {
	// Relay is the SMTP relay's host:port.
	Relay string
	// From is the envelope and header sender.
	From string
	// HeloName is the EHLO name; default "localhost".
	HeloName string
	// StartTLS requires STARTTLS (RFC 3207) before anything is sent.
	StartTLS  bool
	TLSConfig *tls.Config
	// Username and Password authenticate with AUTH PLAIN, only over TLS.
	Username string
	Password string
	Timeout  time.Duration
	Now      func() time.Time
}

// Email sends messages through the configured SMTP relay, with a signed
// acknowledge link in pages.
type Email struct{ o EmailOptions }

var _ Pager = (*Email)(nil)

// NewEmail returns the e-mail channel.
func NewEmail(o EmailOptions) *Email {
	if o.HeloName == "" {
		o.HeloName = "localhost"
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Email{o: o}
}

// Name is "email".
func (e *Email) Name() string { return "email" }

// Page sends m to m.To.Email.
func (e *Email) Page(ctx context.Context, m Message) (bool, error) {
	if m.Channel || m.To.Email == "" {
		return false, ErrNotApplicable
	}
	body, err := e.compose(m)
	if err != nil {
		return false, err
	}
	return e.send(ctx, m.To.Email, body)
}

func (e *Email) send(ctx context.Context, rcpt string, body []byte) (bool, error) {
	d := net.Dialer{Timeout: e.o.Timeout}
	conn, err := d.DialContext(ctx, "tcp", e.o.Relay)
	if err != nil {
		return true, fmt.Errorf("smtp dial %s: %w", e.o.Relay, err)
	}
	deadline := time.Now().Add(e.o.Timeout)
	if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
		deadline = dl
	}
	_ = conn.SetDeadline(deadline)
	var c *smtp.Client
	if e.o.StartTLS {
		cfg := e.o.TLSConfig
		if cfg == nil {
			host, _, _ := net.SplitHostPort(e.o.Relay)
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			conn.Close()
			return true, fmt.Errorf("smtp starttls %s: %w", e.o.Relay, err)
		}
	} else {
		c = smtp.NewClient(conn)
		if err := c.Hello(e.o.HeloName); err != nil {
			c.Close()
			return smtpRetryable(err), fmt.Errorf("smtp hello: %w", err)
		}
	}
	defer c.Close()
	if e.o.Username != "" {
		if _, isTLS := c.TLSConnectionState(); !isTLS {
			return false, errors.New("smtp: refusing to authenticate without TLS")
		}
		if err := c.Auth(sasl.NewPlainClient("", e.o.Username, e.o.Password)); err != nil {
			return smtpRetryable(err), fmt.Errorf("smtp auth: %w", err)
		}
	}
	if err := c.Mail(e.o.From, nil); err != nil {
		return smtpRetryable(err), fmt.Errorf("smtp mail from: %w", err)
	}
	if err := c.Rcpt(rcpt, nil); err != nil {
		return smtpRetryable(err), fmt.Errorf("smtp rcpt to: %w", err)
	}
	w, err := c.Data()
	if err != nil {
		return smtpRetryable(err), fmt.Errorf("smtp data: %w", err)
	}
	if _, err := w.Write(body); err != nil {
		return true, fmt.Errorf("smtp data: %w", err)
	}
	if err := w.Close(); err != nil {
		return smtpRetryable(err), fmt.Errorf("smtp data: %w", err)
	}
	_ = c.Quit()
	return false, nil
}

// smtpRetryable: 4xx replies (RFC 5321 §4.2.1, transient) and network
// errors are retried; 5xx replies are permanent.
func smtpRetryable(err error) bool {
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se.Code < 500
	}
	return true
}

// compose builds an RFC 5322 message in UTF-8, quoted-printable.
func (e *Email) compose(m Message) ([]byte, error) {
	from, err := mail.ParseAddress(e.o.From)
	if err != nil {
		return nil, fmt.Errorf("email from %q: %w", e.o.From, err)
	}
	to := mail.Address{Name: m.To.Name, Address: m.To.Email}
	var b bytes.Buffer
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := "postvakt.invalid"
	if i := strings.LastIndexByte(from.Address, '@'); i >= 0 {
		domain = from.Address[i+1:]
	}
	h := func(k, v string) { fmt.Fprintf(&b, "%s: %s\r\n", k, v) }
	h("From", (&mail.Address{Name: "postvakt", Address: from.Address}).String())
	h("To", to.String())
	h("Subject", mime.QEncoding.Encode("utf-8", m.Subject))
	h("Date", e.o.Now().Format(time.RFC1123Z))
	h("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	h("Auto-Submitted", "auto-generated") // RFC 3834 §5
	h("X-Auto-Response-Suppress", "All")
	if m.IncidentID > 0 {
		h("X-Postvakt-Incident", strconv.FormatInt(m.IncidentID, 10))
	}
	h("X-Postvakt-Kind", string(m.Kind))
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	var text strings.Builder
	text.WriteString(m.Text)
	if !strings.HasSuffix(m.Text, "\n") {
		text.WriteString("\n")
	}
	if m.AckURL != "" {
		text.WriteString("\nAcknowledge (stops escalation):\n" + m.AckURL + "\n")
	}
	if m.Link != "" {
		text.WriteString("\nDetails: " + m.Link + "\n")
	}
	qp := quotedprintable.NewWriter(&b)
	if _, err := qp.Write([]byte(strings.ReplaceAll(text.String(), "\n", "\r\n"))); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	b.WriteString("\r\n")
	return b.Bytes(), nil
}
