// Package smtpserver owns the SMTP edge of the engine on go-smtp: the MX
// and submission listeners (STARTTLS, implicit TLS, AUTH PLAIN and LOGIN
// after TLS), connection limits and timeouts, the session that runs the
// policy checks in order (connection → whitelists → greylisting →
// recipient validation → size and quota; relay rules on submission), the
// content-filter extension point, and local delivery through the group
// committer. Every reply that refuses something is built by one function,
// (*session).fail, which returns a fresh *smtp.SMTPError with an RFC 5321
// code, an RFC 3463 enhanced code and a generic text, logs the cause and
// counts the reason.
package smtpserver

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine/authlimit"
	backendcheck "github.com/uni-mail/postvakt/engine/backend"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/enginemetrics"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/greylist"
	"github.com/uni-mail/postvakt/engine/membudget"
	"github.com/uni-mail/postvakt/engine/policy"
	"github.com/uni-mail/postvakt/engine/spool"
	"github.com/uni-mail/postvakt/engine/store"
)

// Listener describes one listening socket.
type Listener struct {
	Name        string // "mx" or "submission": a metric label
	Addr        string // host:port; port 0 picks a free port
	ImplicitTLS bool   // TLS from the first byte (port 465, RFC 8314)
	Submission  bool   // submission rules (RFC 6409) rather than MX rules
	Auth        bool   // offer AUTH (after TLS)
}

// Limits bound what one client may use.
type Limits struct {
	MaxMessageBytes  int64
	MaxRecipients    int
	MaxConns         int // per listener, as Postfix limits each smtpd service
	MaxConnsPerIP    int // per listener
	MaxLineLength    int
	CommandTimeout   time.Duration // waiting for one command line
	DataTimeout      time.Duration // the whole DATA phase
	MaxSession       time.Duration // one connection's whole life
	MaxAuthFailures  int
	AuthFailureDelay time.Duration
	MaxHops          int // Received: headers before a loop is declared
	ShutdownTimeout  time.Duration
	// PregreetWait is how long to listen before the greeting on listeners
	// without implicit TLS: a client that sends anything first is refused
	// (521 5.5.1) and disconnected, as Postfix's postscreen does with
	// clients that talk before their turn (RFC 5321 §3.1, §4.3.1).
	PregreetWait time.Duration
	// PregreetTTL is how long a client address that waited for the
	// greeting is remembered; its later connections are greeted at once,
	// as postscreen remembers a client that passed its tests
	// (postscreen_greet_ttl). 0 tests every connection.
	PregreetTTL time.Duration
	// MemoryWait bounds how long a message waits for its share of the
	// message memory budget before it is answered 452 4.3.1.
	MemoryWait time.Duration
	// FilterTimeout bounds the content filter (a wait for a scan slot
	// included); past it the message is answered 451 4.7.0.
	FilterTimeout time.Duration
}

// ContentFilter is the extension point for content scanning
// (docs/configuration.md, `content:`): it sees the whole message after DATA
// (RFC 5321 §4.1.1.4) and before the commit. The message is spooled (memory
// up to the spool threshold, then disk) and read through io.ReaderAt: a
// filter streams it and must not keep it after returning.
type ContentFilter interface {
	Filter(ctx context.Context, env Envelope, msg Message) (Verdict, error)
}

// Message is a spooled message as a filter reads it: the engine's own
// Received: field (Envelope.TraceSize bytes), then the message as the
// client sent it.
type Message interface {
	io.ReaderAt
	Size() int64
}

