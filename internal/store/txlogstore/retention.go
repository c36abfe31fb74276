package txlogstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
)

// PurgeLogs removes transaction, message and login log rows older than
// cutoff. On PostgreSQL it drops every daily partition that ends at or
// before cutoff and deletes the older rows of the partition cutoff falls
// in; on SQLite it deletes in batches of batch rows so the writer is never
// blocked for long. It returns the rows deleted (partitions dropped count
// their rows too).
func (s *Store) PurgeLogs(ctx context.Context, cutoff time.Time, batch int) (int64, error) {
	if batch <= 0 {
		batch = 5000
	}
	cut := storage.Micros(cutoff)
	var total int64
	// the warnings are kept as long as the logs, in one plain table
	res, err := s.db.Exec(ctx, `DELETE FROM mail_warnings WHERE ts < ?`, cut)
	if err != nil {
		return 0, fmt.Errorf("purge mail_warnings: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil {
		total += n
	}
	if s.db.Dialect() == storage.Postgres {
		for _, t := range collectorLogTables {
			rows, err := s.db.Pool.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
				JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = $1`, t)
			if err != nil {
				return total, fmt.Errorf("list partitions of %s: %w", t, err)
			}
			var names []string
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return total, err
				}
				names = append(names, n)
			}
			rows.Close()
			for _, n := range names {
				day, err := time.Parse("20060102", strings.TrimPrefix(n, t+"_p"))
				if err != nil || !strings.HasPrefix(n, t+"_p") {
					continue
				}
				if day.AddDate(0, 0, 1).After(cutoff) {
					continue
				}
				var cnt int64
				if err := s.db.Pool.QueryRow(ctx, `SELECT COUNT(*) FROM `+n).Scan(&cnt); err != nil {
					return total, fmt.Errorf("count %s: %w", n, err)
				}
				if _, err := s.db.Pool.Exec(ctx, `DROP TABLE IF EXISTS `+n); err != nil {
					return total, fmt.Errorf("drop partition %s: %w", n, err)
				}
				total += cnt
			}
			res, err := s.db.Exec(ctx, `DELETE FROM `+t+` WHERE ts < ?`, cut)
			if err != nil {
				return total, fmt.Errorf("purge %s: %w", t, err)
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return total, nil
	}
	for _, t := range collectorLogTables {
		n, err := s.db.DeleteBatches(ctx, `DELETE FROM `+t+` WHERE rowid IN (SELECT rowid FROM `+t+` WHERE ts < ? LIMIT ?)`, batch, cut)
		total += n
		if err != nil {
			return total, fmt.Errorf("purge %s: %w", t, err)
		}
	}
	return total, nil
}
