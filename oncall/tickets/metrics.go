package tickets

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/oncall/sla"
)

// Metrics are the ticket and SLA metrics. Open tickets and compliance come
// from the database at scrape time (a custom collector), so every replica
// reports the same numbers; response times, breaches and warnings are
// counted where they happen.
type Metrics struct {
	responseBusiness *prometheus.HistogramVec
	responseWall     *prometheus.HistogramVec
	breaches         *prometheus.CounterVec
	warnings         *prometheus.CounterVec
	intake           *prometheus.CounterVec
}

// responseBuckets span one minute to two days.
var responseBuckets = []float64{60, 300, 900, 1800, 2700, 3600, 5400, 7200, 14400, 28800, 86400, 172800}

// NewMetrics registers the ticket metrics on reg, with a collector that
// reads open tickets and SLA compliance from store.
func NewMetrics(reg prometheus.Registerer, store Store, now func() time.Time, logger *slog.Logger) *Metrics {
	m := &Metrics{
		responseBusiness: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "postvakt_sla_response_business_seconds",
			Help:    "Time from notification to response (acknowledged or investigating), in business time of the ticket's SLA policy, pauses excluded.",
			Buckets: responseBuckets,
		}, []string{"severity"}),
		responseWall: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "postvakt_sla_response_wall_seconds",
			Help:    "Time from notification to response (acknowledged or investigating), in wall time.",
			Buckets: responseBuckets,
		}, []string{"severity"}),
		breaches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_sla_breaches_total",
			Help: "SLA clocks that passed their due time, by clock (response, update, resolution).",
		}, []string{"clock"}),
		warnings: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_sla_warnings_total",
			Help: "Pre-breach warnings paged, by clock.",
		}, []string{"clock"}),
		intake: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_tickets_intake_messages_total",
			Help: "E-mail to the fault address, by result (opened, comment, ignored, error).",
		}, []string{"result"}),
	}
	for _, k := range sla.Kinds() {
		m.breaches.WithLabelValues(k)
		m.warnings.WithLabelValues(k)
	}
	reg.MustRegister(m.responseBusiness, m.responseWall, m.breaches, m.warnings, m.intake,
		&dbCollector{store: store, now: now, logger: logger})
	return m
}

func (m *Metrics) observeResponse(severity string, c Clock) {
	if m == nil || c.Stopped.IsZero() {
		return
	}
	m.responseBusiness.WithLabelValues(severity).Observe(c.Business.Seconds())
	m.responseWall.WithLabelValues(severity).Observe(c.Raw.Seconds())
}

func (m *Metrics) breach(clock string) {
	if m != nil {
		m.breaches.WithLabelValues(clock).Inc()
	}
}

func (m *Metrics) warn(clock string) {
	if m != nil {
		m.warnings.WithLabelValues(clock).Inc()
	}
}

func (m *Metrics) intook(result string) {
	if m != nil {
		m.intake.WithLabelValues(result).Inc()
	}
}

var (
	openDesc = prometheus.NewDesc("postvakt_tickets_open",
		"Tickets not yet closed, by service component, severity and state.",
		[]string{"service", "severity", "state"}, nil)
	complianceDesc = prometheus.NewDesc("postvakt_sla_compliance_ratio",
		"Share of SLA clocks of tickets notified in the last 30 days that met their target, of those met or breached (best effort excluded).",
		[]string{"policy", "clock"}, nil)
	scrapeErrDesc = prometheus.NewDesc("postvakt_tickets_collector_errors",
		"1 when the last read of ticket metrics from the database failed.", nil, nil)
)

// ComplianceWindow is the window of postvakt_sla_compliance_ratio.
const ComplianceWindow = 30 * 24 * time.Hour

type dbCollector struct {
	store  Store
	now    func() time.Time
	logger *slog.Logger
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- openDesc
	ch <- complianceDesc
	ch <- scrapeErrDesc
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	failed := 0.0
	counts, err := c.store.TicketCounts(ctx)
	if err != nil {
		failed = 1
		c.logger.Warn("ticket metrics: count open tickets", "err", err)
	}
	for _, n := range counts {
		ch <- prometheus.MustNewConstMetric(openDesc, prometheus.GaugeValue, float64(n.N), n.Service, n.Severity, n.State)
	}
	comp, err := c.store.TicketCompliance(ctx, c.now().Add(-ComplianceWindow))
	if err != nil {
		failed = 1
		c.logger.Warn("ticket metrics: SLA compliance", "err", err)
	}
	for _, k := range comp {
		if total := k.Met + k.Breached; total > 0 {
			ch <- prometheus.MustNewConstMetric(complianceDesc, prometheus.GaugeValue, float64(k.Met)/float64(total), k.Policy, k.Clock)
		}
	}
	ch <- prometheus.MustNewConstMetric(scrapeErrDesc, prometheus.GaugeValue, failed)
}
