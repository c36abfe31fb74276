// Package app wires postvakt together: it opens the database, applies
// migrations, builds telemetry, the HTTP server, the scheduler and every
// capability, runs them until the context ends, and reloads what can be
// reloaded on SIGHUP. cmd/postvakt is a thin layer of flags over it, and
// tests embed it to run a whole service in-process.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/api/adminapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/control"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/sdnotify"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/internal/telemetry"
	"github.com/uni-mail/postvakt/internal/web"
	"github.com/uni-mail/postvakt/oncall/alerting"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Version is the build version, set by the linker (-X) or left as "dev".
var Version = "dev"

// Options configure Run.
type Options struct {
	Config     *config.Config
	ConfigPath string // for reloads; empty when running on defaults
	Logger     *slog.Logger
	LogLevel   *slog.LevelVar // adjusted on reload
	// Reload delivers SIGHUP: re-read the configuration file and apply what
	// can change without a restart (Env.Reload, docs/configuration.md
	// "Reloading"); POST /api/v1/admin/reload does the same.
	Reload <-chan struct{}
	// Ready is called once every listener is bound, with the HTTP address.
	Ready func(http net.Addr)
	// Node names this replica in claimed job ticks; default host-pid.
	Node string
	Now  func() time.Time
	// Demo runs the demo (docs/demo.md): Config must come from
	// DemoConfig; the database is made afresh, marked "demo" and seeded.
	// Without Demo, a database marked "demo" is refused.
	Demo bool
	// DemoPassword is the demo users' password; empty: a random one,
	// printed in the log.
	DemoPassword string
	// DemoSamples are the sample logs the demo replays (the first that
	// exists); nil: DemoSamples.
	DemoSamples []string
}

// OpenDatabase opens the configured database and, when migrate is true,
// applies pending migrations.
func OpenDatabase(ctx context.Context, cfg *config.Config, logger *slog.Logger, migrate bool) (*storage.DB, error) {
	return OpenDatabaseWith(ctx, cfg, logger, migrate, storage.Options{})
}

// OpenDatabaseWith is OpenDatabase with storage options (MaxConns comes
// from the configuration): `postvakt import` opens it with Bulk. Unless
// Bulk, indexes an unfinished import left deferred are built first.
func OpenDatabaseWith(ctx context.Context, cfg *config.Config, logger *slog.Logger, migrate bool, opts storage.Options) (*storage.DB, error) {
	opts.MaxConns = cfg.Database.MaxConns
	db, err := storage.Open(ctx, cfg.DatabaseURL(), opts)
	if err != nil {
		return nil, err
	}
	if migrate {
		n, err := db.MigrateUp(ctx, nil)
		if err != nil {
			db.Close()
			return nil, err
		}
		if n > 0 {
			logger.Info("database migrated", "applied", n)
		}
	}
	if !opts.Bulk {
		// an import's bulk load that did not finish left the logs without
		// their indexes (storage.DB.DeferIndexes): build them before
		// anything reads or writes the logs. import itself starts such a
		// load over instead (txlogstore.Store.BeginBulkLoad).
		built, err := db.RestoreIndexes(ctx)
		if err != nil {
			db.Close()
			return nil, err
		}
		if len(built) > 0 && logger != nil {
			logger.Warn("built the indexes an unfinished import had dropped; the rows it wrote are kept (importing the same files again adds them twice)",
				"indexes", len(built))
		}
	}
	return db, nil
}

