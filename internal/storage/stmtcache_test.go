package storage_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
)

// The statement cache (SQLite) must not wait for a second connection
// inside a transaction: with a pool of one, the transaction holds it.
func TestStatementCacheInTxWithFullPool(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	db, err := storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "c.db"), storage.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(ctx, `CREATE TABLE t (x INTEGER)`); err != nil {
		t.Fatal(err)
	}
	for round := range 3 { // the first round prepares in the background, later ones hit the cache
		err := db.InTx(ctx, func(tx *storage.Tx) error {
			for i := range 50 {
				if _, err := tx.Exec(ctx, `INSERT INTO t (x) VALUES (?)`, round*100+i); err != nil {
					return err
				}
			}
			// the same query again while the first one's rows are open
			rows, err := tx.Query(ctx, `SELECT x FROM t WHERE x >= ? ORDER BY x`, 0)
			if err != nil {
				return err
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var x int
				if err := rows.Scan(&x); err != nil {
					return err
				}
				if n == 0 {
					var m int
					if err := tx.QueryRow(ctx, `SELECT x FROM t WHERE x >= ? ORDER BY x`, 0).Scan(&m); err != nil {
						return err
					}
				}
				n++
			}
			if n != (round+1)*50 {
				t.Errorf("round %d: %d rows, want %d", round, n, (round+1)*50)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		time.Sleep(20 * time.Millisecond) // let the background prepare finish
	}
	var n int
	if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM t`).Scan(&n); err != nil || n != 150 {
		t.Fatalf("count %d %v", n, err)
	}
}
