package app

import (
	"context"
	"log/slog"
	"testing"

	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// TestOpenDatabaseBuildsDeferredIndexes: indexes an import's bulk load left
// deferred (the import cut short) are built when serve or any other command
// opens the database; the import itself (storage.Options.Bulk) leaves them
// to its own start-over. On SQLite and PostgreSQL.
func TestOpenDatabaseBuildsDeferredIndexes(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := config.Default()
			cfg.DataDir = t.TempDir()
			cfg.Database.URL = storagetest.URL(t, d)
			db := storagetest.OpenURL(t, cfg.Database.URL)
			names, err := db.DeferIndexes(ctx, "import", "mail_tx", "mail_logins")
			if err != nil || len(names) < 5 {
				t.Fatalf("DeferIndexes: %v %v", names, err)
			}
			logger := slog.New(slog.DiscardHandler)
			deferred := func(o storage.Options) int {
				t.Helper()
				db, err := OpenDatabaseWith(ctx, cfg, logger, false, o)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				defs, err := db.DeferredIndexes(ctx)
				if err != nil {
					t.Fatal(err)
				}
				return len(defs)
			}
			if n := deferred(storage.Options{Bulk: true}); n != len(names) {
				t.Fatalf("opened for an import: %d deferred, want %d", n, len(names))
			}
			if n := deferred(storage.Options{}); n != 0 {
				t.Fatalf("opened as serve: %d still deferred", n)
			}
			for _, name := range names {
				var n int
				q := `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = ?`
				if d == storage.Postgres {
					q = `SELECT count(*) FROM pg_indexes WHERE indexname = ?`
				}
				if err := db.QueryRow(ctx, q, name).Scan(&n); err != nil || n != 1 {
					t.Errorf("index %s: %d, %v", name, n, err)
				}
			}
		})
	}
}
