// Package collectorsapi serves the collectors' HTTP API: the trace search
// over the transaction log (GET /api/v1/trace), the grand totals of the
// stored logs (GET /api/v1/mail/summary), pflogsumm's detail tables (GET
// /api/v1/mail/tables) and the hourly mail flow from the
// rollups (GET /api/v1/traffic/hourly), which the web UI's Now page draws
// (docs/api.md, "Collectors: trace and summary"). It reads through Store,
// which the transaction log's store provides.
package collectorsapi

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/server"
)

// Store is what the API reads: trace searches, grand totals and the stored
// rollups (internal/store/txlogstore).
type Store interface {
	trace.Store
	txlog.SummaryStore
	txlog.TablesStore
	Rollups(ctx context.Context, p rollup.Period, from, to time.Time) ([]rollup.Point, error)
}

// Options configure the API.
type Options struct {
	Store Store
	// Trace is collectors.trace: the least role that sees subjects
	// (show_subjects_from) and the largest page (max_limit).
	Trace collectors.TraceConfig
	// Location is the time zone of times given without one (the service
	// time zone, timezone:); nil is UTC.
	Location *time.Location
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

// Register adds the collectors' routes to s, each with its role: the trace
// search for helpdesk and above, the summary and the traffic series for
// viewer and above.
func Register(s *server.Server, o Options) {
	if o.Now == nil {
		o.Now = time.Now
	}
	registerTrace(s, o)
	registerSummary(s, o)
	registerTables(s, o)
	registerTraffic(s, o)
}
