package txlogstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// TestConformanceRollupRefresh: a message written after its hour's rollup
// ran (deferred longer than the lookback) is counted once the report
// refreshes the period; the days the raw logs no longer hold keep their
// rollups.
func TestConformanceRollupRefresh(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := txlogstore.New(db)
		day := func(d, h int) time.Time { return time.Date(2026, 10, d, h, 0, 0, 0, time.UTC) }
		if err := st.EnsureLogPartitions(ctx, day(1, 0), day(12, 0)); err != nil {
			t.Fatal(err)
		}
		write := func(at time.Time, key string) {
			t.Helper()
			b := txlog.Batch{Messages: []txlog.MessageRow{{FirstSeen: at, LastSeen: at, MsgKey: key, Direction: txlog.Inbound,
				Received: 1, Size: 100, Source: "postfix", Node: "mx1", State: "removed"}}}
			if err := st.WriteBatch(ctx, &b, nil); err != nil {
				t.Fatal(err)
			}
		}
		count := func(from, to time.Time) int64 {
			t.Helper()
			ps, err := st.RollupMetric(ctx, rollup.Hour, "flow", from, to)
			if err != nil {
				t.Fatal(err)
			}
			var n int64
			for _, p := range ps {
				n += p.Count
			}
			return n
		}
		jobs := rollup.Jobs{Store: st, Lookback: 3 * time.Hour}
		write(day(2, 10), "a")
		write(day(4, 10), "c")
		write(day(5, 10), "b")
		if err := jobs.Roll(ctx, day(5, 12)); err != nil {
			t.Fatal(err)
		}
		if err := jobs.RollRange(ctx, day(2, 0), day(5, 0)); err != nil {
			t.Fatal(err)
		}
		// A message of 5 October 08:00 leaves the queue at 16:00 and is
		// written then; the rollup of 16:00 looks back to 13:00 only.
		write(day(5, 8), "late")
		if err := jobs.Roll(ctx, day(5, 16)); err != nil {
			t.Fatal(err)
		}
		if n := count(day(5, 0), day(6, 0)); n != 1 {
			t.Fatalf("before the refresh %d, want 1 (the late one is missed)", n)
		}
		// Retention drops 2 October's raw logs (not its rollups).
		if _, err := st.PurgeLogs(ctx, day(3, 0), 100); err != nil {
			t.Fatal(err)
		}
		if err := jobs.Refresh(ctx, day(1, 0), day(11, 0)); err != nil {
			t.Fatal(err)
		}
		if n := count(day(5, 0), day(6, 0)); n != 2 {
			t.Errorf("after the refresh %d, want 2", n)
		}
		if n := count(day(2, 0), day(3, 0)); n != 1 {
			t.Errorf("2 October after the refresh %d, want 1: its rollup must survive the purged raw log", n)
		}
	})
}