// Env is what a capability's setup function gets: the shared parts of the
// running service. A capability registers its API routes on Server, its jobs
// on Scheduler, its metrics on Telemetry, and its long-running loops with Go.
type Env struct {
	Config    *config.Config
	Logger    *slog.Logger
	DB        *storage.DB
	Telemetry *telemetry.Telemetry
	Server    *server.Server
	// Control is the local control socket (internal/control): commands on
	// this host hand work to the running service through it.
	Control   *control.Server
	Scheduler *scheduler.Scheduler
	Now       func() time.Time
	Node      string
	// Oncall carries optional hooks into the on-call capability (tickets).
	Oncall OncallHooks
	// Collectors carries the collectors' hooks: the engine sends its events
	// to Collectors.EngineEvents (set by setupCollectors; list the engine
	// after it), and the on-call capability may set Collectors.Alerts
	// before it to receive abuse findings.
	Collectors CollectorHooks
	// Content carries content scanning's hook for the engine: the engine
	// takes Content.Filter as engine.Options.Filter.
	Content ContentHooks

	// engine is the engine's store, directory and quarantine; set by
	// setupContent, used by setupEngine.
	engine engineParts
	// complaints takes spam complaints to the abuse address; set by
	// setupContent when content scanning is on, used by setupEngine.
	complaints *complaint.Service
	// units is the units service (unitService), for notices and setupUnits.
	units *units.Service
	// tickets is the ticket service, for the engine's fault-address intake.
	tickets *tickets.Service
	// alerting raises incidents (nil when on-call is off), for the probes.
	alerting *alerting.Service
	// web is the web interface, set by setupWeb: Run asks it for the
	// first-run setup link once the listener is bound.
	web *web.UI
	// demo is set when the service runs the demo (Options.Demo).
	demo bool

	// Reload reads the configuration file again on SIGHUP and POST
	// /api/v1/admin/reload; a capability that can apply changes while
	// running registers a hook for its keys with OnReload. nil until
	// OnReload or setupFoundation makes one (on the defaults).
	Reload *reload.Manager
	// LogLevel is the service log's level, changed by a reload.
	LogLevel *slog.LevelVar

	goes []func(ctx context.Context) error
}

// OnReload registers a hook that applies the keys it names when the
// configuration is reloaded (internal/reload). A changed key no hook
// claims is reported as needing a restart.
func (e *Env) OnReload(h reload.Hook) { e.reloader().Register(h) }

func (e *Env) reloader() *reload.Manager {
	if e.Reload == nil {
		e.Reload = reload.New(reload.Options{Config: e.Config, Logger: e.Logger, Now: e.Now})
	}
	return e.Reload
}

// Go runs fn for the life of the service. fn must return when ctx is done;
// an error from it stops the service.
func (e *Env) Go(fn func(ctx context.Context) error) { e.goes = append(e.goes, fn) }

// capabilities are set up in this order at start. Each lives in its own file
// of this package (setupX in x.go).
var capabilities = []struct {
	name  string
	setup func(ctx context.Context, env *Env) error
}{
	{"foundation", setupFoundation},
	{"access", setupAccess},
	{"runbooks", setupRunbooks},
	{"tickets", setupTickets}, // before oncall: sets env.Oncall.Tickets
	{"oncall", setupOncall},   // binds env.Oncall.Tickets
	{"units", setupUnits},     // after oncall: reminders on its channels
	{"collectors", setupCollectors},
	{"content", setupContent},
	{"engine", setupEngine}, // after collectors and content: takes their hooks
	{"reports", setupReports},
	{"probes", setupProbes}, // after oncall: raises its incidents
	{"web", setupWeb},       // last: its pages call every capability's API
}

