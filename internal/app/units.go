package app

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/internal/api/unitapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/unitstore"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck"
)

// NewUnitService builds the units service from the configuration: its
// store, the DNS checker on units.resolvers, mail through notices.relay;
// send posts reminders to the on-call channels (nil: none); reg
// registers its metrics (nil: none). `serve` and
// the CLI use the same wiring.
func NewUnitService(cfg *config.Config, db *storage.DB, logger *slog.Logger, now func() time.Time,
	send func(ctx context.Context, msgs ...page.Message) error, reg prometheus.Registerer) (*units.Service, error) {
	st := unitstore.New(db)
	var metrics *units.Metrics
	if reg != nil {
		metrics = units.NewMetrics(reg, st, now, logger)
	}
	var mailer notice.Sender
	if cfg.Notices.Relay.Addr != "" {
		r := cfg.Notices.Relay
		dkim, err := dkimSigner(cfg)
		if err != nil {
			return nil, err
		}
		mailer = signedNotices(&notice.SMTPSender{Addr: r.Addr, HelloName: r.HelloName, Timeout: r.Timeout, StartTLS: r.StartTLS,
			Username: r.Username, Password: r.Password}, dkim, logger)
	}
	return units.New(units.Options{
		Config: cfg.Units, Store: st, Metrics: metrics,
		Checker: &dnscheck.Checker{Resolver: &dnscheck.Client{Servers: cfg.Units.Resolvers, Timeout: cfg.Units.ResolverTimeout,
			Authoritative: cfg.Units.AskZoneServers, NSPort: strconv.Itoa(cfg.Units.NSPort)},
			Central: cfg.Units.CentralMX, Now: now},
		Mailer: mailer, Page: send, Location: cfg.Location(), BaseURL: cfg.HTTP.BaseURL,
		Logger: logger.With("capability", "units"), Now: now,
	})
}

// setupUnits wires the units capability (docs/units.md): the service,
// its API with the public survey form, and the job that sends due
// reminders and repeats open MX checks (every minute, single-flight
// across replicas).
func setupUnits(_ context.Context, env *Env) error {
	svc, err := env.unitService()
	if err != nil {
		return err
	}
	unitapi.Register(env.Server, unitapi.Options{Units: svc, Location: env.Config.Location(), Now: env.Now})
	return env.Scheduler.Register(scheduler.Job{
		Name: "units", Schedule: "@every 1m", Timeout: 55 * time.Second,
		Run: func(ctx context.Context, _ time.Time) error { return svc.Tick(ctx) },
	})
}

// unitService builds the units service once: the notices (set up before
// on-call) scope to it, and setupUnits serves it. Its reminders reach the
// on-call channels once setupOncall has set env.Oncall.Send.
func (env *Env) unitService() (*units.Service, error) {
	if env.units != nil {
		return env.units, nil
	}
	send := func(ctx context.Context, msgs ...page.Message) error {
		if env.Oncall.Send == nil {
			return errors.New("the on-call channels are not set up")
		}
		return env.Oncall.Send(ctx, msgs...)
	}
	svc, err := NewUnitService(env.Config, env.DB, env.Logger, env.Now, send, env.Telemetry.Registry)
	if err != nil {
		return nil, err
	}
	env.units = svc
	return svc, nil
}
