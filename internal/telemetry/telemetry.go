// Package telemetry owns postvakt's metrics plumbing: the client_golang
// registry (collectors, tickets, SLA, on-call, ingestion health), the
// VictoriaMetrics set for the engine's hot paths, one gatherer over both
// served on /metrics through promhttp (gzip and OpenMetrics when the scraper
// asks), and the optional push of that same exposition to VictoriaMetrics.
//
// Names follow postvakt_<subsystem>_<name>_<unit>; labels are small closed
// sets, never an address, a user or a domain (ARCHITECTURE.md, Metrics), and
// never `job` or `instance`, which Prometheus attaches itself (a scraped
// `job` label is renamed `exported_job`, so panels grouped by job collapse).
//
// Cluster-wide gauges — figures read from the database all replicas share,
// such as the relay queue, open tickets and open incidents — are exported by
// one replica only: the one that holds the cluster-metrics advisory lock
// (SetLeader). Every replica exports postvakt_metrics_cluster_leader, 1 on
// the exporting one. See docs/metrics.md, Several replicas.
package telemetry

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// ClusterWide lists the metric families read from the shared database: the
// same figure on every replica, so only the leader exports them. Dashboards
// and rules aggregate them with max, never sum, so a leader hand-over inside
// one scrape interval cannot double them either.
var ClusterWide = []string{
	"postvakt_queue_messages",
	"postvakt_queue_oldest_age_seconds",
	"postvakt_tickets_open",
	"postvakt_sla_compliance_ratio",
	"postvakt_oncall_open_incidents",
	"postvakt_reports_last_sent_timestamp_seconds",
	"postvakt_units",
	"postvakt_units_steps_overdue",
	"postvakt_smtp_store_bodies",
	"postvakt_smtp_store_body_bytes",
	"postvakt_smtp_store_messages",
	"postvakt_smtp_relay_queue_messages",
}

// ReservedLabels are the target labels Prometheus attaches to every scraped
// series; postvakt never exports them (Prometheus would rename them
// exported_job and exported_instance).
var ReservedLabels = []string{"job", "instance"}

// Telemetry holds both metric sets.
type Telemetry struct {
	// Registry takes client_golang collectors.
	Registry *prometheus.Registry
	// Hot is the VictoriaMetrics set for per-command and per-message paths.
	Hot *vm.Set

	once   sync.Once
	mu     sync.Mutex
	help   map[string]string
	leader atomic.Pointer[func() bool]
	leadG  prometheus.GaugeFunc
}

// Describe sets the help text of a family of the hot set. VictoriaMetrics
// metrics carry no help of their own; every family the engine exports is
// described here so the exposition passes `promtool check metrics`.
func (t *Telemetry) Describe(family, help string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.help[family] = help
}

// Undescribed is the help text of a hot family nobody described.
const Undescribed = "Undescribed postvakt metric."

// New returns a Telemetry with the Go runtime and process collectors
// registered and build information exported. Until SetLeader is called the
// replica counts as the leader (a single process, SQLite).
func New(version string) *Telemetry {
	// Emit # HELP/# TYPE lines for the VictoriaMetrics set too, so it parses
	// into typed families.
	vm.ExposeMetadata(true)
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "postvakt_build_info",
		Help: "Build information of the running postvakt binary; the value is always 1.",
	}, []string{"version"})
	info.WithLabelValues(version).Set(1)
	reg.MustRegister(info)
	t := &Telemetry{Registry: reg, Hot: vm.NewSet(), help: map[string]string{}}
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "postvakt_metrics_cluster_leader",
		Help: "1 on the replica that exports the cluster-wide gauges read from the shared database (it holds the cluster-metrics lock), 0 on the others.",
	}, func() float64 {
		if t.Leader() {
			return 1
		}
		return 0
	}))
	return t
}

// SetLeader sets the function that says whether this replica exports the
// cluster-wide gauges.
func (t *Telemetry) SetLeader(f func() bool) { t.leader.Store(&f) }