// Envelope is what a ContentFilter knows about a transaction.
type Envelope struct {
	// Node and QueueID name the transaction (the queue ID of the 250
	// reply), so what the filter keeps of it (a quarantined copy) is
	// found under the same key in the transaction log.
	Node     string
	QueueID  string
	Listener string
	ClientIP netip.Addr
	HELO     string
	AuthUser string
	MailFrom string
	Rcpts    []string
	// WantsAll is true when some recipient is a function address that takes
	// all mail (the spam whitelist of recipients).
	WantsAll bool
	// TraceSize is the length of the engine's Received: field at the start
	// of the message; HeaderSize that of the whole header section with the
	// empty line that ends it (RFC 5322 §2.1), or 0 when the message has no
	// header section within the first 256 KiB.
	TraceSize, HeaderSize int64
	// DMARCQuarantine: the sender's domain asks for this message to be
	// quarantined (DMARC p=quarantine, or p=reject not enforced; RFC 7489
	// §6.6.4); a filter with a quarantine keeps it there. AuthResults is
	// then the MX's Authentication-Results field (without CRLF), for the
	// quarantined copy.
	DMARCQuarantine bool
	AuthResults     string
}

// Action is a content filter's decision.
type Action int

// The actions.
const (
	Accept   Action = iota // deliver (Verdict.Headers are prepended)
	Reject                 // 554 5.7.1
	Tempfail               // 451 4.7.0
	Discard                // 250, but store nothing (accept-and-discard rules)
)

// Verdict is a content filter's result.
type Verdict struct {
	Action Action
	// Headers are complete header lines without CRLF, e.g. "X-Spam-Flag:
	// YES", inserted after the engine's Received: field.
	Headers []string
	Reason  string // logged
	// Header, when non-nil, replaces the message's header section (its
	// first Envelope.HeaderSize bytes, the engine's Received: field
	// included; for example with the Subject rewritten to "(SPAM) …");
	// Headers are then ignored: the filter has put them into Header.
	Header []byte
	// Quarantined, with Discard, says the filter kept the message in the
	// quarantine rather than dropping it.
	Quarantined bool
}

// Options are the server's dependencies and settings.
type Options struct {
	Hostname  string
	Node      string
	Listeners []Listener
	TLS       *tls.Config // nil: no STARTTLS, no implicit TLS
	// InsecureAuthLoopback allows AUTH without TLS from loopback clients
	// (tests and local tools only).
	InsecureAuthLoopback bool
	Limits               Limits

	Directory *directory.Directory
	// Auth checks AUTH credentials; nil: Directory, with postvakt's own
	// password hashes (smtp.auth.backend embedded).
	Auth     Authenticator
	Greylist *greylist.Greylister // nil: no greylisting
	DNSBL    *dnsbl.Checker       // nil: no DNSBL
	// Backend asks back-end domains' servers about recipients at RCPT
	// (existence, quota); nil: they are accepted unasked.
	Backend *backendcheck.Checker

	// Policy is the start's policy; SetPolicy changes it while serving.
	Policy

	// AuthLimit throttles AUTH guessing across sessions and engine nodes;
	// nil: no limit beyond Limits.MaxAuthFailures per session.
	AuthLimit *authlimit.Limiter
	// Spool holds DATA (and the message while it is scanned); nil spools
	// in memory only.
	Spool *spool.Spool
	// Memory is the message memory budget the assembled message is held
	// under for the commit; nil: no limit.
	Memory *membudget.Budget

	Committer *store.Committer
	Filter    ContentFilter
	// MailAuth signs outgoing and checks incoming mail; nil does neither.
	MailAuth *MailAuth
	Metrics  *enginemetrics.Metrics
	Events   event.Sink
	Logger   *slog.Logger
	Clock    func() time.Time
}

// Authenticator checks AUTH credentials and names the account they open
// (its permanent address and nickname, which smtp.enforce_sender_login
// allows as senders): *directory.Directory with postvakt's own password
// hashes, or Dovecot's auth service (package dovecotauth).
type Authenticator interface {
	Authenticate(ctx context.Context, username, password string) (directory.Mailbox, directory.AuthResult, error)
}

var _ Authenticator = (*directory.Directory)(nil)

// ClientAuthenticator is an Authenticator that is also told the client's
// address (for the back end's log and per-client penalty).
type ClientAuthenticator interface {
	Authenticator
	AuthenticateFrom(ctx context.Context, username, password string, client netip.Addr) (directory.Mailbox, directory.AuthResult, error)
}

