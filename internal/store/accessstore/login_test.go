package accessstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// barrierGate is a hash gate that lets no hash run until need of them
// wait at it, so that a test's parallel attempts really overlap while
// their passwords are checked (as they do when a hash takes 50 ms and
// counting takes a millisecond). It counts the hashes it let run.
// Until armed it lets every hash through uncounted (adding users).
type barrierGate struct {
	need   int
	mu     sync.Mutex
	armed  bool
	n      int
	open   chan struct{}
	hashes atomic.Int64
}

func newBarrierGate(need int) *barrierGate {
	return &barrierGate{need: need, open: make(chan struct{})}
}

func (g *barrierGate) arm() { g.mu.Lock(); g.armed = true; g.mu.Unlock() }

func (g *barrierGate) Acquire(ctx context.Context) error {
	g.mu.Lock()
	if !g.armed {
		g.mu.Unlock()
		return nil
	}
	g.n++
	if g.n == g.need {
		close(g.open)
	}
	g.mu.Unlock()
	select {
	case <-g.open:
		g.hashes.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *barrierGate) Release() {}

// countGate lets every hash run and counts them.
type countGate struct{ hashes atomic.Int64 }

func (g *countGate) Acquire(context.Context) error { g.hashes.Add(1); return nil }
func (g *countGate) Release()                      {}

// outcome is how a run of sign-ins ended, counted by answer.
type outcome struct {
	Bad, Throttled, Busy, Other, LockedNow, SignedIn int
	Hashes                                           int64
}

func (o *outcome) add(res webauth.LoginResult, secret string, err error) {
	switch {
	case err == nil && secret != "":
		o.SignedIn++
	case errors.Is(err, webauth.ErrBadCredentials):
		o.Bad++
	case errors.Is(err, webauth.ErrThrottled):
		o.Throttled++
	case errors.Is(err, webauth.ErrBusy):
		o.Busy++
	default:
		o.Other++
	}
	if res.LockedNow {
		o.LockedNow++
	}
}

// replicas opens the same database twice, as two postvakt replicas would,
// and returns a sign-in service on each sharing gate and clock.
func replicas(t *testing.T, d storage.Dialect, cfg webauth.Config, gate webauth.HashGate, now func() time.Time) []*webauth.Service {
	t.Helper()
	u := storagetest.URL(t, d)
	var out []*webauth.Service
	for range 2 {
		svc, err := webauth.New(webauth.Options{Config: cfg, Store: accessstore.New(storagetest.OpenURL(t, u)), Now: now,
			Hash: directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}, Hashes: gate, HashWait: 20 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, svc)
	}
	return out
}

func loginCfg(maxFailures, maxPerAddress int) webauth.Config {
	cfg := webauth.Default()
	cfg.Login.MaxFailures, cfg.Login.MaxPerAddress = maxFailures, maxPerAddress
	return cfg
}

const rightPassword = "the right password"

// parallel runs n sign-ins at once, half on each replica; pw(i) is the
// password of the i-th and addr(i) its client address.
func parallel(svcs []*webauth.Service, n int, user string, pw, addr func(i int) string) []outcome {
	per := make([]outcome, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			res, secret, _, err := svcs[i%2].Login(context.Background(), user, pw(i), addr(i))
			per[i].add(res, secret, err)
		})
	}
	close(start)
	wg.Wait()
	return per
}

func sum(per []outcome) outcome {
	var o outcome
	for _, p := range per {
		o.Bad += p.Bad
		o.Throttled += p.Throttled
		o.Busy += p.Busy
		o.Other += p.Other
		o.LockedNow += p.LockedNow
		o.SignedIn += p.SignedIn
	}
	return o
}

