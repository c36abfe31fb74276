package app

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/api/probeapi"
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
// retention of the runs.
func setupProbes(ctx context.Context, env *Env) error {
	cfg := env.Config.Probes
	runner := NewProbeRunner(env)
	runner.Registerer = env.Telemetry.Registry
	if cfg.RaiseIncidents && env.alerting != nil {
		replica := "" // one replica probes for all
		if cfg.Mode == probe.ModeEvery {
			replica = env.Node
		}
		runner.Incidents = probeIncidents{env.alerting.Probes(replica)}
	}
	if _, err := runner.Targets(); err != nil {
		return err
	}
	st := NewProbeStore(env.DB)
	probeapi.Register(env.Server, probeapi.Options{Store: st, Runner: runner, Location: env.Config.Location(), Now: env.Now})
	if err := env.Scheduler.Register(scheduler.Job{Name: "probes_retention", Schedule: "@daily", Timeout: time.Hour,
		Run: func(ctx context.Context, tick time.Time) error {
			n, err := st.DeleteProbeResults(ctx, env.Now().Add(-cfg.ResultsRetention))
			env.Logger.Info("probes: retention", "deleted", n)
			return err
		}}); err != nil {
		return err
	}
	if cfg.Enabled {
		env.Go(runner.Run)
	}
	return nil
}
