package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/abuse"
	"github.com/uni-mail/postvakt/collectors/correlate"
	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/syslog"
	"github.com/uni-mail/postvakt/collectors/tail"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// CollectorHooks connect the collectors with other capabilities.
type CollectorHooks struct {
	// Alerts receives abuse findings (runbooks outgoing-spam-burst,
	// auth-brute-force); the on-call capability sets it. Nil: findings
	// are logged and counted only.
	Alerts abuse.AlertSink
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

// defaultQuotaBytes is the quota of a mailbox without its own (DOMAIN.md:
// 2 GB) until the engine's smtp.directory.default_quota_bytes is wired in.
const defaultQuotaBytes = 2 << 30

// PipelineOptions builds the ingest options the service and the import
// command share.
func PipelineOptions(cfg collectors.Config, store txlog.Store) (ingest.Options, error) {
	nets, err := cfg.Networks()
	if err != nil {
		return ingest.Options{}, err
	}
	return ingest.Options{
		Store:         store,
		Correlate:     correlate.Options{Horizon: cfg.CorrelationHorizon, ContentFilterRelays: cfg.ContentFilterRelays},
		LocalNetworks: nets,
		BatchSize:     cfg.BatchSize,
	}, nil
}

// setupCollectors wires the collectors (collectors: in the configuration):
// the trace and summary API, the retention, rollup, partition and
// directory-snapshot jobs, and — when enabled — the live pipeline fed by
// tailed files, the syslog receiver and the engine's events.
func setupCollectors(_ context.Context, env *Env) error {
	cfg := env.Config.Collectors
	loc, err := cfg.Location()
	if err != nil {
		return err
	}
	store := txlogstore.New(env.DB)
	registerCollectorAPI(env, store, cfg, loc)
	jobs := rollup.Jobs{Store: store, Directory: dirCounts{env.DB}, Retention: time.Duration(cfg.RetentionDays) * 24 * time.Hour,
		Lookback: cfg.RollupLookback}
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
		alerts = abuse.AlertSinkFunc(func(_ context.Context, a abuse.Alert) error {
			env.Logger.Warn("abuse finding", "kind", a.Kind, "runbook", a.Runbook, "subject", a.Subject, "count", a.Count, "summary", a.Summary)
			return nil
		})
	}
	det, err := abuse.New(abuse.Options{Config: cfg.Abuse, Sink: alerts, Registerer: env.Telemetry.Registry,
		OnError: func(err error) { env.Logger.Warn("abuse alert not delivered", "err", err) }})
	if err != nil {
		return err
	}
	r, loops, err := buildLive(context.Background(), liveOptions{cfg: cfg, store: store, metrics: m, abuse: det,
		logger: env.Logger, now: env.Now, loc: loc})
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
	abuse       *abuse.Detector
	logger      *slog.Logger
	now         func() time.Time
	loc         *time.Location
	flushOnStop bool
}

// buildLive builds the live pipeline: one Runner fed by a tailer per file
// (resumed from its checkpoint) and the syslog receiver. It returns the
// runner and the loops to run beside runner.Run.
func buildLive(ctx context.Context, o liveOptions) (*ingest.Runner, []func(context.Context) error, error) {
	cfg := o.cfg
	po, err := PipelineOptions(cfg, o.store)
	if err != nil {
		return nil, nil, err
	}
	po.Metrics, po.Abuse, po.Now = o.metrics, o.abuse, o.now
	p := ingest.New(po)
	r := ingest.NewRunner(p, ingest.RunnerOptions{CommitEvery: cfg.CommitInterval, Logger: o.logger, Now: o.now,
		FlushOnStop: o.flushOnStop})
	var loops []func(context.Context) error
	for i, f := range cfg.Files {
		id := streamFileBase + i
		ident, err := tail.Identify(f.Path)
		if err != nil {
			return nil, nil, err
		}
		src := "file:" + f.Path
		var cp *txlog.Checkpoint
		if c, err := o.store.Checkpoint(ctx, src); err == nil {
			cp = &c
		} else if !errors.Is(err, txlog.ErrNoCheckpoint) {
			return nil, nil, err
		}
		start, resumed := tail.Resume(ident, cp)
		ref := ident.ModTime
		if ref.IsZero() {
			ref = o.now()
		}
		if err := p.AddStream(ingest.Stream{ID: id, Source: ingest.SourceFile, Ref: ref, Loc: o.loc, Checkpoint: src,
			Inode: ident.Inode, HeadHash: ident.HeadHash, Host: f.Host}, resumed); err != nil {
			return nil, nil, err
		}
		o.logger.Info("collectors: tailing", "path", f.Path, "from", start, "resumed", resumed != nil)
		path := f.Path
		loops = append(loops, func(ctx context.Context) error {
			return tail.Follow(ctx, tail.Options{Stream: id, Path: path, Start: start, Runner: r, Poll: cfg.Poll,
				Logger: o.logger, Metrics: o.metrics, Now: o.now})
		})
	}
	if cfg.Syslog.TCP != "" || cfg.Syslog.UDP != "" {
		for _, id := range []int{streamSyslogTCP, streamSyslogUDP} {
			if err := p.AddStream(ingest.Stream{ID: id, Source: ingest.SourceSyslog, Loc: o.loc}, nil); err != nil {
				return nil, nil, err
			}
		}
		srv, err := syslog.Listen(syslog.Options{TCP: cfg.Syslog.TCP, UDP: cfg.Syslog.UDP, TCPStream: streamSyslogTCP,
			UDPStream: streamSyslogUDP, Runner: r, MaxMessage: cfg.Syslog.MaxMessage, Loc: o.loc, Logger: o.logger, Now: o.now})
		if err != nil {
			return nil, nil, err
		}
		o.logger.Info("collectors: syslog listening", "tcp", srv.TCPAddr(), "udp", srv.UDPAddr())
		loops = append(loops, srv.Serve)
	}
	return r, loops, nil
}

