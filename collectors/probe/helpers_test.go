package probe

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// testPKI is a throwaway CA and a server certificate for 127.0.0.1 and
// localhost.
type testPKI struct {
	caFile   string // PEM of the CA, for tls_ca_file
	certFile string // PEM of the server certificate (and the CA)
	keyFile  string
	cert     tls.Certificate
	notAfter time.Time
	ca       *x509.Certificate
	caKey    *ecdsa.PrivateKey
	caPEM    []byte
}

// newPKI makes a CA and a server certificate that expires at notAfter.
func newPKI(t *testing.T, dir string, notAfter time.Time) *testPKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "postvakt test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := &testPKI{
		caFile: filepath.Join(dir, "ca.pem"), certFile: filepath.Join(dir, "cert.pem"),
		keyFile: filepath.Join(dir, "key.pem"), ca: ca, caKey: caKey,
	}
	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(p.caFile, p.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	p.reissue(t, notAfter)
	return p
}

// reissue makes a new server certificate from the same CA, expiring at
// notAfter (rounded down to the second), and writes it to certFile and
// keyFile.
func (p *testPKI) reissue(t *testing.T, notAfter time.Time) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter.Truncate(time.Second),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), p.caPEM...)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.WriteFile(p.certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.keyFile, keyPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if p.cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	p.notAfter = tmpl.NotAfter
}

func (p *testPKI) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.cert}}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// requireTool returns the path of a program, skipping the test when it is
// missing (failing when POSTVAKT_REQUIRE_TOOLS=1, as in CI).
func requireTool(t *testing.T, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if _, serr := os.Stat(name); serr == nil {
			return name
		}
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (apt-get install %s): %v", name, pkg, err)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return path
}

// memStore is an in-memory Store.
type memStore struct {
	mu       sync.Mutex
	states   map[string]State
	changes  []Change
	results  []Result
	replicas []string // of each result
}

var _ Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{states: map[string]State{}} }

func (s *memStore) SaveProbeResult(_ context.Context, r Result, replica string) (Change, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.results = append(s.results, r)
	s.replicas = append(s.replicas, replica)
	status := StatusDown
	if r.OK {
		status = StatusUp
	}
	st, ok := s.states[r.Probe]
	changed := !ok || st.Status != status
	var c Change
	if changed {
		c = Change{Probe: r.Probe, Service: r.Service, Node: r.Node, Kind: r.Kind, Status: status, At: r.At, Error: r.Error}
		s.changes = append(s.changes, c)
		st.Status, st.Since = status, r.At
	}
	st.Probe, st.Service, st.Node, st.Kind = r.Probe, r.Service, r.Node, r.Kind
	st.LastAt, st.LastOK, st.LastError, st.LastLatency = r.At, r.OK, r.Error, r.Duration
	st.Warning, st.CertExpiry, st.Replica = r.Warning, r.CertExpiry, replica
	s.states[r.Probe] = st
	return c, changed, nil
}

func (s *memStore) ProbeStates(context.Context) ([]State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []State
	for _, st := range s.states {
		out = append(out, st)
	}
	return out, nil
}

func (s *memStore) ProbeChanges(_ context.Context, from, to time.Time, probes ...string) ([]Change, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Change
	for _, c := range s.changes {
		if !c.At.Before(from) && c.At.Before(to) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *memStore) ProbeResults(_ context.Context, probe string, from, to time.Time, limit int) ([]Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Result
	for i := len(s.results) - 1; i >= 0 && len(out) < limit; i-- {
		if r := s.results[i]; r.Probe == probe && !r.At.Before(from) && r.At.Before(to) {
			out = append(out, r)
		}
	}
	return out, nil
}

// incidentLog records what a Runner raises and recovers.
type incidentLog struct {
	mu        sync.Mutex
	raised    []Alert
	recovered []string
}

var _ Incidents = (*incidentLog)(nil)

func (l *incidentLog) Raise(_ context.Context, a Alert) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.raised = append(l.raised, a)
	return nil
}

func (l *incidentLog) Recover(_ context.Context, key string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recovered = append(l.recovered, key)
	return nil
}

func (l *incidentLog) snapshot() ([]Alert, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Alert(nil), l.raised...), append([]string(nil), l.recovered...)
}

// fakeClock is a clock that Sleep advances.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
	return nil
}

// env returns a Getenv with the given variables.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// stepNames lists a result's step names.
func stepNames(r Result) []string {
	var out []string
	for _, s := range r.Steps {
		out = append(out, s.Name)
	}
	return out
}

func intp(n int) *int { return &n }
