package scheduler_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestTwoReplicasRunEachTickOnce runs two schedulers on two separate
// connections pools to one database — what two `postvakt serve` processes
// are to the database — and checks that every tick's job body ran exactly
// once.
func TestTwoReplicasRunEachTickOnce(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			u := storagetest.URL(t, d)
			var (
				mu    sync.Mutex
				ran   = map[time.Time][]string{}
				sched []*scheduler.Scheduler
			)
			for _, node := range []string{"a", "b"} {
				db := storagetest.OpenURL(t, u)
				s := scheduler.New(scheduler.Options{Store: db, LockKey: storage.LockKey, Node: node, Registerer: prometheus.NewRegistry()})
				if err := s.Register(scheduler.Job{Name: "tick", Schedule: "@every 1s", Run: func(ctx context.Context, tick time.Time) error {
					mu.Lock()
					ran[tick] = append(ran[tick], node)
					mu.Unlock()
					time.Sleep(20 * time.Millisecond)
					return nil
				}}); err != nil {
					t.Fatal(err)
				}
				sched = append(sched, s)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
			defer cancel()
			var wg sync.WaitGroup
			for _, s := range sched {
				wg.Add(1)
				go func() { defer wg.Done(); _ = s.Run(ctx) }()
			}
			wg.Wait()
			mu.Lock()
			defer mu.Unlock()
			if len(ran) < 3 {
				t.Fatalf("only %d ticks ran in 4.5 s", len(ran))
			}
			for tick, nodes := range ran {
				if len(nodes) != 1 {
					t.Errorf("tick %s ran %d times (%v), want once", tick.Format(time.RFC3339Nano), len(nodes), nodes)
				}
			}
		})
	}
}

type memStore struct {
	mu      sync.Mutex
	claimed map[string]bool
	errs    []error
}

func (m *memStore) TryLock(context.Context, int64) (func(), bool, error) { return func() {}, true, nil }
func (m *memStore) ClaimTick(_ context.Context, job string, tick time.Time, _ string, _ time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := job + tick.String()
	if m.claimed[k] {
		return false, nil
	}
	m.claimed[k] = true
	return true, nil
}
func (m *memStore) FinishTick(_ context.Context, _ string, _ time.Time, _ time.Time, err error) error {
	m.mu.Lock()
	m.errs = append(m.errs, err)
	m.mu.Unlock()
	return nil
}

func TestPanicIsRecoveredAndCounted(t *testing.T) {
	t.Parallel()
	st := &memStore{claimed: map[string]bool{}}
	reg := prometheus.NewRegistry()
	s := scheduler.New(scheduler.Options{Store: st, LockKey: storage.LockKey, Registerer: reg})
	job := scheduler.Job{Name: "boom", Schedule: "@every 1h", Run: func(context.Context, time.Time) error { panic("kaputt") }}
	if err := s.Register(job); err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := s.RunTick(context.Background(), job, tick); got != scheduler.ResultError {
		t.Fatalf("result %q", got)
	}
	if got := s.RunTick(context.Background(), job, tick); got != scheduler.ResultOther {
		t.Fatalf("second run of the same tick: %q, want %q", got, scheduler.ResultOther)
	}
	if len(st.errs) != 1 || st.errs[0] == nil {
		t.Fatalf("finish errors %v", st.errs)
	}
	if v := runCount(t, reg, "boom", "error"); v != 1 {
		t.Fatalf("error count %v", v)
	}
}

func runCount(t *testing.T, reg *prometheus.Registry, job, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "postvakt_scheduler_runs_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["job_name"] == job && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series job_name=%s result=%s", job, result)
	return 0
}

func TestSkipWhileRunning(t *testing.T) {
	t.Parallel()
	st := &memStore{claimed: map[string]bool{}}
	reg := prometheus.NewRegistry()
	s := scheduler.New(scheduler.Options{Store: st, LockKey: storage.LockKey, Registerer: reg})
	release := make(chan struct{})
	var runs sync.WaitGroup
	runs.Add(1)
	var once sync.Once
	if err := s.Register(scheduler.Job{Name: "slow", Schedule: "@every 1s", Run: func(ctx context.Context, _ time.Time) error {
		once.Do(runs.Done)
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3500*time.Millisecond)
	defer cancel()
	go func() { <-ctx.Done(); close(release) }()
	_ = s.Run(ctx)
	if v := runCount(t, reg, "slow", "skipped"); v < 1 {
		t.Fatalf("skipped = %v, want ≥ 1 while the first run held on", v)
	}
}

func TestRegisterOverridesAndErrors(t *testing.T) {
	t.Parallel()
	s := scheduler.New(scheduler.Options{Store: &memStore{}, LockKey: storage.LockKey, Overrides: map[string]config.JobConfig{
		"off":   {Disabled: true},
		"fast":  {Schedule: "*/5 * * * * *"},
		"wrong": {Schedule: "every tuesday"},
	}})
	noop := func(context.Context, time.Time) error { return nil }
	if err := s.Register(scheduler.Job{Name: "off", Schedule: "@daily", Run: noop}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(scheduler.Job{Name: "fast", Schedule: "@daily", Run: noop}); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(scheduler.Job{Name: "fast", Schedule: "@daily", Run: noop}); !errors.Is(err, scheduler.ErrDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	if err := s.Register(scheduler.Job{Name: "wrong", Schedule: "@daily", Run: noop}); err == nil {
		t.Fatal("bad override schedule accepted")
	}
	if got := s.Jobs(); len(got) != 1 || got[0] != "fast" {
		t.Fatalf("jobs %v", got)
	}
}
