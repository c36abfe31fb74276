package storage_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The conformance suite: every case runs against SQLite and PostgreSQL.

func TestConformanceClaimTickOnce(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		tick := time.Date(2026, 11, 23, 7, 0, 0, 0, time.UTC)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, err := db.ClaimTick(ctx, "report", tick, "node", time.Now())
				if err != nil {
					t.Error(err)
				}
				if ok {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("claims won = %d, want 1", won.Load())
		}
		if err := db.FinishTick(ctx, "report", tick, time.Now(), errors.New("boom")); err != nil {
			t.Fatal(err)
		}
		runs, err := db.JobRuns(ctx, "report", 10)
		if err != nil || len(runs) != 1 || runs[0].Error != "boom" || runs[0].FinishedAt.IsZero() {
			t.Fatalf("runs = %+v, %v", runs, err)
		}
	})
}

func TestConformanceTryLock(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		key := storage.LockKey("retention")
		unlock, ok, err := db.TryLock(ctx, key)
		if err != nil || !ok {
			t.Fatalf("first lock: %v %v", ok, err)
		}
		if _, ok2, err := db.TryLock(ctx, key); err != nil || ok2 {
			t.Fatalf("second lock while held: ok=%v err=%v", ok2, err)
		}
		unlock()
		unlock2, ok, err := db.TryLock(ctx, key)
		if err != nil || !ok {
			t.Fatalf("lock after unlock: %v %v", ok, err)
		}
		unlock2()
	})
}

func TestConformanceMigrations(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		cur, err := db.MigrationsCurrent(ctx)
		if err != nil || !cur {
			t.Fatalf("current after up: %v %v", cur, err)
		}
		st, err := db.MigrationStatuses(ctx)
		if err != nil || len(st) == 0 {
			t.Fatalf("status: %v %v", st, err)
		}
		for _, s := range st {
			if !s.Applied {
				t.Fatalf("not applied: %+v", s)
			}
		}
		// Every migration rolls back and forward again cleanly.
		for range st {
			if _, err := db.MigrateDown(ctx, nil); err != nil {
				t.Fatal(err)
			}
		}
		if cur, _ := db.MigrationsCurrent(ctx); cur {
			t.Fatal("current after rolling everything back")
		}
		n, err := db.MigrateUp(ctx, nil)
		if err != nil || n != len(st) {
			t.Fatalf("up again: %d %v", n, err)
		}
	})
}
