package app

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/enginemetrics"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// engineParts are the engine's store, directory and quarantine, built by
// setupContent and shared by setupEngine: one directory (and one recipient
// cache) per process.
type engineParts struct {
	store      *enginestore.Store
	directory  *directory.Directory
	quarantine *quarantine.Service
	// resources are the budgets shared by the engine, content scanning,
	// the relay queue and the web sign-in (the password-hash gate).
	resources *engine.Resources
}

// setupEngine serves the engine's API (the quarantine always, the
// directory when the engine runs) and runs the SMTP engine when
// smtp.enabled.
func setupEngine(ctx context.Context, env *Env) error {
	api := engineapi.Options{Quarantine: env.engine.quarantine}
	if env.Config.SMTP.Enabled {
		eng, err := runEngine(ctx, env)
		if err != nil {
			return err
		}
		api.Directory, api.Mailboxes, api.Messages = eng.Directory(), env.engine.store, env.engine.store
		api.SubjectsFrom = auth.Role(env.Config.Collectors.Trace.ShowSubjectsFrom)
	}
	engineapi.Register(env.Server, api)
	return nil
}

// runEngine runs the SMTP engine (smtp: in the configuration): MX and
// submission listeners, policy, greylisting, durable local delivery, its
// hot-path metrics on the VictoriaMetrics set, mail events to the
// collectors and messages after DATA through content scanning when that is
// set up.
func runEngine(ctx context.Context, env *Env) (*engine.Engine, error) {
	cfg := env.Config.SMTP
	for name, help := range enginemetrics.Help {
		env.Telemetry.Describe(name, help)
	}
	filter := env.Content.Filter
	if addr := env.Config.Tickets.FaultAddress; addr != "" && env.tickets != nil {
		filter = faultIntakeFilter{next: filter, intake: tickets.FaultIntake{
			Address: addr, Intake: env.tickets.Intake, Logger: env.Logger.With("capability", "tickets"),
		}}
	}
	if env.Oncall.IncidentMail != nil {
		filter = incidentMailFilter{next: filter, intake: env.Oncall.IncidentMail}
	}
	if addr := env.Config.Content.Complaints.Address; addr != "" && env.complaints != nil {
		filter = complaintIntakeFilter{next: filter, address: addr, complaints: env.complaints,
			logger: env.Logger.With("capability", "complaints")}
	}
	eng, err := engine.New(engine.Options{
		Config: cfg, DataDir: env.Config.DataDir, Store: env.engine.store, Directory: env.engine.directory,
		Logger: env.Logger.With("capability", "engine"), Metrics: env.Telemetry.Hot,
		Events: env.Collectors.EngineEvents, Clock: env.Now, Filter: filter, Resources: env.engine.resources,
	})
	if err != nil {
		return nil, err
	}
	if err := engine.ApplyDirectoryConfig(ctx, cfg, eng.Directory()); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(engine.ReloadKeys))
	for _, k := range engine.ReloadKeys {
		keys = append(keys, "smtp."+k)
	}
	env.OnReload(reload.Hook{Name: "engine", Keys: keys,
		Prepare: func(_ context.Context, _, next *config.Config) (func(), []string, error) {
			apply, notes, err := eng.Reload(next.SMTP)
			if err != nil {
				return nil, nil, next.Locate("smtp", err)
			}
			return apply, notes, nil
		}})
	current := func() engine.Config { return env.reloader().Current().SMTP }
	if err := env.Telemetry.Registry.Register(certExpiryCollector(current, env.Config.DataDir)); err != nil {
		return nil, err
	}
	env.Go(eng.Serve)
	return eng, nil
}

// certExpiryCollector exports the NotAfter of the engine's TLS certificate
// (the configured one, or the generated development one) for the
// PostvaktCertificateExpiry alert. It reads the file at scrape time, so a
// renewed certificate shows at once, and the file the configuration in
// force names (cfg), so a reload that names another shows it.
func certExpiryCollector(current func() engine.Config, dataDir string) prometheus.Collector {
	desc := prometheus.NewDesc("postvakt_tls_certificate_expiry_timestamp_seconds",
		"Unix time at which the TLS certificate of an SMTP listener expires.", []string{"listener"}, nil)
	return collectorFunc{desc: desc, collect: func(ch chan<- prometheus.Metric) {
		cfg := current()
		file := cfg.TLS.CertFile
		if file == "" {
			file = filepath.Join(dataDir, "tls", "smtp-selfsigned.crt")
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return
		}
		block, _ := pem.Decode(data)
		if block == nil {
			return
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return
		}
		for _, l := range []struct {
			name string
			lc   engine.ListenerConfig
		}{{"mx", cfg.MX}, {"submission", cfg.Submission}, {"submissions", cfg.Submissions}} {
			if l.lc.Listen != "" {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, float64(cert.NotAfter.Unix()), l.name)
			}
		}
	}}
}

type collectorFunc struct {
	desc    *prometheus.Desc
	collect func(ch chan<- prometheus.Metric)
}

func (c collectorFunc) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }
func (c collectorFunc) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }
