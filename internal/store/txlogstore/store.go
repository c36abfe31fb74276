// Package txlogstore keeps the collectors' transaction log in the database:
// the transaction, message and login logs (tables mail_tx, mail_messages,
// mail_logins; daily partitions on PostgreSQL, written with binary COPY),
// the sources' reading positions (collector_checkpoints), the trace search
// and the grand totals over the logs, the hourly and daily rollups
// (mail_rollups), the daily directory snapshots (directory_snapshots) and
// the retention of the raw logs (docs/collectors.md).
//
// It implements txlog.Store, txlog.SummaryStore, trace.Store and
// rollup.Store. The rules (what a timeline is, which subjects are masked,
// when to roll up and how long to keep the logs) live in those packages;
// the store loads and saves.
package txlogstore

import (
	"database/sql"
	"database/sql/driver"
	"sync"
	"sync/atomic"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Store is the transaction log's store on one database.
type Store struct {
	db   *storage.DB
	days sync.Map // PostgreSQL partitions made by WriteBatchTx, by day
	// bulk: an import's bulk load is under way (BeginBulkLoad); on SQLite
	// its batches are written one at a time (bulkMu) on bulkConn
	bulk     atomic.Bool
	bulkMu   sync.Mutex
	bulkConn *sql.Conn
	// bulkStmts are the bulk load's INSERTs prepared on bulkConn by the
	// driver (writeBulk), by text
	bulkStmts map[string]driver.Stmt
	// bulkCkpt checkpoints the bulk load's commits beside it
	bulkCkpt *bulkCheckpoints
}

// New returns the transaction log's store on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var (
	_ txlog.Store        = (*Store)(nil)
	_ txlog.SummaryStore = (*Store)(nil)
	_ trace.Store        = (*Store)(nil)
	_ rollup.Store       = (*Store)(nil)
)
