package queue

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine/mtasts"
)

// TLS outcomes of a connection (the label of postvakt_queue_connections_total).
const (
	tlsVerified  = "verified"
	tlsEncrypted = "encrypted"
	tlsPlaintext = "plaintext"
	tlsRefused   = "refused"
)

var tlsOutcomes = []string{tlsVerified, tlsEncrypted, tlsPlaintext, tlsRefused}

// ErrTLSRequired is wrapped when a destination's policy requires TLS and
// the next hop cannot give it: the entry is deferred (a temporary failure),
// never sent in clear.
var ErrTLSRequired = errors.New("TLS required by policy")

// levelOf is the TLS level of a delivery to domain over transport t:
// relay.tls.policies for the next hop ("[host]:port"), then for the
// domain, then relay.tls.level.
func (r *Runner) levelOf(t Transport, domain string) string {
	pols := r.o.Config.TLS.Policies
	if t.Unix {
		return TLSNone // a local socket: nothing to encrypt against
	}
	if t.Proto != "mx" {
		if host, port, err := net.SplitHostPort(t.Addr); err == nil {
			if l, ok := pols["["+strings.ToLower(host)+"]:"+port]; ok {
				return l
			}
		}
	}
	if l, ok := pols[domain]; ok {
		return l
	}
	return r.o.Config.TLS.Level
}

// hop is one next hop to try: its host name (what a certificate must be
// valid for) and address.
type hop struct {
	host, addr string
	verify     bool // the certificate must be valid for host
}

// connect dials the destination: the configured next hop, or the MX hosts
// in preference order (RFC 5321 §5.1, with the implicit MX of the domain
// itself when there is none), and starts TLS as its level (and, for MX
// destinations, its MTA-STS policy) asks.
func (r *Runner) connect(ctx context.Context, d destination) (*smtp.Client, string, string, error) {
	level := d.level
	var hops []hop
	switch d.t.Proto {
	case "mx":
		mxs, err := r.o.Resolver.LookupMX(ctx, d.dom)
		var dnsErr *net.DNSError
		if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
			return nil, "", "", fmt.Errorf("MX lookup for %s: %w", d.dom, err)
		}
		sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
		for _, mx := range mxs {
			if h := strings.TrimSuffix(mx.Host, "."); h != "" {
				hops = append(hops, hop{host: h, addr: net.JoinHostPort(h, "25")})
			}
		}
		if len(hops) == 0 {
			hops = []hop{{host: d.dom, addr: net.JoinHostPort(d.dom, "25")}}
		}
		if hops, err = r.applySTS(ctx, d, hops, &level); err != nil {
			return nil, d.dom, "", err
		}
	case "smtp", "lmtp":
		host, _, _ := net.SplitHostPort(d.t.Addr)
		if d.t.Unix {
			host = "localhost"
		}
		hops = []hop{{host: host, addr: d.t.Addr}}
	}
	if level == TLSVerify {
		for i := range hops {
			hops[i].verify = true
		}
	}
	var errs []error
	addrs := make([]string, 0, len(hops))
	for _, h := range hops {
		addrs = append(addrs, h.addr)
		c, info, err := r.dialHop(ctx, d, h, level)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return c, h.addr, info, nil
	}
	return nil, strings.Join(addrs, ","), "", fmt.Errorf("connect to %s: %w", d.key, errors.Join(errs...))
}

// applySTS applies the domain's MTA-STS policy (RFC 8461 §5): in enforce
// mode only MX hosts matching the policy are used, each with a verified
// certificate (the level becomes verify unless relay.tls.policies names
// the domain); in testing mode a mismatch is logged.
func (r *Runner) applySTS(ctx context.Context, d destination, hops []hop, level *string) ([]hop, error) {
	if !r.o.Config.TLS.MTASTS || r.o.MTASTS == nil {
		return hops, nil
	}
	if _, explicit := r.o.Config.TLS.Policies[d.dom]; explicit {
		return hops, nil
	}
	p, err := r.o.MTASTS.Policy(ctx, d.dom)
	if errors.Is(err, mtasts.ErrNoPolicy) {
		return hops, nil
	}
	if err != nil {
		// §5: a policy that cannot be fetched (and none cached) is no
		// policy.
		r.o.Logger.Warn("relay: MTA-STS policy not fetched", "domain", d.dom, "err", err)
		return hops, nil
	}
	var ok []hop
	for _, h := range hops {
		if p.Match(h.host) {
			h.verify = true
			ok = append(ok, h)
		} else if p.Mode != mtasts.ModeNone {
			r.o.Logger.Warn("relay: MX host not in the domain's MTA-STS policy", "domain", d.dom, "mx", h.host, "mode", p.Mode)
		}
	}
	switch p.Mode {
	case mtasts.ModeEnforce:
		if len(ok) == 0 {
			r.tlsConns.WithLabelValues(tlsRefused).Inc()
			return nil, fmt.Errorf("%w: MTA-STS (enforce): no MX host of %s matches the policy", ErrTLSRequired, d.dom)
		}
		if *level != TLSVerify {
			*level = TLSVerify
		}
		return ok, nil
	case mtasts.ModeTesting:
		// Delivered as the local policy says; verification failures are
		// logged by dialHop.
		for i := range hops {
			hops[i].verify = false
		}
	}
	return hops, nil
}

