package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/dovecottest"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// backendDomain is delivered to Dovecot's LMTP in these tests.
const backendDomain = "ug.example"

// startBackendEngine starts Dovecot with users and an engine whose
// backendDomain goes to Dovecot's LMTP (smtp.directory.delivery), and
// returns the relay queue that delivers it.
func startBackendEngine(t *testing.T, mutate func(*engine.Config, *dovecottest.Dovecot), users ...dovecottest.User) (*harness, *dovecottest.Dovecot, *queue.Runner, *prometheus.Registry) {
	t.Helper()
	dv := dovecottest.Start(t, users...)
	db := storagetest.Open(t, storage.SQLite)
	var cfg engine.Config
	h := startEngine(t, db, func(c *engine.Config) {
		c.Greylist.Enabled = false
		c.Directory.Delivery = map[string]string{backendDomain: "lmtp:" + dv.LMTP, "uni.example": "store"}
		if mutate != nil {
			mutate(c, dv)
		}
		cfg = *c
	}, nil)
	if err := engine.ApplyDirectoryConfig(context.Background(), cfg, h.dir); err != nil {
		t.Fatal(err)
	}
	rc := queue.Default()
	rc.Enabled, rc.Hostname = true, "mx.uni.example"
	rc.TLS.Level = queue.TLSNone
	rc.Timeout = 10 * time.Second
	reg := prometheus.NewRegistry()
	r, err := queue.New(queue.Options{Config: rc, Store: h.st, Node: "n1", Clock: h.clock.Now, Registerer: reg,
		Backends: cfg.Directory.Backends(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return h, dv, r, reg
}

// TestEngineDeliversToDovecotLMTP: mail for a domain delivered to a back
// end goes MX → relay queue → Dovecot's LMTP, and its user reads it over
// IMAP; while Dovecot is down it waits in the queue (the client was told
// 250 once it was durable), is retried on the back ends' short schedule
// (relay.backend_retry: after 1, then 2 minutes) and arrives when Dovecot
// is back; the embedded
// store of a "store" domain is untouched.
func TestEngineDeliversToDovecotLMTP(t *testing.T) {
	t.Parallel()
	h, dv, r, reg := startBackendEngine(t, nil,
		dovecottest.User{Name: "alice@" + backendDomain, Password: "alice-pw"},
		dovecottest.User{Name: "bob@" + backendDomain, Password: "bob-pw"})
	ctx := context.Background()
	local := h.mailbox("carol@uni.example", nil)

	body := "From: <s@else.example>\r\nTo: <alice@ug.example>\r\nSubject: via lmtp\r\nMessage-ID: <lmtp-1@else.example>\r\n\r\nHello Alice.\r\n"
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"alice@" + backendDomain, "bob@" + backendDomain, "carol@uni.example"}, body), 250, "")
	if n, err := r.RunOnce(ctx); n != 2 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want the two back-end recipients", n, err)
	}
	msgs, err := dv.FetchIMAP("alice@"+backendDomain, "alice-pw")
	if err != nil || len(msgs) != 1 || !bytes.Contains(msgs[0], []byte("Hello Alice.")) || !bytes.Contains(msgs[0], []byte("Received: from client.example.org")) {
		t.Fatalf("alice over IMAP: %v, %q\n%s", err, msgs, dv.Log())
	}
	if got := dv.Maildir("bob@" + backendDomain); len(got) != 1 {
		t.Fatalf("bob's maildir has %d messages", len(got))
	}
	if sm, err := h.st.MailMessages(ctx, local.ID); err != nil || len(sm) != 1 {
		t.Fatalf("carol (store) has %d messages, %v", len(sm), err)
	}
	if v := testutil.ToFloat64(mustCounter(t, reg, "postvakt_queue_deliveries_total", "sent")); v != 2 {
		t.Fatalf("deliveries sent = %v", v)
	}
	if v := gathered(t, reg, "postvakt_queue_backend_deliveries_total", "agent", "lmtp", "result", "sent"); v != 2 {
		t.Fatalf("back-end deliveries sent = %v", v)
	}
	// The trace: each back-end recipient was queued at the MX.
	queued := 0
	for _, e := range h.events.all() {
		if rc, ok := e.(*event.Recipient); ok && rc.Outcome == event.OutcomeQueued && strings.HasSuffix(rc.Target, "@"+backendDomain) {
			queued++
		}
	}
	if queued != 2 {
		t.Fatalf("%d queued recipient events, want 2", queued)
	}

	// Dovecot down: the MX still accepts, the queue defers.
	dv.Stop()
	body2 := "From: <s@else.example>\r\nSubject: while down\r\nMessage-ID: <lmtp-2@else.example>\r\n\r\nSecond.\r\n"
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"alice@" + backendDomain}, body2), 250, "")
	if n, _ := r.RunOnce(ctx); n != 1 {
		t.Fatalf("RunOnce while down = %d", n)
	}
	// A back end is retried on relay.backend_retry (1 minute, doubling),
	// not on the remote schedule's 30 minutes.
	waiting := func(attempts int, next time.Duration) {
		t.Helper()
		es, err := h.st.QueueList(ctx, queue.Filter{Recipient: "alice@" + backendDomain})
		if err != nil || len(es) != 1 || es[0].State != queue.StateDeferred || es[0].Attempts != attempts {
			t.Fatalf("queue while Dovecot is down: %+v, %v", es, err)
		}
		if want := h.clock.Now().Add(next); !es[0].NextAttemptAt.Equal(want) {
			t.Fatalf("after %d attempts the next is at %v, want %v (in %v)", attempts, es[0].NextAttemptAt, want, next)
		}
	}
	waiting(1, time.Minute)
	if v := gathered(t, reg, "postvakt_queue_backend_deliveries_total", "agent", "lmtp", "result", "deferred"); v != 1 {
		t.Fatalf("back-end deliveries deferred = %v", v)
	}
	h.clock.Advance(59 * time.Second)
	if n, _ := r.RunOnce(ctx); n != 0 {
		t.Fatalf("RunOnce before the retry is due = %d", n)
	}
	h.clock.Advance(time.Second)
	if n, _ := r.RunOnce(ctx); n != 1 {
		t.Fatalf("second attempt while down = %d", n)
	}
	waiting(2, 2*time.Minute)
	dv.Start()
	h.clock.Advance(2 * time.Minute)
	if n, err := r.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce after restart = %d, %v", n, err)
	}
	msgs, err = dv.FetchIMAP("alice@"+backendDomain, "alice-pw")
	if err != nil || len(msgs) != 2 || !bytes.Contains(msgs[1], []byte("Second.")) {
		t.Fatalf("alice after Dovecot's return: %v, %d messages", err, len(msgs))
	}
	if es, _ := h.st.QueueList(ctx, queue.Filter{}); len(es) != 0 {
		t.Fatalf("queue not empty: %+v", es)
	}
}

