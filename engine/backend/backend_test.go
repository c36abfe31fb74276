package backend_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine/backend"
)

// lmtpServer is a small LMTP back end that knows users and counts RCPTs.
type lmtpServer struct {
	addr  string
	users map[string]*smtp.SMTPError // nil: exists
	rcpts atomic.Int32
}

func startLMTP(t *testing.T, users map[string]*smtp.SMTPError) *lmtpServer {
	t.Helper()
	l := &lmtpServer{users: users}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &lmtpSession{l: l}, nil }))
	s.LMTP = true
	s.Domain = "backend.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l.addr = ln.Addr().String()
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return l
}

type lmtpSession struct{ l *lmtpServer }

func (s *lmtpSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *lmtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.l.rcpts.Add(1)
	e, ok := s.l.users[to]
	if !ok {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "User doesn't exist"}
	}
	if e != nil {
		return e
	}
	return nil
}
func (s *lmtpSession) Data(io.Reader) error { return nil }
func (s *lmtpSession) Reset()               {}
func (s *lmtpSession) Logout() error        { return nil }

func checker(t *testing.T, lmtp string, mutate func(*backend.Config)) *backend.Checker {
	cfg := backend.DefaultConfig()
	cfg.Timeout = 2 * time.Second
	if mutate != nil {
		mutate(&cfg)
	}
	return backend.New(backend.Options{Config: cfg, Servers: map[string]backend.Server{"ug.example": {Network: "tcp", Addr: lmtp}}})
}

