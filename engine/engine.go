// Package engine owns postvakt's mail engine as one unit: its configuration
// (the `smtp:` section), the wiring of its parts (directory, greylisting,
// DNSBL, group commit, metrics, events, the SMTP listeners) and the
// background jobs that keep them tidy. The parts live in subpackages, one
// concern each; internal/app calls New and Serve, and the CLI calls
// NewDirectory for `postvakt directory …`.
//
// Extension points for content scanning and the relay queue
// (docs/configuration.md, `content:` and `relay:`): Options.Filter receives
// every message after DATA (smtpserver.ContentFilter), and remote
// recipients are committed as relay-queue rows (store.Delivery.Remote) for
// the outbound queue to pick up — as are the recipients of local domains
// delivered to a back end (smtp.directory.delivery: Dovecot's LMTP or an
// internal SMTP server), which are first asked about at RCPT (package
// backend). SMTP AUTH checks postvakt's own password hashes, or asks
// Dovecot's auth service (smtp.auth, package dovecotauth).
package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/engine/authlimit"
	"github.com/uni-mail/postvakt/engine/backend"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/dovecotauth"
	"github.com/uni-mail/postvakt/engine/enginemetrics"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/greylist"
	"github.com/uni-mail/postvakt/engine/smtpserver"
	"github.com/uni-mail/postvakt/engine/store"
)

// Store is everything the engine keeps in the database;
// internal/store/enginestore implements it.
type Store interface {
	directory.Store
	greylist.Store
	store.Store
	authlimit.Store
}

// Options are the engine's dependencies.
type Options struct {
	Config Config
	// DataDir holds the generated development certificate.
	DataDir string
	Store   Store
	Logger  *slog.Logger
	// Metrics receives the engine metrics (postvakt_smtp_*); required.
	Metrics *metrics.Set
	// Events receives mail events; Emit may block, the engine never waits
	// for it (a bounded buffer drops and counts instead). Nil discards.
	Events event.Sink
	Clock  func() time.Time
	// Resolver answers DNSBL queries; nil uses Config.DNSBL.Resolver or the
	// system resolver.
	Resolver dnsbl.Resolver
	// Filter is the content-scanning hook (package content); nil accepts all.
	Filter smtpserver.ContentFilter
	// Directory is the directory to serve, shared with the parts of the
	// service that resolve recipients outside a session (the quarantine's
	// release); nil builds one from Config on Store (NewDirectory) with
	// Resources' Hasher.
	Directory *directory.Directory
	// Resources are the budgets shared with the rest of the service (the
	// password-hash gate, message memory, the spool); nil builds them from
	// Config (NewResources).
	Resources *Resources
}

// Engine is a configured mail engine.
type Engine struct {
	o         Options
	res       *Resources
	authLimit *authlimit.Limiter
	dir       *directory.Directory
	grey      *greylist.Greylister
	metrics   *enginemetrics.Metrics
	committer *store.Committer
	srv       *smtpserver.Server
	events    *eventPump
	served    atomic.Bool
	// cert is the certificate new TLS sessions get (tls.Config's
	// GetCertificate reads it), replaced by Reload; nil when TLS is off.
	cert atomic.Pointer[tls.Certificate]
}

// NewDirectory returns the directory as configured, for the CLI and API
// (`postvakt directory add-domain|add-mailbox|set-quota|lock|unlock|
// set-nickname|set-forward|set-password|add-alias|remove-alias|import-csv`).
func NewDirectory(cfg Config, st directory.Store, clock func() time.Time) (*directory.Directory, error) {
	return NewDirectoryWith(cfg, st, clock, nil)
}

// NewDirectoryWith is NewDirectory whose password hashes go through hasher
// (the service's one gate; nil: no limit).
func NewDirectoryWith(cfg Config, st directory.Store, clock func() time.Time, hasher *directory.Hasher) (*directory.Directory, error) {
	rules, err := cfg.AddressRules.Compile()
	if err != nil {
		return nil, errors.Join(validate.InSection(section, err)...)
	}
	backends := cfg.Directory.Backends()
	var isBackend func(string) bool
	if len(backends) > 0 {
		isBackend = func(d string) bool { _, ok := backends[d]; return ok }
	}
	return directory.New(directory.Options{
		Store: st, Rules: rules, Clock: clock, Backend: isBackend,
		NicknameQuarantine: cfg.Directory.NicknameQuarantine,
		DefaultQuota:       cfg.Directory.DefaultQuotaBytes,
		Hash:               cfg.Directory.PasswordHash,
		Hasher:             hasher,
		ResolveCacheTTL:    cfg.Directory.CacheTTL,
	}), nil
}