// gathered is the value of the series of name with the label pairs kv.
func gathered(t *testing.T, reg *prometheus.Registry, name string, kv ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(kv); i += 2 {
				if labels[kv[i]] != kv[i+1] {
					continue next
				}
			}
			return m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s%v", name, kv)
	return 0
}

// TestEngineVerifiesAtBackend: recipients of an LMTP domain are asked at
// RCPT through the back end (a real Dovecot): unknown there is 550 5.1.1
// at the MX, over quota (Dovecot's quota-status service) 452 4.2.2, and a
// back end that cannot be asked 451 4.4.0 — never accepted to bounce
// later. Known answers are cached; the embedded store's mailboxes keep
// their own quota rule.
func TestEngineVerifiesAtBackend(t *testing.T) {
	t.Parallel()
	h, dv, r, _ := startBackendEngine(t, func(c *engine.Config, dv *dovecottest.Dovecot) {
		c.Backend.QuotaStatus = dv.QuotaStatus
	},
		dovecottest.User{Name: "alice@" + backendDomain, Password: "alice-pw"},
		dovecottest.User{Name: "tiny@" + backendDomain, Password: "tiny-pw", Quota: "2K"})
	ctx := context.Background()
	h.mailbox("full@uni.example", func(m *directory.NewMailbox) { m.QuotaBytes = 1024 })

	rcpt := func(from string, size int64, to string) error {
		t.Helper()
		c := h.dial(h.mx)
		if err := c.Mail(from, &smtp.MailOptions{Size: size}); err != nil {
			t.Fatal(err)
		}
		return c.Rcpt(to, nil)
	}
	wantCode(t, rcpt("s@else.example", 100, "alice@"+backendDomain), 250, "")
	wantCode(t, rcpt("s@else.example", 100, "nobody@"+backendDomain), 550, "5.1.1")
	// Over quota at Dovecot: 5000 bytes do not fit tiny's 2 KiB.
	wantCode(t, rcpt("s@else.example", 5000, "tiny@"+backendDomain), 452, "4.2.2")
	wantCode(t, rcpt("s@else.example", 100, "tiny@"+backendDomain), 250, "")
	// The embedded store's own quota rule still holds for store domains.
	wantCode(t, rcpt("s@else.example", 5000, "full@uni.example"), 452, "4.2.2")
	if v := h.metric(`postvakt_smtp_backend_checks_total{check="verify",result="unknown"}`); v != "1" {
		t.Fatalf("verify unknown = %q", v)
	}
	if v := h.metric(`postvakt_smtp_backend_checks_total{check="quota",result="over_quota"}`); v != "1" {
		t.Fatalf("quota over_quota = %q", v)
	}

	// A whole message to an unknown user is refused at the MX: nothing is
	// queued, no bounce is made.
	err := send(h.dial(h.mx), "s@else.example", []string{"nobody@" + backendDomain}, msg("to nobody"))
	wantCode(t, err, 550, "5.1.1")
	if n, _ := r.RunOnce(ctx); n != 0 {
		t.Fatalf("%d queue entries for a refused recipient", n)
	}

	// Dovecot down: a recipient known from a moment ago is answered from
	// the cache, but its quota cannot be asked: 451 4.4.0; an unknown one
	// from the negative cache stays 550.
	dv.Stop()
	wantCode(t, rcpt("s@else.example", 100, "alice@"+backendDomain), 451, "4.4.0")
	wantCode(t, rcpt("s@else.example", 100, "nobody@"+backendDomain), 550, "5.1.1")
	wantCode(t, rcpt("s@else.example", 100, "new@"+backendDomain), 451, "4.4.0")
	if v := h.metric(`postvakt_smtp_backend_checks_total{check="verify",result="cached_exists"}`); v == "0" || v == "" {
		t.Fatalf("cached_exists = %q", v)
	}
	if v := h.metric(`postvakt_smtp_rejects_total{listener="mx",reason="backend_unavailable"}`); v != "2" {
		t.Fatalf("backend_unavailable rejects = %q", v)
	}
}

