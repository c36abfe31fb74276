package probe

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the probe metrics, labelled by service, node and kind only
// (node "" is NodeLabelService).
type metrics struct {
	success  *prometheus.GaugeVec
	duration *prometheus.GaugeVec
	cert     *prometheus.GaugeVec
	loop     *prometheus.GaugeVec
	runs     *prometheus.CounterVec
}

var labels = []string{"service", "node", "kind"}

// The run results of postvakt_probe_runs_total, a closed set.
const (
	resultOK     = "ok"
	resultFailed = "failed"
)

func newMetrics(reg prometheus.Registerer, targets []Target) (*metrics, error) {
	m := &metrics{
		success: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "postvakt_probe_success",
			Help: "Whether the last run of the probe passed (1) or failed after its retries (0).",
		}, labels),
		duration: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "postvakt_probe_duration_seconds",
			Help: "Duration of the last attempt of the probe's last run.",
		}, labels),
		cert: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "postvakt_probe_tls_certificate_expiry_timestamp_seconds",
			Help: "Earliest NotAfter of the certificate chain the probe last saw, as a Unix time.",
		}, labels),
		loop: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "postvakt_probe_mail_loop_delivery_seconds",
			Help: "Submission-to-mailbox time of the last delivered mail loop message.",
		}, labels),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_probe_runs_total",
			Help: "Probe runs by result (ok, failed), after retries.",
		}, append(labels[:3:3], "result")),
	}
	if reg != nil {
		var err error
		if m.success, err = register(reg, m.success); err != nil {
			return nil, err
		}
		if m.duration, err = register(reg, m.duration); err != nil {
			return nil, err
		}
		if m.cert, err = register(reg, m.cert); err != nil {
			return nil, err
		}
		if m.loop, err = register(reg, m.loop); err != nil {
			return nil, err
		}
		if m.runs, err = register(reg, m.runs); err != nil {
			return nil, err
		}
	}
	for _, t := range targets {
		for _, res := range []string{resultOK, resultFailed} {
			m.runs.WithLabelValues(t.Service, nodeLabel(t.Node), string(t.Kind), res)
		}
	}
	return m, nil
}

// register registers c, or returns the equal collector already registered
// (a second Runner on the same registry).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

func nodeLabel(node string) string {
	if node == "" {
		return NodeLabelService
	}
	return node
}

// observe exports a run's result.
func (m *metrics) observe(res Result) {
	l := prometheus.Labels{"service": res.Service, "node": nodeLabel(res.Node), "kind": string(res.Kind)}
	ok, result := 0.0, resultFailed
	if res.OK {
		ok, result = 1, resultOK
	}
	m.success.With(l).Set(ok)
	m.duration.With(l).Set(res.Duration.Seconds())
	if !res.CertExpiry.IsZero() {
		m.cert.With(l).Set(float64(res.CertExpiry.Unix()))
	}
	if res.LoopDelivery > 0 {
		m.loop.With(l).Set(res.LoopDelivery.Seconds())
	}
	m.runs.WithLabelValues(res.Service, nodeLabel(res.Node), string(res.Kind), result).Inc()
}
