package txlogstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// A bulk load's batches go to SQLite through the driver's own prepared
// statements on the load's connection (sql.Conn.Raw) rather than through
// database/sql, and their arguments are made ready before the connection
// is taken: the load's writers take turns on that one connection, so
// while one writes its batch the other converts the next. An empty
// string goes in as NULL, which the statement turns into '' (coalesce):
// the driver copies every text argument into memory of SQLite's and frees
// it after the statement, and some 40 % of the logs' text values are
// empty.

// bulkBatch is a batch made ready for the bulk load's connection: its
// multi-row INSERT statements, each with its arguments args[lo:hi].
type bulkBatch struct {
	execs []bulkExec
	args  []driver.NamedValue
	row   []any
}

type bulkExec struct {
	table, q string
	lo, hi   int
}

var bulkBatches = sync.Pool{New: func() any { return new(bulkBatch) }}

func (bb *bulkBatch) reset() {
	clear(bb.args) // the pooled batch keeps no strings alive
	bb.args = bb.args[:0]
	bb.execs = bb.execs[:0]
	clear(bb.row)
	bb.row = bb.row[:0]
}

// prepareBulk converts b into a bulkBatch, in the statements and order
// WriteBatch's multi-row INSERTs use.
func prepareBulk(b *txlog.Batch) (*bulkBatch, error) {
	bb := bulkBatches.Get().(*bulkBatch)
	bb.reset()
	bb.args = slices.Grow(bb.args, len(b.Rows)*len(txColumns)+len(b.Messages)*len(msgColumns)+
		len(b.Logins)*len(loginColumns)+len(b.Warnings)*len(warningColumns)+len(b.Sessions)*len(sessionColumns))
	for _, t := range batchTables(b) {
		if err := bb.add(t); err != nil {
			bb.release()
			return nil, err
		}
	}
	return bb, nil
}

func (bb *bulkBatch) release() {
	bb.reset()
	bulkBatches.Put(bb)
}

// add appends the statements inserting t's rows, chunked as insertRows
// chunks them.
func (bb *bulkBatch) add(t tableRows) error {
	return chunks(t.n, func(start, end int) error {
		lo := len(bb.args)
		for i := start; i < end; i++ {
			bb.row = t.row(bb.row[:0], i)
			if len(bb.row) != len(t.cols) {
				return fmt.Errorf("insert into %s: %d values for %d columns", t.table, len(bb.row), len(t.cols))
			}
			for _, v := range bb.row {
				dv, err := driverValue(v)
				if err != nil {
					return fmt.Errorf("insert into %s: %w", t.table, err)
				}
				if s, ok := dv.(string); ok && s == "" {
					dv = nil
				}
				bb.args = append(bb.args, driver.NamedValue{Ordinal: len(bb.args) - lo + 1, Value: dv})
			}
		}
		bb.execs = append(bb.execs, bulkExec{table: t.table, q: bulkInsertSQL(t.table, t.cols, bb.row, end-start), lo: lo, hi: len(bb.args)})
		return nil
	})
}

// driverValue converts v as database/sql converts an argument for a
// driver without a converter of its own (driver.DefaultParameterConverter),
// the common types without reflection.
func driverValue(v any) (driver.Value, error) {
	switch x := v.(type) {
	case nil, string, int64, float64, bool, []byte:
		return v, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int16:
		return int64(x), nil
	}
	return driver.DefaultParameterConverter.ConvertValue(v)
}

// bulkDriverConn is what the bulk load needs of the SQLite driver's
// connection.
type bulkDriverConn interface {
	driver.ConnBeginTx
	driver.ConnPrepareContext
}

// writeBulk writes bb in one transaction on the bulk load's connection c,
// with the statements prepared on it (bulkStmts, kept until
// endBulkWrites). The caller holds bulkMu.
func (s *Store) writeBulk(ctx context.Context, c *sql.Conn, bb *bulkBatch) error {
	return c.Raw(func(dc any) error {
		conn, ok := dc.(bulkDriverConn)
		if !ok {
			return fmt.Errorf("write batch: driver connection %T cannot prepare statements", dc)
		}
		// the statements run to their end (at most maxChunk rows each);
		// ctx is looked at between them
		bg := context.Background()
		tx, err := conn.BeginTx(bg, driver.TxOptions{})
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		for _, e := range bb.execs {
			if err = ctx.Err(); err != nil {
				break
			}
			st := s.bulkStmts[e.q]
			if st == nil {
				if st, err = conn.PrepareContext(bg, e.q); err != nil {
					err = fmt.Errorf("insert into %s: %w", e.table, err)
					break
				}
				if s.bulkStmts == nil {
					s.bulkStmts = map[string]driver.Stmt{}
				}
				s.bulkStmts[e.q] = st
			}
			sx, ok := st.(driver.StmtExecContext)
			if !ok {
				err = fmt.Errorf("insert into %s: driver statement %T cannot execute with a context", e.table, st)
				break
			}
			if _, err = sx.ExecContext(bg, bb.args[e.lo:e.hi]); err != nil {
				err = fmt.Errorf("insert into %s: %w", e.table, err)
				break
			}
		}
		if err != nil {
			_ = tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		if s.bulkCkpt != nil {
			s.bulkCkpt.committed()
		}
		return nil
	})
}

// closeBulkStmts closes the statements writeBulk prepared on c. The caller
// holds bulkMu.
func (s *Store) closeBulkStmts(c *sql.Conn) {
	if len(s.bulkStmts) == 0 {
		return
	}
	_ = c.Raw(func(any) error {
		for _, st := range s.bulkStmts {
			_ = st.Close()
		}
		return nil
	})
	s.bulkStmts = nil
}

// insertSQL is the text of a multi-row INSERT of rows rows into table,
// made once per table and size.
func insertSQL(table string, cols []string, rows int) string {
	return multiInsert(textKey{table: table, rows: rows}, cols, nil)
}

// bulkInsertSQL is insertSQL with the parameter of each column whose value
// in row (one of the rows; all have the same types) is a string wrapped
// in coalesce with the empty string.
func bulkInsertSQL(table string, cols []string, row []any, rows int) string {
	return multiInsert(textKey{table: table, rows: rows, bulk: true}, cols, row)
}

type textKey struct {
	table string
	rows  int
	bulk  bool
}

var insertTexts sync.Map // textKey → string

// multiInsert makes, once per key, the text of a multi-row INSERT of
// k.rows rows into k.table: a parameter per column, with k.bulk wrapped in
// coalesce with the empty string for the columns whose value in row is a
// string.
func multiInsert(k textKey, cols []string, row []any) string {
	if q, ok := insertTexts.Load(k); ok {
		return q.(string)
	}
	ps := make([]string, len(cols))
	for i := range ps {
		ps[i] = "?"
		if k.bulk {
			if _, ok := row[i].(string); ok {
				ps[i] = "coalesce(?,'')"
			}
		}
	}
	text := storage.MultiRowInsert("INSERT INTO "+k.table+" ("+strings.Join(cols, ",")+") VALUES ", "("+strings.Join(ps, ",")+")", k.rows, "")
	q, _ := insertTexts.LoadOrStore(k, text)
	return q.(string)
}
