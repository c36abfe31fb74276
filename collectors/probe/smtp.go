package probe

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/textproto"
	"strings"
)

// smtpSession is a minimal SMTP client (RFC 5321) that records each step.
type smtpSession struct {
	p   *prober
	a   *attempt
	e   endpoint
	c   *textConn
	ext map[string]string // EHLO keywords (upper case) → parameters
}

// smtpOpen connects, reads the banner, says EHLO, and runs STARTTLS and
// AUTH when the endpoint asks for them.
func (p *prober) smtpOpen(ctx context.Context, a *attempt, e endpoint) (*smtpSession, error) {
	c, err := p.open(ctx, a, e)
	if err != nil {
		return nil, fmt.Errorf("smtp: connect: %w", err)
	}
	s := &smtpSession{p: p, a: a, e: e, c: c}
	if err := s.setup(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *smtpSession) setup(ctx context.Context) error {
	err := s.a.step("banner", func() (string, error) {
		code, msg, err := s.c.tp.ReadResponse(220)
		if err != nil {
			return "", smtpErr("banner", err)
		}
		return fmt.Sprintf("%d %s", code, oneLine(msg)), nil
	})
	if err != nil {
		return err
	}
	if err := s.ehlo(); err != nil {
		return err
	}
	if s.e.tls == TLSStartTLS {
		err := s.a.step("starttls", func() (string, error) {
			if _, ok := s.ext["STARTTLS"]; !ok {
				return "", errors.New("smtp: the server does not offer STARTTLS")
			}
			if _, err := s.cmd(220, "STARTTLS"); err != nil {
				return "", smtpErr("STARTTLS", err)
			}
			return "", nil
		})
		if err != nil {
			return err
		}
		if err := s.p.handshake(ctx, s.a, s.c, s.e); err != nil {
			return fmt.Errorf("smtp: %w", err)
		}
		if err := s.ehlo(); err != nil {
			return err
		}
	}
	if s.e.user != "" {
		if err := s.auth(); err != nil {
			return err
		}
	}
	return nil
}

func (s *smtpSession) cmd(expect int, format string, args ...any) (string, error) {
	id, err := s.c.tp.Cmd(format, args...)
	if err != nil {
		return "", err
	}
	s.c.tp.StartResponse(id)
	defer s.c.tp.EndResponse(id)
	_, msg, err := s.c.tp.ReadResponse(expect)
	return msg, err
}

// ehlo sends EHLO and notes the extensions (RFC 5321 §4.1.1.1).
func (s *smtpSession) ehlo() error {
	return s.a.step("ehlo", func() (string, error) {
		msg, err := s.cmd(250, "EHLO %s", s.p.helo)
		if err != nil {
			return "", smtpErr("EHLO", err)
		}
		s.ext = map[string]string{}
		lines := strings.Split(msg, "\n")
		var kws []string
		for _, l := range lines[1:] {
			kw, params, _ := strings.Cut(strings.TrimSpace(l), " ")
			kw = strings.ToUpper(kw)
			s.ext[kw] = params
			kws = append(kws, kw)
		}
		return strings.Join(kws, " "), nil
	})
}

// auth authenticates with AUTH PLAIN (RFC 4954, RFC 4616), or with AUTH
// LOGIN where the server offers only that (older submission servers and
// Exchange): the same user name and password, sent base64-encoded after
// the server's two 334 prompts.
func (s *smtpSession) auth() error {
	return s.a.step("auth", func() (string, error) {
		if err := checkAuthTLS(s.e, s.c); err != nil {
			return "", fmt.Errorf("smtp: %w", err)
		}
		mechs, ok := s.ext["AUTH"]
		if !ok {
			return "", errors.New("smtp: the server does not offer AUTH")
		}
		plain, login := hasWord(mechs, "PLAIN"), hasWord(mechs, "LOGIN")
		if !plain && !login {
			return "", fmt.Errorf("smtp: the server offers neither AUTH PLAIN nor LOGIN (only %s)", mechs)
		}
		pw, err := s.p.password(s.e)
		if err != nil {
			return "", fmt.Errorf("smtp: %w", err)
		}
		b64 := base64.StdEncoding.EncodeToString
		if plain {
			if _, err := s.cmd(235, "AUTH PLAIN %s", b64([]byte("\x00"+s.e.user+"\x00"+pw))); err != nil {
				return "", smtpErr("AUTH", err)
			}
			return "authenticated as " + s.e.user, nil
		}
		for _, c := range []struct {
			expect int
			line   string
		}{{334, "AUTH LOGIN"}, {334, b64([]byte(s.e.user))}, {235, b64([]byte(pw))}} {
			if _, err := s.cmd(c.expect, "%s", c.line); err != nil {
				return "", smtpErr("AUTH", err)
			}
		}
		return "authenticated as " + s.e.user + " (LOGIN)", nil
	})
}

// send submits one message (MAIL, RCPT, DATA) and returns the server's
// reply to the data.
func (s *smtpSession) send(from, to string, msg []byte) (string, error) {
	if _, err := s.cmd(250, "MAIL FROM:<%s>", from); err != nil {
		return "", smtpErr("MAIL", err)
	}
	if _, err := s.cmd(250, "RCPT TO:<%s>", to); err != nil {
		return "", smtpErr("RCPT", err)
	}
	if _, err := s.cmd(354, "DATA"); err != nil {
		return "", smtpErr("DATA", err)
	}
	w := s.c.tp.DotWriter()
	if _, err := w.Write(msg); err != nil {
		return "", fmt.Errorf("smtp: DATA: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("smtp: DATA: %w", err)
	}
	code, reply, err := s.c.tp.ReadResponse(250)
	if err != nil {
		return "", smtpErr("DATA", err)
	}
	return fmt.Sprintf("%d %s", code, oneLine(reply)), nil
}

// quit ends the session politely ("quit" step) and closes it.
func (s *smtpSession) quit() error {
	defer s.c.Close()
	return s.a.step("quit", func() (string, error) {
		if _, err := s.cmd(221, "QUIT"); err != nil {
			return "", smtpErr("QUIT", err)
		}
		return "", nil
	})
}

// smtpErr describes a failed command without repeating it (so never its
// arguments, which may hold a password).
func smtpErr(what string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return fmt.Errorf("smtp: %s rejected: %d %s", what, te.Code, oneLine(te.Msg))
	}
	var pe textproto.ProtocolError
	if errors.As(err, &pe) {
		return fmt.Errorf("smtp: %s: bad reply: %s", what, oneLine(string(pe)))
	}
	return fmt.Errorf("smtp: %s: %w", what, err)
}

func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, w) {
			return true
		}
	}
	return false
}

// probeSMTP: banner, EHLO, STARTTLS with certificate, AUTH, QUIT.
func (p *prober) probeSMTP(ctx context.Context, a *attempt, t Target) error {
	s, err := p.smtpOpen(ctx, a, targetEndpoint(t))
	if err != nil {
		return err
	}
	return s.quit()
}
