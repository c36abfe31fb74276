package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/correlate"
	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/syslog"
	"github.com/uni-mail/postvakt/collectors/tail"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// CollectorHooks connect the collectors with other capabilities.
type CollectorHooks struct {
	// Alerts receives abuse findings (runbooks outgoing-spam-burst,
	// auth-brute-force); the on-call capability sets it. Nil: findings
	// are logged and counted only.
	Alerts abusedetect.AlertSink
	// EngineEvents is where the engine emits its mail events; set by
	// setupCollectors when collectors.enabled and collectors.engine_events.
	EngineEvents event.Sink
}

// Stream IDs of the live pipeline.
const (
	streamSyslogTCP = 1
	streamSyslogUDP = 2
	streamFileBase  = 16
)

// PipelineOptions builds the ingest options the service and the import
// command share.
func PipelineOptions(cfg collectors.Config, store txlog.Store) (ingest.Options, error) {
	nets, err := cfg.Networks()
	if err != nil {
		return ingest.Options{}, err
	}
	webmail, err := cfg.Webmail()
	if err != nil {
		return ingest.Options{}, err
	}
	return ingest.Options{
		Store:           store,
		Correlate:       correlate.Options{Horizon: cfg.CorrelationHorizon, ContentFilterRelays: cfg.ContentFilterRelays},
		LocalNetworks:   nets,
		WebmailNetworks: webmail,
		BatchSize:       cfg.BatchSize,
	}, nil
}

// EngineStore is the engine's store on db. With collectors.engine_events
// the engine's records — each accepted message and its recipients'
// outcomes, each step of the relay queue and of the quarantine — are
// written to the transaction log in the engine's own database
// transactions (docs/collectors.md, "The engine"): an acknowledged message
// is never missing from the trace, even after kill -9. `serve` and the
// queue and quarantine commands use it alike.
func EngineStore(db *storage.DB, cfg *config.Config, now func() time.Time) (*enginestore.Store, error) {
	st := enginestore.New(db)
	if !cfg.Collectors.EngineEvents {
		return st, nil
	}
	nets, err := cfg.Collectors.Networks()
	if err != nil {
		return nil, err
	}
	records, log := ingest.NewEngineRecords(nets), txlogstore.New(db)
	st.SetJournal(func(ctx context.Context, tx *storage.Tx, evs []event.Event) error {
		b := records.Records(evs)
		return log.WriteBatchTx(ctx, tx, &b)
	}, now)
	return st, nil
}

// Detector builds abuse detection (collectors.abuse) as the pipeline drives
// it, for `serve` and `import` alike: findings go to sink, undelivered
// ones to onError.
func Detector(cfg collectors.Config, sink abusedetect.AlertSink, reg prometheus.Registerer, onError func(error)) (ingest.Detector, error) {
	det, err := abusedetect.New(abusedetect.Options{Config: cfg.Abuse, Sink: sink, Registerer: reg, OnError: onError})
	if err != nil {
		return nil, err
	}
	return abusedetect.Stream{D: det}, nil
}

