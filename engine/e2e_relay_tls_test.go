package engine_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/engine/mtasts"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/queue/postfixtest"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// testCA issues certificates for next hops in tests.
type testCA struct {
	t    *testing.T
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t *testing.T) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "postvakt test CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{t: t, cert: cert, key: key, pool: pool}
}

// issue returns a server certificate for names.
func (ca *testCA) issue(names ...string) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (ca *testCA) serverConfig(names ...string) *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{ca.issue(names...)}}
}

// commitBody commits body for one remote recipient, as the engine does.
func commitBody(t *testing.T, st *enginestore.Store, qid, rcpt string, body []byte, at time.Time) {
	t.Helper()
	m := &store.Message{QueueID: qid, ReceivedAt: at, Node: "n1", Listener: "submission", ClientIP: "127.0.0.1", HELO: "client",
		AuthUser: "a@uni.example", MailFrom: "a@uni.example", Rcpts: []string{rcpt}, Body: body, BodyHash: store.Hash(body),
		Deliveries: []store.Delivery{{Rcpt: rcpt, Remote: rcpt}}}
	if err := st.MailCommit(context.Background(), []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
}

// RFC 5321 §2.3.8: lines end in CRLF only. The relay sends a message whose
// stored body has a bare CR or a bare LF with CRLF line ends (Postfix ≥ 3.9
// likewise normalises them), so that no next hop can take a bare line end
// for the end of the data (SMTP smuggling).
func TestRelayBareLineEnds(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	st := enginestore.New(db)
	hop := startNextHop(t)
	r, err := queue.New(queue.Options{Config: relayConfig(hop.addr), Store: st, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("From: <a@uni.example>\r\nSubject: bare\r\n\r\none\rtwo\nthree\r\n.\rMAIL FROM:<x@evil.example>\r\n\r\r\n")
	commitBody(t, st, "B1", "x@remote.example", body, time.Now())
	if n, err := r.RunOnce(context.Background()); n != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v", n, err)
	}
	got := hop.messages()
	if len(got) != 1 {
		t.Fatalf("next hop got %d messages", len(got))
	}
	b := got[0].body
	for i, c := range b {
		if (c == '\r' && (i+1 == len(b) || b[i+1] != '\n')) || (c == '\n' && (i == 0 || b[i-1] != '\r')) {
			t.Fatalf("bare line end at %d in what the next hop got: %q", i, b)
		}
	}
	if want := "one\r\ntwo\r\nthree\r\n.\r\nMAIL FROM:<x@evil.example>\r\n\r\n\r\n"; !bytes.HasSuffix(b, []byte(want)) {
		t.Fatalf("next hop got %q, want it to end %q", b, want)
	}
}

// relay.tls: the level of a destination decides whether the relay uses
// STARTTLS (RFC 3207) and what it does when it cannot (docs/configuration.md,
// relay.tls; Postfix's smtp_tls_security_level).
func TestRelayTLSLevels(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	tlsHop := startHopTLS(t, false, ca.serverConfig("nexthop.test", "127.0.0.1"))
	wrongName := startHopTLS(t, false, ca.serverConfig("elsewhere.test"))
	plainHop := startNextHop(t)
	host := func(h *nextHop) string { return "[127.0.0.1]:" + h.addr[strings.LastIndexByte(h.addr, ':')+1:] }
	for _, tc := range []struct {
		name      string
		hop       *nextHop
		level     string
		policy    map[string]string // relay.tls.policies
		delivered bool
		overTLS   bool
		outcome   string // postvakt_queue_connections_total{tls}
	}{
		{"may with STARTTLS", tlsHop, "may", nil, true, true, "encrypted"},
		{"may without STARTTLS", plainHop, "may", nil, true, false, "plaintext"},
		{"none never uses TLS", tlsHop, "none", nil, true, false, "plaintext"},
		{"encrypt without STARTTLS defers", plainHop, "encrypt", nil, false, false, "refused"},
		{"encrypt by domain policy", plainHop, "may", map[string]string{"remote.example": "encrypt"}, false, false, "refused"},
		{"encrypt by next-hop policy", plainHop, "may", map[string]string{host(plainHop): "encrypt"}, false, false, "refused"},
		{"verify a valid certificate", tlsHop, "verify", nil, true, true, "verified"},
		{"verify a certificate for another name defers", wrongName, "verify", nil, false, false, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := enginestore.New(storagetest.Open(t, storage.SQLite))
			cfg := relayConfig(tc.hop.addr)
			cfg.TLS.Level, cfg.TLS.Policies = tc.level, tc.policy
			reg := prometheus.NewRegistry()
			r, err := queue.New(queue.Options{Config: cfg, Store: st, Node: "n1", Registerer: reg, RootCAs: ca.pool})
			if err != nil {
				t.Fatal(err)
			}
			qid := fmt.Sprintf("T%d", time.Now().UnixNano())
			commitBody(t, st, qid, "x@remote.example", []byte("Subject: "+tc.name+"\r\n\r\nhello\r\n"), time.Now())
			before := len(tc.hop.messages())
			r.RunOnce(context.Background())
			var mine []hopMsg
			for _, m := range tc.hop.messages()[before:] {
				if bytes.Contains(m.body, []byte("Subject: "+tc.name+"\r\n")) {
					mine = append(mine, m)
				}
			}
			left, _ := st.QueueList(context.Background(), queue.Filter{QueueID: qid})
			if tc.delivered {
				if len(mine) != 1 || len(left) != 0 || mine[0].tls != tc.overTLS {
					t.Fatalf("delivered %d (tls %v), %d left; want 1 (tls %v)", len(mine), mine, len(left), tc.overTLS)
				}
			} else {
				if len(mine) != 0 || len(left) != 1 || left[0].State != queue.StateDeferred || !strings.Contains(left[0].LastError, "TLS required") {
					t.Fatalf("sent %d, queue %+v; want deferred, nothing sent", len(mine), left)
				}
			}
			if n := testutil.ToFloat64(mustCounter(t, reg, "postvakt_queue_connections_total", tc.outcome)); n != 1 {
				t.Fatalf("connections{tls=%q} = %v", tc.outcome, n)
			}
		})
	}
}

// fakeDNS answers MX and TXT lookups (remote DNS cannot run here).
type fakeDNS struct {
	mx  map[string][]*net.MX
	txt map[string][]string
}

func (f fakeDNS) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	if m, ok := f.mx[name]; ok {
		return m, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (f fakeDNS) LookupTXT(_ context.Context, name string) ([]string, error) {
	if t, ok := f.txt[name]; ok {
		return t, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// MTA-STS (RFC 8461): the policy is fetched over HTTPS (once, then from
// the cache), MX hosts it does not name are not used, and the one it names
// must present a valid certificate over STARTTLS — without one the mail is
// deferred, not sent in clear.
func TestRelayMTASTS(t *testing.T) {
	t.Parallel()
	ca := newCA(t)
	good := startHopTLS(t, false, ca.serverConfig("mx1.partner.test"))
	rogue := startHopTLS(t, false, ca.serverConfig("mx.rogue.test"))
	plain := startNextHop(t)
	var fetches atomic.Int32
	policy := "version: STSv1\nmode: enforce\nmx: mx1.partner.test\nmx: *.backup.partner.test\nmax_age: 86400\n"
	web := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Host != "mta-sts.partner.test" && r.Host != "mta-sts.backup.test") || r.URL.Path != "/.well-known/mta-sts.txt" {
			http.NotFound(w, r)
			return
		}
		fetches.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprint(w, policy)
	}))
	web.TLS = ca.serverConfig("mta-sts.partner.test")
	web.StartTLS()
	t.Cleanup(web.Close)
	hosts := map[string]string{
		"mx1.partner.test:25":        good.addr,
		"mx.rogue.test:25":           rogue.addr,
		"mx2.backup.partner.test:25": plain.addr,
		"mta-sts.partner.test:443":   web.Listener.Addr().String(),
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		a, ok := hosts[addr]
		if !ok {
			return nil, fmt.Errorf("no route to %s in the test", addr)
		}
		return (&net.Dialer{}).DialContext(ctx, network, a)
	}
	dns := fakeDNS{
		mx: map[string][]*net.MX{
			// The rogue MX is preferred: an attacker who can change DNS.
			"partner.test": {{Host: "mx.rogue.test.", Pref: 5}, {Host: "mx1.partner.test.", Pref: 10}},
			"backup.test":  {{Host: "mx2.backup.partner.test.", Pref: 10}},
		},
		txt: map[string][]string{"_mta-sts.partner.test": {"v=STSv1; id=20261123"}, "_mta-sts.backup.test": {"v=STSv1; id=1"}},
	}
	webClient := &http.Client{Transport: &http.Transport{DialContext: dial, TLSClientConfig: &tls.Config{RootCAs: ca.pool}}}
	// backup.test publishes the same policy file (its host name is
	// mta-sts.backup.test, which the test's web server also answers for).
	hosts["mta-sts.backup.test:443"] = web.Listener.Addr().String()
	web.TLS.Certificates = append(web.TLS.Certificates, ca.issue("mta-sts.backup.test"))

	st := enginestore.New(storagetest.Open(t, storage.SQLite))
	cfg := relayConfig("unused:25")
	cfg.Transports = map[string]string{} // MX lookup for every domain
	reg := prometheus.NewRegistry()
	r, err := queue.New(queue.Options{Config: cfg, Store: st, Node: "n1", Registerer: reg, Resolver: dns, Dial: dial, RootCAs: ca.pool,
		MTASTS: &mtasts.Fetcher{Resolver: dns, HTTP: webClient}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	commitBody(t, st, "S1", "anna@partner.test", []byte("Subject: sts one\r\n\r\nhi\r\n"), time.Now())
	r.RunOnce(ctx)
	commitBody(t, st, "S2", "bert@partner.test", []byte("Subject: sts two\r\n\r\nhi\r\n"), time.Now())
	r.RunOnce(ctx)
	if got := good.messages(); len(got) != 2 || !got[0].tls || !got[1].tls {
		t.Fatalf("the policy's MX got %d messages (%+v), want 2 over TLS", len(got), got)
	}
	if n := rogue.conns.Load(); n != 0 {
		t.Fatalf("the MX the policy does not name was contacted %d times", n)
	}
	if n := fetches.Load(); n != 1 {
		t.Fatalf("policy of partner.test fetched %d times, want once (cached, RFC 8461 §5.1)", n)
	}
	if n := testutil.ToFloat64(mustCounter(t, reg, "postvakt_queue_connections_total", "verified")); n != 2 {
		t.Fatalf("verified connections = %v", n)
	}
	// backup.test's only MX matches the policy's wildcard but offers no
	// STARTTLS: deferred, nothing sent.
	commitBody(t, st, "S3", "cleo@backup.test", []byte("Subject: sts three\r\n\r\nhi\r\n"), time.Now())
	r.RunOnce(ctx)
	if n := len(plain.messages()); n != 0 || fetches.Load() != 2 {
		t.Fatalf("sent in clear to an MTA-STS enforce domain: %d messages (%d policies fetched)", n, fetches.Load())
	}
	if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "S3"}); len(es) != 1 || es[0].State != queue.StateDeferred || !strings.Contains(es[0].LastError, "TLS required") {
		t.Fatalf("queue = %+v, want S3 deferred", es)
	}
}

