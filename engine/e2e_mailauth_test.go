package engine_test

import (
	"bytes"
	"context"
	"crypto"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/mailauth"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/queue/postfixtest"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck/dnstest"
)

// writeKey generates a DKIM key of alg into a file of dir.
func writeKey(t *testing.T, dir, alg string) (string, crypto.Signer) {
	t.Helper()
	k, pemBytes, err := mailauth.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, alg+".pem")
	if err := os.WriteFile(f, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f, k
}

// debianPython is Debian's interpreter, the one python3-dkim installs
// into (a python3 earlier in PATH, such as pyenv's, does not see it).
const debianPython = "/usr/bin/python3"

// pyVerify verifies msg's DKIM signature with Debian's python3-dkim, its
// DNS answering the key records of keys (selector._domainkey.domain ->
// record) and nothing else.
func pyVerify(t *testing.T, msg []byte, keys map[string]string) {
	t.Helper()
	if err := exec.Command(debianPython, "-c", "import dkim").Run(); err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("python3-dkim required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (Debian package python3-dkim)")
		}
		t.Skip("python3-dkim not installed")
	}
	var recs []string
	for name, rec := range keys {
		recs = append(recs, fmt.Sprintf("%q: %q", name+".", rec))
	}
	script := `import dkim, sys
keys = {` + strings.Join(recs, ", ") + `}
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    if not n.endswith("."):
        n += "."
    return keys.get(n, "").encode()
sys.exit(0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc) else 1)`
	cmd := exec.Command(debianPython, "-c", script)
	cmd.Stdin = bytes.NewReader(msg)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("python3-dkim does not verify the signature: %v %s\n%s", err, out, msg)
	}
}

