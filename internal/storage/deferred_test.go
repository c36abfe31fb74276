package storage_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// indexNames lists the indexes of table (on PostgreSQL, of the table and
// its partitions), sorted.
func indexNames(t *testing.T, db *storage.DB, tables ...string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for _, table := range tables {
		q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?`
		if db.Dialect() == storage.Postgres {
			q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?`
		}
		rows, err := db.Query(ctx, q, table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		rows.Close()
	}
	slices.Sort(out)
	return out
}

// TestConformanceDeferIndexes: DeferIndexes drops a table's secondary
// indexes (not its primary key's) and records them; RestoreIndexes builds
// them again with their definitions (a partial index stays partial, and on
// PostgreSQL a partitioned table's index reaches its partitions), in one
// go, and forgets them; a second RestoreIndexes has nothing to do, and an
// index built by someone else in between is no error.
func TestConformanceDeferIndexes(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		pg := db.Dialect() == storage.Postgres
		ddl := []string{
			`CREATE TABLE dfx (id BIGINT PRIMARY KEY, a TEXT NOT NULL, b BIGINT NOT NULL)`,
			`CREATE INDEX dfx_a ON dfx (a, b)`,
			`CREATE INDEX dfx_b ON dfx (b) WHERE a <> ''`,
		}
		parts := []string{"dfp"}
		if pg {
			ddl = append(ddl,
				`CREATE TABLE dfp (ts BIGINT NOT NULL, k TEXT NOT NULL) PARTITION BY RANGE (ts)`,
				`CREATE TABLE dfp_1 PARTITION OF dfp FOR VALUES FROM (0) TO (100)`,
				`CREATE TABLE dfp_2 PARTITION OF dfp FOR VALUES FROM (100) TO (200)`,
				`CREATE INDEX dfp_k ON dfp (k, ts)`)
			parts = []string{"dfp", "dfp_1", "dfp_2"}
		} else {
			ddl = append(ddl, `CREATE TABLE dfp (ts BIGINT NOT NULL, k TEXT NOT NULL)`, `CREATE INDEX dfp_k ON dfp (k, ts)`)
		}
		for _, q := range ddl {
			if _, err := db.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		tables := append([]string{"dfx"}, parts...)
		before := indexNames(t, db, tables...)
		names, err := db.DeferIndexes(ctx, "test", "dfx", "dfp")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"dfx_a", "dfx_b", "dfp_k"}; !slices.Equal(names, want) { // by table, then name
			t.Fatalf("deferred %v, want %v", names, want)
		}
		left := indexNames(t, db, tables...)
		if len(left) != 1 || slices.Contains(left, "dfx_a") || slices.Contains(left, "dfp_k") {
			t.Fatalf("after DeferIndexes the tables have %v, want only the primary key's", left)
		}
		defs, err := db.DeferredIndexes(ctx)
		if err != nil || len(defs) != 3 || defs[0].Owner != "test" || defs[0].Table != "dfp" {
			t.Fatalf("DeferredIndexes: %+v %v", defs, err)
		}
		// rows loaded meanwhile
		for i := range 150 {
			if _, err := db.Exec(ctx, `INSERT INTO dfx (id, a, b) VALUES (?, ?, ?)`, i, []string{"", "x"}[i%2], i); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO dfp (ts, k) VALUES (?, ?)`, i, "k"); err != nil {
				t.Fatal(err)
			}
		}
		// someone else built one already
		if _, err := db.Exec(ctx, `CREATE INDEX dfx_a ON dfx (a, b)`); err != nil {
			t.Fatal(err)
		}
		built, err := db.RestoreIndexes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(built) != 3 {
			t.Fatalf("built %v", built)
		}
		if after := indexNames(t, db, tables...); !slices.Equal(after, before) {
			t.Fatalf("indexes after RestoreIndexes %v, want %v", after, before)
		}
		if defs, err := db.DeferredIndexes(ctx); err != nil || len(defs) != 0 {
			t.Fatalf("still deferred: %+v %v", defs, err)
		}
		if built, err := db.RestoreIndexes(ctx); err != nil || len(built) != 0 {
			t.Fatalf("second RestoreIndexes: %v %v", built, err)
		}
		// the partial index is partial again
		var def string
		q := `SELECT sql FROM sqlite_master WHERE name = 'dfx_b'`
		if pg {
			q = `SELECT indexdef FROM pg_indexes WHERE indexname = 'dfx_b'`
		}
		if err := db.QueryRow(ctx, q).Scan(&def); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(def, "WHERE") || !strings.Contains(def, "a <> ''") {
			t.Errorf("dfx_b rebuilt as %q, want its WHERE", def)
		}
	})
}
