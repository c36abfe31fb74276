package app

import (
	"bytes"
	"context"
	"fmt"
	"github.com/emersion/go-sasl"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// sendMail sends one message over SMTP (no TLS: loopback).
func sendMail(t *testing.T, addr, from string, to []string, body string) {
	t.Helper()
	sendMailAuth(t, addr, "", from, to, body)
}

// sendMailAuth is sendMail after AUTH PLAIN as user (password "pw"), or
// without AUTH when user is "".
func sendMailAuth(t *testing.T, addr, user, from string, to []string, body string) {
	t.Helper()
	c, err := smtp.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.uni.example"); err != nil {
		t.Fatal(err)
	}
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, "pw")); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Mail(from, nil); err != nil {
		t.Fatal(err)
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			t.Fatalf("RCPT %s: %v", r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte(strings.ReplaceAll(body, "\n", "\r\n"))); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("DATA: %v", err)
	}
	c.Quit()
}

// nextHop is a real SMTP server on loopback that answers the data by
// recipient domain: flaky.example 451 to the first two attempts,
// closed.example 550, everything else 250. The third attempt at a
// flaky.example recipient is answered once release is closed (the test
// has seen the message waiting), or after 20 s.
type nextHop struct {
	addr     string
	mu       sync.Mutex
	attempts map[string]int
	release  chan struct{}
}

func startNextHop(t *testing.T) *nextHop {
	t.Helper()
	h := &nextHop{attempts: map[string]int{}, release: make(chan struct{})}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &hopSession{h: h}, nil }))
	srv.Domain = "mx.partner.example"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return h
}

type hopSession struct {
	h  *nextHop
	to []string
}

func (s *hopSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *hopSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *hopSession) Reset()        { s.to = nil }
func (s *hopSession) Logout() error { return nil }
func (s *hopSession) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	return s.h.answer(s.to)
}

func (h *nextHop) answer(rcpts []string) error {
	h.mu.Lock()
	wait := false
	for _, to := range rcpts {
		h.attempts[to]++
		switch {
		case strings.HasSuffix(to, "@flaky.example") && h.attempts[to] <= 2:
			defer h.mu.Unlock()
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: fmt.Sprintf("Service temporarily unavailable (attempt %d)", h.attempts[to])}
		case strings.HasSuffix(to, "@closed.example"):
			defer h.mu.Unlock()
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user here"}
		case strings.HasSuffix(to, "@flaky.example"):
			wait = true
		}
	}
	h.mu.Unlock()
	if wait {
		select {
		case <-h.release:
		case <-time.After(20 * time.Second):
		}
	}
	return nil
}

func traceTo(t *testing.T, base, token, rcpt string) trace.Page {
	t.Helper()
	var page trace.Page
	if code := call(t, "GET", base+"/api/v1/trace?to="+rcpt, token, nil, &page); code != http.StatusOK {
		t.Fatalf("trace to %s: %d", rcpt, code)
	}
	return page
}

// stepsOf lists one recipient's steps of the message with Message-ID
// msgid, and the recipient's state.
func stepsOf(t *testing.T, page trace.Page, msgid, rcpt string) ([]trace.Step, string) {
	t.Helper()
	var m trace.Message
	for _, pm := range page.Messages {
		if pm.MessageID == msgid {
			m = pm
		}
	}
	var steps []trace.Step
	for _, s := range m.Steps {
		if s.Rcpt == rcpt {
			steps = append(steps, s)
		}
	}
	state := ""
	for _, r := range m.Recipients {
		if r.Rcpt == rcpt {
			state = r.Status
		}
	}
	return steps, state
}

func stepNames(steps []trace.Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Step)
	}
	return strings.Join(out, " ")
}

