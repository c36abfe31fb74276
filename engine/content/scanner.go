// Package content owns content scanning in the engine
// (docs/configuration.md, `content:`; DOMAIN.md "MX layer": antivirus →
// spam tagging → delivery): the
// `content:` configuration, the attachment policy (forbidden extensions,
// also inside zip archives; encrypted or corrupt archives are suspect),
// built-in EICAR detection and the optional clamd scanner, the spam scorer
// and its per-domain action, quarantine, and the submission rate limits of
// abuse control. Scanner implements smtpserver.ContentFilter, the engine's
// hook after DATA.
package content

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/engine/clamd"
	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/membudget"
	"github.com/uni-mail/postvakt/engine/mime"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/rspamd"
	"github.com/uni-mail/postvakt/engine/sendlimit"
	"github.com/uni-mail/postvakt/engine/smtpserver"
	"github.com/uni-mail/postvakt/engine/spam"
	"github.com/uni-mail/postvakt/engine/spamd"
	"github.com/uni-mail/postvakt/engine/spool"
)

// Verdict is the closed set of scan verdicts (the label of
// postvakt_content_verdicts_total).
type Verdict string

// The verdicts.
const (
	VerdictClean   Verdict = "clean"
	VerdictSpam    Verdict = "spam"
	VerdictVirus   Verdict = "virus"
	VerdictBanned  Verdict = "banned"
	VerdictSuspect Verdict = "suspect"
)

// Scanner names (the label of the scanner metrics).
const (
	ScannerClamd  = "clamd"
	ScannerSpamd  = "spamd"
	ScannerRspamd = "rspamd"
)

// Options are a Scanner's dependencies.
type Options struct {
	Config Config
	// Quarantine keeps infected, suspect and spam mail; required.
	Quarantine *quarantine.Service
	// Clamd overrides Config.Antivirus.Clamd (tests).
	Clamd *clamd.Client
	// DNSBL feeds the DNSBL_LISTED rule; nil: rule off.
	DNSBL *dnsbl.Checker
	// SPFResolver answers the SPF rules' DNS queries when
	// Config.Spam.SPF; nil uses net.DefaultResolver.
	SPFResolver spf.DNSResolver
	// LocalDomain feeds FORGED_LOCAL_SENDER; nil: rule off.
	LocalDomain func(ctx context.Context, domain string) bool
	// Abuse applies the submission rate limits; nil: none.
	Abuse *sendlimit.Controller
	// Scratch holds archives while they are opened (memory up to its
	// threshold, then disk); nil keeps them in memory.
	Scratch *spool.Spool
	// Memory is the message memory budget a message is read into memory
	// under for the quarantine; nil: no limit.
	Memory     *membudget.Budget
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	Clock      func() time.Time
}

// Scanner scans messages. It is safe for concurrent use.
type Scanner struct {
	o        Options
	cur      atomic.Pointer[settings]
	local    atomic.Pointer[spam.LocalRules]
	slots    *membudget.Budget // scans at once
	up       *prometheus.GaugeVec
	errs     *prometheus.CounterVec
	verdicts *prometheus.CounterVec

	uninspectable prometheus.Counter
	scanSeconds   prometheus.Histogram
}

// settings are what a scan reads from the configuration: swapped whole by
// Reload, so a scan under way finishes with the settings it began with.
type settings struct {
	c      Config
	policy *AttachmentPolicy
	clamd  *clamd.Client
	scorer *spam.Scorer
	spamd  *spamd.Client
	rspamd *rspamd.Client
}