// dirCounts reads the directory's size for the daily snapshot.
type dirCounts struct{ db *storage.DB }

func (d dirCounts) DirectoryCounts(ctx context.Context) (domains, mailboxes, allotted, used int64, err error) {
	ds, err := d.db.DirDomains(ctx)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	mbs, err := d.db.DirMailboxes(ctx)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	for _, m := range mbs {
		q := m.QuotaBytes
		if q == 0 {
			q = defaultQuotaBytes
		}
		allotted += q
		used += m.UsedBytes
	}
	return int64(len(ds)), int64(len(mbs)), allotted, used, nil
}

// registerCollectorAPI adds GET /api/v1/trace (helpdesk and above; subjects
// masked below collectors.trace.show_subjects_from; every search audited)
// and GET /api/v1/mail/summary (viewer and above).
func registerCollectorAPI(env *Env, store *txlogstore.Store, cfg collectors.Config, loc *time.Location) {
	show := auth.Role(cfg.Trace.ShowSubjectsFrom)
	env.Server.Handle("GET /api/v1/trace", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		qs := r.URL.Query()
		now := env.Now()
		q := trace.Query{From: qs.Get("from"), To: qs.Get("to"), MessageID: qs.Get("msgid"), QueueID: qs.Get("queue_id"),
			IP: qs.Get("ip"), Status: qs.Get("status"), Subject: qs.Get("subject")}
		var err error
		if q.Since, err = trace.ParseTime(qs.Get("since"), now, loc); err != nil {
			return server.BadRequest(err.Error())
		}
		if q.Until, err = trace.ParseTime(qs.Get("until"), now, loc); err != nil {
			return server.BadRequest(err.Error())
		}
		if q.Limit, err = server.QueryInt(qs, "limit", 0, 0, math.MaxInt); err != nil {
			return err
		}
		if q.Offset, err = server.QueryInt(qs, "offset", 0, 0, math.MaxInt); err != nil {
			return err
		}
		if q.Limit > cfg.Trace.MaxLimit {
			q.Limit = cfg.Trace.MaxLimit
		}
		p, _ := auth.FromContext(r.Context())
		mask := !p.Role.AtLeast(show)
		if err := q.Normalize(); err != nil {
			return server.BadRequest(err.Error())
		}
		if err := env.Server.Audit(r, "trace.search", "", q.String()); err != nil {
			return err
		}
		page, err := trace.Search(r.Context(), store, q, mask)
		if err != nil {
			if errors.Is(err, trace.ErrEmptyQuery) || mask && q.Subject != "" {
				return server.BadRequest(err.Error())
			}
			return err
		}
		server.WriteJSON(w, http.StatusOK, page)
		return nil
	})
	env.Server.Handle("GET /api/v1/mail/summary", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		qs := r.URL.Query()
		now := env.Now()
		since, err := trace.ParseTime(qs.Get("since"), now, loc)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		until, err := trace.ParseTime(qs.Get("until"), now, loc)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		if qs.Get("since") == "" {
			since = now.Add(-24 * time.Hour)
		}
		s, err := store.TxSummary(r.Context(), since, until)
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, s)
		return nil
	})
}