// New validates the configuration and builds the engine; Serve runs it.
func New(o Options) (*Engine, error) {
	cfg := o.Config
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Store == nil || o.Metrics == nil {
		return nil, errors.New("engine: Store and Metrics are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Logger = o.Logger.With("component", "engine")
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if cfg.Node == "" {
		cfg.Node = cfg.Hostname
	}
	lists, err := cfg.compileLists()
	if err != nil {
		return nil, err
	}
	var greyReasons []string
	for _, r := range greylist.Reasons {
		greyReasons = append(greyReasons, string(r))
	}
	m, err := enginemetrics.New(o.Metrics, smtpserver.Reasons(), greyReasons)
	if err != nil {
		return nil, err
	}
	e := &Engine{o: o, metrics: m, res: o.Resources}
	if e.res == nil {
		if e.res, err = NewResources(cfg, o.DataDir); err != nil {
			return nil, err
		}
	}
	e.events = newEventPump(o.Events, cfg.EventBuffer, o.Metrics)
	if e.dir = o.Directory; e.dir == nil {
		if e.dir, err = NewDirectoryWith(cfg, o.Store, o.Clock, e.res.Hasher); err != nil {
			return nil, err
		}
	}
	e.authLimit = authlimit.New(cfg.Limits.AuthLimits(), o.Store)
	mem, hash := e.res.Memory, e.res.Hasher
	m.Resources(enginemetrics.ResourceFuncs{
		MemoryUsed:       func() float64 { return float64(mem.Stats().Used) },
		MemoryLimit:      func() float64 { return float64(mem.Stats().Capacity) },
		MemoryWaiting:    func() float64 { return float64(mem.Stats().Waiting) },
		HashesInProgress: func() float64 { return float64(hash.Stats().InProgress) },
		HashesWaiting:    func() float64 { return float64(hash.Stats().Waiting) },
	})
	if cfg.Greylist.Enabled {
		e.grey = &greylist.Greylister{Config: cfg.Greylist, Store: o.Store}
	}
	var checker *dnsbl.Checker
	if len(cfg.DNSBL.Zones) > 0 {
		res := o.Resolver
		if res == nil {
			res = resolverFor(cfg.DNSBL.Resolver)
		}
		checker = &dnsbl.Checker{Zones: cfg.DNSBL.Zones, Resolver: res, Timeout: cfg.DNSBL.Timeout}
	}
	var tlsCfg *tls.Config
	if !cfg.TLS.Disabled {
		cert, err := loadTLS(cfg, o.DataDir, o.Logger)
		if err != nil {
			return nil, err
		}
		e.cert.Store(cert)
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return e.cert.Load(), nil }}
	}
	var rcptCheck *backend.Checker
	if backends := cfg.Directory.Backends(); len(backends) > 0 {
		servers := map[string]backend.Server{}
		for d, t := range backends {
			if t.Proto == "lmtp" || t.Proto == "smtp" {
				servers[d] = backend.Server{Network: t.Network(), Addr: t.Addr, SMTP: t.Proto == "smtp"}
			}
		}
		rcptCheck = backend.New(backend.Options{Config: cfg.Backend, Hostname: cfg.Hostname, Servers: servers, Metrics: o.Metrics})
	}
	var auth smtpserver.Authenticator
	if cfg.Auth.Backend == AuthDovecot {
		network, addr, _ := backend.ParseSocket(cfg.Auth.DovecotSocket)
		auth = &dovecotauth.Authenticator{Accounts: e.dir, Client: dovecotauth.New(dovecotauth.Options{
			Network: network, Addr: addr, MaxConcurrent: cfg.Auth.MaxConcurrent, Wait: cfg.Limits.PasswordHashWait,
			Timeout: cfg.Auth.Timeout, Metrics: o.Metrics})}
	}
	ma, err := mailAuthOf(cfg, o.Metrics, netResolver(cfg.DNSBL.Resolver))
	if err != nil {
		return nil, err
	}
	var lns []smtpserver.Listener
	if cfg.MX.Listen != "" {
		lns = append(lns, smtpserver.Listener{Name: "mx", Addr: cfg.MX.Listen, ImplicitTLS: cfg.MX.ImplicitTLS, Auth: cfg.MX.Auth})
	}
	if cfg.Submission.Listen != "" {
		lns = append(lns, smtpserver.Listener{Name: "submission", Addr: cfg.Submission.Listen, ImplicitTLS: cfg.Submission.ImplicitTLS, Submission: true, Auth: cfg.Submission.Auth})
	}
	if cfg.Submissions.Listen != "" {
		lns = append(lns, smtpserver.Listener{Name: "submissions", Addr: cfg.Submissions.Listen, ImplicitTLS: true, Submission: true, Auth: true})
	}
	e.committer = store.NewCommitter(o.Store, store.CommitterOptions{MaxBatch: cfg.Commit.MaxBatch, Workers: cfg.Commit.Workers, MaxDelay: cfg.Commit.MaxDelay, OnBatch: m.Commit})
	l := cfg.Limits
	e.srv, err = smtpserver.New(smtpserver.Options{
		Hostname: cfg.Hostname, Node: cfg.Node, Listeners: lns, TLS: tlsCfg,
		InsecureAuthLoopback: cfg.InsecureAuthLoopback,
		Limits: smtpserver.Limits{
			MaxMessageBytes: l.MaxMessageBytes, MaxRecipients: l.MaxRecipients, MaxConns: l.MaxConnections,
			MaxConnsPerIP: l.MaxConnsPerIP, MaxLineLength: l.MaxLineLength, CommandTimeout: l.CommandTimeout,
			DataTimeout: l.DataTimeout, MaxSession: l.MaxSession, MaxAuthFailures: l.MaxAuthFailures,
			AuthFailureDelay: l.AuthFailureDelay, MaxHops: l.MaxHops, ShutdownTimeout: l.ShutdownTimeout,
			PregreetWait: l.PregreetWait, PregreetTTL: l.PregreetTTL, MemoryWait: l.MessageMemoryWait, FilterTimeout: l.FilterTimeout,
		},
		AuthLimit: e.authLimit, Spool: e.res.Spool, Memory: e.res.Memory,
		Directory: e.dir, Greylist: e.grey, DNSBL: checker, Backend: rcptCheck, Auth: auth, Policy: policyOf(cfg, lists),
		Committer: e.committer, Filter: o.Filter, MailAuth: ma, Metrics: m, Events: e.events, Logger: o.Logger, Clock: o.Clock,
	})
	if err != nil {
		e.committer.Close()
		return nil, err
	}
	e.o.Config = cfg
	return e, nil
}

