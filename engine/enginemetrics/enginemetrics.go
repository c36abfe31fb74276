// Package enginemetrics owns the engine's hot-path metrics on an injected
// VictoriaMetrics *metrics.Set: names postvakt_smtp_<name>_<unit>,
// Prometheus-compatible histograms (le buckets, so histogram_quantile
// works), and labels drawn only from closed sets (listener, code class,
// reason, direction, result, command) that are all created up front, so
// every series exists from the start at zero. Never an address, a domain or
// a user: those belong in the event stream and the database.
package enginemetrics

import (
	"fmt"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
)

// Listeners, directions and other closed label sets.
var (
	Listeners  = []string{"mx", "submission", "submissions"}
	Directions = []string{"inbound", "outbound"} // MX mail comes in; submission mail goes out
	Classes    = []string{"2xx", "3xx", "4xx", "5xx"}
	Commands   = []string{"helo", "mail", "rcpt", "data", "auth", "rset"}
	// MessageResults are what became of a DATA transaction.
	MessageResults = []string{"accepted", "rejected", "tempfail"}
	// DeliveryResults are what became of one copy.
	DeliveryResults = []string{"delivered", "truncated", "queued"}
	AuthResults     = []string{"ok", "unknown_user", "bad_password", "locked", "no_password", "error", "tls_required", "aborted", "busy", "rate_limited"}
	ConnResults     = []string{"accepted", "limit_per_ip", "limit_total"}
	DNSBLResults    = []string{"listed", "clean", "error"}
)

// Metrics are the engine's metrics. Methods are safe for concurrent use and
// allocation-free on the hot path.
type Metrics struct {
	set *metrics.Set

	conns                               map[[2]string]*metrics.Counter // listener, result
	active                              map[string]*gauge
	commands                            map[[2]string]*metrics.Counter // listener, command
	replies                             map[[2]string]*metrics.Counter // listener, class
	rejects                             map[[2]string]*metrics.Counter // listener, reason
	messages                            map[[2]string]*metrics.Counter // direction, result
	bytes                               map[string]*metrics.Counter    // direction
	size                                map[string]*metrics.PrometheusHistogram
	deliveries                          map[string]*metrics.Counter
	greylist                            map[string]*metrics.Counter
	auth                                map[[2]string]*metrics.Counter
	dnsbl                               map[string]*metrics.Counter
	sessionDur                          map[string]*metrics.PrometheusHistogram
	dataDur                             map[string]*metrics.PrometheusHistogram
	commitDur                           *metrics.PrometheusHistogram
	commitBatch                         *metrics.PrometheusHistogram
	commitErrs                          *metrics.Counter
	prunedTx, prunedBodies, prunedBytes *metrics.Counter

	storeMu    sync.Mutex
	storeStats [4]float64 // bodies, body bytes, messages, queued
}

type gauge struct {
	mu sync.Mutex
	v  float64
}

func (g *gauge) add(d float64) { g.mu.Lock(); g.v += d; g.mu.Unlock() }
func (g *gauge) get() float64  { g.mu.Lock(); defer g.mu.Unlock(); return g.v }

// Buckets.
var (
	durationBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	sizeBuckets     = []float64{1 << 10, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 10 << 20, 25 << 20, 50 << 20}
	batchBuckets    = []float64{1, 2, 4, 8, 16, 32, 64, 128, 256}
)