// Policy is what the session's checks read from the configuration that
// may change while the server runs: SetPolicy swaps it whole (a reload,
// docs/configuration.md "Reloading"), and each command reads the policy
// in force when it starts, so an open session carries on under the new
// policy from its next command.
type Policy struct {
	// DNSBLReject refuses a listed client (554 5.7.1) instead of giving it
	// the longer greylisting delay.
	DNSBLReject bool

	WhitelistClients    policy.NetSet
	WhitelistSenders    policy.AddrSet
	WhitelistRecipients policy.AddrSet
	// LocalNetworks may submit without AUTH.
	LocalNetworks policy.Networks
	// TrustedSenders and TrustedClients identify the university's own
	// systems, whose mail is never refused for quota.
	TrustedSenders policy.AddrSet
	TrustedClients policy.NetSet
	// Postmaster receives the bare "postmaster" recipient (RFC 5321 §4.5.1).
	Postmaster string
	// EnforceSenderLogin limits an authenticated user's MAIL FROM to the
	// account's permanent address and nickname (or the null path).
	EnforceSenderLogin bool
}

// Server runs the listeners.
type Server struct {
	o       Options
	pol     atomic.Pointer[Policy]
	ma      atomic.Pointer[MailAuth]
	mu      sync.Mutex
	servers []*smtp.Server
	addrs   map[string]net.Addr
	inData  sync.WaitGroup
	ready   chan struct{}
	greeted *passCache // clients that waited for the greeting (Limits.PregreetTTL)
}

// New checks the options and returns a Server.
func New(o Options) (*Server, error) {
	if o.Directory == nil || o.Committer == nil || o.Metrics == nil {
		return nil, errors.New("smtpserver: Directory, Committer and Metrics are required")
	}
	if len(o.Listeners) == 0 {
		return nil, errors.New("smtpserver: no listeners")
	}
	if o.Events == nil {
		o.Events = event.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.Spool == nil {
		var err error
		if o.Spool, err = spool.New("", 1<<62, o.Memory); err != nil {
			return nil, err
		}
	}
	if o.Limits.MemoryWait <= 0 {
		o.Limits.MemoryWait = 2 * time.Minute
	}
	if o.Limits.FilterTimeout <= 0 {
		o.Limits.FilterTimeout = 5 * time.Minute
	}
	for _, l := range o.Listeners {
		if (l.ImplicitTLS || l.Auth) && o.TLS == nil && !(l.Auth && o.InsecureAuthLoopback) {
			return nil, fmt.Errorf("smtpserver: listener %s needs a TLS certificate", l.Name)
		}
	}
	srv := &Server{o: o, addrs: map[string]net.Addr{}, ready: make(chan struct{}), greeted: newPassCache(o.Limits.PregreetTTL, maxPassed)}
	srv.SetPolicy(o.Policy)
	srv.SetMailAuth(o.MailAuth)
	return srv, nil
}

// SetPolicy changes the policy for the commands that follow, in open
// sessions and new ones.
func (s *Server) SetPolicy(p Policy) { s.pol.Store(&p) }

// SetMailAuth changes the mail authenticity (DKIM keys, the MX's checks,
// From rewriting) for the messages whose DATA ends after it; nil does
// neither.
func (s *Server) SetMailAuth(m *MailAuth) { s.ma.Store(m) }

// mailAuth is the mail authenticity in force.
func (s *Server) mailAuth() *MailAuth { return s.ma.Load() }

// policy is the policy in force.
func (s *Server) policy() *Policy { return s.pol.Load() }

// Ready is closed once every listener is bound.
func (s *Server) Ready() <-chan struct{} { return s.ready }

// Addrs returns the bound address of each listener by name.
func (s *Server) Addrs() map[string]net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]net.Addr, len(s.addrs))
	for k, v := range s.addrs {
		out[k] = v
	}
	return out
}