// dialHop connects to one next hop and starts TLS as level asks: at
// "none" never; at "may" when offered, unauthenticated, reconnecting in
// clear when the handshake fails; at "encrypt" and "verify" always, or the
// connection is closed before anything is sent. It returns the client,
// greeted, and a description of its TLS for the log.
func (r *Runner) dialHop(ctx context.Context, d destination, h hop, level string) (*smtp.Client, string, error) {
	if level == TLSNone {
		c, err := r.greet(ctx, d, h.addr)
		if err == nil {
			r.tlsConns.WithLabelValues(tlsPlaintext).Inc()
		}
		return c, "none", err
	}
	required := level == TLSEncrypt || level == TLSVerify
	cfg := &tls.Config{ServerName: h.host, RootCAs: r.o.RootCAs, MinVersion: tls.VersionTLS12}
	if !h.verify {
		// Opportunistic or encrypt-only TLS (RFC 7435 §1.3): encrypted,
		// not authenticated.
		cfg.InsecureSkipVerify = true
	}
	c, st, err := r.greetTLS(ctx, d, h.addr, cfg)
	switch {
	case err == nil && st != nil:
		if h.verify {
			r.tlsConns.WithLabelValues(tlsVerified).Inc()
		} else {
			r.tlsConns.WithLabelValues(tlsEncrypted).Inc()
		}
		return c, tls.VersionName(st.Version) + " " + tls.CipherSuiteName(st.CipherSuite), nil
	case err == nil && !required:
		r.tlsConns.WithLabelValues(tlsPlaintext).Inc()
		return c, "none", nil
	case err == nil:
		_ = c.Close()
		r.tlsConns.WithLabelValues(tlsRefused).Inc()
		return nil, "", fmt.Errorf("%w (%s): %s does not offer STARTTLS", ErrTLSRequired, level, h.addr)
	case errors.Is(err, errHandshake) && required:
		r.tlsConns.WithLabelValues(tlsRefused).Inc()
		return nil, "", fmt.Errorf("%w (%s): %v", ErrTLSRequired, level, err)
	case errors.Is(err, errHandshake):
		r.o.Logger.Warn("relay: STARTTLS failed; sending in clear (relay.tls level may)", "hop", h.addr, "err", err)
		c, err := r.greet(ctx, d, h.addr)
		if err == nil {
			r.tlsConns.WithLabelValues(tlsPlaintext).Inc()
		}
		return c, "none", err
	}
	return nil, "", err
}

// errHandshake is wrapped when STARTTLS was refused or its handshake
// failed.
var errHandshake = errors.New("STARTTLS failed")