// settingsFor builds the settings of c.
func (s *Scanner) settingsFor(c Config) *settings {
	o := s.o
	st := &settings{c: c, policy: NewAttachmentPolicy(c.Attachments), clamd: o.Clamd}
	if st.clamd == nil && c.Antivirus.Clamd != "" {
		network, addr, _ := strings.Cut(c.Antivirus.Clamd, ":")
		st.clamd = &clamd.Client{Network: network, Addr: addr, Timeout: c.Antivirus.Timeout}
	}
	if c.Spam.Enabled {
		so := spam.Options{Threshold: c.Spam.Threshold, Weights: c.Spam.Rules, DNSBL: o.DNSBL, Clock: o.Clock}
		if c.Spam.SPF {
			so.SPFResolver = o.SPFResolver
			if so.SPFResolver == nil {
				so.SPFResolver = net.DefaultResolver
			}
		}
		st.scorer = spam.New(so)
	}
	if a := c.Spam.Spamd; a != "" {
		st.spamd = &spamd.Client{Network: "tcp", Addr: a, Timeout: c.Antivirus.Timeout}
		if p, ok := strings.CutPrefix(a, "unix:"); ok {
			st.spamd.Network, st.spamd.Addr = "unix", p
		}
	}
	if c.Spam.Rspamd != "" {
		st.rspamd = &rspamd.Client{BaseURL: c.Spam.Rspamd, Timeout: c.Antivirus.Timeout}
	}
	return st
}

// SetLocalRules makes the spam scorer use rules (the rules accepted from
// spam complaints, read from the database) for the messages that follow;
// nil removes them.
func (s *Scanner) SetLocalRules(rules *spam.LocalRules) { s.local.Store(rules) }

// initScanners creates the metric series of the scanners st uses, so
// that each starts at up and zero errors.
func (s *Scanner) initScanners(st *settings) {
	for name, on := range map[string]bool{ScannerClamd: st.clamd != nil, ScannerSpamd: st.spamd != nil, ScannerRspamd: st.rspamd != nil} {
		if on {
			s.up.WithLabelValues(name).Set(1)
			s.errs.WithLabelValues(name)
		}
	}
}

// Reload checks c and returns the function that makes the scanner use it
// for the messages that follow: attachment rules, antivirus and spam
// settings (scorer, threshold, rules, actions, subject prefix, external
// scanners), MIME limits. content.enabled, content.quarantine and
// content.abuse are not the scanner's (docs/configuration.md, "Reloading").
func (s *Scanner) Reload(c Config) (apply func(), err error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	st := s.settingsFor(c)
	return func() {
		s.initScanners(st)
		s.cur.Store(st)
	}, nil
}

var _ smtpserver.ContentFilter = (*Scanner)(nil)

// New validates the configuration and builds a Scanner.
func New(o Options) (*Scanner, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Quarantine == nil {
		return nil, errors.New("content: Quarantine is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Scratch == nil {
		var err error
		if o.Scratch, err = spool.New("", 1<<62, nil); err != nil {
			return nil, err
		}
	}
	slots := o.Config.Limits.Concurrency
	if slots <= 0 {
		slots = 2 * runtime.GOMAXPROCS(0)
	}
	s := &Scanner{o: o, slots: membudget.New(int64(slots))}
	st := s.settingsFor(o.Config)
	s.cur.Store(st)
	s.up = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "postvakt_content_scanner_up",
		Help: "Whether an external content scanner answered its last request or probe (1) or not (0), by scanner."}, []string{"scanner"})
	s.errs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_content_scan_errors_total",
		Help: "Content scans that failed because a scanner did not answer, by scanner."}, []string{"scanner"})
	s.verdicts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_content_verdicts_total",
		Help: "Messages scanned, by verdict (clean, spam, virus, banned, suspect)."}, []string{"verdict"})
	s.uninspectable = prometheus.NewCounter(prometheus.CounterOpts{Name: "postvakt_content_uninspectable_total",
		Help: "Messages that could not be fully inspected (broken MIME structure, scan budget or deadline exceeded, archives nested too deep), treated as suspect."})
	s.scanSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "postvakt_content_scan_duration_seconds",
		Help:    "Time the built-in scan (MIME walk, attachments, archives) of one message took.",
		Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}})
	for _, v := range []Verdict{VerdictClean, VerdictSpam, VerdictVirus, VerdictBanned, VerdictSuspect} {
		s.verdicts.WithLabelValues(string(v))
	}
	s.initScanners(st)
	if o.Registerer != nil {
		for _, col := range []prometheus.Collector{s.up, s.errs, s.verdicts, s.uninspectable, s.scanSeconds} {
			if err := o.Registerer.Register(col); err != nil {
				return nil, fmt.Errorf("content metrics: %w", err)
			}
		}
	}
	return s, nil
}

