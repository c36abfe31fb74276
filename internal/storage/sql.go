package storage

import (
	"context"
	"strings"
)

// RowScanner is one row of a query result (*sql.Row or *sql.Rows).
type RowScanner interface{ Scan(dest ...any) error }

// LikeEscaper escapes the LIKE wildcards of a search text (ESCAPE '\').
var LikeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// ForUpdate is the row-lock clause for q's dialect: PostgreSQL locks the
// row; SQLite has one writer at a time and no such clause.
func ForUpdate(q Querier) string {
	if q.Dialect() == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// BoolInt is b as the 0 or 1 both engines store for a boolean column.
func BoolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// DeleteBatches runs stmt, a DELETE of at most batch rows whose last
// placeholder is the batch size, until it deletes fewer than batch rows
// (or the context ends), and returns how many rows went. Batches keep
// each transaction short (SQLite has one writer) and are bounded: 1e6.
func (db *DB) DeleteBatches(ctx context.Context, stmt string, batch int, args ...any) (int64, error) {
	var total int64
	args = append(args, batch)
	for i := 0; i < 1_000_000; i++ {
		res, err := db.Exec(ctx, stmt, args...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < int64(batch) {
			break
		}
		if err := ctx.Err(); err != nil {
			return total, err
		}
	}
	return total, nil
}