// TestEngineSubmissionRewritesNicknameAndSignsDKIM: mail submitted as a
// nickname of a domain in smtp.directory.rewrite_from leaves through the
// relay queue with the permanent address in MAIL FROM and From: (display
// name kept), DKIM-signed with the domain's key (RSA-2048 and Ed25519,
// checked by an independent verifier, python3-dkim); the original sender
// is in the trace.
func TestEngineSubmissionRewritesNicknameAndSignsDKIM(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		dir := t.TempDir()
		rsaFile, rsaKey := writeKey(t, dir, mailauth.AlgRSA)
		edFile, edKey := writeKey(t, dir, mailauth.AlgEd25519)
		h := startEngine(t, db, func(c *engine.Config) {
			c.TLS.Disabled, c.InsecureAuthLoopback = true, true
			c.Greylist.Enabled = false
			c.Directory.RewriteFrom = []string{"uni.example"}
			c.DKIM.Keys = []engine.DKIMKeyConfig{
				{Domain: "uni.example", Selector: "s2026", PrivateKeyFile: rsaFile},
				{Domain: "fak.example", Selector: "ed1", PrivateKeyFile: edFile},
			}
		}, nil)
		ctx := context.Background()
		if err := h.dir.AddDomain(ctx, "fak.example"); err != nil {
			t.Fatal(err)
		}
		h.mailbox("123456@uni.example", func(n *directory.NewMailbox) {
			n.Nickname, n.Password = "jan.novak@uni.example", "pw"
		})
		h.mailbox("777@fak.example", func(n *directory.NewMailbox) { n.Nickname, n.Password = "eva@fak.example", "pw" })
		rsaRec, _ := mailauth.TXTRecord(rsaKey)
		edRec, _ := mailauth.TXTRecord(edKey)
		keys := map[string]string{"s2026._domainkey.uni.example": rsaRec, "ed1._domainkey.fak.example": edRec}

		submit := func(user, from, header string) {
			t.Helper()
			c := h.dial(h.sub)
			if err := c.Auth(plainAuth(user, "pw")); err != nil {
				t.Fatal(err)
			}
			body := "From: " + header + "\r\nTo: <x@remote.example>\r\nSubject: Zkouska\r\nDate: Mon, 07 Dec 2026 10:00:00 +0100\r\n" +
				"Message-ID: <" + user + "@uni.example>\r\n\r\nDobry den.\r\n"
			if err := send(c, from, []string{"x@remote.example"}, body); err != nil {
				t.Fatal(err)
			}
		}
		submit("123456@uni.example", "jan.novak@uni.example", `"Jan Novak" <jan.novak@uni.example>`)
		// fak.example does not rewrite: the nickname stays, the mail is signed.
		submit("777@fak.example", "eva@fak.example", "Eva <eva@fak.example>")

		hop := startNextHop(t)
		r, err := queue.New(queue.Options{Config: relayConfig(hop.addr), Store: h.st, Node: "n1", Clock: time.Now})
		if err != nil {
			t.Fatal(err)
		}
		if n, err := r.RunOnce(ctx); err != nil || n != 2 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		got := hop.messages()
		if len(got) != 2 {
			t.Fatalf("next hop got %d messages", len(got))
		}
		byFrom := map[string]hopMsg{}
		for _, m := range got {
			byFrom[m.from] = m
		}
		jan, ok := byFrom["123456@uni.example"]
		if !ok {
			t.Fatalf("MAIL FROM not rewritten to the permanent address: %+v", got)
		}
		if !bytes.Contains(jan.body, []byte("From: \"Jan Novak\" <123456@uni.example>\r\n")) || bytes.Contains(jan.body, []byte("jan.novak@")) {
			t.Fatalf("From: not rewritten:\n%s", jan.body)
		}
		if !bytes.HasPrefix(jan.body, []byte("DKIM-Signature:")) || !bytes.Contains(jan.body, []byte("d=uni.example")) {
			t.Fatalf("not signed by uni.example:\n%s", jan.body)
		}
		eva, ok := byFrom["eva@fak.example"]
		if !ok || !bytes.Contains(eva.body, []byte("From: Eva <eva@fak.example>")) || !bytes.Contains(eva.body, []byte("a=ed25519-sha256")) {
			t.Fatalf("fak.example mail:\n%s", eva.body)
		}
		pyVerify(t, jan.body, keys)
		pyVerify(t, eva.body, keys)
		// A changed body no longer verifies: the verifier is not a rubber stamp.
		tampered := bytes.Replace(jan.body, []byte("Dobry den."), []byte("Dobry vecer."), 1)
		if err := exec.Command(debianPython, "-c", "import dkim").Run(); err == nil {
			cmd := exec.Command(debianPython, "-c", `import dkim,sys
rec = `+fmt.Sprintf("%q", rsaRec)+`
sys.exit(0 if dkim.verify(sys.stdin.buffer.read(), dnsfunc=lambda n, timeout=5: rec.encode()) else 1)`)
			cmd.Stdin = bytes.NewReader(tampered)
			if cmd.Run() == nil {
				t.Fatal("a tampered message verifies")
			}
		}

		var tx *event.Transaction
		for _, e := range h.events.all() {
			if x, ok := e.(*event.Transaction); ok && x.Session.AuthUser == "123456@uni.example" {
				tx = x
			}
		}
		if tx == nil || tx.MailFrom != "123456@uni.example" || !strings.Contains(tx.OriginalFrom, "jan.novak@uni.example") || tx.DKIMSigned != "uni.example" {
			t.Fatalf("trace: %+v", tx)
		}
		if v := h.metric(`postvakt_smtp_from_rewrites_total`); v != "1" {
			t.Fatalf("rewrites = %q", v)
		}
		if v := h.metric(`postvakt_smtp_dkim_sign_total{result="signed"}`); v != "2" {
			t.Fatalf("signed = %q", v)
		}
	})
}