// Serve listens on every listener and serves until ctx is cancelled, then
// shuts down gracefully: listeners close, sessions get Limits.ShutdownTimeout
// to finish, then the rest are cut, and Serve returns once every DATA in
// flight has committed or failed.
func (s *Server) Serve(ctx context.Context) error {
	var lns []net.Listener
	closeAll := func() {
		for _, l := range lns {
			l.Close()
		}
	}
	for _, spec := range s.o.Listeners {
		ln, err := net.Listen("tcp", spec.Addr)
		if err != nil {
			closeAll()
			return fmt.Errorf("listen %s on %s: %w", spec.Name, spec.Addr, err)
		}
		lns = append(lns, ln)
		s.mu.Lock()
		s.addrs[spec.Name] = ln.Addr()
		s.mu.Unlock()
	}
	errc := make(chan error, len(lns))
	for i, spec := range s.o.Listeners {
		srv := s.newSMTPServer(spec)
		s.mu.Lock()
		s.servers = append(s.servers, srv)
		s.mu.Unlock()
		// Each listener has its own connection limits: a flood of AUTH
		// attempts on submission does not shut mail out of the MX.
		lim := &connLimiter{perIP: map[netip.Addr]int{}, max: s.o.Limits.MaxConns, maxPerIP: s.o.Limits.MaxConnsPerIP}
		var l net.Listener = &limitListener{Listener: lns[i], s: s, name: spec.Name, pregreet: !spec.ImplicitTLS, limiter: lim, passed: s.greeted}
		if spec.ImplicitTLS {
			l = tls.NewListener(l, s.o.TLS)
		}
		s.o.Logger.Info("smtp listening", "listener", spec.Name, "addr", lns[i].Addr().String(), "implicit_tls", spec.ImplicitTLS)
		go func() { errc <- srv.Serve(l) }()
	}
	close(s.ready)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		s.o.Logger.Error("smtp listener failed", "err", err)
	}
	s.shutdown()
	return err
}

func (s *Server) shutdown() {
	to := s.o.Limits.ShutdownTimeout
	if to <= 0 {
		to = 10 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), to)
	defer cancel()
	var wg sync.WaitGroup
	for _, srv := range s.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Shutdown(sctx); err != nil {
				srv.Close()
			}
		}()
	}
	wg.Wait()
	s.inData.Wait()
}

func (s *Server) newSMTPServer(spec Listener) *smtp.Server {
	srv := smtp.NewServer(&backend{s: s, spec: spec})
	srv.Domain = s.o.Hostname
	srv.TLSConfig = s.o.TLS
	srv.MaxMessageBytes = s.o.Limits.MaxMessageBytes
	srv.MaxRecipients = 0 // enforced by the session, through the boundary
	if s.o.Limits.MaxLineLength > 0 {
		srv.MaxLineLength = s.o.Limits.MaxLineLength
	}
	// AUTH is gated by the session (AuthMechanisms/Auth), so that refusals
	// go through the boundary and are counted.
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = s.o.Limits.CommandTimeout
	srv.WriteTimeout = s.o.Limits.CommandTimeout
	srv.ErrorLog = slogLogger{s.o.Logger}
	srv.EnableSMTPUTF8 = false
	return srv
}

// The low 32 bits of queue IDs: a per-process sequence, scrambled by a
// bijection of uint32 (multiplication by an odd constant, then XOR with a
// random key) so that two IDs do not show how much mail passed between them.
var (
	queueIDSeq atomic.Uint32
	queueIDKey uint32
)

func init() {
	var b [8]byte
	_, _ = rand.Read(b[:])
	queueIDSeq.Store(binary.BigEndian.Uint32(b[:4]))
	queueIDKey = binary.BigEndian.Uint32(b[4:])
}

