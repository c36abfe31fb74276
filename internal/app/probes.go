package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
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

// storeMailbox is the engine's local store as the mail loop's mailbox.
type storeMailbox struct{ db *storage.DB }

func (m storeMailbox) Seen(ctx context.Context, address, token string) (time.Time, bool, error) {
	return m.db.ProbeMailSeen(ctx, address, token)
}

// NewProbeRunner returns the probe runner of cfg on db (the CLI's
// `postvakt probe run` uses it without incidents or metrics).
func NewProbeRunner(env *Env) *probe.Runner {
	return &probe.Runner{Config: env.Config.Probes, Store: env.DB, Mailbox: storeMailbox{env.DB}, Locker: probeLocker{env.DB},
		Node: env.Node, Logger: env.Logger.With("capability", "probes"), Now: env.Now}
}

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
	s := env.Server
	s.Handle("GET /api/v1/probes", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		states, err := env.DB.ProbeStates(r.Context())
		if err != nil {
			return err
		}
		server.WriteList(w, "probes", states)
		return nil
	})
	s.Handle("GET /api/v1/probes/{name}/results", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		from, to, err := periodParams(r, env.Now(), 24*time.Hour)
		if err != nil {
			return err
		}
		limit, err := server.QueryInt(r.URL.Query(), "limit", 1000, 1, 1000)
		if err != nil {
			return err
		}
		res, err := env.DB.ProbeResults(r.Context(), r.PathValue("name"), from, to, limit)
		if err != nil {
			return err
		}
		server.WriteList(w, "results", res)
		return nil
	})
	s.Handle("POST /api/v1/probes/{name}/run", auth.RoleOncall, func(w http.ResponseWriter, r *http.Request) error {
		res, err := runner.Check(r.Context(), r.PathValue("name"))
		if errors.Is(err, probe.ErrUnknownProbe) {
			return server.NotFound(fmt.Sprintf("no probe named %q", r.PathValue("name")))
		}
		if err != nil {
			return err
		}
		s.Audit(r, "probe.run", r.PathValue("name"), fmt.Sprintf("ok=%v", res.OK))
		server.WriteJSON(w, http.StatusOK, res)
		return nil
	})
	s.Handle("GET /api/v1/availability", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		from, to, err := periodParams(r, env.Now(), 30*24*time.Hour)
		if err != nil {
			return err
		}
		var figs []probe.Figures
		switch r.URL.Query().Get("by") {
		case "", "period":
			figs, err = env.DB.ServiceAvailability(r.Context(), from, to)
		case "day":
			loc, _ := env.Config.Collectors.Location()
			figs, err = env.DB.ServiceAvailabilityDaily(r.Context(), from, to, loc)
		default:
			return server.BadRequest("by: want period or day")
		}
		if err != nil {
			return err
		}
		server.WriteList(w, "services", figs)
		return nil
	})
	if err := env.Scheduler.Register(scheduler.Job{Name: "probes_retention", Schedule: "@daily", Timeout: time.Hour,
		Run: func(ctx context.Context, tick time.Time) error {
			n, err := env.DB.DeleteProbeResults(ctx, env.Now().Add(-cfg.ResultsRetention))
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

// periodParams reads ?from= and ?to= (RFC 3339); the default period is the
// span d up to now.
func periodParams(r *http.Request, now time.Time, d time.Duration) (from, to time.Time, err error) {
	to, from = now, now.Add(-d)
	q := r.URL.Query()
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"from", &from}, {"to", &to}} {
		if v := q.Get(p.name); v != "" {
			if *p.t, err = time.Parse(time.RFC3339, v); err != nil {
				return from, to, server.BadRequest(p.name + ": want RFC 3339, e.g. 2026-11-01T00:00:00Z")
			}
		}
	}
	if !to.After(from) {
		return from, to, server.BadRequest("to must be after from")
	}
	return from, to, nil
}