// greetTLS dials addr, says EHLO (LHLO) and, when the next hop offers
// STARTTLS (RFC 3207), starts TLS with cfg; st is nil when it was not
// offered. The client is greeted again on the encrypted channel (RFC 3207
// §4.2: the client discards what it knew and says EHLO again).
func (r *Runner) greetTLS(ctx context.Context, d destination, addr string, cfg *tls.Config) (*smtp.Client, *tls.ConnectionState, error) {
	timeout := r.o.Config.Timeout
	dctx, cancel := context.WithTimeout(ctx, min(timeout, 30*time.Second))
	defer cancel()
	conn, err := r.o.Dial(dctx, d.t.Network(), addr)
	if err != nil {
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	tp := textproto.NewConn(conn)
	greeting, _, err := tp.ReadResponse(220)
	if err != nil {
		conn.Close()
		return nil, nil, smtpErr(err)
	}
	hello := "EHLO"
	if d.t.Proto == "lmtp" {
		hello = "LHLO"
	}
	_, ext, err := cmd(tp, 250, "%s %s", hello, r.o.Config.Hostname)
	if err != nil {
		conn.Close()
		return nil, nil, smtpErr(err)
	}
	offered := false
	for _, l := range strings.Split(ext, "\n") {
		if strings.EqualFold(strings.TrimSpace(l), "STARTTLS") {
			offered = true
		}
	}
	var st *tls.ConnectionState
	next := conn
	if offered {
		if _, _, err := cmd(tp, 220, "STARTTLS"); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("%w: %s: %v", errHandshake, addr, smtpErr(err))
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(dctx); err != nil {
			conn.Close()
			return nil, nil, fmt.Errorf("%w: %s: %v", errHandshake, addr, err)
		}
		s := tc.ConnectionState()
		st, next = &s, tc
	}
	_ = conn.SetDeadline(time.Time{})
	// go-smtp's client reads a greeting first: give it the one already
	// read, then let it say EHLO (again) on the channel as it now is.
	gc := &greetedConn{Conn: next, r: io.MultiReader(strings.NewReader(fmt.Sprintf("%d %s ESMTP\r\n", greeting, addr)), next)}
	c, err := r.client(d, gc)
	if err != nil {
		return nil, nil, err
	}
	return c, st, nil
}

// greet dials addr and says EHLO (LHLO), without TLS.
func (r *Runner) greet(ctx context.Context, d destination, addr string) (*smtp.Client, error) {
	timeout := r.o.Config.Timeout
	dctx, cancel := context.WithTimeout(ctx, min(timeout, 30*time.Second))
	conn, err := r.o.Dial(dctx, d.t.Network(), addr)
	cancel()
	if err != nil {
		return nil, err
	}
	return r.client(d, conn)
}

func (r *Runner) client(d destination, conn net.Conn) (*smtp.Client, error) {
	var c *smtp.Client
	if d.t.Proto == "lmtp" {
		c = smtp.NewClientLMTP(conn)
	} else {
		c = smtp.NewClient(conn)
	}
	timeout := r.o.Config.Timeout
	c.CommandTimeout, c.SubmissionTimeout = timeout, timeout
	if err := c.Hello(r.o.Config.Hostname); err != nil {
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

// cmd sends one command and reads its reply.
func cmd(tp *textproto.Conn, expect int, format string, args ...any) (int, string, error) {
	id, err := tp.Cmd(format, args...)
	if err != nil {
		return 0, "", err
	}
	tp.StartResponse(id)
	defer tp.EndResponse(id)
	return tp.ReadResponse(expect)
}

// smtpErr turns a reply error into go-smtp's, so that failed() tells a
// permanent refusal from a temporary one.
func smtpErr(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		return &smtp.SMTPError{Code: te.Code, Message: te.Msg}
	}
	return err
}

// greetedConn replays the greeting already read to go-smtp's client.
type greetedConn struct {
	net.Conn
	r io.Reader
}

func (g *greetedConn) Read(p []byte) (int, error) { return g.r.Read(p) }

// crlfWriter writes its input with every line ending made CRLF: a bare CR,
// a bare LF and CRLF all become CRLF. A CR at the end of one Write waits
// for the next (or Flush) to be decided.
type crlfWriter struct {
	w      io.Writer
	buf    []byte
	pendCR bool
}

func (c *crlfWriter) Write(p []byte) (int, error) {
	c.buf = c.buf[:0]
	for i := 0; i < len(p); i++ {
		b := p[i]
		if c.pendCR {
			c.pendCR = false
			c.buf = append(c.buf, '\r', '\n')
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\r':
			c.pendCR = true
		case '\n':
			c.buf = append(c.buf, '\r', '\n')
		default:
			c.buf = append(c.buf, b)
		}
		if len(c.buf) >= 32<<10 {
			if _, err := c.w.Write(c.buf); err != nil {
				return i, err
			}
			c.buf = c.buf[:0]
		}
	}
	if _, err := c.w.Write(c.buf); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes a CR left pending as CRLF.
func (c *crlfWriter) Flush() error {
	if !c.pendCR {
		return nil
	}
	c.pendCR = false
	_, err := c.w.Write([]byte("\r\n"))
	return err
}