// Relay to a real Postfix next hop on loopback (Debian's postfix, started
// as a separate instance): at level may the message arrives over TLS, as
// Postfix's own log says; at level encrypt, a next hop without TLS gets
// nothing and the message is deferred.
func TestRelayToPostfix(t *testing.T) {
	t.Parallel()
	pf := postfixtest.Start(t, "partner.example")
	st := enginestore.New(storagetest.Open(t, storage.SQLite))
	ctx := context.Background()

	cfg := relayConfig(pf.TLSAddr)
	r, err := queue.New(queue.Options{Config: cfg, Store: st, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	commitBody(t, st, "P1", "anna@partner.example", []byte("From: <a@uni.example>\r\nSubject: over TLS\r\nMessage-ID: <p1.tls@uni.example>\r\n\r\nhello\r\n"), time.Now())
	r.RunOnce(ctx)
	if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "P1"}); len(es) != 0 {
		t.Fatalf("not delivered to Postfix: %+v\n%s", es, pf.Log())
	}
	if l := pf.WaitLog(10*time.Second, "Anonymous TLS connection established from localhost[127.0.0.1]"); l == "" {
		t.Fatalf("Postfix's log has no TLS connection:\n%s", pf.Log())
	} else {
		t.Logf("postfix: %s", l[strings.Index(l, "postfix/"):])
	}
	if l := pf.WaitLog(10*time.Second, "message-id=<p1.tls@uni.example>"); l == "" {
		t.Fatalf("Postfix did not take the message:\n%s", pf.Log())
	}
	if l := pf.WaitLog(10*time.Second, "to=<anna@partner.example>", "status=sent"); l == "" {
		t.Fatalf("Postfix did not deliver the message:\n%s", pf.Log())
	}

	cfg = relayConfig(pf.PlainAddr)
	cfg.TLS.Level = queue.TLSEncrypt
	r, err = queue.New(queue.Options{Config: cfg, Store: st, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	commitBody(t, st, "P2", "bert@partner.example", []byte("From: <a@uni.example>\r\nSubject: must not go in clear\r\nMessage-ID: <p2.clear@uni.example>\r\n\r\nsecret\r\n"), time.Now())
	r.RunOnce(ctx)
	es, _ := st.QueueList(ctx, queue.Filter{QueueID: "P2"})
	if len(es) != 1 || es[0].State != queue.StateDeferred || !strings.Contains(es[0].LastError, "TLS required") {
		t.Fatalf("queue = %+v, want P2 deferred for want of TLS", es)
	}
	time.Sleep(500 * time.Millisecond)
	if strings.Contains(pf.Log(), "p2.clear@uni.example") || strings.Contains(pf.Log(), "bert@partner.example") {
		t.Fatalf("the message reached Postfix in clear:\n%s", pf.Log())
	}
}
