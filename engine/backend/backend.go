// Package backend owns what the engine asks a local domain's back end
// (smtp.directory.delivery: Dovecot's LMTP, or an internal SMTP server)
// while a client waits at RCPT TO, so that mail the back end would refuse
// is refused at the MX rather than accepted and bounced later
// (backscatter):
//
//   - whether the recipient exists: an LMTP session (RFC 2033: LHLO,
//     MAIL FROM:<>, RCPT TO, RSET, QUIT), or the same in SMTP (RFC 5321
//     §3.3: EHLO, MAIL FROM:<>, RCPT TO, RSET, QUIT), whose RCPT reply
//     answers it, as Postfix's reject_unverified_recipient does with its
//     verify cache; answers are kept in a bounded cache, known recipients
//     longer than unknown ones;
//   - whether the recipient's mailbox is over quota: Dovecot's quota-status
//     service, asked in Postfix's policy delegation protocol
//     (request=smtpd_access_policy, protocol_state=RCPT, recipient, size;
//     the answer is action=DUNNO, OK or a reply such as "552 5.2.2 …").
//
// A back end that cannot be asked in time is a temporary failure, never a
// yes: the session answers 451 4.4.0 unless it is configured to accept
// unverifiable recipients.
package backend

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/emersion/go-smtp"
)

// Status is what the back end says of a recipient.
type Status string

// The statuses (a metric label).
const (
	StatusExists    Status = "exists"
	StatusUnknown   Status = "unknown"
	StatusOverQuota Status = "over_quota"
)

// ErrUnavailable is wrapped when the back end could not answer (down,
// too slow, or a temporary reply): the recipient is unverifiable.
var ErrUnavailable = errors.New("backend: unavailable")

// Config is the `smtp.backend` section.
type Config struct {
	// VerifyRecipients asks an LMTP back end at RCPT whether a recipient
	// unknown to the directory exists.
	VerifyRecipients bool `yaml:"verify_recipients"`
	// Timeout bounds one question (connect and dialogue).
	Timeout time.Duration `yaml:"timeout"`
	// CacheTTL keeps a known recipient; NegativeCacheTTL an unknown one.
	CacheTTL         time.Duration `yaml:"cache_ttl"`
	NegativeCacheTTL time.Duration `yaml:"negative_cache_ttl"`
	// CacheSize bounds the cached answers; when full the cache is emptied.
	CacheSize int `yaml:"cache_size"`
	// AcceptUnverified accepts a recipient whose back end cannot be asked
	// (the queue then delivers or bounces it later); by default it is
	// answered 451 4.4.0 and the sender retries.
	AcceptUnverified bool `yaml:"accept_unverified"`
	// QuotaStatus is Dovecot's quota-status service, "host:port" or
	// "unix:/path"; "" does not ask.
	QuotaStatus string `yaml:"quota_status"`
}

// DefaultConfig verifies recipients with a 10 s timeout, known ones cached
// for 10 minutes and unknown ones for 1 minute, 10000 answers at most.
func DefaultConfig() Config {
	return Config{VerifyRecipients: true, Timeout: 10 * time.Second, CacheTTL: 10 * time.Minute,
		NegativeCacheTTL: time.Minute, CacheSize: 10000}
}

// Validate returns the problems of c as field errors keyed relative to
// the section, via bad.
func (c Config) Validate(bad func(key string, val any, why string)) {
	if c.Timeout <= 0 || c.Timeout > time.Minute {
		bad("timeout", c.Timeout, "must be between 0s (exclusive) and 1m")
	}
	if c.CacheTTL < 0 {
		bad("cache_ttl", c.CacheTTL, "must not be negative")
	}
	if c.NegativeCacheTTL < 0 {
		bad("negative_cache_ttl", c.NegativeCacheTTL, "must not be negative")
	}
	if c.CacheSize < 1 || c.CacheSize > 10_000_000 {
		bad("cache_size", c.CacheSize, "must be between 1 and 10000000")
	}
	if c.QuotaStatus != "" {
		if _, _, err := ParseSocket(c.QuotaStatus); err != nil {
			bad("quota_status", c.QuotaStatus, err.Error())
		}
	}
}

// ParseSocket parses "host:port" or "unix:/path" into a network and an
// address.
func ParseSocket(s string) (network, address string, err error) {
	if p, ok := strings.CutPrefix(s, "unix:"); ok {
		if !strings.HasPrefix(p, "/") {
			return "", "", errors.New("unix socket path must be absolute")
		}
		return "unix", p, nil
	}
	if _, _, err := net.SplitHostPort(s); err != nil {
		return "", "", errors.New(`must be "host:port" or "unix:/path"`)
	}
	return "tcp", s, nil
}

// Server is a domain's back end: its network ("tcp" or "unix") and
// address, and whether it speaks SMTP rather than LMTP.
type Server struct {
	Network, Addr string
	// SMTP says the back end is an SMTP server (EHLO) rather than an LMTP
	// one (LHLO).
	SMTP bool
}