// TestEngineMXChecksDMARC: on the MX, a forged sender of a domain with
// DMARC p=reject (SPF fails, no valid DKIM) is refused with 550 5.7.1 at
// the end of DATA; a sender whose SPF passes, and one whose DKIM
// signature verifies though SPF fails, are accepted with an
// Authentication-Results field listing spf, dkim and dmarc. All DNS comes
// from a local server.
func TestEngineMXChecksDMARC(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		_, key := writeKey(t, t.TempDir(), mailauth.AlgEd25519)
		rec, _ := mailauth.TXTRecord(key)
		dns := dnstest.Start(t,
			`forged.example. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"`,
			`_dmarc.forged.example. 300 IN TXT "v=DMARC1; p=reject; adkim=r; aspf=r"`,
			`good.example. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`,
			`_dmarc.good.example. 300 IN TXT "v=DMARC1; p=reject"`,
			`signed.example. 300 IN TXT "v=spf1 -all"`,
			`_dmarc.signed.example. 300 IN TXT "v=DMARC1; p=reject; sp=reject"`,
			`sel._domainkey.signed.example. 300 IN TXT "`+rec+`"`,
			`quar.example. 300 IN TXT "v=spf1 -all"`,
			`_dmarc.quar.example. 300 IN TXT "v=DMARC1; p=quarantine"`,
		)
		h := startEngine(t, db, func(c *engine.Config) {
			c.Greylist.Enabled = false
			c.DMARC.Check = true
			c.DNSBL.Resolver = dns.Addr
		}, nil)
		ctx := context.Background()
		anna := h.mailbox("anna@uni.example", nil)
		body := func(from, subj string) string {
			return "From: <" + from + ">\r\nTo: <anna@uni.example>\r\nSubject: " + subj + "\r\nDate: Mon, 07 Dec 2026 10:00:00 +0100\r\nMessage-ID: <" + subj + "@x>\r\n\r\nHello.\r\n"
		}

		wantCode(t, send(h.dial(h.mx), "ceo@forged.example", []string{"anna@uni.example"}, body("ceo@forged.example", "forged")), 550, "5.7.1")
		// A signature by an unrelated domain is no help.
		fake, err := mailauth.SignWith(strings.NewReader(body("ceo@forged.example", "forged2")), mailauth.Key{Domain: "signed.example", Selector: "sel", Signer: key})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, send(h.dial(h.mx), "ceo@forged.example", []string{"anna@uni.example"}, fake+body("ceo@forged.example", "forged2")), 550, "5.7.1")

		// Fields claiming to be this MX's are removed (RFC 8601 §5); others stay.
		forged := "Authentication-Results: MX.uni.example;\r\n\tdkim=pass header.d=bank.example\r\nAuthentication-Results: relay.other.example; spf=pass\r\n"
		wantCode(t, send(h.dial(h.mx), "news@good.example", []string{"anna@uni.example"}, forged+body("news@good.example", "good")), 250, "")
		sig, err := mailauth.SignWith(strings.NewReader(body("list@signed.example", "signed")), mailauth.Key{Domain: "signed.example", Selector: "sel", Signer: key})
		if err != nil {
			t.Fatal(err)
		}
		wantCode(t, send(h.dial(h.mx), "bounce@elsewhere.example", []string{"anna@uni.example"}, sig+body("list@signed.example", "signed")), 250, "")
		wantCode(t, send(h.dial(h.mx), "x@quar.example", []string{"anna@uni.example"}, body("x@quar.example", "quar")), 250, "")

		msgs, err := h.st.MailMessages(ctx, anna.ID)
		if err != nil || len(msgs) != 3 {
			t.Fatalf("stored %d messages, %v", len(msgs), err)
		}
		want := map[string][]string{
			"good":   {"spf=pass", "dkim=none", "dmarc=pass", "header.from=good.example", "smtp.mailfrom=news@good.example"},
			"signed": {"spf=none", "dkim=pass", "header.d=signed.example", "dmarc=pass"},
			"quar":   {"spf=fail", "dkim=none", "dmarc=fail", "X-Postvakt-DMARC: quarantine"},
		}
		for _, m := range msgs {
			b, err := h.st.MailBody(ctx, m.BodyHash)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(b, []byte("Authentication-Results: mx.uni.example;")) {
				t.Fatalf("no Authentication-Results at the top:\n%s", b)
			}
			subj := ""
			for _, s := range []string{"good", "signed", "quar"} {
				if bytes.Contains(b, []byte("Subject: "+s+"\r\n")) {
					subj = s
				}
			}
			for _, w := range want[subj] {
				if !bytes.Contains(b, []byte(w)) {
					t.Errorf("%s: %q missing:\n%s", subj, w, b)
				}
			}
			if subj == "good" && (bytes.Count(bytes.ToLower(b), []byte("authentication-results: mx.uni.example;")) != 1 || bytes.Contains(b, []byte("bank.example")) ||
				!bytes.Contains(b, []byte("Authentication-Results: relay.other.example; spf=pass"))) {
				t.Errorf("forged Authentication-Results not removed, or another's removed:\n%s", b)
			}
			delete(want, subj)
		}
		if len(want) != 0 {
			t.Fatalf("not stored: %v", want)
		}
		var refused *event.Transaction
		for _, e := range h.events.all() {
			if x, ok := e.(*event.Transaction); ok && x.Code == 550 {
				refused = x
			}
		}
		if refused == nil || refused.Reason != "dmarc_reject" || !strings.Contains(refused.AuthResults, "dmarc=fail") {
			t.Fatalf("trace of the refusal: %+v", refused)
		}
		for series, want := range map[string]string{
			`postvakt_smtp_dmarc_results_total{result="fail"}`: "3",
			`postvakt_smtp_dmarc_results_total{result="pass"}`: "2",
			// per method: forged, forged2, good, signed, quar
			`postvakt_smtp_mailauth_results_total{method="dmarc",result="fail"}`: "3",
			`postvakt_smtp_mailauth_results_total{method="spf",result="fail"}`:   "3",
			`postvakt_smtp_mailauth_results_total{method="spf",result="pass"}`:   "1",
			`postvakt_smtp_mailauth_results_total{method="spf",result="none"}`:   "1",
			// forged2's signature verifies but is another domain's
			`postvakt_smtp_mailauth_results_total{method="dkim",result="pass"}`: "2",
			`postvakt_smtp_mailauth_results_total{method="dkim",result="none"}`: "3",
		} {
			if v := h.metric(series); v != want {
				t.Errorf("%s = %q, want %s", series, v, want)
			}
		}
	})
}