var _ smtpserver.ClientAuthenticator = (*dovecotauth.Authenticator)(nil)

// policyOf is the session policy of cfg with its compiled lists.
func policyOf(cfg Config, l lists) smtpserver.Policy {
	return smtpserver.Policy{DNSBLReject: cfg.DNSBL.Reject,
		WhitelistClients: l.whitelistClients, WhitelistSenders: l.whitelistSenders, WhitelistRecipients: l.whitelistRcpts,
		LocalNetworks: l.local, TrustedSenders: l.trustedSenders, TrustedClients: l.trustedClients,
		Postmaster: cfg.Postmaster, EnforceSenderLogin: cfg.EnforceSenderLogin}
}

// ReloadKeys are the keys of the smtp section (relative to it) that Reload
// applies while the engine runs; a change to any other needs a restart
// (docs/configuration.md, "Reloading").
var ReloadKeys = []string{
	"whitelist", "trusted", "local_networks", "local_networks_except", "postmaster",
	"enforce_sender_login", "dnsbl.reject", "address_rules", "tls.cert_file", "tls.key_file",
	"dkim.keys", "dmarc.check", "dmarc.enforce", "dmarc.timeout", "directory.rewrite_from",
}

// Reload checks next and returns the function that makes the running
// engine use it: the session policy (whitelists, local networks, trusted
// systems, postmaster, sender-login enforcement, DNSBL rejection) for the
// next command of every session, the address rules for new directory
// entries, and the TLS certificate — read again from its files, so a
// renewed certificate is taken even when the configuration did not change
// — for new TLS handshakes; sessions already open keep theirs; and the
// mail authenticity (DKIM keys, read again from their files, so a key
// replaced in the same file is taken too; the MX's SPF/DKIM/DMARC checks;
// the domains whose nicknames are rewritten) for every message whose DATA
// ends after it, through the resolver and host name the engine started
// with. notes say what the certificate change is. An error (a *validate.Error keyed
// relative to the section where it can be) changes nothing.
func (e *Engine) Reload(next Config) (apply func(), notes []string, err error) {
	if err := next.Validate(); err != nil {
		return nil, nil, err
	}
	l, err := next.compileLists()
	if err != nil {
		return nil, nil, err
	}
	rules, err := next.AddressRules.Compile()
	if err != nil {
		if errs := validate.Nest("address_rules", err); len(errs) > 0 {
			return nil, nil, errors.Join(errs...)
		}
		return nil, nil, validate.Field("address_rules", "", err.Error())
	}
	pol := policyOf(next, l)
	mac := next
	mac.Hostname = e.o.Config.Hostname
	ma, err := mailAuthOf(mac, e.o.Metrics, netResolver(e.o.Config.DNSBL.Resolver))
	if err != nil {
		return nil, nil, err
	}
	var cert *tls.Certificate
	if old := e.cert.Load(); old != nil && !next.TLS.Disabled {
		certFile, keyFile, err := tlsFiles(next, e.o.DataDir, e.o.Logger)
		if err != nil {
			return nil, nil, validate.Field("tls.self_signed", next.TLS.SelfSigned, err.Error())
		}
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, nil, validate.Field("tls.cert_file", certFile, err.Error())
		}
		cert = &c
		if sameCert(old, cert) {
			cert = nil
		} else {
			notes = append(notes, "smtp.tls: new certificate for new TLS sessions: "+describeCert(cert)+" (was "+describeCert(old)+")")
		}
	}
	return func() {
		e.srv.SetPolicy(pol)
		e.srv.SetMailAuth(ma)
		e.dir.SetRules(rules)
		if cert != nil {
			e.cert.Store(cert)
		}
	}, notes, nil
}

