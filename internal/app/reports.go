package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/internal/api/reportapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/internal/store/reportstore"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/internal/store/unitstore"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/reports"
)

// ReportJob is the name of the scheduled monthly report job.
const ReportJob = "monthly_report"

// reportSource is the report's data: the capabilities' readers
// (reportstore.Source), with the record of on-call shifts brought up to
// date first, so that a report made by the CLI reads the same record the
// server writes.
type reportSource struct {
	reportstore.Source
	record func(ctx context.Context) error // nil without on-call
	units  *units.Service
	reqs   units.RequirementReader
}

var _ reports.UnitsSource = reportSource{}

// Units reads the units' recorded activity (units.Service.Activity) for
// the report's units section.
func (s reportSource) Units(ctx context.Context, from, to, now time.Time) (reports.UnitsActivity, error) {
	a, err := s.units.Activity(ctx, s.reqs, from, to, now)
	if err != nil {
		return reports.UnitsActivity{}, fmt.Errorf("units: %w", err)
	}
	out := reports.UnitsActivity{FollowUpsDone: a.FollowUpsDone, RequirementsOpened: a.RequirementsOpened,
		RequirementsAnswered: a.RequirementsAnswered, Joined: []string{}, Migrating: []string{}, FollowUpsOverdue: []reports.OverdueFollowUp{}}
	names := map[int64]string{}
	for _, u := range a.Joined {
		out.Joined = append(out.Joined, u.Name)
	}
	for _, u := range a.Migrating {
		out.Migrating = append(out.Migrating, u.Name)
	}
	for _, st := range a.FollowUpsOverdue {
		if _, ok := names[st.UnitID]; !ok {
			u, err := s.units.Get(ctx, st.UnitID)
			if err != nil {
				return reports.UnitsActivity{}, err
			}
			names[st.UnitID] = u.Name
		}
		out.FollowUpsOverdue = append(out.FollowUpsOverdue, reports.OverdueFollowUp{Unit: names[st.UnitID], Label: st.Label, Due: st.DueAt})
	}
	return out, nil
}

// OnCall brings the record of shifts up to date and reads it.
func (s reportSource) OnCall(ctx context.Context, from, to time.Time) (reports.OnCall, error) {
	if s.record != nil {
		if err := s.record(ctx); err != nil {
			return reports.OnCall{}, fmt.Errorf("on-call record of shifts: %w", err)
		}
	}
	return s.Source.OnCall(ctx, from, to)
}

// NewReportService returns the report service over db with the
// configuration's sources, archive and SMTP sender. The CLI uses it too.
func NewReportService(cfg *config.Config, db *storage.DB, logger *slog.Logger, node string, now func() time.Time) (*reports.Service, error) {
	src := reportSource{Source: reportstore.Source{TxLogData: txlogstore.New(db), TicketData: ticketstore.New(db),
		OnCallData: oncallstore.New(db), ProbeData: NewProbeStore(db),
		Rollups: rollup.Jobs{Store: txlogstore.New(db), Location: cfg.Reports.Location()}}, reqs: unitstore.New(db)}
	us, err := NewUnitService(cfg, db, logger, now, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("reports: units: %w", err)
	}
	src.units = us
	if cfg.Oncall.Enabled() {
		tm, _, err := cfg.Oncall.Compile(oncallstore.New(db))
		if err != nil {
			return nil, fmt.Errorf("reports: on-call rota: %w", err)
		}
		src.Rota = tm.DefaultRota()
		src.record = func(ctx context.Context) error { return tm.RecordShifts(ctx, now()) }
	}
	host, _ := os.Hostname()
	dkim, err := dkimSigner(cfg)
	if err != nil {
		return nil, err
	}
	return &reports.Service{
		Config: cfg.Reports, Source: src, Archive: reportstore.New(db),
		Sender: signedReports(&reports.SMTPSender{Config: cfg.Reports.Mail, HelloName: host}, dkim, logger),
		Logger: logger.With("capability", "reports"), Now: now, Node: node,
	}, nil
}

// setupReports wires the monthly report: the scheduled job that generates,
// archives and e-mails it once per period, and the report API
// (internal/api/reportapi).
func setupReports(_ context.Context, env *Env) error {
	svc, err := NewReportService(env.Config, env.DB, env.Logger, env.Node, env.Now)
	if err != nil {
		return err
	}
	mail := env.Config.Reports.Mail
	timeout := time.Duration(max(mail.Attempts, 1))*(mail.RetryDelay+5*time.Minute) + 15*time.Minute
	if err := env.Scheduler.Register(scheduler.Job{
		Name: ReportJob, Schedule: env.Config.Reports.Schedule(), Timeout: timeout, Run: svc.RunJob,
	}); err != nil {
		return err
	}
	reportapi.Register(env.Server, reportapi.Options{Service: svc})
	// Read from the archive at scrape time, so every replica reports the
	// same: an alert can fire when a month's report has not gone out.
	env.Telemetry.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "postvakt_reports_last_sent_timestamp_seconds",
		Help: "Unix time at which the newest archived monthly report was e-mailed; 0 when none was.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		list, err := svc.Archive.ListReports(ctx, 1)
		if err != nil || len(list) == 0 || list[0].SentAt.IsZero() {
			return 0
		}
		return float64(list[0].SentAt.Unix())
	}))
	return nil
}