// TestEngineDMARCQuarantine: with the content scanner's quarantine, mail
// failing DMARC under p=quarantine — and under p=reject when
// smtp.dmarc.enforce is off — is kept in the quarantine (with the MX's
// Authentication-Results) instead of the mailbox; mail that passes is
// delivered.
func TestEngineDMARCQuarantine(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		dns := dnstest.Start(t,
			`quar.example. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"`,
			`_dmarc.quar.example. 300 IN TXT "v=DMARC1; p=quarantine"`,
			`rej.example. 300 IN TXT "v=spf1 ip4:192.0.2.1 -all"`,
			`_dmarc.rej.example. 300 IN TXT "v=DMARC1; p=reject"`,
			`ok.example. 300 IN TXT "v=spf1 ip4:127.0.0.1 -all"`,
			`_dmarc.ok.example. 300 IN TXT "v=DMARC1; p=quarantine"`,
		)
		h, _ := startContentEngineWith(t, db, nil, nil, func(c *engine.Config) {
			c.DMARC.Check, c.DMARC.Enforce = true, false
			c.DNSBL.Resolver = dns.Addr
		})
		st := enginestore.New(db)
		ctx := context.Background()
		anna := h.mailbox("anna@uni.example", nil)
		for _, from := range []string{"x@quar.example", "x@rej.example", "x@ok.example"} {
			body := "From: <" + from + ">\r\nTo: <anna@uni.example>\r\nSubject: from " + from + "\r\nDate: Mon, 07 Dec 2026 10:00:00 +0100\r\nMessage-ID: <" + from + ">\r\n\r\nHello.\r\n"
			wantCode(t, send(h.dial(h.mx), from, []string{"anna@uni.example"}, body), 250, "")
		}
		items, err := st.QuarantineList(ctx, quarantine.Filter{Reason: quarantine.ReasonSpam})
		if err != nil || len(items) != 2 {
			t.Fatalf("quarantined %d, %v", len(items), err)
		}
		for _, it := range items {
			if !strings.Contains(it.Detail, "DMARC") || (it.MailFrom != "x@quar.example" && it.MailFrom != "x@rej.example") {
				t.Fatalf("quarantined %+v", it)
			}
		}
		msgs, err := st.MailMessages(ctx, anna.ID)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("delivered %d, %v", len(msgs), err)
		}
		b, _ := st.MailBody(ctx, msgs[0].BodyHash)
		if !bytes.Contains(b, []byte("dmarc=pass")) || !bytes.Contains(b, []byte("Subject: from x@ok.example")) {
			t.Fatalf("delivered:\n%s", b)
		}
	})
}