// Resources are the engine's budgets.
func (e *Engine) Resources() *Resources { return e.res }

// Directory is the engine's directory.
func (e *Engine) Directory() *directory.Directory { return e.dir }

// Ready is closed once every listener is bound (Addrs is then complete).
func (e *Engine) Ready() <-chan struct{} { return e.srv.Ready() }

// Addrs returns the bound address of each listener by name ("mx",
// "submission", "submissions"); complete once Ready is closed.
func (e *Engine) Addrs() map[string]net.Addr { return e.srv.Addrs() }

// Serve runs the listeners and the background jobs until ctx is cancelled,
// then shuts down gracefully and commits what is in flight. It may be
// called once.
func (e *Engine) Serve(ctx context.Context) error {
	if !e.served.CompareAndSwap(false, true) {
		return errors.New("engine: Serve called twice")
	}
	jobsCtx, stopJobs := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); e.events.run() }()
	go func() { defer wg.Done(); e.jobs(jobsCtx) }()
	err := e.srv.Serve(ctx)
	e.committer.Close()
	stopJobs()
	e.events.close()
	wg.Wait()
	return err
}

// jobs refreshes the store gauges, prunes the store (at start and hourly)
// and expires greylisting state.
func (e *Engine) jobs(ctx context.Context) {
	statsTick := time.NewTicker(30 * time.Second)
	greyTick := time.NewTicker(time.Hour)
	defer statsTick.Stop()
	defer greyTick.Stop()
	refresh := func() {
		st, err := e.o.Store.MailStats(ctx)
		if err != nil {
			if ctx.Err() == nil {
				e.o.Logger.Warn("store stats", "err", err)
			}
			return
		}
		e.metrics.StoreStats(st.Bodies, st.BodyBytes, st.Messages, st.QueuedMail)
	}
	refresh()
	e.prune(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-statsTick.C:
			refresh()
		case <-greyTick.C:
			e.prune(ctx)
			if n, err := e.authLimit.Prune(ctx, e.o.Clock()); err != nil {
				if ctx.Err() == nil {
					e.o.Logger.Warn("auth limit pruning", "err", err)
				}
			} else if n > 0 {
				e.o.Logger.Info("auth limit pruned", "rows", n)
			}
			if e.grey == nil {
				continue
			}
			n, err := e.grey.Expire(ctx, e.o.Clock())
			if err != nil {
				e.o.Logger.Warn("greylist expiry", "err", err)
			} else if n > 0 {
				e.o.Logger.Info("greylist expired", "rows", n)
			}
		}
	}
}