// newQueueID returns a 16-character unique ID: 48 bits of Unix
// milliseconds, then 32 bits from a per-process sequence (scrambled).
//
// IDs grow with time, so the unique index on engine_transactions.queue_id
// takes each new one at its right edge; random IDs dirtied a random leaf
// page per message, and the durable commit writes every dirty page to the
// WAL (5–8 % of the MX's CPU per message, docs/performance.md). One
// process never repeats an ID (its sequence would have to wrap within a
// millisecond); two processes (engine replicas) can only collide when
// both take the same 32-bit value in the same millisecond (2^-32 per such
// pair), and a collision fails that group commit: its messages get a
// temporary failure and are sent again, none is lost.
func newQueueID() string {
	return queueIDAt(uint64(time.Now().UnixMilli()), queueIDSeq.Add(1)*0x9E3779B1^queueIDKey)
}

// queueIDAt encodes ms and seq in base32's "extended hex" alphabet
// (0-9, A-V, RFC 4648 section 7), whose characters sort in the order of
// their values: with the standard alphabet (A-Z, 2-7) an ID whose
// character went from Z to 2 sorted before the one made just before it.
func queueIDAt(ms uint64, seq uint32) string {
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], ms<<16) // ms in b[0:6]
	binary.BigEndian.PutUint32(b[6:], seq)
	return base32.HexEncoding.EncodeToString(b[:])
}

type slogLogger struct{ l *slog.Logger }

func (l slogLogger) Printf(format string, v ...any) {
	l.l.Debug("smtp", "msg", fmt.Sprintf(format, v...))
}
func (l slogLogger) Println(v ...any) { l.l.Debug("smtp", "msg", fmt.Sprint(v...)) }

// connLimiter counts connections in total and per client IP.
type connLimiter struct {
	mu       sync.Mutex
	total    int
	perIP    map[netip.Addr]int
	max      int
	maxPerIP int
}

func (c *connLimiter) acquire(ip netip.Addr) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.max > 0 && c.total >= c.max {
		return "limit_total"
	}
	if c.maxPerIP > 0 && c.perIP[ip] >= c.maxPerIP {
		return "limit_per_ip"
	}
	c.total++
	c.perIP[ip]++
	return "accepted"
}

func (c *connLimiter) release(ip netip.Addr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total--
	if c.perIP[ip]--; c.perIP[ip] <= 0 {
		delete(c.perIP, ip)
	}
}

// limitListener enforces the connection limits at accept, answering 421
// to a client over its limit (RFC 5321 §3.8: a server may close with 421).
type limitListener struct {
	net.Listener
	s        *Server
	name     string
	pregreet bool // check for clients that talk before the greeting
	limiter  *connLimiter
	passed   *passCache // clients that waited for the greeting lately
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip := remoteIP(c)
		res := l.limiter.acquire(ip)
		l.s.o.Metrics.Conn(l.name, res)
		if res != "accepted" {
			r := Reply(ReasonTooManyConns)
			if res == "limit_total" {
				r.EnhancedCode = smtp.EnhancedCode{4, 3, 2}
				r.Message = "Too many connections, try again later"
			}
			l.s.o.Metrics.Reject(l.name, string(ReasonTooManyConns))
			l.s.o.Metrics.Reply(l.name, r.Code)
			l.s.o.Logger.Info("smtp connection refused", "listener", l.name, "client", ip.String(), "reason", res)
			go func() {
				_ = c.SetWriteDeadline(time.Now().Add(2 * time.Second))
				fmt.Fprintf(c, "%d %s %s\r\n", r.Code, enhanced(r.EnhancedCode), r.Message)
				c.Close()
			}()
			continue
		}
		l.s.o.Metrics.Active(l.name, 1)
		mc := &meteredConn{Conn: c, s: l.s, name: l.name, ip: ip, start: time.Now(), greeted: !l.pregreet, limiter: l.limiter, passed: l.passed}
		if d := l.s.o.Limits.MaxSession; d > 0 {
			mc.end = mc.start.Add(d)
		}
		return mc, nil
	}
}