// TestEngineMXChecksDeadResolver: with a resolver that never answers, the
// MX's checks give up after smtp.dmarc.timeout: the message is accepted
// (a DNS failure is no evidence of forgery) with temperror results, and
// the end of DATA waits no longer than the bound.
func TestEngineMXChecksDeadResolver(t *testing.T) {
	t.Parallel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() { // reads every question and answers none
		buf := make([]byte, 4096)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	db := storagetest.Open(t, storage.SQLite)
	const bound = 800 * time.Millisecond
	h := startEngine(t, db, func(c *engine.Config) {
		c.Greylist.Enabled = false
		c.DMARC.Check, c.DMARC.Timeout = true, bound
		c.DNSBL.Resolver = pc.LocalAddr().String()
	}, nil)
	anna := h.mailbox("anna@uni.example", nil)
	body := "From: <ceo@bank.example>\r\nTo: <anna@uni.example>\r\nSubject: slow dns\r\n\r\nHello.\r\n"
	start := time.Now()
	wantCode(t, send(h.dial(h.mx), "ceo@bank.example", []string{"anna@uni.example"}, body), 250, "")
	if took := time.Since(start); took > bound+3*time.Second {
		t.Errorf("the session took %v with a dead resolver; the checks are bounded by %v", took, bound)
	}
	msgs, err := h.st.MailMessages(context.Background(), anna.ID)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("stored %d messages, %v", len(msgs), err)
	}
	b, err := h.st.MailBody(context.Background(), msgs[0].BodyHash)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"spf=temperror", "dmarc=temperror"} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("%q missing:\n%s", w, b)
		}
	}
	if v := h.metric(`postvakt_smtp_mailauth_results_total{method="spf",result="temperror"}`); v != "1" {
		t.Errorf("spf temperror counted %q, want 1", v)
	}
}

// TestEngineMXChecksOnByDefault: the default configuration checks SPF,
// DKIM and DMARC on the MX, with a bounded wait.
func TestEngineMXChecksOnByDefault(t *testing.T) {
	c := engine.Default()
	if !c.DMARC.Check || !c.DMARC.Enforce || c.DMARC.Timeout <= 0 || c.DMARC.Timeout > engine.MaxDMARCTimeout {
		t.Fatalf("default smtp.dmarc = %+v", c.DMARC)
	}
	c.DMARC.Timeout = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "smtp.dmarc.timeout") {
		t.Fatalf("timeout 0: %v", err)
	}
	c.DMARC.Timeout = 2 * time.Minute
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "smtp.dmarc.timeout") {
		t.Fatalf("timeout 2m: %v", err)
	}
}

