package storage

import (
	"context"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage/pgtest"
)

// TestWarmerWarmsEachNewConnection: with Options.WarmUp the pool keeps
// WarmConns connections, and each runs the statements on its own backend
// before it is counted warm; a warm-up that fails (the tables not made
// yet) is tried again until it succeeds.
func TestWarmerWarmsEachNewConnection(t *testing.T) {
	url := pgtest.NewDatabase(t)
	old := warmEvery
	warmEvery = 50 * time.Millisecond
	t.Cleanup(func() { warmEvery = old })
	ctx := context.Background()
	db, err := Open(ctx, url, Options{MaxConns: 4, WarmUp: []string{
		"SELECT 1 FROM warm_probe", // fails until the test creates it
		"CREATE TEMP TABLE IF NOT EXISTS warmed (x int)",
	}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	// warmState acquires the idle connections and says how many there
	// are, how many the warmer counts warm and on how many the warm-up
	// ran (its temporary table exists on that backend).
	warmState := func() (idle, warm, ran int) {
		conns := db.Pool.AcquireAllIdle(ctx)
		for _, c := range conns {
			if isWarm(c) {
				warm++
			}
			var ok bool
			if err := c.QueryRow(ctx, "SELECT to_regclass('pg_temp.warmed') IS NOT NULL").Scan(&ok); err != nil {
				t.Fatal(err)
			}
			if ok {
				ran++
			}
			c.Release()
		}
		return len(conns), warm, ran
	}
	waitFor := func(what string, done func(idle, warm, ran int) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			idle, warm, ran := warmState()
			if done(idle, warm, ran) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d idle connections, %d counted warm, %d warmed", what, idle, warm, ran)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	waitFor("pool kept open", func(idle, _, _ int) bool { return idle >= WarmConns })
	time.Sleep(5 * warmEvery) // several passes, every one failing
	if idle, warm, ran := warmState(); warm != 0 || ran != 0 {
		t.Fatalf("before the table exists: %d of %d idle connections counted warm, %d warmed", warm, idle, ran)
	}
	if _, err := db.Exec(ctx, "CREATE TABLE warm_probe (x int)"); err != nil {
		t.Fatal(err)
	}
	waitFor("warmed once the table exists", func(idle, warm, ran int) bool {
		return idle >= WarmConns && warm == idle && ran == idle
	})
}