// Outcome is the full result of a scan; Filter reduces it to the engine's
// Verdict.
type Outcome struct {
	Verdict      Verdict
	Action       smtpserver.Action
	Headers      []string
	Reason       string      // logged, never shown to the client
	Findings     []Finding   // attachment and antivirus findings
	Spam         spam.Result // zero when the scorer is off
	QuarantineID int64       // non-zero when quarantined
	// Header is the rewritten header section when the spam action is
	// "subject" (smtpserver.Verdict.Header); nil when it is unchanged.
	Header []byte
}

// Filter implements smtpserver.ContentFilter.
func (s *Scanner) Filter(ctx context.Context, env smtpserver.Envelope, msg smtpserver.Message) (smtpserver.Verdict, error) {
	out, err := s.Scan(ctx, env, msg)
	if err != nil {
		return smtpserver.Verdict{Action: smtpserver.Tempfail, Reason: err.Error()}, nil
	}
	return smtpserver.Verdict{Action: out.Action, Headers: out.Headers, Reason: out.Reason, Header: out.Header,
		Quarantined: out.QuarantineID != 0}, nil
}

// Text kept for the spam rules: the first textPerPart bytes of each text
// part, at most textTotal in all (SpamAssassin likewise scores the first
// 50 kB of a body part, body_part_scan_size).
const (
	textPerPart = 256 << 10
	textTotal   = 1 << 20
)

// textKeeper keeps a bounded prefix of a part.
type textKeeper struct {
	buf  []byte
	room int
}

func (t *textKeeper) Write(p []byte) (int, error) {
	if n := min(len(p), t.room-len(t.buf)); n > 0 {
		t.buf = append(t.buf, p[:n]...)
	}
	return len(p), nil
}