// TestLoginLockoutParallel: 100 wrong passwords for one user at once, on
// two replicas, lock the user exactly as 100 one after another do. The
// expected figures follow from web.login.max_failures alone: max-1 plain
// failures, the failure that reaches the limit locks (and says so once),
// every other attempt is refused without a hash.
func TestLoginLockoutParallel(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			const n, maxFailures = 100, 5
			cfg := loginCfg(maxFailures, 10*n) // the address limit stays out of the way
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			clock := func() time.Time { return now }
			want := outcome{Bad: maxFailures - 1, Throttled: n - (maxFailures - 1), LockedNow: 1, Hashes: maxFailures}

			counting := &countGate{}
			seqSvcs := replicas(t, d, cfg, counting, clock)
			barrier := newBarrierGate(maxFailures)
			parSvcs := replicas(t, d, cfg, barrier, clock)
			ctx := context.Background()
			for _, svcs := range [][]*webauth.Service{seqSvcs, parSvcs} {
				if _, err := svcs[0].AddUser(ctx, "kari", "", "oncall", rightPassword); err != nil {
					t.Fatal(err)
				}
			}
			counting.hashes.Store(0)
			barrier.arm()

			var seq outcome
			for i := range n {
				res, secret, _, err := seqSvcs[i%2].Login(ctx, "kari", fmt.Sprintf("wrong %d", i), fmt.Sprintf("192.0.2.%d", i%250))
				seq.add(res, secret, err)
			}
			seq.Hashes = counting.hashes.Load()
			par := sum(parallel(parSvcs, n, "kari", func(i int) string { return fmt.Sprintf("wrong %d", i) },
				func(i int) string { return fmt.Sprintf("192.0.2.%d", i%250) }))
			par.Hashes = barrier.hashes.Load()
			if seq != want {
				t.Errorf("one after another: %+v, want %+v", seq, want)
			}
			if par != want {
				t.Errorf("in parallel: %+v, want %+v", par, want)
			}
			for name, svcs := range map[string][]*webauth.Service{"sequential": seqSvcs, "parallel": parSvcs} {
				users, err := svcs[1].Users(ctx)
				if err != nil || len(users) != 1 {
					t.Fatalf("%s: users %+v %v", name, users, err)
				}
				if u := users[0]; !u.LockedUntil.Equal(now.Add(cfg.Login.Lockout)) {
					t.Errorf("%s: locked until %v, want %v", name, u.LockedUntil, now.Add(cfg.Login.Lockout))
				}
				if _, _, _, err := svcs[0].Login(ctx, "kari", rightPassword, "198.51.100.7"); !errors.Is(err, webauth.ErrThrottled) {
					t.Errorf("%s: the right password while locked: %v, want ErrThrottled", name, err)
				}
			}
		})
	}
}

// TestLoginRightAmongWrongParallel: 99 wrong passwords and the right one at
// once do not sign in, wherever the right one stands among them; the user
// ends locked out.
func TestLoginRightAmongWrongParallel(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			const n, maxFailures = 100, 5
			cfg := loginCfg(maxFailures, 10*n)
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			for _, right := range []int{0, 1, 4, 50, 99} {
				barrier := newBarrierGate(maxFailures)
				svcs := replicas(t, d, cfg, barrier, func() time.Time { return now })
				ctx := context.Background()
				if _, err := svcs[0].AddUser(ctx, "kari", "", "oncall", rightPassword); err != nil {
					t.Fatal(err)
				}
				barrier.arm()
				per := parallel(svcs, n, "kari", func(i int) string {
					if i == right {
						return rightPassword
					}
					return fmt.Sprintf("wrong %d", i)
				}, func(i int) string { return fmt.Sprintf("203.0.113.%d", i%250) })
				got := sum(per)
				if got.SignedIn != 0 || got.Other != 0 || got.Busy != 0 {
					t.Errorf("right password at %d: %+v (its own answer %+v), want no sign-in", right, got, per[right])
				}
				if got.Bad != maxFailures-1 || got.LockedNow != 1 || barrier.hashes.Load() != maxFailures {
					t.Errorf("right password at %d: %+v, %d hashes; want %d failures, one lockout, %d hashes",
						right, got, barrier.hashes.Load(), maxFailures-1, maxFailures)
				}
				users, err := svcs[1].Users(ctx)
				if err != nil || len(users) != 1 || !users[0].LockedUntil.After(now) || !users[0].LastLoginAt.IsZero() {
					t.Errorf("right password at %d: user %+v %v, want locked and never signed in", right, users, err)
				}
			}
		})
	}
}

