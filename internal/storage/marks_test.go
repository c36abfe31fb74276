package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// TestConformanceMarks: a fresh database carries no mark and asking
// creates nothing; a migrated one carries a mark once it is set, and only
// that one; setting it twice is no error.
func TestConformanceMarks(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			db, err := storage.Open(ctx, storagetest.URL(t, d), storage.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if ok, err := db.Marked(ctx, storage.MarkDemo); err != nil || ok {
				t.Fatalf("fresh database: marked %v, %v", ok, err)
			}
			if ok, _ := db.Initialized(ctx); ok {
				t.Fatal("asking for a mark created the schema")
			}
			if _, err := db.MigrateUp(ctx, nil); err != nil {
				t.Fatal(err)
			}
			if ok, err := db.Marked(ctx, storage.MarkDemo); err != nil || ok {
				t.Fatalf("migrated, unmarked: marked %v, %v", ok, err)
			}
			for i := 0; i < 2; i++ {
				if err := db.SetMark(ctx, storage.MarkDemo, "seeded", time.Now()); err != nil {
					t.Fatal(err)
				}
			}
			if ok, err := db.Marked(ctx, storage.MarkDemo); err != nil || !ok {
				t.Fatalf("marked: %v, %v", ok, err)
			}
			if ok, err := db.Marked(ctx, "other"); err != nil || ok {
				t.Fatalf("another mark: %v, %v", ok, err)
			}
		})
	}
}
