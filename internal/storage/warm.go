package storage

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// WarmConns is how many connections a pool with Options.WarmUp keeps
// open (pgxpool's MinConns): warmed, they are not closed when idle, and
// one closed at the end of its lifetime (an hour) is replaced in the
// background and warmed again.
const WarmConns = 2

// warmEvery is how often the warmer looks for idle connections it has
// not warmed yet.
var warmEvery = 20 * time.Second

// warmTimeout bounds the warm-up of one connection.
const warmTimeout = 30 * time.Second

// A warmer runs Options.WarmUp on each new PostgreSQL connection while it
// is idle, so that no request waits for it. A new connection plans its
// first statement over a partitioned table from a cold catalog cache:
// every daily partition and each of its indexes is read from the catalog
// first (80–105 ms a table at 97 days, docs/performance.md, "Trace
// through the control socket, and over 90 days"); a connection that has
// planned once plans the next statements in a few milliseconds. Doing it
// in pgxpool's AfterConnect instead would make whatever first needs a new
// connection wait for it, an engine commit's 250 included.
type warmer struct {
	pool   *pgxpool.Pool
	stmts  []string
	ctx    context.Context // cancelled by stop
	cancel context.CancelFunc
	done   chan struct{}
}

func startWarmer(pool *pgxpool.Pool, stmts []string) *warmer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &warmer{pool: pool, stmts: stmts, ctx: ctx, cancel: cancel, done: make(chan struct{})}
	go w.loop()
	return w
}

func (w *warmer) stop() {
	w.cancel()
	<-w.done
}

func (w *warmer) loop() {
	defer close(w.done)
	t := time.NewTicker(warmEvery)
	defer t.Stop()
	for {
		w.pass()
		select {
		case <-w.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pass warms the idle connections not warmed yet, one at a time: it
// takes the idle connections, keeps one that is cold and gives the others
// back at once, so that no request waits for a connection the warmer
// holds but the one it warms. A warm-up that fails (before the
// migrations made the tables, say) ends the pass; the next one tries
// again.
func (w *warmer) pass() {
	ctx := w.ctx
	for range maxWarmPerPass {
		var cold *pgxpool.Conn
		for _, c := range w.pool.AcquireAllIdle(ctx) {
			if cold == nil && !isWarm(c) {
				cold = c
				continue
			}
			c.Release()
		}
		if cold == nil {
			return
		}
		ok := ctx.Err() == nil && w.warmUp(ctx, cold)
		if ok {
			cold.Conn().PgConn().CustomData()[warmKey] = true
		}
		cold.Release()
		if !ok {
			return
		}
	}
}

// maxWarmPerPass bounds the warm-ups of one pass (the pool's size, at
// most, is new at once).
const maxWarmPerPass = 16

func (w *warmer) warmUp(ctx context.Context, c *pgxpool.Conn) bool {
	ctx, cancel := context.WithTimeout(ctx, warmTimeout)
	defer cancel()
	for _, q := range w.stmts {
		if _, err := c.Exec(ctx, q); err != nil {
			return false
		}
	}
	return true
}

// warmKey marks a warmed connection in its pgconn's CustomData, which
// lives and dies with the connection.
const warmKey = "postvakt.warmed"

// isWarm says whether c has been warmed; its holder asks.
func isWarm(c *pgxpool.Conn) bool {
	warm, _ := c.Conn().PgConn().CustomData()[warmKey].(bool)
	return warm
}