// TestEngineAuthThroughDovecot: with smtp.auth.backend dovecot, submission
// AUTH asks a real Dovecot's auth service. A user only Dovecot knows
// signs in (235) and sends as its login name only; a wrong password is
// 535. The directory's password hash is never consulted: a mailbox with
// the same address and another password in postvakt's store cannot sign
// in with that password, and signs in with Dovecot's, keeping its
// nickname for sender-login enforcement. The AUTH rate limit still holds.
func TestEngineAuthThroughDovecot(t *testing.T) {
	t.Parallel()
	h, _, _, _ := startBackendEngine(t, func(c *engine.Config, dv *dovecottest.Dovecot) {
		c.Auth.Backend = engine.AuthDovecot
		c.Auth.DovecotSocket = "unix:" + dv.AuthSocket
		c.Auth.MaxConcurrent = 2
		c.Limits.AuthClientFailures = 4
	},
		dovecottest.User{Name: "sso@" + backendDomain, Password: "sso-secret"},
		dovecottest.User{Name: "ola@uni.example", Password: "dovecot-pw"})
	// ola has a mailbox (and nickname) in postvakt's own directory, with a
	// different password there.
	h.mailbox("ola@uni.example", func(m *directory.NewMailbox) { m.Password = "store-pw"; m.Nickname = "ola.nordmann@uni.example" })

	c := h.dialTLS(h.sub)
	if err := c.Auth(plainAuth("sso@"+backendDomain, "sso-secret")); err != nil {
		t.Fatalf("AUTH as a Dovecot-only user: %v", err)
	}
	wantCode(t, send(c, "sso@"+backendDomain, []string{"x@else.example"}, msg("sso out")), 250, "")
	wantCode(t, send(c, "ola@uni.example", []string{"x@else.example"}, msg("spoof")), 553, "5.7.1")

	wantCode(t, h.dialTLS(h.sub).Auth(plainAuth("sso@"+backendDomain, "wrong")), 535, "5.7.8")
	// The store's password does not open ola's account; Dovecot's does.
	wantCode(t, h.dialTLS(h.sub).Auth(plainAuth("ola@uni.example", "store-pw")), 535, "5.7.8")
	c = h.dialTLS(h.sub)
	if err := c.Auth(plainAuth("ola@uni.example", "dovecot-pw")); err != nil {
		t.Fatalf("AUTH with Dovecot's password: %v", err)
	}
	wantCode(t, send(c, "ola.nordmann@uni.example", []string{"x@else.example"}, msg("nick out")), 250, "")

	if v := h.metric(`postvakt_smtp_dovecot_auth_total{result="ok"}`); v != "2" {
		t.Fatalf("dovecot auth ok = %q", v)
	}
	if v := h.metric(`postvakt_smtp_dovecot_auth_total{result="fail"}`); v != "2" {
		t.Fatalf("dovecot auth fail = %q", v)
	}
	// Two more failures reach auth_client_failures (4): the next AUTH is
	// refused before Dovecot is asked, even with the right password.
	for range 2 {
		wantCode(t, h.dialTLS(h.sub).Auth(plainAuth("sso@"+backendDomain, "guess")), 535, "5.7.8")
	}
	wantCode(t, h.dialTLS(h.sub).Auth(plainAuth("sso@"+backendDomain, "sso-secret")), 454, "4.7.0")
	if v := h.metric(`postvakt_smtp_dovecot_auth_total{result="fail"}`); v != "4" {
		t.Fatalf("dovecot asked %q times for failures, want 4 (not for the rate-limited one)", v)
	}
}