// setupCollectors wires the collectors (collectors: in the configuration):
// the trace, summary and traffic API, the retention, rollup, partition and
// directory-snapshot jobs, and — when enabled — the live pipeline fed by
// tailed files, the syslog receiver and the engine's events.
func setupCollectors(_ context.Context, env *Env) error {
	cfg := env.Config.Collectors
	store := txlogstore.New(env.DB)
	collectorsapi.Register(env.Server, collectorsapi.Options{Store: store, Trace: cfg.Trace, Location: env.Config.Location(), Now: env.Now})
	if env.Control != nil {
		collectorsapi.RegisterControl(env.Control, store, accessstore.New(env.DB), env.Now)
	}
	// The snapshot counts the directory by its own quota rule
	// (smtp.directory.default_quota_bytes for a mailbox without its own).
	dir, err := engine.NewDirectory(env.Config.SMTP, enginestore.New(env.DB), env.Now)
	if err != nil {
		return err
	}
	// The active users' days are the report's days (reports.time_zone).
	jobs := rollup.Jobs{Store: store, Directory: dir, Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
		Lookback: cfg.RollupLookback, Location: env.Config.Reports.Location()}
	for _, j := range []scheduler.Job{
		{Name: "collectors_retention", Schedule: "@daily", Timeout: time.Hour, Run: func(ctx context.Context, tick time.Time) error {
			n, err := jobs.Retain(ctx, env.Now())
			env.Logger.Info("collectors: retention", "deleted", n, "days", cfg.RetentionDays)
			return err
		}},
		{Name: "collectors_partitions", Schedule: "@hourly", Timeout: 5 * time.Minute, Run: func(ctx context.Context, tick time.Time) error {
			now := env.Now()
			return store.EnsureLogPartitions(ctx, now.AddDate(0, 0, -1), now.AddDate(0, 0, 7))
		}},
		{Name: "collectors_rollups", Schedule: "@every 10m", Timeout: 10 * time.Minute, Run: func(ctx context.Context, tick time.Time) error {
			return jobs.Roll(ctx, env.Now())
		}},
		{Name: "collectors_directory_snapshot", Schedule: "@daily", Timeout: 5 * time.Minute, Run: func(ctx context.Context, tick time.Time) error {
			return jobs.Snapshot(ctx, env.Now())
		}},
	} {
		if err := env.Scheduler.Register(j); err != nil {
			return err
		}
	}
	if !cfg.Enabled {
		return nil
	}
	m, err := ingest.NewMetrics(env.Telemetry.Registry)
	if err != nil {
		return fmt.Errorf("collector metrics: %w", err)
	}
	alerts := env.Collectors.Alerts
	if alerts == nil {
		alerts = abusedetect.AlertSinkFunc(func(_ context.Context, a abusedetect.Alert) error {
			env.Logger.Warn("abuse finding", "kind", a.Kind, "runbook", a.Runbook, "subject", a.Subject, "account", a.Account,
				"addresses", a.Addresses, "count", a.Count, "summary", a.Summary)
			return nil
		})
	}
	det, err := abusedetect.New(abusedetect.Options{Config: cfg.Abuse, Sink: alerts, Registerer: env.Telemetry.Registry,
		History: store, OnError: func(err error) { env.Logger.Warn("abuse detection", "err", err) }})
	if err != nil {
		return err
	}
	if err := det.Load(context.Background()); err != nil {
		return err
	}
	// the known addresses reach the database once a minute and at the end
	env.Go(func(ctx context.Context) error {
		tick := time.NewTicker(time.Minute)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				if err := det.Sync(context.WithoutCancel(ctx)); err != nil {
					env.Logger.Warn("abuse detection: save known addresses", "err", err)
				}
				return nil
			case <-tick.C:
				if err := det.Sync(ctx); err != nil {
					env.Logger.Warn("abuse detection: save known addresses", "err", err)
				}
			}
		}
	})
	env.OnReload(reload.Hook{Name: "abuse detection", Keys: []string{"collectors.abuse"},
		Prepare: func(_ context.Context, _, next *config.Config) (func(), []string, error) {
			c := next.Collectors.Abuse
			return func() { det.SetConfig(c) }, nil, nil
		}})
	r, loops, err := buildLive(context.Background(), liveOptions{cfg: cfg, store: store, metrics: m, abuse: abusedetect.Stream{D: det},
		logger: env.Logger, now: env.Now})
	if err != nil {
		return err
	}
	for _, fn := range loops {
		env.Go(fn)
	}
	if cfg.EngineEvents {
		env.Collectors.EngineEvents = r
	}
	env.Go(r.Run)
	return nil
}

type liveOptions struct {
	cfg         collectors.Config
	store       txlog.Store
	metrics     *ingest.Metrics
	abuse       ingest.Detector
	logger      *slog.Logger
	now         func() time.Time
	flushOnStop bool
}

