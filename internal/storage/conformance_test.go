package storage_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The conformance suite: every case runs against SQLite and PostgreSQL.

func TestConformanceTokens(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 123456000, time.UTC)
		secret, _ := auth.NewSecret()
		tok, err := db.CreateToken(ctx, auth.Token{Name: "ci", Role: auth.RolePostmaster, Prefix: auth.DisplayPrefix(secret), CreatedAt: now, CreatedBy: "test"}, auth.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		if tok.ID == 0 {
			t.Fatal("no id")
		}
		if _, err := db.CreateToken(ctx, auth.Token{Name: "dup", Role: auth.RoleViewer, CreatedAt: now}, auth.HashSecret(secret)); !errors.Is(err, storage.ErrConflict) {
			t.Fatalf("duplicate hash: err = %v, want ErrConflict", err)
		}
		got, err := db.TokenByHash(ctx, auth.HashSecret(secret))
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "ci" || got.Role != auth.RolePostmaster || !got.CreatedAt.Equal(now) || !got.ExpiresAt.IsZero() || !got.Active(now) {
			t.Fatalf("got %+v", got)
		}
		if _, err := db.TokenByHash(ctx, "nope"); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		if err := db.TouchToken(ctx, tok.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeToken(ctx, tok.ID, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeToken(ctx, tok.ID, now.Add(2*time.Hour)); err != nil {
			t.Fatal(err)
		}
		if err := db.RevokeToken(ctx, 9999, now); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("revoke missing: %v", err)
		}
		list, err := db.ListTokens(ctx)
		if err != nil || len(list) != 1 {
			t.Fatalf("list = %v, %v", list, err)
		}
		if !list[0].RevokedAt.Equal(now.Add(time.Hour)) || !list[0].LastUsedAt.Equal(now.Add(time.Minute)) || list[0].Active(now.Add(2*time.Hour)) {
			t.Fatalf("after revoke: %+v", list[0])
		}
	})
}

func TestConformanceAudit(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < 5; i++ {
			if err := db.Audit(ctx, auth.AuditEntry{At: base.Add(time.Duration(i) * time.Hour), Actor: "alice", Action: "trace.search", Target: "msgid", Remote: "127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.ListAudit(ctx, base.Add(2*time.Hour), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || !got[0].At.Equal(base.Add(4*time.Hour)) || got[2].Actor != "alice" {
			t.Fatalf("got %+v", got)
		}
	})
}

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

func TestConformanceTimesRoundTrip(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		oslo, _ := time.LoadLocation("Europe/Oslo")
		at := time.Date(2026, 3, 29, 3, 30, 0, 999999000, oslo)
		if err := db.Audit(ctx, auth.AuditEntry{At: at, Actor: "x", Action: "y", Detail: "it's ? not a placeholder"}); err != nil {
			t.Fatal(err)
		}
		got, err := db.ListAudit(ctx, at, 1)
		if err != nil || len(got) != 1 || !got[0].At.Equal(at) || got[0].Detail != "it's ? not a placeholder" {
			t.Fatalf("got %+v %v", got, err)
		}
	})
}
