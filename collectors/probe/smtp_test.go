package probe

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// smtpServer is a real go-smtp server on loopback with STARTTLS and AUTH
// PLAIN (or the mechanisms in mechs: PLAIN, LOGIN) for user
// "probe@example.edu" / password "s3cret pass".
type smtpServer struct {
	addr    string
	tls     *tls.Config
	deliver func(from, to string, data []byte) error
	mechs   []string

	mu  sync.Mutex
	srv *smtp.Server
}

const (
	probeUser = "probe@example.edu"
	probePass = `s3cret "pass\`
)

func startSMTP(t *testing.T, tlsConfig *tls.Config, deliver func(from, to string, data []byte) error) *smtpServer {
	t.Helper()
	return startSMTPWith(t, &smtpServer{tls: tlsConfig, deliver: deliver})
}

// startSMTPWith starts s (its tls, deliver and mechs set) on a free port.
func startSMTPWith(t *testing.T, s *smtpServer) *smtpServer {
	t.Helper()
	s.addr = "127.0.0.1:0"
	s.start(t)
	t.Cleanup(s.stop)
	return s
}

func (s *smtpServer) start(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = l.Addr().String()
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &smtpSess{s: s}, nil }))
	srv.Domain = "mx.test"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.TLSConfig = s.tls
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	s.mu.Lock()
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
}

func (s *smtpServer) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		_ = s.srv.Close()
		s.srv = nil
	}
}

type smtpSess struct {
	s        *smtpServer
	authed   bool
	from, to string
}

func (x *smtpSess) AuthMechanisms() []string {
	if x.s.mechs != nil {
		return x.s.mechs
	}
	return []string{sasl.Plain}
}

func (x *smtpSess) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if user != probeUser || pass != probePass {
			return smtp.ErrAuthFailed
		}
		x.authed = true
		return nil
	}
	if mech == sasl.Login {
		return &loginServer{check: check}, nil
	}
	return sasl.NewPlainServer(func(_, user, pass string) error { return check(user, pass) }), nil
}

// loginServer is the server side of AUTH LOGIN (go-sasl has only the
// client): a "Username:" and a "Password:" prompt.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	l.step++
	switch l.step {
	case 1:
		if resp != nil { // no initial response expected
			l.user, l.step = string(resp), 2
			return []byte("Password:"), false, nil
		}
		return []byte("Username:"), false, nil
	case 2:
		l.user = string(resp)
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

func (x *smtpSess) Reset()        {}
func (x *smtpSess) Logout() error { return nil }
func (x *smtpSess) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}

func (x *smtpSess) Rcpt(to string, _ *smtp.RcptOptions) error {
	x.to = to
	return nil
}

func (x *smtpSess) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.deliver == nil {
		return nil
	}
	if err := x.s.deliver(x.from, x.to, b); err != nil {
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "delivery failed"}
	}
	return nil
}

func TestSMTPProbe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := newPKI(t, dir, time.Now().Add(90*24*time.Hour))
	srv := startSMTP(t, pki.serverConfig(), nil)
	loginOnly := startSMTPWith(t, &smtpServer{tls: pki.serverConfig(), mechs: []string{sasl.Login}})
	noMechs := startSMTPWith(t, &smtpServer{tls: pki.serverConfig(), mechs: []string{"CRAM-MD5"}})

	for _, tc := range []struct {
		name    string
		srv     *smtpServer
		target  Target
		env     func(string) string
		wantErr string
		steps   []string
		auth    string // the auth step's detail
	}{
		{
			name:   "starttls-auth",
			target: Target{TLS: TLSStartTLS, TLSCAFile: pki.caFile, User: probeUser, PasswordEnv: "PW"},
			env:    env("PW", probePass),
			steps:  []string{"connect", "banner", "ehlo", "starttls", "tls", "ehlo", "auth", "quit"},
			auth:   "authenticated as " + probeUser,
		},
		{
			name:   "starttls-auth-login",
			srv:    loginOnly,
			target: Target{TLS: TLSStartTLS, TLSCAFile: pki.caFile, User: probeUser, PasswordEnv: "PW"},
			env:    env("PW", probePass),
			steps:  []string{"connect", "banner", "ehlo", "starttls", "tls", "ehlo", "auth", "quit"},
			auth:   "authenticated as " + probeUser + " (LOGIN)",
		},
		{
			name:    "wrong-password-login",
			srv:     loginOnly,
			target:  Target{TLS: TLSStartTLS, TLSCAFile: pki.caFile, User: probeUser, PasswordEnv: "PW"},
			env:     env("PW", "wrong-secret"),
			wantErr: "smtp: AUTH rejected: 535 5.7.8 Authentication failed",
		},
		{
			name:    "no-usable-mechanism",
			srv:     noMechs,
			target:  Target{TLS: TLSStartTLS, TLSCAFile: pki.caFile, User: probeUser, PasswordEnv: "PW"},
			env:     env("PW", probePass),
			wantErr: "smtp: the server offers neither AUTH PLAIN nor LOGIN (only CRAM-MD5)",
		},
		{
			name:  "plain",
			steps: []string{"connect", "banner", "ehlo", "quit"},
		},
		{
			name:    "wrong-password",
			target:  Target{TLS: TLSStartTLS, TLSCAFile: pki.caFile, User: probeUser, PasswordEnv: "PW"},
			env:     env("PW", "wrong-secret"),
			wantErr: "smtp: AUTH rejected: 535 5.7.8 Authentication failed",
		},
		{
			name:    "untrusted-certificate",
			target:  Target{TLS: TLSStartTLS},
			wantErr: "certificate signed by unknown authority",
		},
		{
			name:    "empty-password-variable",
			target:  Target{TLS: TLSStartTLS, TLSCAFile: pki.caFile, User: probeUser, PasswordEnv: "PW"},
			env:     env(),
			wantErr: "the environment variable PW (password_env) is empty",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := tc.target
			at := srv
			if tc.srv != nil {
				at = tc.srv
			}
			tg.Name, tg.Service, tg.Kind, tg.Address = "smtp", "smtp", KindSMTP, at.addr
			tg.Retries = intp(0)
			cfg := DefaultConfig()
			cfg.Targets = []Target{tg}
			r := &Runner{Config: cfg, Getenv: tc.env}
			if r.Getenv == nil {
				r.Getenv = env()
			}
			res, err := r.Probe(context.Background(), "smtp")
			if err != nil {
				t.Fatal(err)
			}
			if tc.wantErr != "" {
				if res.OK || !strings.Contains(res.Error, tc.wantErr) {
					t.Fatalf("result %+v, want error %q", res, tc.wantErr)
				}
				if strings.Contains(res.Error, "wrong-secret") || strings.Contains(res.Error, probePass) {
					t.Fatalf("error shows the password: %s", res.Error)
				}
				return
			}
			if !res.OK {
				t.Fatalf("probe failed: %s (steps %+v)", res.Error, res.Steps)
			}
			if got := stepNames(res); !slices.Equal(got, tc.steps) {
				t.Errorf("steps %v, want %v", got, tc.steps)
			}
			if tc.auth != "" && res.Steps[6].Detail != tc.auth {
				t.Errorf("auth step %q, want %q", res.Steps[6].Detail, tc.auth)
			}
			if !strings.HasPrefix(res.Steps[1].Detail, "220 mx.test") {
				t.Errorf("banner detail %q", res.Steps[1].Detail)
			}
			if tg.TLS == TLSStartTLS && !res.CertExpiry.Equal(pki.notAfter) {
				t.Errorf("cert expiry %v, want %v", res.CertExpiry, pki.notAfter)
			}
			if res.Warning != "" {
				t.Errorf("warning %q for a certificate valid 90 days", res.Warning)
			}
		})
	}
}

// TestCertificateExpiryWarning checks probes.cert_warning_days (runbook
// certificate-expiry): a certificate that expires in 10 days shows up in
// the metric and raises a warning incident; a renewed one resolves it.
func TestCertificateExpiryWarning(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	soon := newPKI(t, dir, time.Now().Add(10*24*time.Hour+time.Hour))
	srv := startSMTP(t, soon.serverConfig(), nil)

	cfg := DefaultConfig()
	cfg.Targets = []Target{{Name: "mx1-smtp", Service: "smtp", Node: "mx1", Kind: KindSMTP, Address: srv.addr,
		TLS: TLSStartTLS, TLSCAFile: soon.caFile}}
	reg := prometheus.NewRegistry()
	store, inc := newMemStore(), &incidentLog{}
	r := &Runner{Config: cfg, Store: store, Incidents: inc, Registerer: reg, Node: "replica-a"}

	res, err := r.Check(context.Background(), "mx1-smtp")
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || !strings.HasPrefix(res.Warning, "certificate expires in 10 days") {
		t.Fatalf("result ok=%v warning=%q error=%q", res.OK, res.Warning, res.Error)
	}
	want := float64(soon.notAfter.Unix())
	got := testutil.ToFloat64(r.m.cert.WithLabelValues("smtp", "mx1", "smtp"))
	if got != want {
		t.Errorf("expiry metric %v, want %v", got, want)
	}
	raised, _ := inc.snapshot()
	if len(raised) != 1 || raised[0].Key != "probe/mx1-smtp/certificate" || raised[0].Severity != "warning" ||
		raised[0].Runbook != DefaultCertRunbook || raised[0].Node != "mx1" {
		t.Fatalf("raised %+v", raised)
	}
	if st := store.states["mx1-smtp"]; st.Warning == "" || st.Replica != "replica-a" || st.Status != StatusUp {
		t.Errorf("stored state %+v", st)
	}
	// The same warning again raises nothing new.
	if _, err := r.Check(context.Background(), "mx1-smtp"); err != nil {
		t.Fatal(err)
	}
	if raised, _ := inc.snapshot(); len(raised) != 1 {
		t.Fatalf("raised twice: %+v", raised)
	}

	// Renewal: the server now presents a certificate valid for a year.
	soon.reissue(t, time.Now().Add(365*24*time.Hour))
	srv.stop()
	srv.tls = soon.serverConfig()
	srv.start(t)
	res, err = r.Check(context.Background(), "mx1-smtp")
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Warning != "" {
		t.Fatalf("after renewal: ok=%v warning=%q error=%q", res.OK, res.Warning, res.Error)
	}
	if _, rec := inc.snapshot(); !slices.Contains(rec, "probe/mx1-smtp/certificate") {
		t.Fatalf("certificate incident not resolved: %v", rec)
	}
	// The earliest NotAfter of the chain: now the CA's, also about a year.
	if got := testutil.ToFloat64(r.m.cert.WithLabelValues("smtp", "mx1", "smtp")); got < float64(time.Now().Add(360*24*time.Hour).Unix()) {
		t.Errorf("expiry metric after renewal %v", time.Unix(int64(got), 0))
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("metrics lint: %v %v", problems, err)
	}
}

// TestSMTPDownAndRecovers (docs/probes.md, "Incidents"; runbook
// probe-failed): a stopped SMTP server fails the probe after its retries
// and raises an incident; started again, it recovers.
func TestSMTPDownAndRecovers(t *testing.T) {
	t.Parallel()
	pki := newPKI(t, t.TempDir(), time.Now().Add(90*24*time.Hour))
	srv := startSMTP(t, pki.serverConfig(), nil)
	cfg := DefaultConfig()
	cfg.Retries, cfg.RetryInterval = 2, 5*time.Second
	cfg.Targets = []Target{{Name: "mx1-smtp", Service: "smtp", Node: "mx1", Kind: KindSMTP, Address: srv.addr,
		TLS: TLSStartTLS, TLSCAFile: pki.caFile, User: probeUser, PasswordEnv: "PW"}}
	clock := &fakeClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	store, inc, reg := newMemStore(), &incidentLog{}, prometheus.NewRegistry()
	r := &Runner{Config: cfg, Store: store, Incidents: inc, Registerer: reg, Now: clock.Now, Sleep: clock.Sleep,
		Getenv: env("PW", probePass)}
	ctx := context.Background()
	check := func(wantOK bool, wantAttempts int) Result {
		t.Helper()
		res, err := r.Check(ctx, "mx1-smtp")
		if err != nil {
			t.Fatal(err)
		}
		if res.OK != wantOK || res.Attempts != wantAttempts {
			t.Fatalf("ok=%v attempts=%d error=%q, want ok=%v attempts=%d", res.OK, res.Attempts, res.Error, wantOK, wantAttempts)
		}
		return res
	}
	check(true, 1)
	srv.stop()
	start := clock.Now()
	res := check(false, 3)
	if d := clock.Now().Sub(start); d != 10*time.Second {
		t.Errorf("retries took %v on the clock, want 2×5s", d)
	}
	if !strings.Contains(res.Error, "connect") || len(res.Steps) < 3 || res.Steps[0].Name != "attempt 1" {
		t.Errorf("failure result %+v", res)
	}
	raised, _ := inc.snapshot()
	if len(raised) != 1 || raised[0].Key != "probe/mx1-smtp" || raised[0].Severity != "critical" || raised[0].Runbook != DefaultRunbook {
		t.Fatalf("raised %+v", raised)
	}
	if got := testutil.ToFloat64(r.m.success.WithLabelValues("smtp", "mx1", "smtp")); got != 0 {
		t.Errorf("success metric %v while down", got)
	}
	check(false, 3) // still down: no second incident
	if raised, _ := inc.snapshot(); len(raised) != 1 {
		t.Fatalf("raised again: %+v", raised)
	}
	srv.start(t)
	check(true, 1)
	if _, rec := inc.snapshot(); !slices.Contains(rec, "probe/mx1-smtp") {
		t.Fatalf("not recovered: %v", rec)
	}
	if got := testutil.ToFloat64(r.m.runs.WithLabelValues("smtp", "mx1", "smtp", "failed")); got != 2 {
		t.Errorf("failed runs %v, want 2", got)
	}
	var statuses []Status
	for _, c := range store.changes {
		statuses = append(statuses, c.Status)
	}
	if !slices.Equal(statuses, []Status{StatusUp, StatusDown, StatusUp}) {
		t.Errorf("changes %v", statuses)
	}
}

// TestPasswordNeverSentInClear: AUTH over a clear-text, non-loopback
// connection is refused before the password leaves.
func TestPasswordNeverSentInClear(t *testing.T) {
	e := endpoint{address: "192.0.2.1:587"}
	if err := checkAuthTLS(e, &textConn{raw: &net.TCPConn{}}); !errors.Is(err, errNoTLS) {
		t.Fatalf("got %v", err)
	}
	e.address = "127.0.0.1:587"
	if err := checkAuthTLS(e, &textConn{raw: &net.TCPConn{}}); err != nil {
		t.Fatalf("loopback: %v", err)
	}
}
