package notice

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// Mail is one outgoing message with a text and an HTML rendering.
type Mail struct {
	From       string   // RFC 5322 address, e.g. `"IT drift" <drift@uni.example>`
	To         []string // addresses
	Subject    string
	Date       time.Time
	MessageID  string   // without angle brackets
	InReplyTo  []string // without angle brackets
	References []string // without angle brackets
	Text       string
	HTML       string // empty: a text/plain message
	// AutoSubmitted marks machine-generated mail (RFC 3834 §5), so
	// well-behaved responders do not answer it.
	AutoSubmitted bool
}

func parseAddrs(list ...string) ([]*gomail.Address, error) {
	var out []*gomail.Address
	for _, s := range list {
		a, err := mail.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("address %q: %w", s, err)
		}
		out = append(out, &gomail.Address{Name: a.Name, Address: a.Address})
	}
	return out, nil
}

// Bytes renders m as an RFC 5322 message: Date, Message-ID, From, To,
// Subject, In-Reply-To and References (RFC 5322 §3.6.4), MIME-Version and
// a multipart/alternative body (RFC 2046 §5.1.4) with the text part first.
func (m Mail) Bytes() ([]byte, error) {
	from, err := parseAddrs(m.From)
	if err != nil {
		return nil, err
	}
	to, err := parseAddrs(m.To...)
	if err != nil {
		return nil, err
	}
	var h gomail.Header
	h.SetDate(m.Date)
	h.SetAddressList("From", from)
	h.SetAddressList("To", to)
	h.SetSubject(m.Subject)
	h.SetMessageID(m.MessageID)
	if len(m.InReplyTo) > 0 {
		h.SetMsgIDList("In-Reply-To", m.InReplyTo)
	}
	if len(m.References) > 0 {
		h.SetMsgIDList("References", m.References)
	}
	if m.AutoSubmitted {
		h.Set("Auto-Submitted", "auto-generated")
	}
	h.Set("MIME-Version", "1.0")
	var buf bytes.Buffer
	textHeader := func() gomail.InlineHeader {
		var th gomail.InlineHeader
		th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		th.Set("Content-Transfer-Encoding", "quoted-printable")
		return th
	}
	if m.HTML == "" {
		h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		h.Set("Content-Transfer-Encoding", "quoted-printable")
		w, err := message.CreateWriter(&buf, h.Header)
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(m.Text)); err != nil {
			return nil, err
		}
		if err := w.Close(); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	iw, err := gomail.CreateInlineWriter(&buf, h)
	if err != nil {
		return nil, err
	}
	for _, p := range []struct {
		ct, body string
	}{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		ph := textHeader()
		ph.SetContentType(p.ct, map[string]string{"charset": "utf-8"})
		pw, err := iw.CreatePart(ph)
		if err != nil {
			return nil, err
		}
		if _, err := pw.Write([]byte(p.body)); err != nil {
			return nil, err
		}
		if err := pw.Close(); err != nil {
			return nil, err
		}
	}
	if err := iw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// NewMessageID returns a fresh Message-ID (without angle brackets) whose
// right-hand side is domain (RFC 5322 §3.6.4 asks for global uniqueness).
func NewMessageID(kind, domain string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	if domain == "" {
		domain = "postvakt.invalid"
	}
	return fmt.Sprintf("%s.%s@%s", kind, hex.EncodeToString(b[:]), domain)
}

// DomainOf returns the domain of an address such as `"X" <a@b.example>`.
func DomainOf(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	_, d, _ := strings.Cut(addr, "@")
	return d
}

// AddressOf returns the bare address of `"X" <a@b.example>`.
func AddressOf(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		return a.Address
	}
	return addr
}

// Sender sends one rendered message to the envelope recipients.
type Sender interface {
	Send(ctx context.Context, from string, to []string, msg []byte) error
}

// SenderFunc adapts a function to Sender.
type SenderFunc func(ctx context.Context, from string, to []string, msg []byte) error

// Send calls f.
func (f SenderFunc) Send(ctx context.Context, from string, to []string, msg []byte) error {
	return f(ctx, from, to, msg)
}

// SMTPSender submits messages to a relay with go-smtp's client: EHLO,
// optional STARTTLS and AUTH PLAIN, MAIL, RCPT, DATA (RFC 5321 §3.3).
type SMTPSender struct {
	Addr      string // host:port of the relay
	HelloName string // EHLO name; empty: "localhost"
	Timeout   time.Duration
	StartTLS  bool
	TLS       *tls.Config
	Username  string
	Password  string
}

// ErrNoRelay is returned when no relay address is configured.
var ErrNoRelay = errors.New("no SMTP relay configured")

// Send implements Sender.
func (s *SMTPSender) Send(ctx context.Context, from string, to []string, msg []byte) error {
	if s.Addr == "" {
		return ErrNoRelay
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp relay %s: %w", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	hello := s.HelloName
	if hello == "" {
		hello = "localhost"
	}
	var c *smtp.Client
	if s.StartTLS {
		cfg := s.TLS
		if cfg == nil {
			host, _, _ := net.SplitHostPort(s.Addr)
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		if c, err = smtp.NewClientStartTLS(conn, cfg); err != nil {
			conn.Close()
			return fmt.Errorf("smtp relay %s: STARTTLS: %w", s.Addr, err)
		}
	} else {
		c = smtp.NewClient(conn)
		if err := c.Hello(hello); err != nil {
			c.Close()
			return fmt.Errorf("smtp relay %s: EHLO: %w", s.Addr, err)
		}
	}
	defer c.Close()
	if s.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.Username, s.Password)); err != nil {
			return fmt.Errorf("smtp relay %s: AUTH: %w", s.Addr, err)
		}
	}
	if err := c.Mail(AddressOf(from), nil); err != nil {
		return fmt.Errorf("smtp relay %s: MAIL FROM: %w", s.Addr, err)
	}
	for _, r := range to {
		if err := c.Rcpt(AddressOf(r), nil); err != nil {
			return fmt.Errorf("smtp relay %s: RCPT TO %s: %w", s.Addr, r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fmt.Errorf("smtp relay %s: DATA: %w", s.Addr, err)
	}
	if _, err := w.Write(msg); err != nil {
		return fmt.Errorf("smtp relay %s: DATA: %w", s.Addr, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("smtp relay %s: end of DATA: %w", s.Addr, err)
	}
	return c.Quit()
}