// TestEngineBackendWithDirectory: the directory's entries still apply to a
// back-end domain. A list expands to a back-end user (delivered), a member
// unknown at the back end (skipped at RCPT, no bounce) and a store mailbox;
// a nickname in the directory is delivered to its mailbox's permanent
// address at the back end.
func TestEngineBackendWithDirectory(t *testing.T) {
	t.Parallel()
	h, dv, r, _ := startBackendEngine(t, nil,
		dovecottest.User{Name: "alice@" + backendDomain, Password: "a"},
		dovecottest.User{Name: "dave@" + backendDomain, Password: "d"})
	ctx := context.Background()
	carol := h.mailbox("carol@uni.example", nil)
	h.mailbox("dave@"+backendDomain, func(m *directory.NewMailbox) { m.Nickname = "d.nick@" + backendDomain })
	if err := h.dir.AddAlias(ctx, "team@uni.example", directory.KindList, []string{"alice@" + backendDomain, "gone@" + backendDomain, "carol@uni.example"}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"team@uni.example"}, msg("to the team")), 250, "")
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"d.nick@" + backendDomain}, msg("to the nickname")), 250, "")
	if n, err := r.RunOnce(ctx); n != 2 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want alice and dave (gone was skipped at RCPT)", n, err)
	}
	if got := dv.Maildir("alice@" + backendDomain); len(got) != 1 || !bytes.Contains(got[0], []byte("Subject: to the team")) {
		t.Fatalf("alice: %d messages", len(got))
	}
	if got := dv.Maildir("dave@" + backendDomain); len(got) != 1 || !bytes.Contains(got[0], []byte("Subject: to the nickname")) {
		t.Fatalf("dave: %d messages", len(got))
	}
	if sm, _ := h.st.MailMessages(ctx, carol.ID); len(sm) != 1 {
		t.Fatalf("carol (store): %d messages", len(sm))
	}
	if es, _ := h.st.QueueList(ctx, queue.Filter{}); len(es) != 0 {
		t.Fatalf("left in the queue (a bounce?): %+v", es)
	}

	// A big list: at most 20 members are asked while the client waits;
	// the rest are queued unverified (the queue bounces what Dovecot
	// refuses).
	var members []string
	for i := range 25 {
		members = append(members, fmt.Sprintf("x%d@%s", i, backendDomain))
	}
	if err := h.dir.AddAlias(ctx, "big@uni.example", directory.KindList, members); err != nil {
		t.Fatal(err)
	}
	before := h.metric(`postvakt_smtp_backend_checks_total{check="verify",result="unknown"}`)
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"big@uni.example"}, msg("to the big list")), 250, "")
	if after := h.metric(`postvakt_smtp_backend_checks_total{check="verify",result="unknown"}`); before != "1" || after != "21" {
		t.Fatalf("unknown answers %s → %s, want 1 → 21 (20 members asked)", before, after)
	}
	if es, _ := h.st.QueueList(ctx, queue.Filter{}); len(es) != 5 {
		t.Fatalf("%d queued unverified, want 5", len(es))
	}
}

