// Package complaint turns spam complaints into filter rules
// (docs/configuration.md, "Rules from spam complaints"): users forward spam to
// the abuse address, attached (message/rfc822, RFC 2046 §5.2.1) or
// inline; Parse reads each spam message out of the complaint within
// bounds (size, parts, nesting, through engine/mime), Propose lists the
// offending senders (envelope Return-Path, From), their domains and the
// hosts of the URLs in the text as proposed rules for the engine's spam
// scorer (spam.LocalRule), and the Service keeps every complaint with the
// rules it proposed, so that each rule shows the complaints behind it and
// a postmaster accepts or rejects a complaint's rules with one action. The
// running engine reloads the accepted rules (Service.ActiveRules).
package complaint

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/emersion/go-message/textproto"

	"github.com/uni-mail/postvakt/engine/mime"
	"github.com/uni-mail/postvakt/engine/spam"
)

// Limits bound the reading of one complaint.
type Limits struct {
	MaxBytes    int64 // of the complaint; default 10 MiB
	MaxParts    int   // leaf parts; default 200
	MaxDepth    int   // nesting; default 8
	MaxMessages int   // spam messages taken from one complaint; default 20
	MaxURLs     int   // URL hosts taken from one spam message; default 20
}

func (l Limits) withDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 10 << 20
	}
	if l.MaxParts <= 0 {
		l.MaxParts = 200
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 8
	}
	if l.MaxMessages <= 0 {
		l.MaxMessages = 20
	}
	if l.MaxURLs <= 0 {
		l.MaxURLs = 20
	}
	return l
}

// ErrTooLarge is returned when a complaint exceeds Limits.MaxBytes.
var ErrTooLarge = errors.New("complaint too large")

// ErrNoSpam is returned when a complaint carries no spam message, attached
// or forwarded inline.
var ErrNoSpam = errors.New("no spam message in the complaint")

// Spam is one spam message read out of a complaint.
type Spam struct {
	ReturnPath string   `json:"return_path,omitempty"`
	From       string   `json:"from,omitempty"`
	Subject    string   `json:"subject,omitempty"`
	MessageID  string   `json:"message_id,omitempty"`
	URLHosts   []string `json:"url_hosts"`
}

// Senders are the spam's sender addresses, lower-case, each once.
func (s Spam) Senders() []string {
	var out []string
	for _, a := range []string{s.ReturnPath, s.From} {
		a = strings.ToLower(a)
		if a != "" && !contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// Parsed is what Parse read from a complaint.
type Parsed struct {
	Reporter string `json:"reporter"`
	Subject  string `json:"subject"`
	Spam     []Spam `json:"spam"`
	// Inline is true when the spam was forwarded inline, not attached.
	Inline bool `json:"inline"`
	// Truncated says a limit cut the reading short.
	Truncated bool `json:"truncated"`
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func address(v string) string {
	if a, err := mail.ParseAddress(v); err == nil {
		return strings.ToLower(a.Address)
	}
	v = strings.Trim(strings.TrimSpace(v), "<>")
	if strings.Count(v, "@") == 1 && !strings.ContainsAny(v, " \t") {
		return strings.ToLower(v)
	}
	return ""
}

func fromHeader(h textproto.Header) Spam {
	s := Spam{ReturnPath: address(h.Get("Return-Path")), From: address(h.Get("From")),
		Subject: strings.TrimSpace(h.Get("Subject")), MessageID: strings.TrimSpace(h.Get("Message-Id")), URLHosts: []string{}}
	if len(s.Subject) > 200 {
		s.Subject = s.Subject[:200]
	}
	return s
}

// Parse reads a complaint: the spam messages attached to it, or, when none
// is attached, the one forwarded inline (the header block after a
// "Forwarded message" or "Original Message" line).
func Parse(r io.Reader, lim Limits) (Parsed, error) {
	lim = lim.withDefaults()
	var p Parsed
	lr := &io.LimitedReader{R: r, N: lim.MaxBytes + 1}
	byMsg := map[int]int{} // enclosed message → index in p.Spam
	var topText bytes.Buffer
	sum, err := mime.Walk(lr, mime.Limits{MaxDepth: lim.MaxDepth, MaxParts: lim.MaxParts}, func(part *mime.Part) error {
		if part.Message == 0 {
			if strings.HasPrefix(part.ContentType, "text/") && topText.Len() < 256<<10 {
				_, _ = io.Copy(&topText, io.LimitReader(part.Body, 256<<10))
			}
			return nil
		}
		i, ok := byMsg[part.Message]
		if !ok {
			if len(p.Spam) >= lim.MaxMessages {
				p.Truncated = true
				return nil
			}
			p.Spam = append(p.Spam, fromHeader(part.MessageHeader))
			i = len(p.Spam) - 1
			byMsg[part.Message] = i
		}
		if strings.HasPrefix(part.ContentType, "text/") {
			b, _ := io.ReadAll(io.LimitReader(part.Body, 1<<20))
			s := &p.Spam[i]
			for _, h := range spam.URLHosts(b, lim.MaxURLs) {
				if len(s.URLHosts) < lim.MaxURLs && !contains(s.URLHosts, h) {
					s.URLHosts = append(s.URLHosts, h)
				}
			}
		}
		return nil
	})
	if lr.N <= 0 {
		return p, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, lim.MaxBytes)
	}
	if err != nil {
		if !errors.Is(err, mime.ErrTooDeep) && !errors.Is(err, mime.ErrTooManyParts) {
			return p, fmt.Errorf("read complaint: %w", err)
		}
		p.Truncated = true
	}
	p.Reporter = address(sum.Header.Get("From"))
	p.Subject = strings.TrimSpace(sum.Header.Get("Subject"))
	if len(p.Spam) == 0 {
		if s, ok := inline(topText.Bytes(), lim); ok {
			p.Spam, p.Inline = []Spam{s}, true
		}
	}
	if len(p.Spam) == 0 {
		return p, ErrNoSpam
	}
	return p, nil
}

// inline finds a spam message forwarded inline: a header block (From:,
// and perhaps Return-Path:, Subject:) after a forwarding marker, the rest
// of the text its body.
func inline(text []byte, lim Limits) (Spam, bool) {
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var (
		marker, inHeader bool
		h                textproto.Header
		body             bytes.Buffer
	)
	for sc.Scan() {
		line := strings.TrimLeft(sc.Text(), "> ")
		l := strings.ToLower(strings.TrimSpace(line))
		switch {
		case !marker:
			if strings.Contains(l, "forwarded message") || strings.Contains(l, "original message") || strings.HasPrefix(l, "begin forwarded message") {
				marker, inHeader = true, true
			}
		case inHeader:
			if l == "" {
				if h.Len() > 0 {
					inHeader = false
				}
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				inHeader = false
				body.WriteString(line + "\n")
				continue
			}
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		default:
			body.WriteString(line + "\n")
		}
	}
	if !marker || h.Get("From") == "" {
		return Spam{}, false
	}
	s := fromHeader(h)
	s.URLHosts = spam.URLHosts(body.Bytes(), lim.MaxURLs)
	if s.URLHosts == nil {
		s.URLHosts = []string{}
	}
	return s, s.From != "" || s.ReturnPath != ""
}
