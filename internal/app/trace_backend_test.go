package app

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/dovecottest"
)

// TestTraceShowsBackendDelivery runs the service with a local domain
// delivered to a real Dovecot's LMTP over its unix socket
// (smtp.directory.delivery, docs/configuration.md "Local delivery to a back
// end"): the trace shows the message queued at the MX and delivered by
// LMTP with Dovecot's reply, the mail is in the user's maildir, and a
// recipient Dovecot does not know is refused at RCPT (550 5.1.1), as the
// trace shows.
func TestTraceShowsBackendDelivery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole service")
	}
	t.Parallel()
	dv := dovecottest.Start(t, dovecottest.User{Name: "alice@ug.example", Password: "pw"})
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	mx := freeAddr(t)
	cfg.SMTP.Enabled = true
	cfg.SMTP.Hostname = "mx.uni.example"
	cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen = mx, ""
	cfg.SMTP.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	cfg.SMTP.Greylist.Enabled = false
	cfg.SMTP.Limits.ShutdownTimeout = 2 * time.Second
	cfg.SMTP.Directory.Delivery = map[string]string{"ug.example": "lmtp:unix:" + dv.LMTPSocket}
	cfg.Relay.Enabled = true
	cfg.Relay.Hostname = "mx.uni.example"
	cfg.Relay.PollInterval = 50 * time.Millisecond
	cfg.Collectors.Timezone, cfg.Collectors.CommitInterval = "UTC", 20*time.Millisecond
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	token := apiToken(t, cfg, auth.RolePostmaster)
	app := startApp(t, cfg, time.Now)
	waitListening(t, 10*time.Second, mx)

	sendMail(t, mx, "someone@partner.example", []string{"alice@ug.example"},
		"From: someone@partner.example\nTo: alice@ug.example\nSubject: via lmtp\nMessage-ID: <lmtp-trace-1@partner.example>\n\nhello\n")
	eventually(t, 30*time.Second, "the message delivered by LMTP", func() bool {
		steps, _ := stepsOf(t, traceTo(t, app.base, token, "alice@ug.example"), "lmtp-trace-1@partner.example", "alice@ug.example")
		return len(steps) > 0 && steps[len(steps)-1].Step == "delivered"
	})
	steps, state := stepsOf(t, traceTo(t, app.base, token, "alice@ug.example"), "lmtp-trace-1@partner.example", "alice@ug.example")
	if got := stepNames(steps); got != "queued delivered" || state != "delivered" {
		t.Fatalf("steps %q state %q, want queued delivered", got, state)
	}
	if d := steps[1]; d.Code != 250 || !strings.HasPrefix(d.Detail, "250 ") || d.Relay != dv.LMTPSocket {
		t.Errorf("delivery step %+v, want 250 from %s", d, dv.LMTPSocket)
	}
	if got := dv.Maildir("alice@ug.example"); len(got) != 1 || !strings.Contains(string(got[0]), "Message-ID: <lmtp-trace-1@partner.example>") {
		t.Fatalf("alice's maildir: %d messages", len(got))
	}

	// Unknown at Dovecot: refused at RCPT, nothing queued.
	c, err := smtp.Dial(mx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Hello("client.example.org"); err != nil {
		t.Fatal(err)
	}
	if err := c.Mail("someone@partner.example", nil); err != nil {
		t.Fatal(err)
	}
	var se *smtp.SMTPError
	if err := c.Rcpt("nobody@ug.example", nil); !errors.As(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) {
		t.Fatalf("RCPT to a user unknown at Dovecot: %v, want 550 5.1.1", err)
	}
	eventually(t, 10*time.Second, "the refusal in the trace", func() bool {
		for _, m := range traceTo(t, app.base, token, "nobody@ug.example").Messages {
			for _, s := range m.Steps {
				if s.Rcpt == "nobody@ug.example" && s.Step == "rejected" && s.Code == 550 {
					return true
				}
			}
		}
		return false
	})
}