// TestEngineReloadsMailAuth: a reload (SIGHUP) takes a new DKIM key (the
// one `postvakt dkim rotate` wrote, under a new selector), starts
// rewriting a domain's nicknames and starts the MX's checks for the
// messages that follow, without a restart; a key file that cannot be read
// is refused naming the key, and changes nothing.
func TestEngineReloadsMailAuth(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	oldFile, _ := writeKey(t, dir, mailauth.AlgEd25519)
	newFile, newKey := writeKey(t, dir, mailauth.AlgRSA)
	dns := dnstest.Start(t, `else.example. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"`)
	db := storagetest.Open(t, storage.SQLite)
	var cfg engine.Config
	h := startEngine(t, db, func(c *engine.Config) {
		c.TLS.Disabled, c.InsecureAuthLoopback = true, true
		c.Greylist.Enabled = false
		c.DKIM.Keys = []engine.DKIMKeyConfig{{Domain: "uni.example", Selector: "old", PrivateKeyFile: oldFile}}
		c.DNSBL.Resolver = dns.Addr // DMARC.Check off (testConfig)
		cfg = *c
	}, nil)
	anna := h.mailbox("anna@uni.example", nil)
	h.mailbox("123456@uni.example", func(n *directory.NewMailbox) { n.Nickname, n.Password = "jan.novak@uni.example", "pw" })
	submit := func(subject string) {
		t.Helper()
		c := h.dial(h.sub)
		if err := c.Auth(plainAuth("123456@uni.example", "pw")); err != nil {
			t.Fatal(err)
		}
		body := "From: <jan.novak@uni.example>\r\nTo: <x@remote.example>\r\nSubject: " + subject + "\r\n\r\nAhoj.\r\n"
		if err := send(c, "jan.novak@uni.example", []string{"x@remote.example"}, body); err != nil {
			t.Fatal(err)
		}
	}
	hop := startNextHop(t)
	r, err := queue.New(queue.Options{Config: relayConfig(hop.addr), Store: h.st, Node: "n1", Clock: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	relayed := func(subject string) hopMsg {
		t.Helper()
		if n, err := r.RunOnce(context.Background()); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v", n, err)
		}
		for _, m := range hop.messages() {
			if bytes.Contains(m.body, []byte("Subject: "+subject+"\r\n")) {
				return m
			}
		}
		t.Fatalf("%q not relayed", subject)
		return hopMsg{}
	}
	mxMail := func(subject string) []byte {
		t.Helper()
		body := "From: <s@else.example>\r\nTo: <anna@uni.example>\r\nSubject: " + subject + "\r\n\r\nHi.\r\n"
		wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"anna@uni.example"}, body), 250, "")
		msgs, err := h.st.MailMessages(context.Background(), anna.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			b, err := h.st.MailBody(context.Background(), m.BodyHash)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Contains(b, []byte("Subject: "+subject+"\r\n")) {
				return b
			}
		}
		t.Fatalf("%q not stored", subject)
		return nil
	}

	submit("before")
	if m := relayed("before"); m.from != "jan.novak@uni.example" || !bytes.Contains(m.body, []byte("s=old;")) {
		t.Fatalf("before the reload: from %s\n%s", m.from, m.body)
	}
	if b := mxMail("mx before"); bytes.Contains(b, []byte("Authentication-Results:")) {
		t.Fatalf("checked before the reload:\n%s", b)
	}

	next := cfg
	next.DKIM.Keys = []engine.DKIMKeyConfig{{Domain: "uni.example", Selector: "new", PrivateKeyFile: newFile}}
	next.Directory.RewriteFrom = []string{"uni.example"}
	next.DMARC.Check = true
	apply, _, err := h.eng.Reload(next)
	if err != nil {
		t.Fatal(err)
	}
	apply()
	submit("after")
	m := relayed("after")
	if m.from != "123456@uni.example" || !bytes.Contains(m.body, []byte("s=new;")) || !bytes.Contains(m.body, []byte("From: <123456@uni.example>")) {
		t.Fatalf("after the reload: from %s\n%s", m.from, m.body)
	}
	rec, _ := mailauth.TXTRecord(newKey)
	pyVerify(t, m.body, map[string]string{"new._domainkey.uni.example": rec})
	if b := mxMail("mx after"); !bytes.HasPrefix(b, []byte("Authentication-Results: mx.uni.example;")) || !bytes.Contains(b, []byte("spf=pass")) {
		t.Fatalf("not checked after the reload:\n%s", b)
	}

	bad := next
	bad.DKIM.Keys = []engine.DKIMKeyConfig{{Domain: "uni.example", Selector: "gone", PrivateKeyFile: filepath.Join(dir, "missing.pem")}}
	bad.Directory.RewriteFrom = nil
	if _, _, err := h.eng.Reload(bad); err == nil || !strings.Contains(err.Error(), "dkim.keys[0].private_key_file") {
		t.Fatalf("a missing key file: %v", err)
	}
	submit("refused reload")
	if m := relayed("refused reload"); m.from != "123456@uni.example" || !bytes.Contains(m.body, []byte("s=new;")) {
		t.Fatalf("a refused reload changed something: from %s\n%s", m.from, m.body)
	}
}

