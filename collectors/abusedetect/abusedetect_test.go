package abusedetect

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/config/validate"
)

type collected struct{ alerts []Alert }

func (c *collected) Alert(_ context.Context, a Alert) error {
	c.alerts = append(c.alerts, a)
	return nil
}

func (c *collected) of(k Kind) []Alert {
	var out []Alert
	for _, a := range c.alerts {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}

func newDetector(t *testing.T, cfg Config) (*Detector, *collected, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	c := &collected{}
	d, err := New(Options{Config: cfg, Sink: c, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	return d, c, reg
}

var t0 = time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)

// feed frames and parses log lines (RFC 3339 stamps) and observes them.
func feed(t *testing.T, d *Detector, lines ...string) {
	t.Helper()
	fr := logparse.NewFramer(t0, time.UTC)
	for _, l := range lines {
		ev, err := logparse.ParseLine(fr, l)
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		d.Observe(context.Background(), ev)
	}
}

func at(d time.Duration) string { return t0.Add(d).Format("2006-01-02T15:04:05.000000Z07:00") }

func saslFail(d time.Duration, ip, user string) string {
	return fmt.Sprintf("%s mx postfix/submission/smtpd[100]: warning: unknown[%s]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=%s", at(d), ip, user)
}

func imapFail(d time.Duration, ip, user, session string) string {
	return fmt.Sprintf("%s imap dovecot: auth: passwd-file(%s,%s,<%s>): Password mismatch", at(d), user, ip, session)
}

func imapLogin(d time.Duration, ip, user, session string) string {
	return fmt.Sprintf("%s imap dovecot: imap-login: Login: user=<%s>, method=PLAIN, rip=%s, lip=192.0.2.1, mpid=1, session=<%s>", at(d), user, ip, session)
}

func submit(d time.Duration, pid int, qid, ip, user string) string {
	return fmt.Sprintf("%s mx postfix/submission/smtpd[%d]: %s: client=unknown[%s], sasl_method=PLAIN, sasl_username=%s", at(d), pid, qid, ip, user)
}

func qmgr(d time.Duration, qid, from string, n int) string {
	return fmt.Sprintf("%s mx postfix/qmgr[9]: %s: from=<%s>, size=1000, nrcpt=%d (queue active)", at(d), qid, from, n)
}

// TestThresholdsAreMinimums: a per-address guessing run of exactly the
// threshold (20) is found; one failure fewer is not.
func TestThresholdsAreMinimums(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	for _, n := range []int{cfg.AuthFailuresPerIP - 1, cfg.AuthFailuresPerIP} {
		d, c, _ := newDetector(t, cfg)
		var lines []string
		for i := range n {
			lines = append(lines, saslFail(time.Duration(i)*time.Second, "198.51.100.7", fmt.Sprintf("user%d", i)))
		}
		feed(t, d, lines...)
		got := c.of(KindGuessingAddress)
		if n < cfg.AuthFailuresPerIP {
			if len(got) != 0 {
				t.Errorf("%d failures: %+v", n, got)
			}
			continue
		}
		if len(got) != 1 || got[0].Subject != "198.51.100.7" || got[0].Count != n || got[0].Threshold != n ||
			got[0].Runbook != RunbookBruteForce || len(got[0].Evidence) == 0 || !strings.Contains(got[0].Evidence[0], "SASL LOGIN authentication failed") {
			t.Fatalf("%d failures: %+v", n, got)
		}
		if !strings.Contains(got[0].Summary, "user0") {
			t.Errorf("summary names no account tried: %q", got[0].Summary)
		}
	}
}

// TestPlaceholderIsNoAccount: Postfix's sasl_username=(unavailable) and
// the other placeholders are not one account that fails many times.
func TestPlaceholderIsNoAccount(t *testing.T) {
	t.Parallel()
	d, c, _ := newDetector(t, DefaultConfig())
	var lines []string
	for i := range 11 {
		user := []string{"(unavailable)", "unknown", ""}[i%3]
		lines = append(lines, saslFail(time.Duration(i)*time.Second, fmt.Sprintf("198.51.100.%d", i+1), user))
	}
	feed(t, d, lines...)
	if len(c.alerts) != 0 {
		t.Fatalf("findings for placeholders: %+v", c.alerts)
	}
}

// TestGuessedPasswordFound: failed logins for an account from new
// addresses over IMAP, then a success from one of them: the account and
// the addresses are named, with the lines as evidence.
func TestGuessedPasswordFound(t *testing.T) {
	t.Parallel()
	d, c, reg := newDetector(t, DefaultConfig())
	var lines []string
	for i := range 6 {
		lines = append(lines, imapFail(time.Duration(i)*5*time.Second, fmt.Sprintf("203.0.113.%d", 21+i%3), "rita@uni.example", fmt.Sprintf("s%d", i%3)))
	}
	lines = append(lines, imapLogin(40*time.Second, "203.0.113.22", "rita@uni.example", "s9"))
	feed(t, d, lines...)
	got := c.of(KindLoginAfterFailures)
	if len(got) != 1 {
		t.Fatalf("findings %+v", c.alerts)
	}
	a := got[0]
	if a.Account != "rita@uni.example" || a.Subject != a.Account || a.Severity != SeverityCritical || a.Runbook != RunbookCompromise ||
		a.Count != 6 || a.Addresses[0] != "203.0.113.22" || len(a.Addresses) != 3 || !a.At.Equal(t0.Add(40*time.Second)) {
		t.Fatalf("finding %+v", a)
	}
	if last := a.Evidence[len(a.Evidence)-1]; !strings.Contains(last, "imap-login: Login: user=<rita@uni.example>") {
		t.Errorf("the login is not the last evidence: %q", a.Evidence)
	}
	if testutil.ToFloat64(d.alerts.WithLabelValues(string(KindLoginAfterFailures))) != 1 {
		t.Error("metric not counted")
	}
	if n, err := testutil.GatherAndCount(reg, "postvakt_collector_abuse_alerts_total"); err != nil || n != len(Kinds()) {
		t.Errorf("series %d %v", n, err)
	}
}

// TestTyposStayQuiet: a person who mistypes twice and logs in raises
// nothing, nor does a login from a known address after failures.
func TestTyposStayQuiet(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	feed(t, d,
		imapFail(0, "192.0.2.10", "bob@uni.example", "a"),
		imapFail(3*time.Second, "192.0.2.10", "bob@uni.example", "a"),
		imapLogin(6*time.Second, "192.0.2.10", "bob@uni.example", "a"),
		saslFail(10*time.Second, "192.0.2.10", "bob@uni.example"),
		submit(12*time.Second, 5, "AAAAA11111", "192.0.2.10", "bob@uni.example"),
		qmgr(12*time.Second, "AAAAA11111", "bob@uni.example", 3),
	)
	if len(c.alerts) != 0 {
		t.Fatalf("findings for typos: %+v", c.alerts)
	}
	// the address is known a day later; five more typos there, then a
	// login: no guessed password
	for i := range cfg.FailuresBeforeLogin {
		feed(t, d, imapFail(25*time.Hour+time.Duration(i)*time.Second, "192.0.2.10", "bob@uni.example", "b"))
	}
	feed(t, d, imapLogin(25*time.Hour+time.Minute, "192.0.2.10", "bob@uni.example", "b"))
	if len(c.alerts) != 0 {
		t.Fatalf("findings for a known address: %+v", c.alerts)
	}
}

// TestSubmissionBurstFromNewAddress: a phished account sends from a new
// address; the rate limit refuses most of it: the burst, the new address
// and the rate-limit rejects are found, each naming the account.
func TestSubmissionBurstFromNewAddress(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	var lines []string
	for i := range 40 {
		qid := fmt.Sprintf("B%04dCA6AC", i)
		pid := 200 + i/5
		lines = append(lines, submit(time.Duration(i)*time.Second, pid, qid, "203.0.113.50", "rita@uni.example"),
			qmgr(time.Duration(i)*time.Second, qid, "rita@uni.example", 2))
		if i%5 == 4 {
			for j := range 3 {
				lines = append(lines, fmt.Sprintf("%s mx postfix/submission/smtpd[%d]: warning: Message delivery request rate limit exceeded: %d from unknown[203.0.113.50] for service submission",
					at(time.Duration(i)*time.Second+time.Millisecond), pid, 40+j))
			}
		}
	}
	feed(t, d, lines...)
	for _, k := range []Kind{KindNewAddressSubmissions, KindSubmissionBurst, KindPolicyRejects} {
		got := c.of(k)
		if len(got) != 1 || got[0].Account != "rita@uni.example" || !slices.Contains(got[0].Addresses, "203.0.113.50") {
			t.Errorf("%s: %+v", k, got)
		}
	}
	if got := c.of(KindNewAddressSubmissions); len(got) == 1 && got[0].Count != cfg.MessagesPerNewAddress {
		t.Errorf("new address at %d messages, want %d", got[0].Count, cfg.MessagesPerNewAddress)
	}
	// 40 messages and 24 refused: the burst counts the attempts
	if got := c.of(KindSubmissionBurst); len(got) == 1 && got[0].Count != cfg.MessagesPerAccount {
		t.Errorf("burst at %d, want %d", got[0].Count, cfg.MessagesPerAccount)
	}
}

// TestPolicyRejectsUnauthenticated: rejects by a policy service's rate
// limit from an address that did not authenticate are counted for the
// address; greylisting is no policy reject.
func TestPolicyRejectsUnauthenticated(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	var lines []string
	for i := range cfg.PolicyRejects {
		lines = append(lines,
			fmt.Sprintf("%s mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[198.51.100.9]: 450 4.7.1 <u%d@uni.example>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/; from=<a@b.example> to=<u%d@uni.example> proto=ESMTP helo=<x>", at(time.Duration(i)*time.Second), i, i),
			fmt.Sprintf("%s mx postfix/smtpd[7]: NOQUEUE: reject: RCPT from unknown[198.51.100.9]: 450 4.7.1 <u%d@uni.example>: Recipient address rejected: Rate limit exceeded; from=<a@b.example> to=<u%d@uni.example> proto=ESMTP helo=<x>", at(time.Duration(i)*time.Second), i, i))
	}
	feed(t, d, lines...)
	got := c.of(KindPolicyRejects)
	if len(got) != 1 || got[0].Subject != "198.51.100.9" || got[0].Account != "" || got[0].Count != cfg.PolicyRejects || got[0].Runbook != RunbookSpamBurst {
		t.Fatalf("%+v", c.alerts)
	}
}

// TestMassMailing: a message to 21 recipients by an account is a mass
// mailing, unless the MTA held it (the routine) or the sender is approved;
// mail from outside to many users is not ours to report.
func TestMassMailing(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.MassMailingSenders = []string{"news.office@uni.example"}
	d, c, _ := newDetector(t, cfg)
	feed(t, d,
		submit(0, 1, "C0001CA6AC", "192.0.2.5", "teacher@uni.example"), qmgr(time.Second, "C0001CA6AC", "teacher@uni.example", 20),
		submit(2*time.Second, 1, "C0002CA6AC", "192.0.2.5", "teacher@uni.example"), qmgr(3*time.Second, "C0002CA6AC", "teacher@uni.example", 21),
		submit(4*time.Second, 2, "C0003CA6AC", "192.0.2.6", "news.office@uni.example"), qmgr(5*time.Second, "C0003CA6AC", "news.office@uni.example", 300),
		submit(6*time.Second, 3, "C0004CA6AC", "192.0.2.7", "club@uni.example"),
		at(7*time.Second)+" mx postfix/cleanup[4]: C0004CA6AC: hold: header Precedence: bulk from unknown[192.0.2.7]; from=<club@uni.example> to=<a@x.example> proto=ESMTP helo=<pc>: held for review",
		qmgr(100*time.Second, "C0004CA6AC", "club@uni.example", 40),
		at(8*time.Second)+" mx postfix/smtpd[9]: D0005CA6AC: client=out.newsletter.example[198.51.100.3]", qmgr(9*time.Second, "D0005CA6AC", "news@newsletter.example", 60),
	)
	got := c.of(KindMassMailing)
	if len(got) != 1 || got[0].Account != "teacher@uni.example" || got[0].Count != 21 || got[0].Severity != SeverityInfo {
		t.Fatalf("%+v", c.alerts)
	}
}

// TestManyAddresses: one account logging in from six addresses within the
// window.
func TestManyAddresses(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	for i := range cfg.AddressesPerUser {
		feed(t, d, imapLogin(time.Duration(i)*time.Minute, fmt.Sprintf("198.51.100.%d", i+1), "roam@uni.example", fmt.Sprint(i)))
	}
	got := c.of(KindLoginManyAddresses)
	if len(got) != 1 || got[0].Count != cfg.AddressesPerUser || len(got[0].Addresses) != cfg.AddressesPerUser {
		t.Fatalf("%+v", c.alerts)
	}
}

// TestTypedEvents: the engine's own events (Login, Message) go through the
// same rules.
func TestTypedEvents(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	ctx := context.Background()
	for i := range cfg.AuthFailuresPerUser {
		d.Login(ctx, Login{At: t0.Add(time.Duration(i) * time.Second), Node: "mx", Service: "submission", User: "eve@uni.example", IP: fmt.Sprintf("198.51.100.%d", i)})
	}
	d.Message(ctx, Message{At: t0, Node: "mx", User: "teacher@uni.example", MessageID: "course", Recipients: cfg.RecipientsPerMessage})
	if len(c.of(KindGuessingAccount)) != 1 || len(c.of(KindMassMailing)) != 1 {
		t.Fatalf("%+v", c.alerts)
	}
	if ev := c.of(KindGuessingAccount)[0].Evidence; len(ev) == 0 || !strings.Contains(ev[0], "eve@uni.example") {
		t.Errorf("evidence %q", ev)
	}
}

// memHistory is a History in memory (the store's own tests run the SQL on
// SQLite and PostgreSQL).
type memHistory struct {
	m    map[[2]string]KnownAddress
	fail bool
}

func (h *memHistory) LoadKnownAddresses(context.Context) ([]KnownAddress, error) {
	var out []KnownAddress
	for _, a := range h.m {
		out = append(out, a)
	}
	return out, nil
}

func (h *memHistory) SaveKnownAddresses(_ context.Context, addrs []KnownAddress) error {
	if h.fail {
		return errors.New("disk full")
	}
	for _, a := range addrs {
		k := [2]string{a.Account, a.Address}
		if o, ok := h.m[k]; ok {
			if o.FirstSeen.Before(a.FirstSeen) {
				a.FirstSeen = o.FirstSeen
			}
			if o.LastSeen.After(a.LastSeen) {
				a.LastSeen = o.LastSeen
			}
		}
		h.m[k] = a
	}
	return nil
}

func (h *memHistory) ForgetKnownAddresses(_ context.Context, before time.Time) (int64, error) {
	n := int64(0)
	for k, a := range h.m {
		if a.LastSeen.Before(before) {
			delete(h.m, k)
			n++
		}
	}
	return n, nil
}

// TestHistoryShared: what one run learned is known to the next (an import,
// then the service): a day later the address is no longer new.
func TestHistoryShared(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := &memHistory{m: map[[2]string]KnownAddress{}}
	cfg := DefaultConfig()
	d1, _, _ := newDetectorWith(t, cfg, h)
	feed(t, d1, imapLogin(0, "192.0.2.10", "bob@uni.example", "a"))
	if err := d1.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if len(h.m) != 1 {
		t.Fatalf("saved %v", h.m)
	}
	// the next run: the owner's client fails five times at the known
	// address and gets in (no finding); a guesser fails five times from a
	// new one and gets in (a finding). Without the history both are new.
	for _, load := range []bool{true, false} {
		d2, c2, _ := newDetectorWith(t, cfg, h)
		if load {
			if err := d2.Load(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var lines []string
		for i := range cfg.FailuresBeforeLogin {
			lines = append(lines, imapFail(25*time.Hour+time.Duration(i)*time.Second, "192.0.2.10", "bob@uni.example", "a"))
		}
		lines = append(lines, imapLogin(25*time.Hour+time.Minute, "192.0.2.10", "bob@uni.example", "a"))
		for i := range cfg.FailuresBeforeLogin {
			lines = append(lines, imapFail(26*time.Hour+time.Duration(i)*time.Second, "198.51.100.1", "bob@uni.example", "b"))
		}
		lines = append(lines, imapLogin(26*time.Hour+time.Minute, "198.51.100.1", "bob@uni.example", "b"))
		feed(t, d2, lines...)
		got := c2.of(KindLoginAfterFailures)
		switch {
		case load && (len(got) != 1 || got[0].Addresses[0] != "198.51.100.1"):
			t.Fatalf("with the history: want one finding for the new address: %+v", c2.alerts)
		case !load && (len(got) != 2 || got[0].Addresses[0] != "192.0.2.10"):
			t.Fatalf("without the history: want the known address found too: %+v", c2.alerts)
		}
		if load {
			defer func() {
				h.fail = true
				if err := d2.Sync(ctx); err == nil {
					t.Error("no error from a failing history")
				}
				h.fail = false
				if err := d2.Sync(ctx); err != nil || len(h.m) != 2 {
					t.Errorf("retry: %v %v", err, h.m)
				}
			}()
		}
	}
}

func newDetectorWith(t *testing.T, cfg Config, h History) (*Detector, *collected, *prometheus.Registry) {
	t.Helper()
	c := &collected{}
	d, err := New(Options{Config: cfg, Sink: c, History: h})
	if err != nil {
		t.Fatal(err)
	}
	return d, c, nil
}

// TestKnownAddressesBounded: an account remembers at most KnownAddresses,
// forgetting the least recently seen, and forgets after the TTL.
func TestKnownAddressesBounded(t *testing.T) {
	t.Parallel()
	k := newKnownSet(3, 48*time.Hour)
	for i := range 4 {
		k.seen("a", fmt.Sprintf("ip%d", i), t0.Add(time.Duration(i)*time.Hour))
	}
	if len(k.m["a"]) != 3 || k.m["a"]["ip0"] != nil {
		t.Fatalf("kept %v", k.m["a"])
	}
	if !k.known("a", "ip1", t0.Add(30*time.Hour), 24*time.Hour) || k.known("a", "ip3", t0.Add(4*time.Hour), 24*time.Hour) {
		t.Error("known")
	}
	k.expire(t0.Add(100 * time.Hour))
	if len(k.m) != 0 {
		t.Errorf("not expired: %v", k.m)
	}
}

// TestQuietReplay: events read again after a restart build state without
// raising findings a second time.
func TestQuietReplay(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	d.SetQuiet(true)
	for i := range cfg.AuthFailuresPerUser - 1 {
		feed(t, d, imapFail(time.Duration(i)*time.Second, "198.51.100.1", "eve@uni.example", "s"))
	}
	d.SetQuiet(false)
	feed(t, d, imapFail(time.Minute, "198.51.100.1", "eve@uni.example", "s"))
	if len(c.of(KindGuessingAccount)) != 1 {
		t.Fatalf("%+v", c.alerts)
	}
}

func TestDisabled(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	cfg.Enabled = false
	d, c, _ := newDetector(t, cfg)
	for i := range 100 {
		feed(t, d, saslFail(time.Duration(i)*time.Second, "198.51.100.7", "x"))
	}
	if len(c.alerts) != 0 {
		t.Fatal(c.alerts)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Window = 0
	cfg.AuthFailuresPerIP = 0
	cfg.MassMailingSenders = []string{"(unavailable)"}
	err := cfg.Validate()
	var ve *validate.Error
	if !errors.As(err, &ve) || !errors.Is(err, validate.ErrInvalid) {
		t.Fatalf("%v", err)
	}
	for _, k := range []string{"window", "auth_failures_per_ip", "mass_mailing_senders[0]"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("%s not named: %v", k, err)
		}
	}
}

func TestSinkErrorReported(t *testing.T) {
	t.Parallel()
	var got error
	cfg := DefaultConfig()
	d, err := New(Options{Config: cfg, Sink: AlertSinkFunc(func(context.Context, Alert) error { return errors.New("pager down") }),
		OnError: func(err error) { got = err }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d.Message(ctx, Message{At: t0, Node: "mx", User: "a@uni.example", MessageID: "m", Recipients: cfg.RecipientsPerMessage})
	if got == nil || !strings.Contains(got.Error(), "pager down") {
		t.Fatalf("error %v", got)
	}
}

// TestSetConfig: thresholds changed by a reload apply to the next events.
func TestSetConfig(t *testing.T) {
	t.Parallel()
	cfg := DefaultConfig()
	d, c, _ := newDetector(t, cfg)
	ctx := context.Background()
	lower := cfg
	lower.AuthFailuresPerIP = 3
	d.SetConfig(lower)
	for i := range 4 {
		d.Login(ctx, Login{At: t0.Add(time.Duration(i) * time.Second), Node: "mx", User: "u", IP: "192.0.2.9", OK: false})
	}
	if len(c.alerts) != 1 || c.alerts[0].Threshold != 3 {
		t.Fatalf("after lowering the threshold to 3, 4 failures: %+v", c.alerts)
	}
	off := cfg
	off.Enabled = false
	d.SetConfig(off)
	for i := range 100 {
		d.Login(ctx, Login{At: t0.Add(time.Hour + time.Duration(i)*time.Second), Node: "mx", User: "u", IP: "192.0.2.10", OK: false})
	}
	if len(c.alerts) != 1 {
		t.Fatalf("alerts after detection was turned off: %+v", c.alerts)
	}
}

func TestPolicyReasonAndDistinct(t *testing.T) {
	for _, c := range []struct {
		s    string
		want bool
	}{
		{"450 4.7.1 Error: too much mail from 127.0.0.1", true},
		{"Rate Limit Exceeded", true},
		{"RATELIMIT", true},
		{"rate limi", false},
		{"", false},
		{"Policy Rejection", true},
		{"Greylisted by policy", false},
		{strings.Repeat("x", 600) + " Rate limit exceeded", true},
		{strings.Repeat("x", 600), false},
		{"@THROTTLED[", true},
		{"NOT OWNED BY USER", true},
		{"GREYLIST: too many", false},
		{"r\xc3\xa4te limit", false},
		{"Recipient address rejected: Greylisted, see http://postgrey.example/; rate limit", false},
		{"reylisted: rate limit", true}, // no g before: not greylisting
		{"Xreylist, greylisted", false}, // the second one
		{"xreylist GREYLISTED policy", false},
		{"GreYlisted: too many", false},
	} {
		if got := policyReason(c.s); got != c.want {
			t.Errorf("policyReason(%.40q) = %v", c.s, got)
		}
	}
	// the table lowers A–Z only
	for c := range 256 {
		want := byte(c)
		if 'A' <= c && c <= 'Z' {
			want = byte(c) + 'a' - 'A'
		}
		if lowerASCII[c] != want {
			t.Errorf("lowerASCII[%#x] = %#x", c, lowerASCII[c])
		}
	}
	// the count is the same below and above the 16 kept without a map
	for _, n := range []int{0, 1, 15, 16, 17, 40} {
		w := &window{}
		for i := range 3 * n {
			w.addrs = append(w.addrs, fmt.Sprintf("127.0.0.%d", i%max(n, 1)), "")
		}
		want := n
		if got := w.distinct(); got != want {
			t.Errorf("%d addresses: distinct %d", n, got)
		}
	}
}

// TestPolicyReasonRandom: policyReason is the rule written out plainly
// (lower-cased, greylisting first) over random texts made of the words it
// looks for, cut and in either case.
func TestPolicyReasonRandom(t *testing.T) {
	plain := func(s string) bool {
		l := strings.ToLower(s)
		if strings.Contains(l, "greylist") {
			return false
		}
		for _, w := range []string{"rate limit", "ratelimit", "too much mail", "too many", "limit exceeded", "quota exceeded",
			"throttl", "not owned by user", "policy"} {
			if strings.Contains(l, w) {
				return true
			}
		}
		return false
	}
	pieces := []string{"g", "G", "re", "RE", "y", "Y", "list", "LIST", "greylist", "Greylisted", "gReylist", "rate limit", "Policy",
		"too many", " ", ": ", "x", "grey", "reylist"}
	rnd := rand.New(rand.NewPCG(5, 6))
	for range 50000 {
		var b strings.Builder
		for range rnd.IntN(8) {
			b.WriteString(pieces[rnd.IntN(len(pieces))])
		}
		if s := b.String(); policyReason(s) != plain(s) {
			t.Fatalf("policyReason(%q) = %v, want %v", s, policyReason(s), plain(s))
		}
	}
}
