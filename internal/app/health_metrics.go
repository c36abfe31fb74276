package app

import (
	"context"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/internal/storage"
)

// healthCollector reports, at scrape time, whether the database answers,
// whether migrations are pending, and the space left on the file system of
// the data directory — the inputs of the DatabaseUnreachable and DiskFilling
// alerts.
type healthCollector struct {
	db      *storage.DB
	dataDir string

	up, pending, ping, avail, size *prometheus.Desc
}

func newHealthCollector(db *storage.DB, dataDir string) *healthCollector {
	return &healthCollector{
		db: db, dataDir: dataDir,
		up:      prometheus.NewDesc("postvakt_database_up", "Whether the database answered a ping at scrape time (1) or not (0).", nil, nil),
		pending: prometheus.NewDesc("postvakt_database_migrations_pending", "Whether embedded migrations are not yet applied to the database (1) or all are (0).", nil, nil),
		ping:    prometheus.NewDesc("postvakt_database_ping_seconds", "Time the database took to answer the scrape-time ping.", nil, nil),
		avail:   prometheus.NewDesc("postvakt_datadir_filesystem_avail_bytes", "Bytes available to postvakt on the file system of the data directory.", nil, nil),
		size:    prometheus.NewDesc("postvakt_datadir_filesystem_size_bytes", "Size in bytes of the file system of the data directory.", nil, nil),
	}
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.pending
	ch <- c.ping
	ch <- c.avail
	ch <- c.size
}

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	up := 0.0
	if err := c.db.Ping(ctx); err == nil {
		up = 1
		ch <- prometheus.MustNewConstMetric(c.ping, prometheus.GaugeValue, time.Since(start).Seconds())
		if cur, err := c.db.MigrationsCurrent(ctx); err == nil {
			pending := 0.0
			if !cur {
				pending = 1
			}
			ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, pending)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	var st syscall.Statfs_t
	if err := syscall.Statfs(c.dataDir, &st); err == nil {
		ch <- prometheus.MustNewConstMetric(c.avail, prometheus.GaugeValue, float64(st.Bavail)*float64(st.Bsize))
		ch <- prometheus.MustNewConstMetric(c.size, prometheus.GaugeValue, float64(st.Blocks)*float64(st.Bsize))
	}
}
