// Package telemetry owns postvakt's metrics plumbing: the client_golang
// registry (collectors, tickets, SLA, on-call, ingestion health), the
// VictoriaMetrics set for the engine's hot paths, one /metrics exposition of
// both in the Prometheus text format, and the optional push of the hot-path
// set to VictoriaMetrics.
//
// Names follow postvakt_<subsystem>_<name>_<unit>; labels are small closed
// sets, never an address, a user or a domain (ARCHITECTURE.md, Metrics).
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

	vm "github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Telemetry holds both metric sets.
type Telemetry struct {
	// Registry takes client_golang collectors.
	Registry *prometheus.Registry
	// Hot is the VictoriaMetrics set for per-command and per-message paths.
	Hot *vm.Set

	once sync.Once
	mu   sync.Mutex
	help map[string]string
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
// registered and build information exported.
func New(version string) *Telemetry {
	// Emit # HELP/# TYPE lines for the VictoriaMetrics set too, so the whole
	// exposition passes `promtool check metrics`.
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
	return &Telemetry{Registry: reg, Hot: vm.NewSet(), help: map[string]string{}}
}

// WriteText writes the whole exposition: the registry first, then the hot
// set, in the Prometheus text format (version 0.0.4).
func (t *Telemetry) WriteText(w io.Writer) error {
	mfs, err := t.Registry.Gather()
	if err != nil {
		return fmt.Errorf("gather metrics: %w", err)
	}
	enc := expfmt.NewEncoder(w, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return err
		}
	}
	var hot bytes.Buffer
	t.Hot.WritePrometheus(&hot)
	t.mu.Lock()
	defer t.mu.Unlock()
	sc := bufio.NewScanner(&hot)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	bw := bufio.NewWriter(w)
	for sc.Scan() {
		line := sc.Text()
		if fam, ok := strings.CutPrefix(line, "# HELP "); ok && !strings.Contains(fam, " ") {
			h := t.help[fam]
			if h == "" {
				h = Undescribed
			}
			line = "# HELP " + fam + " " + h
		}
		bw.WriteString(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// Handler serves /metrics.
func (t *Telemetry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf bytes.Buffer
		if err := t.WriteText(&buf); err != nil {
			http.Error(w, "metrics unavailable", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
		_, _ = w.Write(buf.Bytes())
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

// PushOptions configure the push of the hot set to VictoriaMetrics.
type PushOptions struct {
	URL         string
	Interval    interface{ Seconds() float64 }
	ExtraLabels string
}

// StartPush pushes the hot set to url every interval until ctx is done.
func (t *Telemetry) StartPush(ctx context.Context, url string, interval interface{ Seconds() float64 }, extraLabels string) error {
	var err error
	t.once.Do(func() {
		d := durationOf(interval)
		err = t.Hot.InitPushWithOptions(ctx, url, d, &vm.PushOptions{ExtraLabels: extraLabels})
	})
	return err
}