// Run runs the service until ctx is cancelled, then shuts down gracefully.
func Run(ctx context.Context, opts Options) error {
	cfg, logger := opts.Config, opts.Logger
	cfg.ApplyServiceZone()
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Node == "" {
		host, _ := os.Hostname()
		opts.Node = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	logger.Info("starting postvakt", "version", Version, "database", config.RedactURL(cfg.DatabaseURL()), "node", opts.Node)
	if err := checkDemoMark(ctx, cfg, opts.Demo); err != nil {
		return err
	}
	// the trace search's first plan on a new PostgreSQL connection reads
	// the catalog of every daily partition: the pool's connections do it
	// while idle
	db, err := OpenDatabaseWith(ctx, cfg, logger, cfg.Database.MigrateOnStart || opts.Demo,
		storage.Options{WarmUp: txlogstore.WarmUpStatements()})
	if err != nil {
		return err
	}
	defer db.Close()
	if opts.Demo {
		if err := db.SetMark(ctx, storage.MarkDemo, "postvakt serve --demo", opts.Now()); err != nil {
			return err
		}
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	tel := telemetry.New(Version)
	// One replica exports the gauges read from the shared database
	// (telemetry.ClusterWide); docs/metrics.md, Several replicas.
	tel.SetLeader(db.HoldLock(ctx, storage.LockKey("telemetry:cluster-metrics"), 15*time.Second).Held)
	if cfg.Metrics.Push.URL != "" {
		if err := tel.StartPush(ctx, cfg.Metrics.Push.URL, cfg.Metrics.Push.Interval, cfg.Metrics.Push.ExtraLabels); err != nil {
			return fmt.Errorf("metrics push: %w", err)
		}
	}
	access := accessstore.New(db)
	env := &Env{
		Config: cfg, Logger: logger, DB: db, Telemetry: tel, Now: opts.Now, Node: opts.Node, LogLevel: opts.LogLevel,
		Reload: reload.New(reload.Options{Path: opts.ConfigPath, Config: cfg, Logger: logger, Now: opts.Now}),
		Server: server.New(server.Options{
			Config: cfg.HTTP, Logger: logger, Telemetry: tel, Ready: db,
			Tokens: access, Audit: access, Now: opts.Now, Version: Version,
		}),
		Control: control.NewServer(cfg.DatabaseURL(), logger),
		Scheduler: scheduler.New(scheduler.Options{
			Store: db, LockKey: storage.LockKey, Logger: logger, Registerer: tel.Registry,
			Node: opts.Node, Overrides: cfg.Scheduler.Jobs, Now: opts.Now,
		}),
	}
	for _, c := range capabilities {
		if err := c.setup(ctx, env); err != nil {
			return fmt.Errorf("set up %s: %w", c.name, err)
		}
	}
	if opts.Demo {
		if err := env.startDemo(opts); err != nil {
			return err
		}
	}

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	notify := sdnotify.FromEnv()
	fail := func(err error) {
		if err != nil && !errors.Is(err, context.Canceled) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			cancel()
		}
	}
	if cfg.Scheduler.Enabled {
		wg.Add(1)
		go func() { defer wg.Done(); fail(env.Scheduler.Run(ctx)) }()
	}
	for _, fn := range env.goes {
		wg.Add(1)
		go func() { defer wg.Done(); fail(fn(ctx)) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		fail(env.Server.Serve(ctx, func(a net.Addr) {
			logger.Info("http listening", "addr", a.String())
			env.announce(ctx, a)
			// systemd Type=notify (packaging/postvakt.service).
			if err := notify.Ready("listening on " + a.String()); err != nil {
				logger.Warn("sd_notify READY", "err", err)
			}
			if opts.Ready != nil {
				opts.Ready(a)
			}
			wg.Add(1)
			go func() { defer wg.Done(); notify.Watchdog(ctx, nil) }()
		}))
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Without the socket every command opens its own connections,
		// as it does when no service runs: a warning, not a failure.
		if err := env.Control.Serve(ctx, control.Path(cfg.DataDir)); err != nil {
			logger.Warn("control socket not served; commands on this host open their own database connections", "err", err)
		}
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-opts.Reload:
				_, err := env.Reload.Reload(ctx, "signal")
				if errors.Is(err, reload.ErrNoFile) {
					logger.Info("reload: " + err.Error())
				}
			}
		}
	}()
	<-ctx.Done()
	logger.Info("shutting down")
	_ = notify.Stopping()
	wg.Wait()
	logger.Info("stopped")
	return errors.Join(errs...)
}

// setupFoundation registers the foundation's health metrics, its own
// scheduled jobs, the reload of the log level and the admin API's reload
// route.
func setupFoundation(_ context.Context, env *Env) error {
	env.OnReload(reload.Hook{Name: "log", Keys: []string{"log.level"},
		Prepare: func(_ context.Context, _, next *config.Config) (func(), []string, error) {
			if env.LogLevel == nil {
				return nil, nil, nil
			}
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(next.Log.Level)); err != nil {
				return nil, nil, err
			}
			return func() { env.LogLevel.Set(lvl) }, nil, nil
		}})
	adminapi.Register(env.Server, adminapi.Options{Reload: env.reloader().Reload})
	if err := env.Telemetry.Registry.Register(newHealthCollector(env.DB, env.Config.DataDir)); err != nil {
		return err
	}
	return env.Scheduler.Register(scheduler.Job{
		Name:     "scheduler_history_cleanup",
		Schedule: "@hourly",
		Timeout:  5 * time.Minute,
		Run: func(ctx context.Context, tick time.Time) error {
			_, err := env.DB.PruneJobRuns(ctx, env.Now().Add(-30*24*time.Hour))
			return err
		},
	})
}