// New registers the engine metrics on set. reasons are the closed set of
// reject reasons, greylistReasons those of greylisting decisions. It fails
// if a name is already registered on set.
func New(set *metrics.Set, reasons, greylistReasons []string) (m *Metrics, err error) {
	defer func() {
		// metrics.Set panics on a duplicate name; report it as an error.
		if r := recover(); r != nil {
			err = fmt.Errorf("enginemetrics: %v", r)
		}
	}()
	m = &Metrics{set: set,
		conns: map[[2]string]*metrics.Counter{}, active: map[string]*gauge{},
		commands: map[[2]string]*metrics.Counter{}, replies: map[[2]string]*metrics.Counter{},
		rejects: map[[2]string]*metrics.Counter{}, messages: map[[2]string]*metrics.Counter{},
		bytes: map[string]*metrics.Counter{}, size: map[string]*metrics.PrometheusHistogram{},
		deliveries: map[string]*metrics.Counter{}, greylist: map[string]*metrics.Counter{},
		auth: map[[2]string]*metrics.Counter{}, dnsbl: map[string]*metrics.Counter{},
		sessionDur: map[string]*metrics.PrometheusHistogram{}, dataDur: map[string]*metrics.PrometheusHistogram{},
	}
	for _, l := range Listeners {
		for _, r := range ConnResults {
			m.conns[[2]string{l, r}] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_connections_total{listener=%q,result=%q}`, l, r))
		}
		g := &gauge{}
		m.active[l] = g
		set.NewGauge(fmt.Sprintf(`postvakt_smtp_connections_active{listener=%q}`, l), g.get)
		for _, c := range Commands {
			m.commands[[2]string{l, c}] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_commands_total{listener=%q,command=%q}`, l, c))
		}
		for _, c := range Classes {
			m.replies[[2]string{l, c}] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_replies_total{listener=%q,class=%q}`, l, c))
		}
		for _, r := range reasons {
			m.rejects[[2]string{l, r}] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_rejects_total{listener=%q,reason=%q}`, l, r))
		}
		for _, r := range AuthResults {
			m.auth[[2]string{l, r}] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_auth_attempts_total{listener=%q,result=%q}`, l, r))
		}
		m.sessionDur[l] = set.NewPrometheusHistogramExt(fmt.Sprintf(`postvakt_smtp_session_duration_seconds{listener=%q}`, l), durationBuckets)
		m.dataDur[l] = set.NewPrometheusHistogramExt(fmt.Sprintf(`postvakt_smtp_data_duration_seconds{listener=%q}`, l), durationBuckets)
	}
	for _, d := range Directions {
		for _, r := range MessageResults {
			m.messages[[2]string{d, r}] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_messages_total{direction=%q,result=%q}`, d, r))
		}
		m.bytes[d] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_message_bytes_total{direction=%q}`, d))
		m.size[d] = set.NewPrometheusHistogramExt(fmt.Sprintf(`postvakt_smtp_message_size_bytes{direction=%q}`, d), sizeBuckets)
	}
	for _, r := range DeliveryResults {
		m.deliveries[r] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_deliveries_total{result=%q}`, r))
	}
	for _, r := range greylistReasons {
		m.greylist[r] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_greylist_decisions_total{reason=%q}`, r))
	}
	for _, r := range DNSBLResults {
		m.dnsbl[r] = set.NewCounter(fmt.Sprintf(`postvakt_smtp_dnsbl_lookups_total{result=%q}`, r))
	}
	m.commitDur = set.NewPrometheusHistogramExt(`postvakt_smtp_commit_duration_seconds`, durationBuckets)
	m.commitBatch = set.NewPrometheusHistogramExt(`postvakt_smtp_commit_batch_messages`, batchBuckets)
	m.commitErrs = set.NewCounter(`postvakt_smtp_commit_errors_total`)
	m.prunedTx = set.NewCounter(`postvakt_smtp_store_pruned_total{kind="transaction"}`)
	m.prunedBodies = set.NewCounter(`postvakt_smtp_store_pruned_total{kind="body"}`)
	m.prunedBytes = set.NewCounter(`postvakt_smtp_store_pruned_body_bytes_total`)
	for i, name := range []string{"postvakt_smtp_store_bodies", "postvakt_smtp_store_body_bytes", "postvakt_smtp_store_messages", "postvakt_smtp_relay_queue_messages"} {
		set.NewGauge(name, func() float64 { m.storeMu.Lock(); defer m.storeMu.Unlock(); return m.storeStats[i] })
	}
	return m, nil
}

// Gauge registers a gauge computed by f (e.g. dropped events).
func (m *Metrics) Gauge(name string, f func() float64) { m.set.NewGauge(name, f) }

func inc[K comparable](mp map[K]*metrics.Counter, k K) {
	if c := mp[k]; c != nil {
		c.Inc()
	}
}

// Conn counts a connection attempt by result.
func (m *Metrics) Conn(listener, result string) {
	inc(m.conns, [2]string{listener, result})
}

// Active adds d to the active connections of listener.
func (m *Metrics) Active(listener string, d float64) {
	if g := m.active[listener]; g != nil {
		g.add(d)
	}
}

// Command counts a command.
func (m *Metrics) Command(listener, cmd string) { inc(m.commands, [2]string{listener, cmd}) }

// Reply counts a reply by code class.
func (m *Metrics) Reply(listener string, code int) {
	cls := ""
	switch code / 100 {
	case 2:
		cls = "2xx"
	case 3:
		cls = "3xx"
	case 4:
		cls = "4xx"
	case 5:
		cls = "5xx"
	}
	inc(m.replies, [2]string{listener, cls})
}

// Reject counts a refusal by reason.
func (m *Metrics) Reject(listener, reason string) { inc(m.rejects, [2]string{listener, reason}) }

// Message counts a DATA outcome and, when accepted, its size.
func (m *Metrics) Message(direction, result string, size int64) {
	inc(m.messages, [2]string{direction, result})
	if result == "accepted" {
		if c := m.bytes[direction]; c != nil {
			c.Add(int(size))
		}
		if h := m.size[direction]; h != nil {
			h.Update(float64(size))
		}
	}
}

// Delivery counts one stored or queued copy.
func (m *Metrics) Delivery(result string) { inc(m.deliveries, result) }

// Greylist counts a greylisting decision.
func (m *Metrics) Greylist(reason string) { inc(m.greylist, reason) }

// Auth counts an AUTH attempt.
func (m *Metrics) Auth(listener, result string) { inc(m.auth, [2]string{listener, result}) }

// DNSBL counts a DNSBL lookup.
func (m *Metrics) DNSBL(result string) { inc(m.dnsbl, result) }

// SessionDone observes a session's duration.
func (m *Metrics) SessionDone(listener string, d time.Duration) {
	if h := m.sessionDur[listener]; h != nil {
		h.Update(d.Seconds())
	}
}

// DataDone observes the duration of DATA (receipt to reply).
func (m *Metrics) DataDone(listener string, d time.Duration) {
	if h := m.dataDur[listener]; h != nil {
		h.Update(d.Seconds())
	}
}

// Commit observes one group commit.
func (m *Metrics) Commit(n int, d time.Duration, err error) {
	m.commitBatch.Update(float64(n))
	m.commitDur.Update(d.Seconds())
	if err != nil {
		m.commitErrs.Inc()
	}
}

// Pruned counts what the store's retention deleted.
func (m *Metrics) Pruned(transactions, bodies, bodyBytes int64) {
	m.prunedTx.Add(int(transactions))
	m.prunedBodies.Add(int(bodies))
	m.prunedBytes.Add(int(bodyBytes))
}

// ResourceFuncs read the engine's budgets at scrape time.
type ResourceFuncs struct {
	MemoryUsed, MemoryLimit, MemoryWaiting func() float64
	HashesInProgress, HashesWaiting        func() float64
}

// Resources registers the budget gauges.
func (m *Metrics) Resources(f ResourceFuncs) {
	for name, fn := range map[string]func() float64{
		"postvakt_smtp_message_memory_bytes":        f.MemoryUsed,
		"postvakt_smtp_message_memory_limit_bytes":  f.MemoryLimit,
		"postvakt_smtp_message_memory_waiting":      f.MemoryWaiting,
		"postvakt_smtp_password_hashes_in_progress": f.HashesInProgress,
		"postvakt_smtp_password_hashes_waiting":     f.HashesWaiting,
	} {
		if fn != nil {
			m.set.NewGauge(name, fn)
		}
	}
}

// StoreStats sets the store gauges.
func (m *Metrics) StoreStats(bodies, bodyBytes, messages, queued int64) {
	m.storeMu.Lock()
	m.storeStats = [4]float64{float64(bodies), float64(bodyBytes), float64(messages), float64(queued)}
	m.storeMu.Unlock()
}