// TestVerifyAndCache: the RCPT reply decides, known and unknown answers
// are cached (an unknown one for less time), temporary replies are not.
func TestVerifyAndCache(t *testing.T) {
	t.Parallel()
	srv := startLMTP(t, map[string]*smtp.SMTPError{
		"alice@ug.example": nil,
		"full@ug.example":  {Code: 552, EnhancedCode: smtp.EnhancedCode{5, 2, 2}, Message: "Mailbox is full"},
		"busy@ug.example":  {Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Temporary internal error"},
	})
	c := checker(t, srv.addr, func(c *backend.Config) { c.NegativeCacheTTL = 0 })
	ctx := context.Background()
	for _, tc := range []struct {
		rcpt  string
		want  backend.Status
		temp  bool
		rcpts int32 // RCPTs the server has seen after the check
	}{
		{"alice@ug.example", backend.StatusExists, false, 1},
		{"alice@ug.example", backend.StatusExists, false, 1}, // cached
		{"nobody@ug.example", backend.StatusUnknown, false, 2},
		{"nobody@ug.example", backend.StatusUnknown, false, 3}, // negative TTL 0: asked again
		{"full@ug.example", backend.StatusOverQuota, false, 4},
		{"busy@ug.example", "", true, 5},
		{"busy@ug.example", "", true, 6},                          // a temporary answer is not cached
		{"someone@other.example", backend.StatusExists, false, 6}, // not a verified domain
	} {
		st, err := c.Check(ctx, tc.rcpt, 100)
		if st != tc.want || (err != nil) != tc.temp || (tc.temp && !errors.Is(err, backend.ErrUnavailable)) {
			t.Fatalf("%s: %q, %v; want %q (temporary: %v)", tc.rcpt, st, err, tc.want, tc.temp)
		}
		if n := srv.rcpts.Load(); n != tc.rcpts {
			t.Fatalf("%s: server saw %d RCPTs, want %d", tc.rcpt, n, tc.rcpts)
		}
	}
}

// TestCacheBounded: a run of distinct unknown addresses never holds more
// than cache_size answers (the cache is emptied when full).
func TestCacheBounded(t *testing.T) {
	t.Parallel()
	srv := startLMTP(t, map[string]*smtp.SMTPError{"alice@ug.example": nil})
	c := checker(t, srv.addr, func(c *backend.Config) { c.CacheSize = 3 })
	ctx := context.Background()
	if _, err := c.Check(ctx, "alice@ug.example", 0); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := c.Check(ctx, fmt.Sprintf("u%d@ug.example", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	// alice was pushed out with the rest when the cache filled up.
	before := srv.rcpts.Load()
	if _, err := c.Check(ctx, "alice@ug.example", 0); err != nil {
		t.Fatal(err)
	}
	if srv.rcpts.Load() != before+1 {
		t.Fatal("alice answered from a cache that should have been emptied")
	}
}

// TestUnreachableAndSilent: a back end that is down, or that accepts and
// never greets, is unavailable within the timeout, never "exists".
func TestUnreachableAndSilent(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: holds the connection, says nothing
		}
	}()
	silent := checker(t, ln.Addr().String(), func(c *backend.Config) { c.Timeout = 300 * time.Millisecond })
	start := time.Now()
	if st, err := silent.Check(context.Background(), "a@ug.example", 0); !errors.Is(err, backend.ErrUnavailable) || st != "" {
		t.Fatalf("silent back end: %q, %v", st, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v with a 300ms timeout", d)
	}
	down := freeAddr(t)
	if st, err := checker(t, down, nil).Check(context.Background(), "a@ug.example", 0); !errors.Is(err, backend.ErrUnavailable) || st != "" {
		t.Fatalf("down back end: %q, %v", st, err)
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// policyServer answers Postfix policy requests with action(request).
func policyServer(t *testing.T, action func(attrs map[string]string) string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				attrs := map[string]string{}
				for {
					l, err := r.ReadString('\n')
					if err != nil {
						return
					}
					l = strings.TrimRight(l, "\n")
					if l == "" {
						break
					}
					k, v, _ := strings.Cut(l, "=")
					attrs[k] = v
				}
				fmt.Fprint(c, action(attrs))
			}()
		}
	}()
	return ln.Addr().String()
}

// TestQuotaStatus: the policy request carries the recipient and size; the
// action decides (DUNNO/OK within quota, a 4xx/5xx reply over quota,
// DEFER or a broken answer unavailable).
func TestQuotaStatus(t *testing.T) {
	t.Parallel()
	addr := policyServer(t, func(a map[string]string) string {
		if a["request"] != "smtpd_access_policy" || a["protocol_state"] != "RCPT" {
			return "action=DUNNO bad request\n\n"
		}
		switch a["recipient"] {
		case "full@ug.example":
			if a["size"] == "5000" {
				return "action=552 5.2.2 Mailbox is full\n\n"
			}
		case "defer@ug.example":
			return "action=DEFER_IF_PERMIT Internal error\n\n"
		case "broken@ug.example":
			return "action=OK" // no end of answer
		}
		return "action=DUNNO\n\n"
	})
	cfg := backend.DefaultConfig()
	cfg.Timeout, cfg.QuotaStatus = time.Second, addr
	c := backend.New(backend.Options{Config: cfg})
	ctx := context.Background()
	for _, tc := range []struct {
		rcpt string
		size int64
		want backend.Status
		temp bool
	}{
		{"alice@ug.example", 5000, backend.StatusExists, false},
		{"full@ug.example", 100, backend.StatusExists, false},
		{"full@ug.example", 5000, backend.StatusOverQuota, false},
		{"defer@ug.example", 100, "", true},
		{"broken@ug.example", 100, "", true},
	} {
		st, err := c.Check(ctx, tc.rcpt, tc.size)
		if st != tc.want || (err != nil) != tc.temp {
			t.Errorf("%s/%d: %q, %v; want %q (temporary: %v)", tc.rcpt, tc.size, st, err, tc.want, tc.temp)
		}
	}
}

func TestParseSocket(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, network, addr string }{
		{"127.0.0.1:12340", "tcp", "127.0.0.1:12340"},
		{"unix:/run/dovecot/quota-status", "unix", "/run/dovecot/quota-status"},
		{"unix:relative", "", ""},
		{"nohostport", "", ""},
	} {
		n, a, err := backend.ParseSocket(tc.in)
		if n != tc.network || a != tc.addr || (err != nil) != (tc.network == "") {
			t.Errorf("ParseSocket(%q) = %q, %q, %v", tc.in, n, a, err)
		}
	}
}

// FuzzParseAction: any action is within quota, over quota or an
// ErrUnavailable error — never both, never a panic.
func FuzzParseAction(f *testing.F) {
	for _, s := range []string{"DUNNO", "OK", "552 5.2.2 Mailbox is full", "452 4.2.2 Quota", "REJECT x", "DEFER_IF_PERMIT x", "", "5x2 no"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, action string) {
		st, err := backend.ParseAction(action)
		switch {
		case err != nil && (st != "" || !errors.Is(err, backend.ErrUnavailable)):
			t.Fatalf("%q: %q with %v", action, st, err)
		case err == nil && st != backend.StatusExists && st != backend.StatusOverQuota:
			t.Fatalf("%q: status %q", action, st)
		}
	})
}
