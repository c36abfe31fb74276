// Package dashboards owns postvakt's monitoring artefacts as code: the
// Grafana dashboards (built with grafana-foundation-sdk and committed as JSON
// in grafana/), and the Prometheus alert rules (committed in prometheus/),
// each alert linking to its runbook at /runbooks/<id>. `postvakt dashboards
// generate` (or `go generate ./dashboards`) rewrites the committed files; a
// test fails when they are out of date.
package dashboards

//go:generate go run ../cmd/postvakt dashboards generate --dir . --runbook-url https://postvakt.example.org

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// Board is one dashboard.
type Board struct {
	UID, Title, Description string
	Rows                    []Row
}

// Row is a titled group of panels.
type Row struct {
	Title  string
	Panels []Panel
}

// Kind of panel.
type Kind int

// Panel kinds.
const (
	TimeSeries Kind = iota
	Stat
)

// Panel is one panel: a title, a description (required), a Grafana unit,
// and its PromQL queries.
type Panel struct {
	Kind        Kind
	Title       string
	Description string
	Unit        string
	Queries     []Query
	Stack       bool
}

// Query is one PromQL expression with its legend.
type Query struct {
	Expr, Legend string
}

// Units lists the Grafana units the dashboards may use.
var Units = map[string]bool{
	"short": true, "ops": true, "reqps": true, "Bps": true, "bytes": true, "decbytes": true,
	"s": true, "ms": true, "percentunit": true, "none": true, "dtdurations": true, "cps": true,
}

// DatasourceVar is the name of the datasource variable every panel uses.
const DatasourceVar = "datasource"

var dsRef = func() common.DataSourceRef {
	typ, uid := "prometheus", "${"+DatasourceVar+"}"
	return common.DataSourceRef{Type: &typ, Uid: &uid}
}

// Build turns a board into a Grafana dashboard (schema of the SDK), with
// the job selector jobSel added to every metric (WithJob).
func Build(b Board, jobSel string) (dashboard.Dashboard, error) {
	db := dashboard.NewDashboardBuilder(b.Title).
		Uid(b.UID).
		Description(b.Description).
		Tags([]string{"postvakt", "mail"}).
		Refresh("1m").
		Time("now-6h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder(DatasourceVar).
			Label("Data source").
			Type("prometheus")).
		WithVariable(dashboard.NewQueryVariableBuilder("instance").
			Label("Instance").
			Datasource(dsRef()).
			Query(dashboard.StringOrMap{String: cog.ToPtr(WithJob(`label_values(postvakt_build_info, instance)`, jobSel))}).
			Multi(true).
			IncludeAll(true).
			AllValue(".*").
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged))
	id := uint32(1)
	for _, r := range b.Rows {
		row := dashboard.NewRowBuilder(r.Title).Id(id)
		id++
		db = db.WithRow(row)
		for _, p := range r.Panels {
			pb, err := panel(p, id, jobSel)
			if err != nil {
				return dashboard.Dashboard{}, fmt.Errorf("%s / %s: %w", b.Title, p.Title, err)
			}
			id++
			db = db.WithPanel(pb)
		}
	}
	return db.Build()
}

func target(q Query, i int, jobSel string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().
		Datasource(dsRef()).
		Expr(WithJob(q.Expr, jobSel)).
		LegendFormat(q.Legend).
		RefId(string(rune('A' + i)))
}

func panel(p Panel, id uint32, jobSel string) (cog.Builder[dashboard.Panel], error) {
	if p.Description == "" {
		return nil, fmt.Errorf("panel has no description")
	}
	if !Units[p.Unit] {
		return nil, fmt.Errorf("unit %q is not one of the allowed Grafana units", p.Unit)
	}
	switch p.Kind {
	case Stat:
		b := stat.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).
			Unit(p.Unit).Datasource(dsRef()).Height(5).Span(6)
		for i, q := range p.Queries {
			b = b.WithTarget(target(q, i, jobSel).Instant())
		}
		return b, nil
	default:
		b := timeseries.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).
			Unit(p.Unit).Datasource(dsRef()).Height(8).Span(12).Min(0)
		if p.Stack {
			b = b.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal))
		}
		for i, q := range p.Queries {
			b = b.WithTarget(target(q, i, jobSel))
		}
		return b, nil
	}
}

// Files renders every board as indented JSON, keyed by file name, with
// the job selector jobSel.
func Files(jobSel string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, b := range Boards() {
		d, err := Build(b, jobSel)
		if err != nil {
			return nil, err
		}
		data, err := json.MarshalIndent(d, "", "  ")
		if err != nil {
			return nil, err
		}
		out[b.UID+".json"] = append(data, '\n')
	}
	return out, nil
}

var metricRe = regexp.MustCompile(`\b(postvakt_[a-z0-9_]+|up)\b`)

// MetricNames lists the postvakt metric names used in PromQL expressions,
// with the _bucket/_sum/_count suffix of histograms kept (they appear in the
// exposition as such).
func MetricNames(exprs ...string) []string {
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, m := range metricRe.FindAllString(e, -1) {
			if strings.HasPrefix(m, "postvakt_") {
				seen[m] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Exprs lists every PromQL expression of the dashboards and alert rules.
func Exprs() []string {
	var out []string
	for _, b := range Boards() {
		for _, r := range b.Rows {
			for _, p := range r.Panels {
				for _, q := range p.Queries {
					out = append(out, q.Expr)
				}
			}
		}
	}
	for _, g := range RuleGroups() {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}