// Scan scans one message, reading it as a stream within the scan budget
// (content.limits): a deadline, a total of decoded and decompressed bytes,
// archive entries and nesting depth. A message that cannot be fully
// inspected (broken MIME structure, an archive entry that lies about its
// size, a budget exceeded) is suspect under content.limits.on_uninspectable
// — never clean. The error is non-nil only when the message must be
// deferred for an internal reason (the quarantine store failed, no scan
// slot in time).
func (s *Scanner) Scan(ctx context.Context, env smtpserver.Envelope, msg smtpserver.Message) (Outcome, error) {
	st := s.cur.Load()
	c := st.c
	submission := env.Listener != "mx"
	if s.o.Abuse != nil && env.AuthUser != "" && !s.o.Abuse.Allow(env.AuthUser, env.MailFrom, len(env.Rcpts)) {
		return Outcome{Action: smtpserver.Tempfail, Reason: "submission rate limit for " + env.AuthUser}, nil
	}
	// Scans are CPU-bound: more at once than the slots only share the
	// cores and run into their deadlines.
	release, err := s.slots.Acquire(ctx, 1)
	if err != nil {
		return Outcome{}, fmt.Errorf("no content scan slot in time: %w", err)
	}
	defer release()
	sctx, cancel := context.WithTimeout(ctx, c.Limits.Timeout)
	defer cancel()
	start := time.Now()

	var out Outcome
	in := &inspection{ctx: sctx, policy: st.policy, scratch: s.o.Scratch, left: c.Limits.MaxScanBytes, entries: c.Limits.MaxEntries}
	var texts [][]byte
	textLeft := textTotal
	sum, werr := mime.Walk(io.NewSectionReader(msg, 0, msg.Size()), mime.Limits{MaxDepth: c.MIME.MaxDepth, MaxParts: c.MIME.MaxParts},
		func(p *mime.Part) error {
			var tk *textKeeper
			var tw io.Writer
			if (strings.HasPrefix(p.ContentType, "text/") || p.Index == 0) && textLeft > 0 {
				tk = &textKeeper{room: min(textPerPart, textLeft)}
				tw = tk
			}
			in.part(p, tw)
			if tk != nil {
				texts = append(texts, tk.buf)
				textLeft -= len(tk.buf)
			}
			return in.stop
		})
	out.Findings = in.findings
	switch {
	case in.stop != nil:
		out.Findings = append(out.Findings, Finding{Kind: FindingUninspectable, Name: "message", Info: in.stop.Error()})
	case werr != nil:
		// Too deep or too many parts: the rest was not walked.
		out.Findings = append(out.Findings, Finding{Kind: FindingUninspectable, Name: "message", Info: werr.Error()})
	}
	if sum.Broken {
		out.Findings = append(out.Findings, Finding{Kind: FindingUninspectable, Name: "message",
			Info: "malformed MIME structure: " + strings.Join(sum.Defects, "; ")})
	}
	s.scanSeconds.Observe(time.Since(start).Seconds())
	if st.clamd != nil && !hasKind(out.Findings, FindingVirus) {
		res, err := st.clamd.Scan(ctx, io.NewSectionReader(msg, 0, msg.Size()))
		switch {
		case err != nil:
			s.up.WithLabelValues(ScannerClamd).Set(boolGauge(errors.Is(err, clamd.ErrScan)))
			s.errs.WithLabelValues(ScannerClamd).Inc()
			s.o.Logger.Warn("clamd scan failed", "err", err, "on_failure", c.Antivirus.OnFailure)
			if c.Antivirus.OnFailure == "tempfail" {
				return Outcome{Action: smtpserver.Tempfail, Reason: "antivirus scanner unavailable: " + err.Error()}, nil
			}
			out.Headers = append(out.Headers, "X-Virus-Scan: unavailable")
		case res.Infected:
			s.up.WithLabelValues(ScannerClamd).Set(1)
			out.Findings = append(out.Findings, Finding{Kind: FindingVirus, Name: "message", Info: res.Signature})
		default:
			s.up.WithLabelValues(ScannerClamd).Set(1)
		}
	}
	quar := func(v Verdict, r quarantine.Reason, detail string, headers []string) (Outcome, error) {
		body, release, err := s.load(ctx, headers, msg)
		if err != nil {
			return Outcome{}, err
		}
		defer release()
		// the transaction's queue ID, so the quarantined copy is the
		// message the transaction log knows under it
		qid := env.QueueID
		if qid == "" {
			qid = newID()
		}
		id, err := s.o.Quarantine.Add(ctx, &quarantine.Item{
			QueueID: qid, Node: env.Node, Reason: r, Detail: detail, Listener: env.Listener, ClientIP: ipString(env),
			AuthUser: env.AuthUser, MailFrom: env.MailFrom, Rcpts: env.Rcpts, MessageID: sum.Header.Get("Message-Id"),
			Subject: sum.Header.Get("Subject"), HeaderFrom: sum.Header.Get("From"), Body: body,
		})
		if err != nil {
			return Outcome{}, err
		}
		out.Verdict, out.Action, out.QuarantineID = v, smtpserver.Discard, id
		out.Reason = fmt.Sprintf("quarantined (%s: %s) as %d", r, detail, id)
		s.verdicts.WithLabelValues(string(v)).Inc()
		return out, nil
	}
	if f, ok := first(out.Findings, FindingVirus); ok {
		return quar(VerdictVirus, quarantine.ReasonVirus, f.Info+" in "+f.Name, nil)
	}
	if f, ok := first(out.Findings, FindingForbidden); ok {
		out.Verdict, out.Reason = VerdictBanned, "forbidden attachment "+f.Name
		out.Action = smtpserver.Reject
		if c.Attachments.Action == "discard" {
			out.Action = smtpserver.Discard
		}
		s.verdicts.WithLabelValues(string(VerdictBanned)).Inc()
		return out, nil
	}
	for _, k := range []FindingKind{FindingEncrypted, FindingCorrupt, FindingUninspectable} {
		f, ok := first(out.Findings, k)
		if !ok {
			continue
		}
		detail := string(k) + " " + f.Name
		if f.Info != "" {
			detail += ": " + f.Info
		}
		if k == FindingUninspectable {
			s.uninspectable.Inc()
			if c.Limits.OnUninspectable == "reject" {
				out.Verdict, out.Action, out.Reason = VerdictSuspect, smtpserver.Reject, "not fully inspected: "+detail
				s.verdicts.WithLabelValues(string(VerdictSuspect)).Inc()
				return out, nil
			}
		}
		return quar(VerdictSuspect, quarantine.ReasonSuspect, detail, nil)
	}
	if env.DMARCQuarantine && !env.WantsAll {
		// The sender's domain asks for it (RFC 7489 §6.6.4: p=quarantine).
		return quar(VerdictSpam, quarantine.ReasonSpam, "DMARC policy of the sender's domain: quarantine", []string{env.AuthResults})
	}
	if st.scorer != nil {
		in := spam.Input{ClientIP: env.ClientIP, HELO: env.HELO, MailFrom: env.MailFrom, Header: sum.Header,
			Texts: texts, Authenticated: submission || env.AuthUser != "", LocalDomain: s.o.LocalDomain, Local: s.local.Load()}
		out.Spam = st.scorer.Score(ctx, in)
		s.external(ctx, st, env, msg, &out.Spam)
		if out.Spam.Spam() {
			if env.WantsAll {
				// A recipient on the spam whitelist gets everything, untouched.
				out.Verdict, out.Action, out.Reason = VerdictSpam, smtpserver.Accept, "spam for a whitelisted recipient"
				s.verdicts.WithLabelValues(string(VerdictSpam)).Inc()
				return out, nil
			}
			out.Headers = append(out.Headers, out.Spam.Headers()...)
			detail := fmt.Sprintf("score=%.1f tests=%s", out.Spam.Score, strings.Join(out.Spam.Rules, ","))
			if spamAction(c, env) == "quarantine" {
				return quar(VerdictSpam, quarantine.ReasonSpam, detail, out.Headers)
			}
			out.Verdict, out.Action, out.Reason = VerdictSpam, smtpserver.Accept, "spam tagged: "+detail
			if h, err := s.taggedHeader(env, msg, out.Headers, c.Spam.SubjectPrefix); err == nil {
				out.Header = h
			}
			s.verdicts.WithLabelValues(string(VerdictSpam)).Inc()
			return out, nil
		}
		out.Headers = append(out.Headers, out.Spam.Headers()...)
	}
	out.Verdict, out.Action = VerdictClean, smtpserver.Accept
	s.verdicts.WithLabelValues(string(VerdictClean)).Inc()
	return out, nil
}