// TestRewrittenSubmissionReachesPostfix: mail submitted as a nickname of
// a rewriting domain arrives at a real next hop, Debian's Postfix, with
// the permanent address as its envelope sender (Postfix's qmgr line) and
// in its From: header (Postfix logs the header it received, header_checks
// INFO), and the nickname nowhere in either.
func TestRewrittenSubmissionReachesPostfix(t *testing.T) {
	t.Parallel()
	pf := postfixtest.Start(t, "partner.example")
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) {
		c.TLS.Disabled, c.InsecureAuthLoopback = true, true
		c.Greylist.Enabled = false
		c.Directory.RewriteFrom = []string{"uni.example"}
	}, nil)
	h.mailbox("123456@uni.example", func(n *directory.NewMailbox) {
		n.Nickname, n.Password = "jan.novak@uni.example", "pw"
	})
	c := h.dial(h.sub)
	if err := c.Auth(plainAuth("123456@uni.example", "pw")); err != nil {
		t.Fatal(err)
	}
	body := "From: \"Jan Novak\" <jan.novak@uni.example>\r\nTo: <anna@partner.example>\r\nSubject: Zkouska\r\n" +
		"Message-ID: <rewrite.pf@uni.example>\r\n\r\nDobry den.\r\n"
	if err := send(c, "jan.novak@uni.example", []string{"anna@partner.example"}, body); err != nil {
		t.Fatal(err)
	}
	r, err := queue.New(queue.Options{Config: relayConfig(pf.TLSAddr), Store: h.st, Node: "n1", Clock: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := r.RunOnce(context.Background()); err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v\n%s", n, err, pf.Log())
	}
	if l := pf.WaitLog(10*time.Second, "from=<123456@uni.example>"); l == "" {
		t.Fatalf("Postfix's envelope sender is not the permanent address:\n%s", pf.Log())
	}
	if l := pf.WaitLog(10*time.Second, `header From: "Jan Novak" <123456@uni.example>`); l == "" {
		t.Fatalf("Postfix's From: header is not the permanent address:\n%s", pf.Log())
	}
	if l := pf.WaitLog(10*time.Second, "to=<anna@partner.example>", "status=sent"); l == "" {
		t.Fatalf("Postfix did not deliver the message:\n%s", pf.Log())
	}
	if strings.Contains(pf.Log(), "jan.novak@") {
		t.Fatalf("the nickname reached Postfix:\n%s", pf.Log())
	}
}
