package main

import (
	"context"
	"flag"
	"fmt"
	"sort"

	"github.com/uni-mail/postvakt/dashboards"
)

func dashboardsCmd() *command {
	var dir, runbook, jobSel string
	flags := func(fs *flag.FlagSet, _ *globalOpts) {
		fs.StringVar(&dir, "dir", "dashboards", "the dashboards `folder` to write grafana/ and prometheus/ into")
		fs.StringVar(&runbook, "runbook-url", "", "external `URL` of postvakt (http.base_url): the alerts' runbook_url is <URL>/runbooks/<id> (required)")
		fs.StringVar(&runbook, "base-url", "", "the same as --runbook-url (older name)")
		fs.StringVar(&jobSel, "job-selector", dashboards.DefaultJobSelector, "PromQL label `matchers` added to every metric of the dashboards and rules, e.g. 'job=\"mail\"' or 'job=\"postvakt\",env=\"prod\"'; empty: match by metric name only")
	}
	return &command{
		name:    "dashboards",
		summary: "generate the Grafana dashboards and Prometheus alert rules",
		subs: []*command{{
			name:    "generate",
			summary: "write grafana/*.json, the provisioning files and prometheus/postvakt-alerts.yml",
			help: `Writes the dashboards (Grafana JSON built with grafana-foundation-sdk), the
Grafana provisioning files and the Prometheus alert rules, with the job
selector added to every metric and the alerts' runbook links under
--runbook-url. The committed copies use --job-selector '` + dashboards.DefaultJobSelector + `'
and --runbook-url ` + dashboards.ExampleRunbookURL + ` (a placeholder);
regenerate them for your site:

  postvakt dashboards generate --dir /srv/monitoring/postvakt \
    --job-selector 'job="mail"' --runbook-url https://postvakt.uni.example

(docs/metrics.md, Dashboards and alert rules).`,
			flags: flags,
			run: func(ctx context.Context, e *cmdEnv, args []string) error {
				if len(args) > 0 {
					return usagef("generate takes no arguments")
				}
				if runbook == "" {
					return usagef("--runbook-url is required: postvakt's external URL (http.base_url), where /runbooks is served")
				}
				if err := dashboards.CheckSelector(jobSel); err != nil {
					return usagef("--job-selector: %v", err)
				}
				written, err := dashboards.Generate(dir, dashboards.Options{JobSelector: jobSel, RunbookURL: runbook})
				if err != nil {
					return err
				}
				sort.Strings(written)
				for _, w := range written {
					fmt.Fprintln(e.stdout, w)
				}
				return nil
			},
		}},
	}
}