// TestEngineVerifiesAtSMTPBackend: recipients of a domain delivered to an
// internal SMTP server (smtp:host:port, a real go-smtp server on
// loopback) are asked at RCPT with EHLO, MAIL FROM:<>, RCPT TO: a user
// the server refuses (5.1.1) is 550 at the MX and never queued; a refusal
// that says nothing of the mailbox (5.7.1, relaying denied) is a
// temporary 451 4.4.0, not a 550; a known user is accepted, cached, and
// its message delivered to the server by the queue.
func TestEngineVerifiesAtSMTPBackend(t *testing.T) {
	t.Parallel()
	hop := startNextHop(t)
	hop.rcptFail["nobody@"+backendDomain] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
	hop.rcptFail["denied@"+backendDomain] = &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Relay access denied"}
	hop.rcptFail["old@"+backendDomain] = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.NoEnhancedCode, Message: "unknown"}
	db := storagetest.Open(t, storage.SQLite)
	var cfg engine.Config
	h := startEngine(t, db, func(c *engine.Config) {
		c.Greylist.Enabled = false
		c.Directory.Delivery = map[string]string{backendDomain: "smtp:" + hop.addr}
		c.Backend.Timeout = 5 * time.Second
		cfg = *c
	}, nil)
	if err := engine.ApplyDirectoryConfig(context.Background(), cfg, h.dir); err != nil {
		t.Fatal(err)
	}
	rcpt := func(to string) error {
		t.Helper()
		c := h.dial(h.mx)
		defer c.Close()
		if err := c.Mail("s@else.example", nil); err != nil {
			t.Fatal(err)
		}
		return c.Rcpt(to, nil)
	}
	wantCode(t, rcpt("nobody@"+backendDomain), 550, "5.1.1")
	wantCode(t, rcpt("old@"+backendDomain), 550, "5.1.1")
	wantCode(t, rcpt("denied@"+backendDomain), 451, "4.4.0")
	wantCode(t, rcpt("alice@"+backendDomain), 250, "")
	conns := hop.conns.Load()
	wantCode(t, rcpt("alice@"+backendDomain), 250, "")
	if hop.conns.Load() != conns {
		t.Errorf("a known recipient asked again within the cache's time")
	}
	for series, want := range map[string]string{
		`postvakt_smtp_backend_checks_total{check="verify",result="unknown"}`:       "2",
		`postvakt_smtp_backend_checks_total{check="verify",result="unavailable"}`:   "1",
		`postvakt_smtp_backend_checks_total{check="verify",result="exists"}`:        "1",
		`postvakt_smtp_backend_checks_total{check="verify",result="cached_exists"}`: "1",
	} {
		if v := h.metric(series); v != want {
			t.Errorf("%s = %q, want %s", series, v, want)
		}
	}

	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"nobody@" + backendDomain}, msg("to nobody")), 550, "5.1.1")
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"alice@" + backendDomain}, msg("to alice")), 250, "")
	rc := queue.Default()
	rc.Enabled, rc.Hostname = true, "mx.uni.example"
	rc.TLS.Level = queue.TLSNone
	rc.Timeout = 10 * time.Second
	r, err := queue.New(queue.Options{Config: rc, Store: h.st, Node: "n1", Clock: h.clock.Now,
		Backends: cfg.Directory.Backends(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v (only alice's message is queued)", n, err)
	}
	got := hop.messages()
	if len(got) != 1 || got[0].to != "alice@"+backendDomain {
		t.Fatalf("the back end got %+v", got)
	}
}

// TestSwaksThroughMXToDovecot: the acceptance path as a postmaster tries
// it: swaks (Debian's package, a client other than ours) sends to the MX,
// the message goes on to a real Dovecot over LMTP and its user fetches it
// over IMAP; swaks to a user Dovecot does not know is refused at RCPT with
// 550, and nothing is queued.
func TestSwaksThroughMXToDovecot(t *testing.T) {
	t.Parallel()
	swaks, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("swaks is not installed (.ci/run installs it)")
		}
		t.Skip("swaks not installed")
	}
	h, dv, r, _ := startBackendEngine(t, nil, dovecottest.User{Name: "alice@" + backendDomain, Password: "alice-pw"})
	ctx := context.Background()
	run := func(to, subject string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, swaks, "--server", h.mx, "--helo", "client.example.org",
			"--from", "s@else.example", "--to", to, "--header", "Subject: "+subject,
			"--body", "Sent with swaks.", "--timeout", "20").CombinedOutput()
		return string(out), err
	}
	out, err := run("alice@"+backendDomain, "swaks to alice")
	if err != nil || !strings.Contains(out, "<-  250") {
		t.Fatalf("swaks to alice: %v\n%s", err, out)
	}
	if n, err := r.RunOnce(ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want the one back-end recipient", n, err)
	}
	msgs, err := dv.FetchIMAP("alice@"+backendDomain, "alice-pw")
	if err != nil || len(msgs) != 1 || !bytes.Contains(msgs[0], []byte("Subject: swaks to alice")) || !bytes.Contains(msgs[0], []byte("Sent with swaks.")) {
		t.Fatalf("alice over IMAP: %v, %q\n%s", err, msgs, dv.Log())
	}
	out, err = run("nobody@"+backendDomain, "swaks to nobody")
	if err == nil || !strings.Contains(out, "<** 550 5.1.1") {
		t.Fatalf("swaks to an unknown user: %v, want a 550 5.1.1 at RCPT:\n%s", err, out)
	}
	if n, _ := r.RunOnce(ctx); n != 0 {
		t.Fatalf("%d queue entries for a refused recipient", n)
	}
}