// TestTraceShowsRelayQueueAndQuarantine runs the service with the engine,
// content scanning, the relay queue and the collectors, on SQLite and on
// PostgreSQL, against a real SMTP next hop on loopback (docs/collectors.md,
// "The engine" and "Trace"): a relayed message deferred twice then
// delivered shows three steps with the next hop's replies, and is not
// "delivered" while it waits; a bounced one shows the bounce; a
// quarantined one is found by its recipient and shows its release.
func TestTraceShowsRelayQueueAndQuarantine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole service")
	}
	t.Parallel()
	for _, dialect := range []storage.Dialect{storage.SQLite, storage.Postgres} {
		t.Run(dialect.String(), func(t *testing.T) {
			t.Parallel()
			sink := startNextHop(t)
			cfg := config.Default()
			cfg.DataDir = filepath.Join(t.TempDir(), "data")
			if dialect == storage.Postgres {
				cfg.Database.URL = pgtest.NewDatabase(t)
			}
			cfg.HTTP.Listen = "127.0.0.1:0"
			cfg.Scheduler.Enabled = false
			mx, sub := freeAddr(t), freeAddr(t)
			cfg.SMTP.Enabled = true
			cfg.SMTP.Hostname = "mx.uni.example"
			cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen = mx, sub
			cfg.SMTP.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
			cfg.SMTP.Greylist.Enabled = false
			cfg.SMTP.LocalNetworks = []string{"127.0.0.1/32"}
			cfg.SMTP.Limits.ShutdownTimeout = 2 * time.Second
			cfg.SMTP.Directory.Domains = []string{"uni.example"}
			cfg.SMTP.Directory.Mailboxes = []engine.MailboxConfig{{Address: "anna@uni.example"}}
			cfg.Content.Enabled = true
			cfg.Relay.Enabled = true
			cfg.Relay.Hostname = "mx.uni.example"
			cfg.Relay.Transports = map[string]string{"*": "smtp:" + sink.addr}
			cfg.Relay.PollInterval, cfg.Relay.MinBackoff, cfg.Relay.MaxBackoff = 50*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond
			cfg.Collectors.Timezone, cfg.Collectors.CommitInterval = "UTC", 20*time.Millisecond
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			token := apiToken(t, cfg, auth.RolePostmaster)
			app := startApp(t, cfg, time.Now)
			// the HTTP listener is up; the SMTP listeners may come a moment later
			waitListening(t, 10*time.Second, mx, sub)

			sendMail(t, sub, "anna@uni.example", []string{"lars@flaky.example"},
				"From: anna@uni.example\nTo: lars@flaky.example\nSubject: exam\nMessage-ID: <flaky-1@uni.example>\n\nhello\n")
			sendMail(t, sub, "anna@uni.example", []string{"nouser@closed.example"},
				"From: anna@uni.example\nTo: nouser@closed.example\nSubject: hi\nMessage-ID: <closed-1@uni.example>\n\nhello\n")
			eicar := `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`
			sendMail(t, mx, "someone@partner.example", []string{"anna@uni.example"},
				"From: someone@partner.example\nTo: anna@uni.example\nSubject: invoice\nMessage-ID: <virus-1@partner.example>\n\n"+eicar+"\n")

			// deferred twice, then delivered; not "delivered" while waiting
			// (the next hop answers the third attempt once that is seen)
			var sawWaiting bool
			eventually(t, 30*time.Second, "the flaky next hop's message delivered", func() bool {
				page := traceTo(t, app.base, token, "lars@flaky.example")
				steps, state := stepsOf(t, page, "flaky-1@uni.example", "lars@flaky.example")
				if (state == "deferred" || state == "queued") && !sawWaiting {
					sawWaiting = true
					close(sink.release)
				}
				return len(steps) > 0 && steps[len(steps)-1].Step == "delivered"
			})
			steps, state := stepsOf(t, traceTo(t, app.base, token, "lars@flaky.example"), "flaky-1@uni.example", "lars@flaky.example")
			if got := stepNames(steps); got != "queued deferred deferred delivered" {
				t.Errorf("steps %q, want queued deferred deferred delivered", got)
			}
			if state != "delivered" || !sawWaiting {
				t.Errorf("state %q (seen waiting: %v)", state, sawWaiting)
			}
			if len(steps) == 4 {
				for i, want := range []string{"451 4.7.1 Service temporarily unavailable (attempt 1)", "451 4.7.1 Service temporarily unavailable (attempt 2)"} {
					if s := steps[1+i]; s.Detail != want || s.Code != 451 || s.DSN != "4.7.1" || s.Relay != sink.addr {
						t.Errorf("deferral %d: %+v, want %q from %s", i+1, s, want, sink.addr)
					}
				}
				if d := steps[3]; d.Code != 250 || !strings.HasPrefix(d.Detail, "250 ") || d.Relay != sink.addr {
					t.Errorf("delivery: %+v", d)
				}
			}

			// bounced by the next hop
			eventually(t, 30*time.Second, "the bounce", func() bool {
				steps, _ := stepsOf(t, traceTo(t, app.base, token, "nouser@closed.example"), "closed-1@uni.example", "nouser@closed.example")
				return len(steps) > 0 && steps[len(steps)-1].Step == "bounced"
			})
			steps, state = stepsOf(t, traceTo(t, app.base, token, "nouser@closed.example"), "closed-1@uni.example", "nouser@closed.example")
			if got := stepNames(steps); got != "queued bounced" || state != "bounced" ||
				steps[1].Code != 550 || steps[1].Detail != "550 5.1.1 No such user here" {
				t.Errorf("bounce: %q %q %+v", got, state, steps)
			}

			// quarantined: found by its recipient, then released
			eventually(t, 10*time.Second, "the quarantined message by its recipient", func() bool {
				steps, _ := stepsOf(t, traceTo(t, app.base, token, "anna@uni.example"), "virus-1@partner.example", "anna@uni.example")
				return len(steps) > 0
			})
			steps, state = stepsOf(t, traceTo(t, app.base, token, "anna@uni.example"), "virus-1@partner.example", "anna@uni.example")
			if got := stepNames(steps); got != "quarantined" || state != "quarantined" {
				t.Errorf("quarantined: %q %q", got, state)
			}
			var list engineapi.QuarantineList
			if code := call(t, "GET", app.base+"/api/v1/quarantine", token, nil, &list); code != http.StatusOK || len(list.Items) != 1 {
				t.Fatalf("quarantine list: %d %+v", code, list)
			}
			if code := call(t, "POST", fmt.Sprintf("%s/api/v1/quarantine/%d/release", app.base, list.Items[0].ID), token, nil, nil); code >= 300 {
				t.Fatalf("release: %d", code)
			}
			eventually(t, 10*time.Second, "the release in the trace", func() bool {
				steps, _ := stepsOf(t, traceTo(t, app.base, token, "anna@uni.example"), "virus-1@partner.example", "anna@uni.example")
				return stepNames(steps) == "quarantined released delivered"
			})
			_, state = stepsOf(t, traceTo(t, app.base, token, "anna@uni.example"), "virus-1@partner.example", "anna@uni.example")
			if state != "delivered" {
				t.Errorf("released: state %q", state)
			}
			app.stop()

			// the summary counts what really happened
			db, err := storage.Open(context.Background(), cfg.DatabaseURL(), storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			sum, err := txlogstore.New(db).TxSummary(context.Background(), time.Time{}, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			// delivered: the flaky message, the DSN to anna (relayed to the
			// next hop, as every domain is here) and the released copy
			if sum.Received != 3 || sum.Deferred != 2 || sum.Bounced != 1 || sum.Delivered != 3 {
				var b bytes.Buffer
				fmt.Fprintf(&b, "%+v", sum)
				t.Errorf("summary: received %d deferred %d bounced %d delivered %d\n%s", sum.Received, sum.Deferred, sum.Bounced, sum.Delivered, b.String())
			}
		})
	}
}
