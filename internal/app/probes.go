package app

import (
	"context"
	"reflect"
	"sync/atomic"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/api/probeapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/internal/store/probestore"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/alerting"
)

// probeIncidents hands the probes' problems to the on-call capability.
type probeIncidents struct{ p *alerting.Probes }

var _ probe.Incidents = probeIncidents{}

func (pi probeIncidents) Raise(ctx context.Context, a probe.Alert) error {
	return pi.p.Raise(ctx, alerting.ProbeProblem{Key: a.Key, Severity: a.Severity, Title: a.Title, Summary: a.Summary,
		Service: a.Service, Node: a.Node, Kind: string(a.Kind), Runbook: a.Runbook})
}

func (pi probeIncidents) Recover(ctx context.Context, key string) error {
	return pi.p.Recover(ctx, key)
}

// probeLocker adapts the database's advisory lock to probe.Locker.
type probeLocker struct{ db *storage.DB }

func (l probeLocker) TryLock(ctx context.Context, name string) (func(), bool, error) {
	return l.db.TryLock(ctx, storage.LockKey(name))
}

// NewProbeStore returns the probes' store on db, reading the maintenance
// windows from the tickets capability's notices (the CLI uses it too).
func NewProbeStore(db *storage.DB) *probestore.Store {
	return probestore.New(db, ticketstore.New(db))
}

// NewProbeRunner returns the probe runner of cfg on db, with the engine's
// mail store as the mail loop's mailbox (the CLI's `postvakt probe run`
// uses it without incidents or metrics).
func NewProbeRunner(env *Env) *probe.Runner {
	return &probe.Runner{Config: env.Config.Probes, Store: NewProbeStore(env.DB),
		Mailbox: probestore.Mailbox{Mail: enginestore.New(env.DB)}, Locker: probeLocker{env.DB},
		Node: env.Node, Logger: env.Logger.With("capability", "probes"), Now: env.Now}
}

// setupProbes wires the probes: the runner (with on-call incidents when
// probes.raise_incidents), the probe API (internal/api/probeapi) and the
// retention of the runs. A reload that changes the probes section stops
// the running probes and starts the new ones (the results so far are
// kept).
func setupProbes(ctx context.Context, env *Env) error {
	build := func(cfg probe.Config) (*probe.Runner, error) {
		e := *env
		e.Config = &config.Config{Probes: cfg}
		runner := NewProbeRunner(&e)
		runner.Registerer = env.Telemetry.Registry
		if cfg.RaiseIncidents && env.alerting != nil {
			replica := "" // one replica probes for all
			if cfg.Mode == probe.ModeEvery {
				replica = env.Node
			}
			runner.Incidents = probeIncidents{env.alerting.Probes(replica)}
		}
		if _, err := runner.Targets(); err != nil {
			return nil, err
		}
		return runner, nil
	}
	cfg := env.Config.Probes
	first, err := build(cfg)
	if err != nil {
		return err
	}
	live := &liveRunner{restart: make(chan struct{}, 1)}
	live.cur.Store(&runnerOf{first, cfg.Enabled})
	env.OnReload(reload.Hook{Name: "probes", Keys: []string{"probes"},
		Prepare: func(_ context.Context, cur, next *config.Config) (func(), []string, error) {
			if reflect.DeepEqual(cur.Probes, next.Probes) {
				return nil, nil, nil
			}
			r, err := build(next.Probes)
			if err != nil {
				return nil, nil, next.Locate("probes", err)
			}
			return func() { live.swap(&runnerOf{r, next.Probes.Enabled}) }, nil, nil
		}})
	st := NewProbeStore(env.DB)
	probeapi.Register(env.Server, probeapi.Options{Store: st, Runner: live, Location: env.Config.Location(), Now: env.Now})
	if err := env.Scheduler.Register(scheduler.Job{Name: "probes_retention", Schedule: "@daily", Timeout: time.Hour,
		Run: func(ctx context.Context, tick time.Time) error {
			retention := live.cur.Load().r.Config.ResultsRetention
			n, err := st.DeleteProbeResults(ctx, env.Now().Add(-retention))
			env.Logger.Info("probes: retention", "deleted", n)
			return err
		}}); err != nil {
		return err
	}
	env.Go(live.run)
	return nil
}

// runnerOf is a probe runner and whether it runs (probes.enabled).
type runnerOf struct {
	r       *probe.Runner
	enabled bool
}

// liveRunner is the probe runner in force: a reload swaps it, and run
// stops the old one's loop and starts the new one's.
type liveRunner struct {
	cur     atomic.Pointer[runnerOf]
	restart chan struct{}
}

var _ probeapi.Runner = (*liveRunner)(nil)

// Check runs a probe of the runner in force now (probeapi.Runner).
func (l *liveRunner) Check(ctx context.Context, name string) (probe.Result, error) {
	return l.cur.Load().r.Check(ctx, name)
}

func (l *liveRunner) swap(r *runnerOf) {
	l.cur.Store(r)
	select {
	case l.restart <- struct{}{}:
	default:
	}
}

// run runs the runner in force until ctx ends, restarting it on a swap.
func (l *liveRunner) run(ctx context.Context) error {
	for {
		cur := l.cur.Load()
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		if cur.enabled {
			go func() { done <- cur.r.Run(rctx) }()
		} else {
			done <- nil
		}
		select {
		case <-ctx.Done():
			cancel()
			<-done
			return nil
		case <-l.restart:
			cancel()
			if err := <-done; err != nil {
				return err
			}
		case err := <-done:
			if err != nil {
				cancel()
				return err
			}
			select { // stopped without error (disabled): wait for a change
			case <-ctx.Done():
				cancel()
				return nil
			case <-l.restart:
				cancel()
			}
		}
	}
}
