// Package storagetest runs one test body against every storage engine: a
// SQLite file in the test's temporary directory and a fresh database on a
// real PostgreSQL (see pgtest). It is how the conformance suite and the
// domain packages' storage tests reach both engines.
package storagetest

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
)

// URL returns the URL of a fresh, empty database of the given dialect for t
// (not migrated), so that a test can open it several times, as several
// replicas would.
func URL(t testing.TB, d storage.Dialect) string {
	t.Helper()
	switch d {
	case storage.SQLite:
		return "sqlite:" + filepath.Join(t.TempDir(), "test.db")
	case storage.Postgres:
		return pgtest.NewDatabase(t)
	}
	t.Fatalf("unknown dialect %v", d)
	return ""
}

// Open opens a migrated database of the given dialect for t, closed when t
// ends.
func Open(t testing.TB, d storage.Dialect) *storage.DB {
	t.Helper()
	return OpenURL(t, URL(t, d))
}

// OpenURL opens and migrates the database at u for t, closed when t ends.
func OpenURL(t testing.TB, u string) *storage.DB {
	t.Helper()
	d := storage.SQLite
	if !strings.HasPrefix(u, "sqlite:") {
		d = storage.Postgres
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, u, storage.Options{MaxConns: 8})
	if err != nil {
		t.Fatalf("open %v: %v", d, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.MigrateUp(ctx, nil); err != nil {
		t.Fatalf("migrate %v: %v", d, err)
	}
	return db
}

// Dialects lists the engines ForEach runs on.
func Dialects() []storage.Dialect { return []storage.Dialect{storage.SQLite, storage.Postgres} }

// ForEach runs fn as a subtest per engine ("sqlite", "postgres"), each with
// its own freshly migrated database.
func ForEach(t *testing.T, fn func(t *testing.T, db *storage.DB)) {
	t.Helper()
	for _, d := range Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			fn(t, Open(t, d))
		})
	}
}
