package app

import (
	"context"
	"net"
	"time"

	"blitiri.com.ar/go/spf"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/engine/content"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/sendlimit"
	"github.com/uni-mail/postvakt/engine/smtpserver"
	"github.com/uni-mail/postvakt/internal/api/complaintapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/store/complaintstore"
)

// ContentHooks connect content scanning with the engine: the engine
// passes Filter as engine.Options.Filter.
type ContentHooks struct {
	// Filter scans every message after DATA; nil when content.enabled is
	// false.
	Filter smtpserver.ContentFilter
}

// accountLocked reports whether the account that submitted mail (its
// AUTH user, an address in any case) is locked in the directory.
func accountLocked(dir *directory.Directory) func(ctx context.Context, user string) bool {
	return func(ctx context.Context, user string) bool {
		locked, err := dir.Locked(ctx, user)
		return err == nil && locked
	}
}

// setupContent wires content scanning, the quarantine, abuse control, and
// the relay queue runner. It builds the engine's store, directory and
// quarantine (env.engine), which setupEngine gives the engine and serves
// through the engine's API. List it after the collectors (it emits abuse
// events to Collectors.EngineEvents) and before the engine (which takes
// Content.Filter).
func setupContent(ctx context.Context, env *Env) error {
	cc, rc := env.Config.Content, env.Config.Relay
	st, err := EngineStore(env.DB, env.Config, env.Now)
	if err != nil {
		return err
	}
	budgets, err := engine.NewResources(env.Config.SMTP, env.Config.DataDir)
	if err != nil {
		return err
	}
	dir, err := engine.NewDirectoryWith(env.Config.SMTP, st, env.Now, budgets.Hasher)
	if err != nil {
		return err
	}
	events := env.Collectors.EngineEvents
	if events == nil {
		events = event.Discard
	}
	qsvc := &quarantine.Service{Store: st, Directory: dir, Retention: cc.Quarantine.Retention, Clock: env.Now}
	env.engine = engineParts{store: st, directory: dir, quarantine: qsvc, resources: budgets}
	ab, err := sendlimit.New(sendlimit.Options{
		Window: cc.Abuse.Window, MaxMessages: cc.Abuse.MaxMessages, MaxRecipients: cc.Abuse.MaxRecipients,
		MassMailing: cc.Abuse.MassMailingRecipients, Approved: cc.Abuse.ApprovedSenders,
		Node: env.Node, Clock: env.Now, Events: events, Registerer: env.Telemetry.Registry,
	})
	if err != nil {
		return err
	}
	env.OnReload(reload.Hook{Name: "abuse control", Keys: []string{"content.abuse"},
		Prepare: func(_ context.Context, _, next *config.Config) (func(), []string, error) {
			a := next.Content.Abuse
			return func() {
				ab.SetLimits(sendlimit.Limits{Window: a.Window, MaxMessages: a.MaxMessages, MaxRecipients: a.MaxRecipients,
					MassMailing: a.MassMailingRecipients, Approved: a.ApprovedSenders})
			}, nil, nil
		}})
	if cc.Enabled {
		// The DNSBL_LISTED rule and SPF use the engine's DNS settings
		// (smtp.dnsbl), so scoring and connection checks agree.
		var res interface {
			dnsbl.Resolver
			spf.DNSResolver
		} = net.DefaultResolver
		if srv := env.Config.SMTP.DNSBL.Resolver; srv != "" {
			res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, srv)
			}}
		}
		var checker *dnsbl.Checker
		if z := env.Config.SMTP.DNSBL.Zones; len(z) > 0 {
			checker = &dnsbl.Checker{Zones: z, Resolver: res, Timeout: env.Config.SMTP.DNSBL.Timeout}
		}
		sc, err := content.New(content.Options{
			Config: cc, Quarantine: qsvc, Abuse: ab, Registerer: env.Telemetry.Registry, Logger: env.Logger.With("component", "content"),
			Scratch: budgets.Spool, Memory: budgets.Memory,
			Clock: env.Now, DNSBL: checker, SPFResolver: res,
			LocalDomain: func(ctx context.Context, d string) bool {
				ok, err := st.DirDomainExists(ctx, d)
				return err == nil && ok
			},
		})
		if err != nil {
			return err
		}
		env.Content.Filter = sc
		if err := setupComplaints(env, sc, func(ctx context.Context, d string) bool {
			ok, err := st.DirDomainExists(ctx, d)
			return err == nil && ok
		}); err != nil {
			return err
		}
		env.OnReload(reload.Hook{Name: "content scanning",
			Keys: []string{"content.mime", "content.attachments", "content.antivirus", "content.spam"},
			Prepare: func(_ context.Context, _, next *config.Config) (func(), []string, error) {
				apply, err := sc.Reload(next.Content)
				if err != nil {
					return nil, nil, next.Locate("content", err)
				}
				return apply, nil, nil
			}})
		env.Go(func(ctx context.Context) error {
			t := time.NewTicker(30 * time.Second)
			defer t.Stop()
			for {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				sc.Probe(pctx)
				cancel()
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		})
		if err := env.Scheduler.Register(scheduler.Job{Name: "content_quarantine_expiry", Schedule: "@hourly", Timeout: 10 * time.Minute,
			Run: func(ctx context.Context, _ time.Time) error {
				n, err := qsvc.Expire(ctx)
				if n > 0 {
					env.Logger.Info("quarantine expired", "items", n)
				}
				return err
			}}); err != nil {
			return err
		}
	}
	if rc.Enabled {
		r, err := queue.New(queue.Options{Config: rc, Store: st, Node: env.Node, Clock: env.Now, Backends: env.Config.SMTP.Directory.Backends(),
			Logger: env.Logger.With("component", "relay"), Registerer: env.Telemetry.Registry, Memory: budgets.Memory,
			Gate: ab.QueueGate(accountLocked(dir))})
		if err != nil {
			return err
		}
		env.Go(r.Run)
	}
	return nil
}

