package queue

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/engine/membudget"
	"github.com/uni-mail/postvakt/engine/mtasts"
)

// MXResolver looks up MX records (net.Resolver implements it).
type MXResolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// Gate is abuse control's say over an entry abuse control has not seen
// yet: the held reason (e.g. "mass_mailing_held", "account_locked") holds
// every entry of the transaction; "" lets it go.
type Gate func(ctx context.Context, authUser, sender, queueID string, rcpts int) string

// Options are a Runner's dependencies.
type Options struct {
	Config     Config
	Store      Store
	Node       string
	Clock      func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Gate       Gate
	Resolver   MXResolver // for "mx" transports; nil: net.DefaultResolver
	// Memory is the message memory budget a body is held under while it
	// is delivered; nil: no limit.
	Memory *membudget.Budget
	// Dial opens connections to next hops; nil: a net.Dialer. Tests map
	// MX host names to loopback with it.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// RootCAs verify next hops' certificates at the "verify" level and
	// under MTA-STS; nil: the system's roots.
	RootCAs *x509.CertPool
	// MTASTS discovers and caches MTA-STS policies when relay.tls.mta_sts;
	// nil: one with the system resolver and an HTTPS client.
	MTASTS *mtasts.Fetcher
	// Backends are the local domains delivered to a back end rather than
	// the embedded store (smtp.directory.delivery: Dovecot's LMTP or an
	// internal SMTP server), by lower-case domain; they win over
	// relay.transports.
	Backends map[string]Transport
}

// maxLMTPBatch bounds the recipients of one LMTP transaction.
const maxLMTPBatch = 50

// Delivery results (the label of postvakt_queue_deliveries_total;
// ResultExpired, a bounce at the end of the lifetime, counts as bounced).
const (
	ResultSent     = "sent"
	ResultDeferred = "deferred"
	ResultBounced  = "bounced"
	ResultExpired  = "expired"
)

// Runner delivers the queue.
type Runner struct {
	o          Options
	owner      string
	transports map[string]Transport
	sem        chan struct{}

	messages   *prometheus.GaugeVec
	oldest     *prometheus.GaugeVec
	deliveries *prometheus.CounterVec
	tlsConns   *prometheus.CounterVec
	// backend counts deliveries to local domains' back ends by agent and
	// result.
	backend *prometheus.CounterVec
}

// New returns a Runner.
func New(o Options) (*Runner, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Store == nil {
		return nil, errors.New("queue: Store is required")
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.Dial == nil {
		o.Dial = (&net.Dialer{}).DialContext
	}
	if o.MTASTS == nil && o.Config.TLS.MTASTS {
		o.MTASTS = &mtasts.Fetcher{Clock: o.Clock}
	}
	r := &Runner{o: o, owner: o.Node + "/" + randHex(), transports: map[string]Transport{}, sem: make(chan struct{}, o.Config.Concurrency)}
	for d, t := range o.Config.Transports {
		r.transports[strings.ToLower(d)], _ = ParseTransport(t)
	}
	for d, t := range o.Backends {
		r.transports[strings.ToLower(d)] = t
	}
	r.messages = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "postvakt_queue_messages",
		Help: "Entries (one per recipient) in the outbound relay queue, by state (queued, deferred, held)."}, []string{"state"})
	r.oldest = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "postvakt_queue_oldest_age_seconds",
		Help: "Age of the oldest entry in the outbound relay queue, by state; 0 when empty."}, []string{"state"})
	r.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_queue_deliveries_total",
		Help: "Delivery attempts of the outbound relay queue, by result (sent, deferred, bounced)."}, []string{"result"})
	r.tlsConns = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_queue_connections_total",
		Help: "Connections of the relay queue to next hops, by TLS outcome (verified, encrypted, plaintext, refused: TLS required but not possible, so nothing was sent)."}, []string{"tls"})
	r.backend = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "postvakt_queue_backend_deliveries_total",
		Help: "Delivery attempts to the back ends of local domains (smtp.directory.delivery), by agent (lmtp, smtp) and result (sent, deferred, bounced); also counted in postvakt_queue_deliveries_total."}, []string{"agent", "result"})
	for _, s := range States {
		r.messages.WithLabelValues(string(s))
		r.oldest.WithLabelValues(string(s))
	}
	for _, v := range tlsOutcomes {
		r.tlsConns.WithLabelValues(v)
	}
	for _, res := range []string{ResultSent, ResultDeferred, ResultBounced} {
		r.deliveries.WithLabelValues(res)
		for _, agent := range []string{"lmtp", "smtp"} {
			r.backend.WithLabelValues(agent, res)
		}
	}
	if o.Registerer != nil {
		for _, c := range []prometheus.Collector{r.messages, r.oldest, r.deliveries, r.tlsConns, r.backend} {
			if err := o.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("queue metrics: %w", err)
			}
		}
	}
	return r, nil
}

