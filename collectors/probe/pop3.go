package probe

import (
	"context"
	"fmt"
	"strings"
)

// pop3Session is a minimal POP3 client (RFC 1939) that records each step.
type pop3Session struct {
	p *prober
	a *attempt
	e endpoint
	c *textConn
}

// cmd sends a command and reads its status line; a "-ERR" is an error
// naming what (never the arguments).
func (s *pop3Session) cmd(what, format string, args ...any) (string, error) {
	if err := s.c.tp.PrintfLine(format, args...); err != nil {
		return "", fmt.Errorf("pop3: %s: %w", what, err)
	}
	l, err := s.c.tp.ReadLine()
	if err != nil {
		return "", fmt.Errorf("pop3: %s: %w", what, err)
	}
	if rest, ok := strings.CutPrefix(l, "+OK"); ok {
		return strings.TrimSpace(rest), nil
	}
	return "", fmt.Errorf("pop3: %s rejected: %s", what, oneLine(l))
}

// lines reads a multi-line response body (RFC 1939 §3).
func (s *pop3Session) lines(what string) ([]string, error) {
	ls, err := s.c.tp.ReadDotLines()
	if err != nil {
		return nil, fmt.Errorf("pop3: %s: %w", what, err)
	}
	return ls, nil
}

// pop3Open connects, reads the greeting, runs STLS (RFC 2595 §4) and
// USER/PASS as the endpoint asks.
func (p *prober) pop3Open(ctx context.Context, a *attempt, e endpoint) (*pop3Session, error) {
	c, err := p.open(ctx, a, e)
	if err != nil {
		return nil, fmt.Errorf("pop3: connect: %w", err)
	}
	s := &pop3Session{p: p, a: a, e: e, c: c}
	if err := s.setup(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return s, nil
}

func (s *pop3Session) setup(ctx context.Context) error {
	err := s.a.step("greeting", func() (string, error) {
		l, err := s.c.tp.ReadLine()
		if err != nil {
			return "", fmt.Errorf("pop3: greeting: %w", err)
		}
		if !strings.HasPrefix(l, "+OK") {
			return "", fmt.Errorf("pop3: greeting: %s", oneLine(l))
		}
		return oneLine(l), nil
	})
	if err != nil {
		return err
	}
	if s.e.tls == TLSStartTLS {
		err := s.a.step("stls", func() (string, error) {
			_, err := s.cmd("STLS", "STLS")
			return "", err
		})
		if err != nil {
			return err
		}
		if err := s.p.handshake(ctx, s.a, s.c, s.e); err != nil {
			return fmt.Errorf("pop3: %w", err)
		}
	}
	if s.e.user == "" {
		return nil
	}
	return s.a.step("login", func() (string, error) {
		if err := checkAuthTLS(s.e, s.c); err != nil {
			return "", fmt.Errorf("pop3: %w", err)
		}
		if strings.ContainsAny(s.e.user, "\r\n") {
			return "", fmt.Errorf("pop3: the user name holds a line break")
		}
		pw, err := s.p.password(s.e)
		if err != nil {
			return "", fmt.Errorf("pop3: %w", err)
		}
		if strings.ContainsAny(pw, "\r\n") {
			return "", fmt.Errorf("pop3: the password holds a line break")
		}
		if _, err := s.cmd("USER", "USER %s", s.e.user); err != nil {
			return "", err
		}
		msg, err := s.cmd("PASS", "PASS %s", pw)
		if err != nil {
			return "", err
		}
		return oneLine(msg), nil
	})
}

// quit ends the session ("quit" step; it commits deletions, RFC 1939 §6)
// and closes it.
func (s *pop3Session) quit() error {
	defer s.c.Close()
	return s.a.step("quit", func() (string, error) {
		_, err := s.cmd("QUIT", "QUIT")
		return "", err
	})
}

// probePOP3: greeting, STLS or implicit TLS, USER/PASS, QUIT.
func (p *prober) probePOP3(ctx context.Context, a *attempt, t Target) error {
	s, err := p.pop3Open(ctx, a, targetEndpoint(t))
	if err != nil {
		return err
	}
	return s.quit()
}