// meteredConn releases the limiter slot, tracks the active gauge and
// observes the session duration when closed; it also ends a session that
// outlives Limits.MaxSession, refuses a client that talks before the
// greeting, and ends the session after a reply that closes it (421).
type meteredConn struct {
	net.Conn
	s       *Server
	name    string
	ip      netip.Addr
	start   time.Time
	end     time.Time
	once    sync.Once
	greeted bool        // the first write (the greeting) has been checked
	closing atomic.Bool // close the connection after the next write
	closed  atomic.Bool
	limiter *connLimiter
	passed  *passCache
}

func (c *meteredConn) Read(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, io.EOF
	}
	if !c.end.IsZero() && time.Now().After(c.end) {
		return 0, errSessionTooLong
	}
	return c.Conn.Read(p)
}

// Write sends p. The first write is go-smtp's greeting: before it, the
// client gets Limits.PregreetWait to show that it does not wait for its
// turn, unless its address waited within Limits.PregreetTTL (as postscreen
// skips the test for a client that passed it). After a write that carries
// a closing reply, the connection is closed, so that nothing the client
// sends after it (pipelined or not) is answered.
func (c *meteredConn) Write(p []byte) (int, error) {
	if c.closed.Load() {
		return 0, net.ErrClosed
	}
	if !c.greeted {
		c.greeted = true
		if !c.passed.has(c.ip, c.s.o.Clock()) {
			if c.talksFirst() {
				r := Reply(ReasonPregreet)
				c.s.o.Metrics.Reject(c.name, string(ReasonPregreet))
				c.s.o.Metrics.Reply(c.name, r.Code)
				c.s.o.Logger.Info("smtp refused", "listener", c.name, "client", c.ip.String(), "reason", string(ReasonPregreet), "code", r.Code)
				_ = c.Conn.SetWriteDeadline(time.Now().Add(2 * time.Second))
				fmt.Fprintf(c.Conn, "%d %s %s\r\n", r.Code, enhanced(r.EnhancedCode), r.Message)
				c.shut()
				return 0, net.ErrClosed
			}
			c.passed.add(c.ip, c.s.o.Clock())
			// The wait ate into the write deadline go-smtp set for the
			// greeting.
			if d := c.s.o.Limits.CommandTimeout; d > 0 {
				_ = c.Conn.SetWriteDeadline(time.Now().Add(d))
			}
		}
	}
	n, err := c.Conn.Write(p)
	if c.closing.Load() {
		c.shut()
	}
	return n, err
}

// talksFirst reports whether the client sent something before the
// greeting, waiting up to Limits.PregreetWait (at least a millisecond, so
// that what has already arrived is seen).
func (c *meteredConn) talksFirst() bool {
	wait := max(c.s.o.Limits.PregreetWait, time.Millisecond)
	if err := c.Conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return false
	}
	var b [64]byte
	n, _ := c.Conn.Read(b[:])
	_ = c.Conn.SetReadDeadline(time.Time{})
	return n > 0
}

// closeAfterReply marks the connection to be closed once the reply being
// prepared has been written (RFC 5321 §3.8: a 421 reply closes the
// transmission channel).
func (c *meteredConn) closeAfterReply() { c.closing.Store(true) }

// shut closes the socket; go-smtp's loop then sees the end of input and
// Close runs as usual.
func (c *meteredConn) shut() {
	if c.closed.CompareAndSwap(false, true) {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		_ = c.Conn.SetReadDeadline(time.Now())
	}
}

// metered finds the meteredConn under c (a TLS connection wraps it).
func metered(c net.Conn) *meteredConn {
	for c != nil {
		switch x := c.(type) {
		case *meteredConn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
	return nil
}

var errSessionTooLong = &net.OpError{Op: "read", Net: "tcp", Err: timeoutError{}}

type timeoutError struct{}

func (timeoutError) Error() string   { return "session lasted too long" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

func (c *meteredConn) Close() error {
	c.once.Do(func() {
		c.limiter.release(c.ip)
		c.s.o.Metrics.Active(c.name, -1)
		c.s.o.Metrics.SessionDone(c.name, time.Since(c.start))
	})
	return c.Conn.Close()
}

func remoteIP(c net.Conn) netip.Addr {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			return a.Unmap()
		}
	}
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