// Run delivers due entries every PollInterval until ctx is done.
func (r *Runner) Run(ctx context.Context) error {
	t := time.NewTicker(r.o.Config.PollInterval)
	defer t.Stop()
	for {
		if _, err := r.RunOnce(ctx); err != nil && ctx.Err() == nil {
			r.o.Logger.Warn("relay queue run", "err", err)
		}
		if err := r.RefreshMetrics(ctx); err != nil && ctx.Err() == nil {
			r.o.Logger.Warn("relay queue stats", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// RefreshMetrics sets the queue gauges from the database.
func (r *Runner) RefreshMetrics(ctx context.Context) error {
	st, err := r.o.Store.QueueStats(ctx)
	if err != nil {
		return err
	}
	now := r.o.Clock()
	for _, s := range st {
		r.messages.WithLabelValues(string(s.State)).Set(float64(s.Count))
		age := 0.0
		if s.Count > 0 && !s.Oldest.IsZero() {
			age = max(now.Sub(s.Oldest).Seconds(), 0)
		}
		r.oldest.WithLabelValues(string(s.State)).Set(age)
	}
	return nil
}

// destination is where a group of entries goes.
type destination struct {
	key   string // "smtp:host:port", "lmtp:host:port" or "mx:domain", and the TLS level
	t     Transport
	dom   string
	level string // relay.tls level
}

func (r *Runner) destinationOf(target string) destination {
	dom := ""
	if i := strings.LastIndexByte(target, '@'); i >= 0 {
		dom = strings.ToLower(target[i+1:])
	}
	t, ok := r.transports[dom]
	if !ok {
		t, ok = r.transports["*"]
	}
	if !ok {
		t = Transport{Proto: "mx"}
	}
	level := r.levelOf(t, dom)
	if t.Proto == "mx" {
		return destination{key: "mx:" + dom + "|" + level, t: t, dom: dom, level: level}
	}
	return destination{key: t.String() + "|" + level, t: t, dom: dom, level: level}
}

// count counts a delivery attempt of e with result (sent, deferred or
// bounced), also as a back end's when e's domain has one.
func (r *Runner) count(e Entry, result string) {
	r.deliveries.WithLabelValues(result).Inc()
	if t, ok := r.backendOf(e); ok {
		r.backend.WithLabelValues(t.Proto, result).Inc()
	}
}

// backendOf is the back end e's target domain is delivered to, if any.
func (r *Runner) backendOf(e Entry) (Transport, bool) {
	if len(r.o.Backends) == 0 {
		return Transport{}, false
	}
	dom := ""
	if i := strings.LastIndexByte(e.Target, '@'); i >= 0 {
		dom = strings.ToLower(e.Target[i+1:])
	}
	t, ok := r.o.Backends[dom]
	return t, ok
}

// backoff is the delay before e's next attempt after attempts failed
// ones: the back ends' schedule for a local domain's back end, the
// remote one otherwise.
func (r *Runner) backoff(e Entry, attempts int) time.Duration {
	if _, ok := r.backendOf(e); ok {
		return r.o.Config.BackendRetry.Backoff(attempts)
	}
	return r.o.Config.Backoff(attempts)
}

// batches splits a destination's entries into transactions: one entry
// each, except over LMTP, where the entries of one message (same queue ID,
// body and sender, distinct targets) share a transaction of up to
// maxLMTPBatch recipients, and the server's reply per recipient after
// DATA (RFC 2033 §4.2) decides each entry's fate.
func batches(d destination, es []Entry) [][]Entry {
	var out [][]Entry
	if d.t.Proto != "lmtp" {
		for _, e := range es {
			out = append(out, []Entry{e})
		}
		return out
	}
	type key struct{ queueID, body, from string }
	idx := map[key]int{}
	for _, e := range es {
		k := key{e.QueueID, e.BodyHash, e.MailFrom}
		if i, ok := idx[k]; ok && len(out[i]) < maxLMTPBatch && !hasTarget(out[i], e.Target) {
			out[i] = append(out[i], e)
			continue
		}
		idx[k] = len(out)
		out = append(out, []Entry{e})
	}
	return out
}

func hasTarget(es []Entry, target string) bool {
	for _, e := range es {
		if strings.EqualFold(e.Target, target) {
			return true
		}
	}
	return false
}

// RunOnce claims due entries and delivers them; it returns how many it
// attempted.
func (r *Runner) RunOnce(ctx context.Context) (int, error) {
	now := r.o.Clock()
	entries, err := r.o.Store.QueueClaim(ctx, now, r.owner, now.Add(r.o.Config.Lease), r.o.Config.Batch)
	if err != nil {
		return 0, err
	}
	entries, err = r.gate(ctx, entries)
	if err != nil {
		return 0, err
	}
	groups := map[string][]Entry{}
	dests := map[string]destination{}
	for _, e := range entries {
		d := r.destinationOf(e.Target)
		groups[d.key] = append(groups[d.key], e)
		dests[d.key] = d
	}
	var wg sync.WaitGroup
	for key, es := range groups {
		// Connection reuse: each of up to ConcurrencyPerDestination
		// connections delivers a share of the destination's transactions.
		txs := batches(dests[key], es)
		n := min(r.o.Config.ConcurrencyPerDestination, len(txs))
		shares := make([][][]Entry, n)
		for i, tx := range txs {
			shares[i%n] = append(shares[i%n], tx)
		}
		for _, share := range shares {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case r.sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				defer func() { <-r.sem }()
				r.deliverShare(ctx, dests[key], share)
			}()
		}
	}
	wg.Wait()
	return len(entries), nil
}

// gate applies abuse control to entries it has not seen and returns the
// entries still to deliver.
func (r *Runner) gate(ctx context.Context, entries []Entry) ([]Entry, error) {
	if r.o.Gate == nil {
		return entries, nil
	}
	held := map[string]bool{}
	var ok []Entry
	var checked []int64
	for _, e := range entries {
		if e.Checked {
			ok = append(ok, e)
			continue
		}
		if held[e.QueueID] {
			continue
		}
		if reason := r.o.Gate(ctx, e.AuthUser, e.MailFrom, e.QueueID, e.TxRcpts); reason != "" {
			held[e.QueueID] = true
			if _, err := r.o.Store.QueueHold(ctx, Filter{QueueID: e.QueueID}, reason); err != nil {
				return nil, fmt.Errorf("hold %s: %w", e.QueueID, err)
			}
			r.o.Logger.Warn("relay queue: held by abuse control", "queue_id", e.QueueID, "reason", reason, "user", e.AuthUser)
			continue
		}
		checked = append(checked, e.ID)
		ok = append(ok, e)
	}
	if err := r.o.Store.QueueMarkChecked(ctx, checked); err != nil {
		return nil, err
	}
	return ok, nil
}

// body is a loaded message body and its memory reservation.
type body struct {
	hash    string
	b       []byte
	release func()
}

func (b *body) free() {
	if b != nil && b.release != nil {
		b.release()
		b.b, b.release = nil, nil
	}
}

// load reads e's body under the message memory budget (its size, and the
// database driver's copy on the way out), reusing cur when it is the same
// body.
func (r *Runner) load(ctx context.Context, e Entry, cur *body) (*body, error) {
	if cur != nil && cur.hash == e.BodyHash && cur.b != nil {
		return cur, nil
	}
	cur.free()
	release, err := r.o.Memory.Acquire(ctx, 2*max(e.Size, 1))
	if err != nil {
		return nil, err
	}
	b, err := r.o.Store.QueueBody(ctx, e.BodyHash)
	if err != nil {
		release()
		return nil, err
	}
	return &body{hash: e.BodyHash, b: b, release: release}, nil
}

// deliverShare delivers transactions over one reused connection,
// reconnecting after a connection-level failure. One body at a time is
// held.
func (r *Runner) deliverShare(ctx context.Context, d destination, txs [][]Entry) {
	var c *smtp.Client
	var remote, tlsDesc string
	var connErr error
	var cur *body
	defer func() {
		cur.free()
		if c != nil {
			_ = c.Quit()
		}
	}()
	for _, es := range txs {
		b, err := r.load(ctx, es[0], cur)
		if err != nil {
			cur = nil
			for _, e := range es {
				r.failed(ctx, e, fmt.Errorf("read body: %w", err), "", agentOf(d))
			}
			continue
		}
		cur = b
		if c == nil && connErr == nil {
			c, remote, tlsDesc, connErr = r.connect(ctx, d)
		}
		if connErr != nil {
			// One failed connection defers the rest of the share: no
			// hammering a next hop that is down.
			for _, e := range es {
				r.failed(ctx, e, connErr, remote, agentOf(d))
			}
			continue
		}
		res := send(c, d.t.Proto == "lmtp", es, cur.b)
		broken := false
		for i, e := range es {
			if res[i].err == nil {
				a := Attempt{At: r.o.Clock(), Result: ResultSent, Agent: agentOf(d), Remote: remote, Code: 250, Reply: res[i].reply}
				a.Enhanced, _ = enhancedOf(res[i].reply)
				if derr := r.o.Store.QueueDelivered(ctx, e.ID, a); derr != nil {
					r.o.Logger.Error("relay queue: delivered but not removed", "id", e.ID, "err", derr)
				}
				r.count(e, ResultSent)
				r.o.Logger.Info("relay delivered", "queue_id", e.QueueID, "to", e.Target, "relay", remote, "tls", tlsDesc, "agent", agentOf(d))
				continue
			}
			r.failed(ctx, e, res[i].err, remote, agentOf(d))
			var se *smtp.SMTPError
			if !errors.As(res[i].err, &se) || se.Code == 421 {
				broken = true
			}
		}
		if !broken && !allSent(res) {
			if rerr := c.Reset(); rerr == nil {
				continue
			}
			broken = true
		}
		if broken {
			_ = c.Close()
			c = nil
		}
	}
}

// result is what became of one recipient of a transaction.
type result struct {
	reply string // the next hop's reply on success
	err   error  // a *smtp.SMTPError for a reply, another error when the connection failed
}

func allSent(res []result) bool {
	for _, r := range res {
		if r.err != nil {
			return false
		}
	}
	return true
}

// send runs one transaction for es (one message, distinct targets) and
// returns each recipient's outcome: its RCPT reply when refused, else its
// reply to the data ("250 2.0.0 Ok: queued as …") — over LMTP one reply
// per accepted recipient (RFC 2033 §4.2), so one recipient may be
// delivered while another is deferred or bounced. The body's line ends
// are made CRLF on the way (a bare CR or LF becomes CRLF, as Postfix ≥ 3.9
// normalises them), so that no next hop can read a bare line end as the
// end of the data (SMTP smuggling; RFC 5321 §2.3.8: lines end in CRLF
// only).
func send(c *smtp.Client, lmtp bool, es []Entry, body []byte) []result {
	res := make([]result, len(es))
	all := func(err error) []result {
		for i := range res {
			if res[i].err == nil {
				res[i].err = err
			}
		}
		return res
	}
	if err := c.Mail(es[0].MailFrom, nil); err != nil {
		return all(err)
	}
	var accepted []int
	for i, e := range es {
		if err := c.Rcpt(e.Target, nil); err != nil {
			var se *smtp.SMTPError
			if !errors.As(err, &se) {
				return all(err)
			}
			res[i].err = err
			continue
		}
		accepted = append(accepted, i)
	}
	if len(accepted) == 0 {
		return res
	}
	w, err := c.Data()
	if err != nil {
		return all(err)
	}
	cw := &crlfWriter{w: w}
	if _, err := cw.Write(body); err != nil {
		_ = w.Close()
		return all(err)
	}
	if err := cw.Flush(); err != nil {
		_ = w.Close()
		return all(err)
	}
	if !lmtp {
		resp, err := w.CloseWithResponse()
		if err != nil {
			return all(err)
		}
		for _, i := range accepted {
			res[i].reply = "250 " + resp.StatusText
		}
		return res
	}
	resps, err := w.CloseWithLMTPResponse()
	var perRcpt smtp.LMTPDataError
	errors.As(err, &perRcpt)
	for _, i := range accepted {
		t := es[i].Target
		switch {
		case resps[t] != nil:
			res[i].reply = "250 " + resps[t].StatusText
		case perRcpt[t] != nil:
			res[i].err = perRcpt[t]
		case err != nil:
			// The connection failed before this recipient's reply: not
			// known to be delivered, so tried again.
			res[i].err = err
		default:
			res[i].err = errors.New("no LMTP reply for recipient")
		}
	}
	return res
}

// agentOf names the delivery agent of a destination, as the transaction
// log shows it.
func agentOf(d destination) string {
	if d.t.Proto == "lmtp" {
		return "lmtp"
	}
	return "smtp"
}

// enhancedOf splits an RFC 3463 enhanced status code ("2.0.0") off the
// front of a reply's text after its code.
func enhancedOf(reply string) (string, string) {
	_, text, _ := strings.Cut(reply, " ")
	code, rest, _ := strings.Cut(text, " ")
	if len(code) >= 5 && (code[0] == '2' || code[0] == '4' || code[0] == '5') && code[1] == '.' && strings.Count(code, ".") == 2 {
		return code, rest
	}
	return "", text
}

// failed records a failed attempt: a 5xx reply bounces at once; anything
// else is retried after the backoff (relay.backend_retry for a local
// domain's back end, relay.min_backoff otherwise), or bounces (4.4.7) once the message
// is older than MaxLifetime (RFC 5321 §4.5.4.1).
func (r *Runner) failed(ctx context.Context, e Entry, err error, remote, agent string) {
	now := r.o.Clock()
	var se *smtp.SMTPError
	permanent := errors.As(err, &se) && se.Code >= 500
	diag := err.Error()
	a := Attempt{At: now, Agent: agent, Remote: remote, Reply: diag}
	if se != nil {
		diag = fmt.Sprintf("smtp; %d %s", se.Code, se.Message)
		a.Code, a.Reply = se.Code, fmt.Sprintf("%d %s", se.Code, se.Message)
		if ec := se.EnhancedCode; ec[0] >= 2 {
			diag = fmt.Sprintf("smtp; %d %d.%d.%d %s", se.Code, ec[0], ec[1], ec[2], se.Message)
			a.Enhanced = fmt.Sprintf("%d.%d.%d", ec[0], ec[1], ec[2])
			a.Reply = fmt.Sprintf("%d %s %s", se.Code, a.Enhanced, se.Message)
		}
	}
	attempts := e.Attempts + 1
	deadline := e.CreatedAt.Add(r.o.Config.MaxLifetime)
	switch {
	case permanent:
		status := fmt.Sprintf("5.%d.%d", se.EnhancedCode[1], se.EnhancedCode[2])
		if se.EnhancedCode[0] != 5 {
			status = "5.0.0"
		}
		a.Result = ResultBounced
		r.bounce(ctx, e, Failure{Rcpt: e.Rcpt, Target: e.Target, Status: status, Diagnostic: diag, RemoteMTA: hostOf(remote), LastTry: now}, a)
	case !now.Before(deadline):
		a.Result = ResultExpired
		r.bounce(ctx, e, Failure{Rcpt: e.Rcpt, Target: e.Target, Status: "4.4.7", Diagnostic: diag, RemoteMTA: hostOf(remote), LastTry: now}, a)
	default:
		next := now.Add(r.backoff(e, attempts))
		if next.After(deadline) {
			next = deadline
		}
		a.Result = ResultDeferred
		if derr := r.o.Store.QueueDeferred(ctx, e.ID, attempts, next, a); derr != nil {
			r.o.Logger.Error("relay queue: defer failed", "id", e.ID, "err", derr)
		}
		r.count(e, ResultDeferred)
		r.o.Logger.Info("relay deferred", "queue_id", e.QueueID, "to", e.Target, "attempts", attempts, "next", next, "err", diag)
	}
}

// bounce sends a DSN to the sender (never for a null sender: no bounce of
// a bounce, RFC 5321 §6.1) and removes the entry.
func (r *Runner) bounce(ctx context.Context, e Entry, f Failure, a Attempt) {
	now := r.o.Clock()
	if e.MailFrom != "" {
		body, err := r.o.Store.QueueBody(ctx, e.BodyHash)
		if err != nil {
			body = nil
		}
		dsn := DSN(DSNOptions{ReportingMTA: r.o.Config.Hostname, To: e.MailFrom, QueueID: e.QueueID,
			Arrival: e.CreatedAt, Now: now, Header: headerOf(body), Failures: []Failure{f}})
		id := "D" + randHex()
		node := e.Node
		if node == "" {
			node = r.o.Node
		}
		if err := r.o.Store.QueueEnqueue(ctx, dsn, now, []NewEntry{{QueueID: id, Node: node, Rcpt: e.MailFrom, Target: e.MailFrom, DSNFor: e.QueueID}}); err != nil {
			r.o.Logger.Error("relay queue: DSN not queued; entry kept", "id", e.ID, "err", err)
			d := a
			d.Result = ResultDeferred
			_ = r.o.Store.QueueDeferred(ctx, e.ID, e.Attempts+1, now.Add(r.o.Config.MinBackoff), d)
			return
		}
	}
	if err := r.o.Store.QueueDelivered(ctx, e.ID, a); err != nil {
		r.o.Logger.Error("relay queue: bounced entry not removed", "id", e.ID, "err", err)
	}
	r.count(e, ResultBounced)
	r.o.Logger.Warn("relay bounced", "queue_id", e.QueueID, "to", e.Target, "status", f.Status, "diag", f.Diagnostic)
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