// prune applies smtp.retention to the store: old transaction rows, and
// bodies nothing refers to any more.
func (e *Engine) prune(ctx context.Context) {
	now, r := e.o.Clock(), e.o.Config.Retention
	var txBefore time.Time
	if r.Transactions > 0 {
		txBefore = now.Add(-r.Transactions)
	}
	p, err := e.o.Store.MailPrune(ctx, txBefore, now.Add(-r.BodyGrace))
	if err != nil {
		if ctx.Err() == nil {
			e.o.Logger.Warn("store pruning", "err", err)
		}
		return
	}
	e.metrics.Pruned(p.Transactions, p.Bodies, p.BodyBytes)
	if p.Transactions > 0 || p.Bodies > 0 {
		e.o.Logger.Info("store pruned", "transactions", p.Transactions, "bodies", p.Bodies, "body_bytes", p.BodyBytes)
	}
}

// ApplyDirectoryConfig creates or updates the domains (those of
// smtp.directory.delivery included), mailboxes and aliases declared under
// smtp.directory. Call it once at start, before
// Serve (and from `postvakt directory apply`); it is idempotent.
func ApplyDirectoryConfig(ctx context.Context, cfg Config, dir *directory.Directory) error {
	dc := cfg.Directory
	for _, d := range dc.Domains {
		if err := dir.AddDomain(ctx, d); err != nil {
			return fmt.Errorf("smtp.directory.domains: %s: %w", d, err)
		}
	}
	for d := range dc.Delivery {
		if err := dir.AddDomain(ctx, d); err != nil {
			return fmt.Errorf("smtp.directory.delivery: %s: %w", d, err)
		}
	}
	for _, m := range dc.Mailboxes {
		_, err := dir.AddMailbox(ctx, directory.NewMailbox{
			Address: m.Address, Nickname: m.Nickname, DisplayName: m.Name, QuotaBytes: m.QuotaBytes,
			ForwardTo: m.ForwardTo, KeepCopy: m.KeepCopy, ExternalForwardAllowed: m.ExternalForward,
			PasswordHash: m.PasswordHash, Locked: m.Locked,
		})
		if err != nil {
			return fmt.Errorf("smtp.directory.mailboxes: %s: %w", m.Address, err)
		}
	}
	for _, a := range dc.Aliases {
		if err := dir.AddAlias(ctx, a.Address, directory.EntryKind(a.Kind), a.Targets); err != nil {
			return fmt.Errorf("smtp.directory.aliases: %s: %w", a.Address, err)
		}
	}
	return nil
}

func resolverFor(server string) dnsbl.Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// eventPump decouples the engine from a slow event consumer: Emit never
// blocks; when the buffer is full the event is dropped and
// postvakt_smtp_events_dropped_total counts it.
type eventPump struct {
	sink    event.Sink
	buf     *event.Buffer
	dropped *metrics.Counter
	last    atomic.Uint64
}

func newEventPump(sink event.Sink, size int, set *metrics.Set) *eventPump {
	if sink == nil {
		sink = event.Discard
	}
	return &eventPump{sink: sink, buf: event.NewBuffer(size), dropped: set.NewCounter("postvakt_smtp_events_dropped_total")}
}

func (p *eventPump) Emit(e event.Event) {
	before := p.buf.Dropped()
	p.buf.Emit(e)
	if p.buf.Dropped() != before {
		p.dropped.Inc()
	}
}

func (p *eventPump) run() {
	for e := range p.buf.C() {
		p.sink.Emit(e)
	}
}

func (p *eventPump) close() { p.buf.Close() }