// load reads msg into memory with headers put in front of it, under the
// message memory budget; release frees the reservation.
func (s *Scanner) load(ctx context.Context, headers []string, msg smtpserver.Message) ([]byte, func(), error) {
	var pre bytes.Buffer
	for _, h := range headers {
		pre.WriteString(h)
		pre.WriteString("\r\n")
	}
	size := int64(pre.Len()) + msg.Size()
	// The bytes, and the database driver's copy on the way to the store.
	release, err := s.o.Memory.Acquire(ctx, 3*size)
	if err != nil {
		return nil, nil, fmt.Errorf("message memory budget: %w", err)
	}
	body := make([]byte, size)
	if _, err := msg.ReadAt(body[pre.Len():], 0); err != nil && !errors.Is(err, io.EOF) {
		release()
		return nil, nil, err
	}
	copy(body, pre.Bytes())
	return body, release, nil
}

// taggedHeader is the message's header section with headers added and the
// Subject prefixed (the "subject" spam action).
func (s *Scanner) taggedHeader(env smtpserver.Envelope, msg smtpserver.Message, headers []string, prefix string) ([]byte, error) {
	if env.HeaderSize <= 0 {
		return nil, errors.New("no header section")
	}
	h := make([]byte, env.HeaderSize)
	if _, err := msg.ReadAt(h, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return rewriteSubject(prepend(headers, h), prefix), nil
}

// external adds the scores of spamd and rspamd when configured; a scanner
// that does not answer is counted and skipped (the built-in score stands).
func (s *Scanner) external(ctx context.Context, st *settings, env smtpserver.Envelope, msg smtpserver.Message, r *spam.Result) {
	if st.spamd != nil {
		res, err := st.spamd.CheckReader(ctx, io.NewSectionReader(msg, 0, msg.Size()), msg.Size())
		s.scanned(ScannerSpamd, err)
		if err == nil {
			r.AddExternal("SPAMD", res.Score)
		}
	}
	if st.rspamd != nil {
		res, err := st.rspamd.CheckReader(ctx, rspamd.Envelope{IP: ipString(env), HELO: env.HELO, From: env.MailFrom, User: env.AuthUser, Rcpts: env.Rcpts},
			io.NewSectionReader(msg, 0, msg.Size()), msg.Size())
		s.scanned(ScannerRspamd, err)
		if err == nil && res.Required > 0 {
			r.AddExternal("RSPAMD", res.Score*r.Threshold/res.Required)
		}
	}
}

func (s *Scanner) scanned(scanner string, err error) {
	s.up.WithLabelValues(scanner).Set(boolGauge(err == nil))
	if err != nil {
		s.errs.WithLabelValues(scanner).Inc()
		s.o.Logger.Warn("spam scanner failed", "scanner", scanner, "err", err)
	}
}

// spamAction is the action for the first recipient's domain, else the
// default.
func spamAction(c Config, env smtpserver.Envelope) string {
	for _, r := range env.Rcpts {
		if i := strings.LastIndexByte(r, '@'); i >= 0 {
			if a, ok := c.Spam.DomainActions[strings.ToLower(r[i+1:])]; ok {
				return a
			}
		}
	}
	return c.Spam.Action
}

// Probe pings the configured scanners and sets postvakt_content_scanner_up.
func (s *Scanner) Probe(ctx context.Context) {
	st := s.cur.Load()
	if st.clamd == nil {
		return
	}
	err := st.clamd.Ping(ctx)
	s.up.WithLabelValues(ScannerClamd).Set(boolGauge(err == nil))
	if err != nil {
		s.o.Logger.Warn("clamd probe failed", "err", err)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func hasKind(fs []Finding, k FindingKind) bool { _, ok := first(fs, k); return ok }

func first(fs []Finding, k FindingKind) (Finding, bool) {
	for _, f := range fs {
		if f.Kind == k {
			return f, true
		}
	}
	return Finding{}, false
}

func prepend(headers []string, msg []byte) []byte {
	var b bytes.Buffer
	for _, h := range headers {
		b.WriteString(h)
		b.WriteString("\r\n")
	}
	b.Write(msg)
	return b.Bytes()
}

// rewriteSubject prefixes the first Subject field of the header (adding
// one when absent).
func rewriteSubject(msg []byte, prefix string) []byte {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	}
	lines := bytes.SplitAfter(msg[:end], []byte("\n"))
	var b bytes.Buffer
	done := false
	for _, l := range lines {
		if !done && len(l) >= 8 && strings.EqualFold(string(l[:8]), "subject:") {
			b.WriteString("Subject: " + prefix + " ")
			b.Write(bytes.TrimLeft(l[8:], " \t"))
			done = true
			continue
		}
		b.Write(l)
	}
	if !done {
		b.WriteString("\r\nSubject: " + prefix)
	}
	b.Write(msg[end:])
	return b.Bytes()
}

func ipString(env smtpserver.Envelope) string {
	if env.ClientIP.IsValid() {
		return env.ClientIP.String()
	}
	return ""
}

func newID() string {
	var b [10]byte
	_, _ = rand.Read(b[:])
	return "Q" + base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:])
}