// Options configure a Checker.
type Options struct {
	Config Config
	// Hostname is said in LHLO.
	Hostname string
	// Servers are the back ends by lower-case domain.
	Servers map[string]Server
	// Metrics receives postvakt_smtp_backend_checks_total; nil: none.
	Metrics *metrics.Set
	// Dial opens connections; nil: a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Checker answers the questions, one connection per question.
type Checker struct {
	o     Options
	quota struct{ network, addr string }
	mu    sync.Mutex
	cache map[string]cached
	now   func() time.Time
}

type cached struct {
	status  Status
	expires time.Time
}

// checkResults are the label values of postvakt_smtp_backend_checks_total
// by check.
var checkResults = map[string][]string{
	"verify": {"exists", "unknown", "over_quota", "unavailable", "cached_exists", "cached_unknown"},
	"quota":  {"ok", "over_quota", "unavailable"},
}

// New returns a Checker.
func New(o Options) *Checker {
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	c := &Checker{o: o, cache: map[string]cached{}, now: time.Now}
	if o.Config.QuotaStatus != "" {
		c.quota.network, c.quota.addr, _ = ParseSocket(o.Config.QuotaStatus)
	}
	if o.Metrics != nil {
		for kind, rs := range checkResults {
			for _, r := range rs {
				c.counter(kind, r)
			}
		}
	}
	return c
}

func (c *Checker) counter(kind, result string) *metrics.Counter {
	if c.o.Metrics == nil {
		return nil
	}
	return c.o.Metrics.GetOrCreateCounter(fmt.Sprintf(`postvakt_smtp_backend_checks_total{check=%q,result=%q}`, kind, result))
}

func (c *Checker) count(kind, result string) {
	if ctr := c.counter(kind, result); ctr != nil {
		ctr.Inc()
	}
}

// Verifies reports whether recipients of domain are verified at its back
// end.
func (c *Checker) Verifies(domain string) bool {
	if !c.o.Config.VerifyRecipients {
		return false
	}
	_, ok := c.o.Servers[strings.ToLower(domain)]
	return ok
}

// AcceptUnverified is Config.AcceptUnverified.
func (c *Checker) AcceptUnverified() bool { return c.o.Config.AcceptUnverified }

// Check asks about address (a lower-case address of a back-end domain)
// for a message of size bytes (0: unknown): its existence at the back
// end when Verifies, then its quota when quota-status is configured. An
// error wraps ErrUnavailable.
func (c *Checker) Check(ctx context.Context, address string, size int64) (Status, error) {
	dom := ""
	if i := strings.LastIndexByte(address, '@'); i >= 0 {
		dom = strings.ToLower(address[i+1:])
	}
	if c.Verifies(dom) {
		st, err := c.verify(ctx, c.o.Servers[dom], address)
		if err != nil || st != StatusExists {
			return st, err
		}
	}
	if c.quota.addr == "" {
		return StatusExists, nil
	}
	st, err := c.askQuota(ctx, address, size)
	switch {
	case err != nil:
		c.count("quota", "unavailable")
	case st == StatusOverQuota:
		c.count("quota", "over_quota")
	default:
		c.count("quota", "ok")
	}
	return st, err
}

// verify asks the back end, through the cache.
func (c *Checker) verify(ctx context.Context, b Server, address string) (Status, error) {
	now := c.now()
	c.mu.Lock()
	e, ok := c.cache[address]
	c.mu.Unlock()
	if ok && now.Before(e.expires) {
		c.count("verify", "cached_"+string(e.status))
		return e.status, nil
	}
	st, err := c.ask(ctx, b, address)
	if err != nil {
		c.count("verify", "unavailable")
		return "", err
	}
	c.count("verify", string(st))
	ttl := c.o.Config.CacheTTL
	if st == StatusUnknown {
		ttl = c.o.Config.NegativeCacheTTL
	}
	if ttl > 0 && st != StatusOverQuota {
		c.mu.Lock()
		if len(c.cache) >= c.o.Config.CacheSize {
			clear(c.cache) // a dictionary attack empties the cache, never grows it
		}
		c.cache[address] = cached{status: st, expires: now.Add(ttl)}
		c.mu.Unlock()
	}
	return st, nil
}

// ask runs LHLO (EHLO for an SMTP back end), MAIL FROM:<>, RCPT
// TO:<address>, RSET and QUIT. A 2xx reply to RCPT is "exists"; 4.2.2 or
// 5.2.2 is "over quota" (Dovecot's lmtp_rcpt_check_quota); at an LMTP
// back end any other 5xx is "unknown"; at an SMTP back end, which may
// also refuse for reasons that say nothing of the mailbox (relaying
// denied, 5.7.1), only 5.1.x, or 550/551/553 without an enhanced code,
// is "unknown" (RFC 3463 §3.2). Any other reply, and no answer in time,
// is unavailable.
func (c *Checker) ask(ctx context.Context, b Server, address string) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Config.Timeout)
	defer cancel()
	proto, hello := "LMTP", "LHLO"
	if b.SMTP {
		proto, hello = "SMTP", "EHLO"
	}
	conn, err := c.o.Dial(ctx, b.Network, b.Addr)
	if err != nil {
		return "", fmt.Errorf("%w: connect to %s %s: %v", ErrUnavailable, proto, b.Addr, err)
	}
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	var cl *smtp.Client
	if b.SMTP {
		cl = smtp.NewClient(conn)
	} else {
		cl = smtp.NewClientLMTP(conn)
	}
	defer cl.Close()
	cl.CommandTimeout = c.o.Config.Timeout
	if err := cl.Hello(c.o.Hostname); err != nil {
		return "", fmt.Errorf("%w: %s at %s: %v", ErrUnavailable, hello, b.Addr, err)
	}
	if err := cl.Mail("", nil); err != nil {
		return "", fmt.Errorf("%w: MAIL FROM:<> at %s: %v", ErrUnavailable, b.Addr, err)
	}
	rerr := cl.Rcpt(address, nil)
	_ = cl.Reset()
	_ = cl.Quit()
	if rerr == nil {
		return StatusExists, nil
	}
	var se *smtp.SMTPError
	if !errors.As(rerr, &se) {
		return "", fmt.Errorf("%w: RCPT at %s: %v", ErrUnavailable, b.Addr, rerr)
	}
	switch {
	case se.EnhancedCode[1] == 2 && se.EnhancedCode[2] == 2:
		return StatusOverQuota, nil
	case se.Code >= 500 && !b.SMTP:
		return StatusUnknown, nil
	case se.Code >= 500 && se.EnhancedCode[0] == 5 && se.EnhancedCode[1] == 1:
		return StatusUnknown, nil
	case (se.Code == 550 || se.Code == 551 || se.Code == 553) && se.EnhancedCode[0] <= 0:
		return StatusUnknown, nil
	}
	return "", fmt.Errorf("%w: RCPT at %s: %d %s", ErrUnavailable, b.Addr, se.Code, se.Message)
}