// setupComplaints wires spam complaints (docs/configuration.md, "Rules from
// spam complaints"): the service over its store, its API, and the loop
// that gives the content scanner the accepted rules — every
// content.complaints.reload_every, and at once when this node decided
// some. The engine takes complaints to the abuse address through
// complaintIntakeFilter (engine.go).
func setupComplaints(env *Env, sc *content.Scanner, local func(ctx context.Context, domain string) bool) error {
	cc := env.Config.Content.Complaints
	kick := make(chan struct{}, 1)
	counted := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "postvakt_spam_complaints_total",
		Help: "Spam complaints to the abuse address, by result (taken, no_spam, too_large, busy, error).",
	}, []string{"result"})
	for _, r := range complaint.Results() {
		counted.WithLabelValues(r)
	}
	if err := env.Telemetry.Registry.Register(counted); err != nil {
		return err
	}
	svc := complaint.New(complaint.Options{Config: cc, Store: complaintstore.New(env.DB), Local: local, Now: env.Now,
		Counted: func(r string) { counted.WithLabelValues(r).Inc() },
		Logger:  env.Logger.With("capability", "complaints"),
		OnChange: func() {
			select {
			case kick <- struct{}{}:
			default:
			}
		}})
	env.complaints = svc
	complaintapi.Register(env.Server, complaintapi.Options{Complaints: svc})
	load := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		rules, err := svc.ActiveRules(ctx)
		if err != nil {
			env.Logger.Warn("spam rules from complaints not reloaded; the previous ones stay", "err", err)
			return
		}
		sc.SetLocalRules(rules)
	}
	load(context.Background())
	env.Go(func(ctx context.Context) error {
		t := time.NewTicker(cc.ReloadEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			case <-kick:
			}
			load(ctx)
		}
	})
	return nil
}
