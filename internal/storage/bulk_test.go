package storage_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
)

// TestBulkSQLiteSettings: Options.Bulk gives every connection of the pool
// the import's page cache and checkpoint interval and keeps commits
// synced (synchronous=FULL); without it SQLite's defaults stay.
func TestBulkSQLiteSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, bulk := range []bool{false, true} {
		db, err := storage.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "b.db"), storage.Options{MaxConns: 2, Bulk: bulk})
		if err != nil {
			t.Fatal(err)
		}
		// two connections at once, so that both are checked
		c1, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := db.SQL.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wantCache, wantWAL := int64(-2000), int64(1000)
		if bulk {
			wantCache, wantWAL = -storage.BulkCacheKiB, storage.BulkWALPages
		}
		for _, c := range []*sql.Conn{c1, c2} {
			var cache, wal, sync int64
			for q, v := range map[string]*int64{"PRAGMA cache_size": &cache, "PRAGMA wal_autocheckpoint": &wal, "PRAGMA synchronous": &sync} {
				if err := c.QueryRowContext(ctx, q).Scan(v); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if cache != wantCache || wal != wantWAL || sync != 2 {
				t.Errorf("bulk=%v: cache_size %d, wal_autocheckpoint %d, synchronous %d; want %d, %d, 2 (FULL)",
					bulk, cache, wal, sync, wantCache, wantWAL)
			}
		}
		c1.Close()
		c2.Close()
		db.Close()
	}
}