// buildLive builds the live pipeline: one Runner fed by a tailer per file
// (resumed from its checkpoint) and the syslog receiver, with the
// pipeline's state restored from the last commit. It returns the runner and
// the loops to run beside runner.Run.
func buildLive(ctx context.Context, o liveOptions) (*ingest.Runner, []func(context.Context) error, error) {
	cfg := o.cfg
	po, err := PipelineOptions(cfg, o.store)
	if err != nil {
		return nil, nil, err
	}
	po.Metrics, po.Detector, po.Now, po.KeepState = o.metrics, o.abuse, o.now, true
	// the engine's mail records are written by its own commits (EngineStore)
	po.EngineJournal = cfg.EngineEvents
	p := ingest.New(po)
	if cp, err := o.store.Checkpoint(ctx, txlog.StateSource); err == nil && len(cp.State) > 0 {
		if err := p.Restore(cp); errors.Is(err, ingest.ErrStateVersion) {
			o.logger.Warn("collectors: the saved state is of another version; starting without the messages it held", "err", err)
		} else if err != nil {
			return nil, nil, err
		}
	} else if err != nil && !errors.Is(err, txlog.ErrNoCheckpoint) {
		return nil, nil, err
	}
	r := ingest.NewRunner(p, ingest.RunnerOptions{CommitEvery: cfg.CommitInterval, Lateness: cfg.Lateness, Logger: o.logger,
		Now: o.now, FlushOnStop: o.flushOnStop})
	lag := tail.NewLag(p.Metrics())
	var loops []func(context.Context) error
	for i, f := range cfg.Files {
		id := streamFileBase + i
		src := "file:" + f.Path
		var cp *txlog.Checkpoint
		if c, err := o.store.Checkpoint(ctx, src); err == nil {
			cp = &c
		} else if !errors.Is(err, txlog.ErrNoCheckpoint) {
			return nil, nil, err
		}
		loc, err := cfg.FileLocation(i)
		if err != nil {
			return nil, nil, err
		}
		plan, err := tail.Resume(f.Path, cp)
		if err != nil {
			return nil, nil, err
		}
		start := plan.Start
		if plan.Rotated != "" {
			start = plan.RotatedStart
		}
		// Year-less timestamps of a tailed file are resolved against now
		// (renewed daily): its lines are being written now.
		if err := p.AddStream(ingest.Stream{ID: id, Source: ingest.SourceFile, Ref: o.now(), Loc: loc, Checkpoint: src,
			Inode: plan.Identity.Inode, HeadHash: plan.Identity.HeadHash, Start: start, Host: f.Host, Live: true}); err != nil {
			return nil, nil, err
		}
		o.logger.Info("collectors: tailing", "path", f.Path, "from", start, "resumed", plan.Resumed, "rotated_first", plan.Rotated)
		path, source := f.Path, r.FileSource(id)
		loops = append(loops, func(ctx context.Context) error {
			return tail.Follow(ctx, tail.Options{Stream: id, Path: path, Plan: plan, Source: source, Poll: cfg.Poll,
				MaxLine: cfg.MaxLineBytes, Logger: o.logger, Metrics: p.Metrics(), Lag: lag, Now: o.now})
		})
	}
	if cfg.Syslog.TCP != "" || cfg.Syslog.UDP != "" {
		loc, err := cfg.SyslogLocation()
		if err != nil {
			return nil, nil, err
		}
		for _, id := range []int{streamSyslogTCP, streamSyslogUDP} {
			if err := p.AddStream(ingest.Stream{ID: id, Source: ingest.SourceSyslog, Loc: loc, Live: true}); err != nil {
				return nil, nil, err
			}
		}
		srv, err := syslog.Listen(syslog.Options{TCP: cfg.Syslog.TCP, UDP: cfg.Syslog.UDP, TCPStream: streamSyslogTCP,
			UDPStream: streamSyslogUDP, Runner: r, MaxMessage: cfg.Syslog.MaxMessage, Loc: loc, Logger: o.logger, Now: o.now})
		if err != nil {
			return nil, nil, err
		}
		o.logger.Info("collectors: syslog listening", "tcp", srv.TCPAddr(), "udp", srv.UDPAddr())
		loops = append(loops, srv.Serve)
	}
	return r, loops, nil
}
