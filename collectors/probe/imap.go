package probe

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// imapSession is a minimal IMAP4rev1 client (RFC 3501) that records each
// step.
type imapSession struct {
	p   *prober
	a   *attempt
	e   endpoint
	c   *textConn
	tag int
}

// imapReply is a command's outcome: the untagged lines and the tagged
// status line.
type imapReply struct {
	untagged []string
	status   string // OK, NO or BAD
	text     string // the tagged line after the status
}

// maxLiteral bounds a literal in a server response.
const maxLiteral = 1 << 20

// readLine reads one response line, with any literals ({n}) inline.
func (s *imapSession) readLine() (string, error) {
	var b strings.Builder
	for {
		l, err := s.c.tp.ReadLine()
		if err != nil {
			return "", err
		}
		b.WriteString(l)
		n, ok := literalSize(l)
		if !ok {
			return b.String(), nil
		}
		if n > maxLiteral {
			return "", fmt.Errorf("literal of %d bytes", n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(s.c.tp.R, buf); err != nil {
			return "", err
		}
		b.WriteString("\r\n")
		b.Write(buf)
	}
}

// literalSize parses a trailing "{n}" (RFC 3501 §4.3).
func literalSize(l string) (int, bool) {
	if !strings.HasSuffix(l, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(l, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(l[i+1:len(l)-1], "+"))
	return n, err == nil && n >= 0
}

// command sends a command made of parts; a part of type literal is sent as
// a synchronizing literal (waiting for the server's continuation).
func (s *imapSession) command(parts ...any) (imapReply, error) {
	s.tag++
	tag := "P" + strconv.Itoa(s.tag)
	w := s.c.tp.W
	if _, err := w.WriteString(tag); err != nil {
		return imapReply{}, err
	}
	for _, part := range parts {
		w.WriteByte(' ')
		switch v := part.(type) {
		case literal:
			fmt.Fprintf(w, "{%d}\r\n", len(v))
			if err := w.Flush(); err != nil {
				return imapReply{}, err
			}
			l, err := s.readLine()
			if err != nil {
				return imapReply{}, err
			}
			if !strings.HasPrefix(l, "+") {
				return imapReply{}, fmt.Errorf("literal refused: %s", oneLine(l))
			}
			w.WriteString(string(v))
		default:
			fmt.Fprint(w, v)
		}
	}
	w.WriteString("\r\n")
	if err := w.Flush(); err != nil {
		return imapReply{}, err
	}
	var r imapReply
	for {
		l, err := s.readLine()
		if err != nil {
			return r, err
		}
		if rest, ok := strings.CutPrefix(l, tag+" "); ok {
			r.status, r.text, _ = strings.Cut(rest, " ")
			r.status = strings.ToUpper(r.status)
			if r.status != "OK" && r.status != "NO" && r.status != "BAD" {
				return r, fmt.Errorf("bad tagged response %q", oneLine(l))
			}
			return r, nil
		}
		r.untagged = append(r.untagged, l)
	}
}

// literal is an IMAP string sent as a literal.
type literal string

// imapString encodes s as a quoted string, or a literal when it holds
// characters a quoted string cannot carry (RFC 3501 §4.3, §9 "quoted").
func imapString(s string) any {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return literal(s)
		}
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// run sends a command and fails unless the server says OK. what names it
// in errors (never with its arguments).
func (s *imapSession) run(what string, parts ...any) (imapReply, error) {
	r, err := s.command(parts...)
	if err != nil {
		return r, fmt.Errorf("imap: %s: %w", what, err)
	}
	if r.status != "OK" {
		return r, fmt.Errorf("imap: %s rejected: %s %s", what, r.status, oneLine(r.text))
	}
	return r, nil
}

// imapOpen connects, reads the greeting, runs STARTTLS and LOGIN as the
// endpoint asks.
func (p *prober) imapOpen(ctx context.Context, a *attempt, e endpoint) (*imapSession, error) {
	c, err := p.open(ctx, a, e)
	if err != nil {
		return nil, fmt.Errorf("imap: connect: %w", err)
	}
	s := &imapSession{p: p, a: a, e: e, c: c}
	if err := s.setup(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *imapSession) setup(ctx context.Context) error {
	preauth := false
	err := s.a.step("greeting", func() (string, error) {
		l, err := s.readLine()
		if err != nil {
			return "", fmt.Errorf("imap: greeting: %w", err)
		}
		up := strings.ToUpper(l)
		switch {
		case strings.HasPrefix(up, "* OK"):
		case strings.HasPrefix(up, "* PREAUTH"):
			preauth = true
		default:
			return "", fmt.Errorf("imap: greeting: %s", oneLine(l))
		}
		return oneLine(l), nil
	})
	if err != nil {
		return err
	}
	if s.e.tls == TLSStartTLS {
		err := s.a.step("starttls", func() (string, error) {
			if preauth {
				return "", errors.New("imap: PREAUTH greeting, STARTTLS impossible")
			}
			_, err := s.run("STARTTLS", "STARTTLS")
			return "", err
		})
		if err != nil {
			return err
		}
		if err := s.p.handshake(ctx, s.a, s.c, s.e); err != nil {
			return fmt.Errorf("imap: %w", err)
		}
	}
	if s.e.user != "" && !preauth {
		return s.a.step("login", func() (string, error) {
			if err := checkAuthTLS(s.e, s.c); err != nil {
				return "", fmt.Errorf("imap: %w", err)
			}
			pw, err := s.p.password(s.e)
			if err != nil {
				return "", fmt.Errorf("imap: %w", err)
			}
			r, err := s.run("LOGIN", "LOGIN", imapString(s.e.user), imapString(pw))
			if err != nil {
				return "", err
			}
			return oneLine(r.text), nil
		})
	}
	return nil
}

// logout ends the session ("logout" step) and closes it.
func (s *imapSession) logout() error {
	defer s.c.Close()
	return s.a.step("logout", func() (string, error) {
		_, err := s.run("LOGOUT", "LOGOUT")
		return "", err
	})
}

// searchUIDs parses the "* SEARCH" lines of a UID SEARCH reply.
func searchUIDs(r imapReply) []string {
	var uids []string
	for _, l := range r.untagged {
		if rest, ok := cutPrefixFold(l, "* SEARCH"); ok {
			uids = append(uids, strings.Fields(rest)...)
		}
	}
	return uids
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

// probeIMAP: greeting, STARTTLS or implicit TLS, LOGIN, LOGOUT.
func (p *prober) probeIMAP(ctx context.Context, a *attempt, t Target) error {
	s, err := p.imapOpen(ctx, a, targetEndpoint(t))
	if err != nil {
		return err
	}
	return s.logout()
}
