package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
)

func probeCmd() *command {
	var asJSON, record, daily bool
	var since, until string
	runner := func(cfg *config.Config, db *storage.DB, e *cmdEnv) *probe.Runner {
		node, _ := os.Hostname()
		return app.NewProbeRunner(&app.Env{Config: cfg, DB: db, Logger: e.logger, Now: time.Now, Node: node})
	}
	jsonFlag := func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") }
	return &command{
		name:    "probe",
		summary: "run the service probes by hand, list their states and the availability they measured",
		help: `Probes are configured under probes.targets (docs/probes.md). "probe run NAME"
runs one now and prints each step with its time; it exits 1 when the probe
fails. "probe status" lists the states recorded by postvakt serve.`,
		subs: []*command{
			{
				name: "run", args: "NAME", summary: "run one probe now and print each step with its time",
				flags: func(fs *flag.FlagSet, o *globalOpts) {
					jsonFlag(fs, o)
					fs.BoolVar(&record, "record", false, "record the result (state, incidents are left to postvakt serve)")
				},
				run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
					if len(args) != 1 {
						return usagef("probe run takes one probe NAME")
					}
					r := runner(cfg, db, e)
					res, err := r.Probe(ctx, args[0])
					if err != nil {
						return err
					}
					if record {
						if _, _, err := r.Store.SaveProbeResult(ctx, res, r.Node); err != nil {
							return err
						}
					}
					if asJSON {
						if err := writeJSON(e.stdout, res); err != nil {
							return err
						}
					} else if err := writeProbeRun(e, res); err != nil {
						return err
					}
					if !res.OK {
						return fmt.Errorf("probe %s failed: %s", res.Probe, res.Error)
					}
					return nil
				}),
			},
			{
				name: "list", summary: "list the configured probes",
				flags: jsonFlag,
				run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
					ts, err := runner(cfg, db, e).Targets()
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, ts)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
					fmt.Fprintln(tw, "NAME\tSERVICE\tNODE\tKIND\tADDRESS\tTLS\tINTERVAL")
					for _, t := range ts {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Service, orDash(t.Node), t.Kind, t.Address, t.TLS, t.Interval)
					}
					return tw.Flush()
				}),
			},
			{
				name: "status", summary: "list each probe's current state as recorded",
				flags: jsonFlag,
				run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
					states, err := app.NewProbeStore(db).ProbeStates(ctx)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, states)
					}
					if len(states) == 0 {
						fmt.Fprintln(e.stdout, "no probe results recorded yet (probes.enabled, or probe run --record)")
						return nil
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
					fmt.Fprintln(tw, "PROBE\tSERVICE\tNODE\tKIND\tSTATUS\tSINCE\tLAST RUN\tTIME\tNOTE")
					for _, s := range states {
						note := s.LastError
						if s.Warning != "" {
							note = strings.TrimSpace(s.Warning + " " + note)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Probe, s.Service, orDash(s.Node), s.Kind, s.Status,
							e.when(s.Since), e.when(s.LastAt), s.LastLatency.Round(time.Millisecond), note)
					}
					return tw.Flush()
				}),
			},
			{
				name: "availability", summary: "availability per service measured by the probes, maintenance left out",
				flags: func(fs *flag.FlagSet, o *globalOpts) {
					jsonFlag(fs, o)
					fs.StringVar(&since, "since", "720h", "start `time` of the period: "+timezone.Grammar+", or a duration before now (720h)")
					fs.StringVar(&until, "until", "", "end of the period (default now)")
					fs.BoolVar(&daily, "daily", false, "one line per service and calendar day (in the service time zone)")
				},
				run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
					loc := e.loc
					now := time.Now()
					from, err := e.parseTime("--since", since)
					if err != nil {
						return err
					}
					to, err := e.parseTime("--until", until)
					if err != nil {
						return err
					}
					if to.IsZero() {
						to = now
					}
					var figs []probe.Figures
					if daily {
						figs, err = app.NewProbeStore(db).ServiceAvailabilityDaily(ctx, from, to, loc)
					} else {
						figs, err = app.NewProbeStore(db).ServiceAvailability(ctx, from, to)
					}
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, figs)
					}
					fmt.Fprintf(e.stdout, "%s – %s\n", e.when(from), e.when(to))
					tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
					fmt.Fprintln(tw, "SERVICE\tFROM\tAVAILABILITY\tDOWN\tOUTAGES\tMAINTENANCE\tDOWN IN MAINTENANCE\tNO DATA")
					for _, f := range figs {
						a := "-"
						if f.Known {
							a = fmt.Sprintf("%.3f %%", f.Availability)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", f.Service, f.From.In(loc).Format("2006-01-02 15:04 MST"), a, seconds(f.Down), len(f.Outages),
							seconds(f.Planned), seconds(f.DownPlanned), seconds(f.NoData))
					}
					return tw.Flush()
				}),
			},
		},
	}
}

func seconds(d probe.Duration) string {
	return time.Duration(d).Round(time.Second).String()
}

// writeProbeRun prints a run step by step.
func writeProbeRun(e *cmdEnv, r probe.Result) error {
	w := e.stdout
	node := r.Node
	if node == "" {
		node = "service address"
	}
	fmt.Fprintf(w, "probe %s: %s %s (%s) at %s\n", r.Probe, r.Service, r.Kind, node, r.At.In(e.loc).Format("2006-01-02 15:04:05 MST"))
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	for _, s := range r.Steps {
		mark := "ok"
		detail := s.Detail
		if s.Err != "" {
			mark, detail = "FAIL", strings.TrimSpace(s.Err+" "+detail)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Name, s.Duration.Round(10*time.Microsecond), mark, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.LoopDelivery > 0 {
		fmt.Fprintf(w, "mail loop delivery: %s\n", r.LoopDelivery.Round(time.Millisecond))
	}
	if !r.CertExpiry.IsZero() {
		fmt.Fprintf(w, "certificate expires: %s (%d days)\n", e.when(r.CertExpiry), int(time.Until(r.CertExpiry).Hours()/24))
	}
	if r.Warning != "" {
		fmt.Fprintf(w, "warning: %s\n", r.Warning)
	}
	result := "ok"
	if !r.OK {
		result = "FAILED: " + r.Error
	}
	_, err := fmt.Fprintf(w, "result: %s in %s (%d attempt(s))\n", result, r.Duration.Round(10*time.Microsecond), r.Attempts)
	return err
}