// maxPolicyReply bounds the policy service's answer.
const maxPolicyReply = 4096

// askQuota asks the quota-status service (Postfix's SMTP access policy
// delegation protocol): action=DUNNO or OK is within quota; a 4xx or 5xx
// reply, or REJECT, is over quota; DEFER and anything else is unavailable.
func (c *Checker) askQuota(ctx context.Context, address string, size int64) (Status, error) {
	ctx, cancel := context.WithTimeout(ctx, c.o.Config.Timeout)
	defer cancel()
	conn, err := c.o.Dial(ctx, c.quota.network, c.quota.addr)
	if err != nil {
		return "", fmt.Errorf("%w: connect to quota-status %s: %v", ErrUnavailable, c.quota.addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	if strings.ContainsAny(address, "\r\n") {
		return "", fmt.Errorf("%w: address with a line break", ErrUnavailable)
	}
	req := fmt.Sprintf("request=smtpd_access_policy\nprotocol_state=RCPT\nprotocol_name=ESMTP\nrecipient=%s\nsize=%d\n\n", address, max(size, 0))
	if _, err := conn.Write([]byte(req)); err != nil {
		return "", fmt.Errorf("%w: quota-status: %v", ErrUnavailable, err)
	}
	r := bufio.NewReaderSize(&limited{r: conn, n: maxPolicyReply}, 512)
	action := ""
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", fmt.Errorf("%w: quota-status answer: %v", ErrUnavailable, err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(line, "action="); ok {
			action = v
		}
	}
	return ParseAction(action)
}

// ParseAction reads a policy service's action (Postfix's access(5)
// actions): DUNNO or OK is within quota (StatusExists); REJECT or a 4xx/5xx
// reply ("552 5.2.2 Mailbox is full") is StatusOverQuota; anything else
// (DEFER, DEFER_IF_PERMIT, an empty or unknown action) is an error
// wrapping ErrUnavailable.
func ParseAction(action string) (Status, error) {
	verb, _, _ := strings.Cut(strings.TrimSpace(action), " ")
	switch {
	case strings.EqualFold(verb, "DUNNO"), strings.EqualFold(verb, "OK"):
		return StatusExists, nil
	case strings.EqualFold(verb, "REJECT"), len(verb) == 3 && (verb[0] == '4' || verb[0] == '5') && isDigits(verb):
		return StatusOverQuota, nil
	}
	return "", fmt.Errorf("%w: quota-status action %q", ErrUnavailable, action)
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// limited reads at most n bytes.
type limited struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (l *limited) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errors.New("answer too long")
	}
	if len(p) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= n
	return n, err
}
