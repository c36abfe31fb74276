package units

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Counts are what the metrics read from the store at scrape time: units
// by status and open steps past their due time by kind, the same on every
// replica.
type Counts interface {
	CountUnits(ctx context.Context) (map[Status]int, error)
	CountOverdue(ctx context.Context, dueBefore time.Time) (map[StepKind]int, error)
}

// Check results, a closed set for the metric label.
const (
	checkRight  = "right"
	checkWrong  = "wrong"
	checkLookup = "lookup_failed"
)

// Metrics are the units capability's metrics; a nil *Metrics counts
// nothing.
type Metrics struct {
	reminders *prometheus.CounterVec
	checks    *prometheus.CounterVec
}

// NewMetrics registers the metrics on reg, with a collector of units by
// status and overdue steps (due more than a day ago and still open) read
// from counts.
func NewMetrics(reg prometheus.Registerer, counts Counts, now func() time.Time, logger *slog.Logger) *Metrics {
	m := &Metrics{
		reminders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_units_reminders_total",
			Help: "Reminders of due migration checklist steps carried out, by step kind and result (sent, failed; a failed one is tried again).",
		}, []string{"kind", "result"}),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_units_dns_checks_total",
			Help: "DNS checks of units' MX records, by result (right, wrong, lookup_failed).",
		}, []string{"result"}),
	}
	for _, k := range StepKinds() {
		m.reminders.WithLabelValues(string(k), "sent")
		m.reminders.WithLabelValues(string(k), "failed")
	}
	for _, r := range []string{checkRight, checkWrong, checkLookup} {
		m.checks.WithLabelValues(r)
	}
	reg.MustRegister(m.reminders, m.checks, &collector{counts: counts, now: now, logger: logger})
	return m
}

func (m *Metrics) reminder(k StepKind, ok bool) {
	if m == nil {
		return
	}
	r := "sent"
	if !ok {
		r = "failed"
	}
	m.reminders.WithLabelValues(string(k), r).Inc()
}

func (m *Metrics) check(c Check) {
	if m == nil {
		return
	}
	switch {
	case c.OK:
		m.checks.WithLabelValues(checkRight).Inc()
	case c.Result.OnlyLookupFailures():
		m.checks.WithLabelValues(checkLookup).Inc()
	default:
		m.checks.WithLabelValues(checkWrong).Inc()
	}
}

var (
	unitsDesc = prometheus.NewDesc("postvakt_units",
		"Units joining or on the central service, by status (new, surveyed, planned, migrating, live).", []string{"status"}, nil)
	overdueDesc = prometheus.NewDesc("postvakt_units_steps_overdue",
		"Open migration checklist steps due more than a day ago, by step kind.", []string{"kind"}, nil)
)

type collector struct {
	counts Counts
	now    func() time.Time
	logger *slog.Logger
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) { ch <- unitsDesc; ch <- overdueDesc }

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	byStatus, err := c.counts.CountUnits(ctx)
	if err != nil {
		c.logger.Warn("units metrics", "err", err)
		return // missing, not 0
	}
	for _, s := range Statuses() {
		ch <- prometheus.MustNewConstMetric(unitsDesc, prometheus.GaugeValue, float64(byStatus[s]), string(s))
	}
	over, err := c.counts.CountOverdue(ctx, c.now().Add(-24*time.Hour))
	if err != nil {
		c.logger.Warn("units metrics", "err", err)
		return
	}
	for _, k := range StepKinds() {
		ch <- prometheus.MustNewConstMetric(overdueDesc, prometheus.GaugeValue, float64(over[k]), string(k))
	}
}