// TestLoginAddressThrottleParallel: 100 guesses of different user names
// from one address at once, on two replicas, hash exactly
// web.login.max_per_address passwords; the rest are refused unhashed.
func TestLoginAddressThrottleParallel(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			const n, perAddress = 100, 10
			cfg := loginCfg(5, perAddress)
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			barrier := newBarrierGate(perAddress)
			svcs := replicas(t, d, cfg, barrier, func() time.Time { return now })
			barrier.arm()
			per := make([]outcome, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					res, secret, _, err := svcs[i%2].Login(context.Background(), fmt.Sprintf("nobody%d", i), "guess", "198.51.100.99")
					per[i].add(res, secret, err)
				})
			}
			close(start)
			wg.Wait()
			got := sum(per)
			got.Hashes = barrier.hashes.Load()
			if want := (outcome{Bad: perAddress, Throttled: n - perAddress, Hashes: perAddress}); got != want {
				t.Errorf("100 guesses from one address: %+v, want %+v", got, want)
			}
			// Another address is not affected.
			if _, _, _, err := svcs[0].Login(context.Background(), "nobody", "guess", "198.51.100.100"); !errors.Is(err, webauth.ErrBadCredentials) {
				t.Errorf("another address: %v, want ErrBadCredentials", err)
			}
		})
	}
}

// TestLoginCountingEdges: an attempt left "being checked" by a replica
// that died holds back a right password only until it is stale; a sign-in
// that gets no hash slot in time is ErrBusy and counts nothing; a success
// takes its address attempt back.
func TestLoginCountingEdges(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := accessstore.New(db)
		ctx := context.Background()
		clock := &webClock{t: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
		cfg := loginCfg(5, 3)
		gate := webauth.NewHashGate(1)
		svc, err := webauth.New(webauth.Options{Config: cfg, Store: st, Now: clock.now, Hashes: gate, HashWait: 50 * time.Millisecond,
			Hash: directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		u, err := svc.AddUser(ctx, "kari", "", "oncall", rightPassword)
		if err != nil {
			t.Fatal(err)
		}

		// A replica counted an attempt and died before finishing it.
		now := clock.now()
		lim := webauth.LoginLimits{Now: now, WindowStart: now.Add(-cfg.Login.Window), MaxFailures: 5, MaxPerAddress: 3,
			LockUntil: now.Add(cfg.Login.Lockout), StaleBefore: now.Add(-2 * time.Minute)}
		if ok, err := st.ReserveLogin(ctx, u.ID, lim); err != nil || !ok {
			t.Fatalf("reserve: %v %v", ok, err)
		}
		if _, _, _, err := svc.Login(ctx, "kari", rightPassword, "192.0.2.1"); !errors.Is(err, webauth.ErrBadCredentials) {
			t.Fatalf("right password beside an attempt being checked: %v, want ErrBadCredentials", err)
		}
		clock.add(2*time.Minute + time.Second)
		if _, secret, _, err := svc.Login(ctx, "kari", rightPassword, "192.0.2.1"); err != nil || secret == "" {
			t.Fatalf("right password once the lost attempt is stale: %v", err)
		}

		// No slot of the hash gate: ErrBusy, and nothing is counted.
		if err := gate.Acquire(ctx); err != nil {
			t.Fatal(err)
		}
		for range 10 {
			if _, _, _, err := svc.Login(ctx, "kari", "wrong", "192.0.2.2"); !errors.Is(err, webauth.ErrBusy) {
				t.Fatalf("no hash slot: %v, want ErrBusy", err)
			}
		}
		gate.Release()
		if users, _ := svc.Users(ctx); users[0].FailedCount != 0 {
			t.Fatalf("failures counted while busy: %d", users[0].FailedCount)
		}

		// Two failures and a success from one address (limit 3): the
		// success is taken back, so one more failure is still answered.
		for range 2 {
			if _, _, _, err := svc.Login(ctx, "nobody", "wrong", "192.0.2.3"); !errors.Is(err, webauth.ErrBadCredentials) {
				t.Fatal(err)
			}
		}
		if _, _, _, err := svc.Login(ctx, "kari", rightPassword, "192.0.2.3"); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := svc.Login(ctx, "nobody", "wrong", "192.0.2.3"); !errors.Is(err, webauth.ErrBadCredentials) {
			t.Fatalf("third failure: %v", err)
		}
		if _, _, _, err := svc.Login(ctx, "kari", rightPassword, "192.0.2.3"); !errors.Is(err, webauth.ErrThrottled) {
			t.Fatalf("after three failures from the address: %v, want ErrThrottled", err)
		}
		// The window passes; pruning forgets the address.
		clock.add(cfg.Login.Window + time.Second)
		if _, err := svc.Prune(ctx); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := svc.Login(ctx, "kari", rightPassword, "192.0.2.3"); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}