// Leader reports whether this replica exports the cluster-wide gauges.
func (t *Telemetry) Leader() bool {
	if f := t.leader.Load(); f != nil {
		return (*f)()
	}
	return true
}

// Gatherer returns the one gatherer over both libraries: the registry, the
// hot set parsed from VictoriaMetrics' exposition, with the cluster-wide
// families left out unless this replica is the leader.
func (t *Telemetry) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) {
		mfs, err := prometheus.Gatherers{t.Registry, prometheus.GathererFunc(t.gatherHot)}.Gather()
		if t.Leader() {
			return mfs, err
		}
		out := mfs[:0]
		for _, mf := range mfs {
			if !isClusterWide(mf.GetName()) {
				out = append(out, mf)
			}
		}
		return out, err
	})
}

func isClusterWide(name string) bool {
	for _, n := range ClusterWide {
		if n == name {
			return true
		}
	}
	return false
}

// gatherHot parses the VictoriaMetrics set's text exposition into metric
// families, filling in the help texts given to Describe.
func (t *Telemetry) gatherHot() ([]*dto.MetricFamily, error) {
	var hot bytes.Buffer
	t.Hot.WritePrometheus(&hot)
	var text bytes.Buffer
	t.mu.Lock()
	sc := bufio.NewScanner(&hot)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if fam, ok := strings.CutPrefix(line, "# HELP "); ok {
			fam, _, _ = strings.Cut(fam, " ")
			h := t.help[fam]
			if h == "" {
				h = Undescribed
			}
			line = "# HELP " + fam + " " + h
		}
		text.WriteString(line)
		text.WriteByte('\n')
	}
	t.mu.Unlock()
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(&text)
	if err != nil {
		return nil, fmt.Errorf("parse the hot-path metrics: %w", err)
	}
	out := make([]*dto.MetricFamily, 0, len(fams))
	for _, mf := range fams {
		out = append(out, mf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].GetName() < out[j].GetName() })
	return out, nil
}

// WriteText writes the whole exposition in the Prometheus text format
// (version 0.0.4): what a scraper that asks for nothing in particular gets,
// and what the push sends.
func (t *Telemetry) WriteText(w io.Writer) error {
	mfs, err := t.Gatherer().Gather()
	if err != nil && len(mfs) == 0 {
		return fmt.Errorf("gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	return err
}

// Handler serves /metrics through promhttp: content negotiation (the text
// format, OpenMetrics when the scraper's Accept header asks for it, protobuf)
// and gzip when Accept-Encoding allows it. A collector that fails leaves its
// series out and the rest is still served (ContinueOnError): a database
// outage must not blind the monitoring that would report it.
func (t *Telemetry) Handler() http.Handler {
	return promhttp.HandlerFor(t.Gatherer(), promhttp.HandlerOpts{
		EnableOpenMetrics: true,
		ErrorHandling:     promhttp.ContinueOnError,
	})
}

// Families lists the metric family names in an exposition, with how many
// times each is declared by a # TYPE line. A name declared twice means both
// sets export it, which Prometheus rejects.
func Families(exposition []byte) map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(exposition))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			if len(f) >= 3 {
				out[f[2]]++
			}
		}
	}
	return out
}

// Duplicates lists family names declared more than once, sorted.
func Duplicates(exposition []byte) []string {
	var d []string
	for name, n := range Families(exposition) {
		if n > 1 {
			d = append(d, name)
		}
	}
	sort.Strings(d)
	return d
}

// StartPush pushes the whole exposition (both libraries, as /metrics serves
// it) to url every interval until ctx is done.
func (t *Telemetry) StartPush(ctx context.Context, url string, interval interface{ Seconds() float64 }, extraLabels string) error {
	var err error
	t.once.Do(func() {
		d := durationOf(interval)
		err = vm.InitPushExtWithOptions(ctx, url, d, func(w io.Writer) {
			_ = t.WriteText(w)
		}, &vm.PushOptions{ExtraLabels: extraLabels})
	})
	return err
}
