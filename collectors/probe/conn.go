package probe

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"strings"
	"time"
)

// attempt is the record of one try of a probe.
type attempt struct {
	steps   []Step
	cert    time.Time     // earliest NotAfter seen
	loop    time.Duration // mail loop delivery time
	noRetry bool          // a failure that a retry cannot help (a missing or late loop)
}

// step runs f as the named step and records its duration, detail and
// error.
func (a *attempt) step(name string, f func() (detail string, err error)) error {
	start := time.Now()
	detail, err := f()
	s := Step{Name: name, Duration: time.Since(start), Detail: detail}
	if err != nil {
		s.Err = err.Error()
	}
	a.steps = append(a.steps, s)
	return err
}

// sawTLS notes the peer's certificate chain and describes the session.
func (a *attempt) sawTLS(cs tls.ConnectionState, now time.Time) string {
	var earliest time.Time
	var subject string
	for _, c := range cs.PeerCertificates {
		if earliest.IsZero() || c.NotAfter.Before(earliest) {
			earliest, subject = c.NotAfter, c.Subject.CommonName
			if subject == "" && len(c.DNSNames) > 0 {
				subject = c.DNSNames[0]
			}
		}
	}
	if earliest.IsZero() {
		return tls.VersionName(cs.Version)
	}
	if a.cert.IsZero() || earliest.Before(a.cert) {
		a.cert = earliest
	}
	return fmt.Sprintf("%s, certificate %q expires in %d days (%s)", tls.VersionName(cs.Version),
		subject, daysLeft(earliest, now), earliest.UTC().Format(time.RFC3339))
}

// daysLeft is the number of whole days from now to t (negative when past).
func daysLeft(t, now time.Time) int {
	d := t.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}

// endpoint is where a probe connects and as whom.
type endpoint struct {
	address     string
	tls         TLSMode
	serverName  string
	caFile      string
	insecure    bool
	user        string
	passwordEnv string
}

func targetEndpoint(t Target) endpoint {
	return endpoint{t.Address, t.TLS, t.TLSServerName, t.TLSCAFile, t.TLSInsecureSkipVerify, t.User, t.PasswordEnv}
}

func fetchEndpoint(f Fetch) endpoint {
	return endpoint{f.Address, f.TLS, f.TLSServerName, f.TLSCAFile, f.TLSInsecureSkipVerify, f.User, f.PasswordEnv}
}

// tlsConfig builds the client TLS configuration of an endpoint whose host
// is host.
func tlsConfig(serverName, caFile string, insecure bool, host string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: serverName, InsecureSkipVerify: insecure, MinVersion: tls.VersionTLS12}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("tls_ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls_ca_file %s: no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

func (e endpoint) tlsConfig() (*tls.Config, error) {
	host, _, err := net.SplitHostPort(e.address)
	if err != nil {
		return nil, err
	}
	return tlsConfig(e.serverName, e.caFile, e.insecure, host)
}

// loopback reports whether the endpoint's host is a loopback address, where
// a password may travel without TLS.
func (e endpoint) loopback() bool {
	host, _, _ := net.SplitHostPort(e.address)
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// textConn is a line-oriented connection that can switch to TLS.
type textConn struct {
	raw  net.Conn
	tp   *textproto.Conn
	stop func() bool
}

// dial connects to addr; the connection is closed when ctx is done and
// its deadline is ctx's.
func dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	return c, nil
}

func newTextConn(ctx context.Context, c net.Conn) *textConn {
	t := &textConn{raw: c, tp: textproto.NewConn(c)}
	t.stop = context.AfterFunc(ctx, func() { _ = c.Close() })
	return t
}

func (t *textConn) Close() error {
	t.stop()
	return t.raw.Close()
}

// startTLS upgrades the connection (after a STARTTLS exchange, or at once
// for implicit TLS).
func (t *textConn) startTLS(ctx context.Context, cfg *tls.Config) (tls.ConnectionState, error) {
	tc := tls.Client(t.raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return tls.ConnectionState{}, err
	}
	t.raw = tc
	t.tp = textproto.NewConn(tc)
	return tc.ConnectionState(), nil
}

// prober runs probe attempts.
type prober struct {
	now     func() time.Time
	getenv  func(string) string
	mailbox Mailbox
	loop    LoopConfig
	helo    string
}

// password reads an endpoint's password from its environment variable.
func (p *prober) password(e endpoint) (string, error) {
	pw := p.getenv(e.passwordEnv)
	if pw == "" {
		return "", fmt.Errorf("the environment variable %s (password_env) is empty", e.passwordEnv)
	}
	return pw, nil
}

// open connects to an endpoint ("connect", and "tls" for implicit TLS).
func (p *prober) open(ctx context.Context, a *attempt, e endpoint) (*textConn, error) {
	var tc *textConn
	err := a.step("connect", func() (string, error) {
		c, err := dial(ctx, e.address)
		if err != nil {
			return "", err
		}
		tc = newTextConn(ctx, c)
		return c.RemoteAddr().String(), nil
	})
	if err != nil {
		return nil, err
	}
	if e.tls == TLSImplicit {
		if err := p.handshake(ctx, a, tc, e); err != nil {
			tc.Close()
			return nil, err
		}
	}
	return tc, nil
}

// handshake runs the "tls" step.
func (p *prober) handshake(ctx context.Context, a *attempt, tc *textConn, e endpoint) error {
	return a.step("tls", func() (string, error) {
		cfg, err := e.tlsConfig()
		if err != nil {
			return "", err
		}
		cs, err := tc.startTLS(ctx, cfg)
		if err != nil {
			return "", fmt.Errorf("tls handshake: %w", err)
		}
		return a.sawTLS(cs, p.now()), nil
	})
}

// errNoTLS refuses to send a password in clear text.
var errNoTLS = errors.New("refusing to send the password without TLS (set tls: starttls or implicit)")

// checkAuthTLS refuses authentication over a clear-text connection to a
// host other than loopback.
func checkAuthTLS(e endpoint, tc *textConn) error {
	if _, ok := tc.raw.(*tls.Conn); ok || e.loopback() {
		return nil
	}
	return errNoTLS
}

// oneLine shortens a server reply for a Step detail or an error.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i] + " …"
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
