package storage_test

import (
	"context"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// TestConformanceInitialized: a fresh database is not initialized and
// asking leaves it without goose's table; a migrated one is.
func TestConformanceInitialized(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			u := storagetest.URL(t, d)
			db, err := storage.Open(ctx, u, storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			for i := 0; i < 2; i++ {
				ok, err := db.Initialized(ctx)
				if err != nil || ok {
					t.Fatalf("fresh database: initialized %v, %v", ok, err)
				}
			}
			if _, err := db.MigrateUp(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if ok, err := db.Initialized(ctx); err != nil || !ok {
				t.Fatalf("migrated database: initialized %v, %v", ok, err)
			}
		})
	}
}
