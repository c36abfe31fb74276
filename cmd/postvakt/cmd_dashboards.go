package main

import (
	"context"
	"flag"
	"fmt"
	"sort"

	"github.com/uni-mail/postvakt/dashboards"
)

func dashboardsCmd() *command {
	var dir, base string
	flags := func(fs *flag.FlagSet, _ *globalOpts) {
		fs.StringVar(&dir, "dir", "dashboards", "the dashboards `folder` to write grafana/ and prometheus/ into")
		fs.StringVar(&base, "base-url", dashboards.DefaultBaseURL, "external `URL` of postvakt, for the alerts' runbook_url (http.base_url)")
	}
	return &command{
		name:    "dashboards",
		summary: "generate the Grafana dashboards and Prometheus alert rules",
		subs: []*command{{
			name:    "generate",
			summary: "write grafana/*.json, the provisioning files and prometheus/postvakt-alerts.yml",
			help: `Writes the dashboards (Grafana JSON built with grafana-foundation-sdk), the
Grafana provisioning files and the Prometheus alert rules. The committed copies
use --base-url ` + dashboards.DefaultBaseURL + `; regenerate the rules with your
site's external URL so runbook links open postvakt's /runbooks pages.`,
			flags: flags,
			run: func(ctx context.Context, e *cmdEnv, args []string) error {
				if len(args) > 0 {
					return usagef("generate takes no arguments")
				}
				written, err := dashboards.Generate(dir, base)
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
