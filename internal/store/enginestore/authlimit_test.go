package enginestore_test

import (
	"context"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/authlimit"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// The AUTH counters on both engines: the conditional increment never
// passes its limit, even from two database handles (two engine nodes)
// racing; decrement, touch and prune.
func TestConformanceEngineAuthAttempts(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			u := storagetest.URL(t, d)
			a, b := enginestore.New(storagetest.OpenURL(t, u)), enginestore.New(storagetest.OpenURL(t, u))
			ctx := context.Background()
			now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
			bucket := now.Truncate(time.Minute)
			var ok atomic.Int32
			var wg sync.WaitGroup
			for i := range 40 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					st := a
					if i%2 == 1 {
						st = b
					}
					got, err := st.AuthIncrement(ctx, authlimit.KindClient, "192.0.2.7", bucket, 10, now)
					if err != nil {
						t.Error(err)
					}
					if got {
						ok.Add(1)
					}
				}()
			}
			wg.Wait()
			if ok.Load() != 10 {
				t.Fatalf("%d increments succeeded, want 10", ok.Load())
			}
			if n, err := b.AuthCount(ctx, authlimit.KindClient, "192.0.2.7", bucket); n != 10 || err != nil {
				t.Fatalf("count = %d, %v", n, err)
			}
			if err := a.AuthDecrement(ctx, authlimit.KindClient, "192.0.2.7", bucket); err != nil {
				t.Fatal(err)
			}
			if got, _ := a.AuthIncrement(ctx, authlimit.KindClient, "192.0.2.7", bucket, 10, now); !got {
				t.Fatal("no room after a decrement")
			}
			if n, _ := a.AuthCount(ctx, authlimit.KindClient, "192.0.2.8", bucket); n != 0 {
				t.Fatalf("unknown key counts %d", n)
			}
			if ok, _ := a.AuthTouched(ctx, authlimit.KindClient, "192.0.2.7", now); !ok {
				t.Fatal("not touched at now")
			}
			if ok, _ := a.AuthTouched(ctx, authlimit.KindClient, "192.0.2.7", now.Add(time.Second)); ok {
				t.Fatal("touched after now")
			}
			if n, err := a.AuthPrune(ctx, authlimit.KindAccount, now.Add(time.Hour)); n != 0 || err != nil {
				t.Fatalf("pruned another kind: %d, %v", n, err)
			}
			if n, err := a.AuthPrune(ctx, authlimit.KindClient, now.Add(time.Hour)); n != 1 || err != nil {
				t.Fatalf("pruned %d, %v", n, err)
			}
		})
	}
}

// The limiter over the store: a sliding window from two buckets, and the
// known-client exemption.
func TestAuthLimiterWindow(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		l := authlimit.New(authlimit.Config{ClientFailures: 4, ClientWindow: time.Minute}, st)
		ip := netip.MustParseAddr("2001:db8::1")
		t0 := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		for i := range 4 {
			if _, refused, err := l.Reserve(ctx, ip, "anna@uni.example", t0.Add(time.Duration(i)*time.Second)); refused != "" || err != nil {
				t.Fatalf("attempt %d: %q, %v", i, refused, err)
			}
		}
		// The same /64 is the same client.
		if _, refused, _ := l.Reserve(ctx, netip.MustParseAddr("2001:db8::ffff"), "x", t0.Add(5*time.Second)); refused != authlimit.RefusedClient {
			t.Fatalf("fifth attempt from the /64: %q", refused)
		}
		// A quarter into the next minute three quarters of the previous
		// minute's four still count: room for one.
		next := t0.Add(75 * time.Second)
		tk, refused, _ := l.Reserve(ctx, ip, "anna@uni.example", next)
		if refused != "" {
			t.Fatal("no room a quarter into the next window")
		}
		if _, refused, _ := l.Reserve(ctx, ip, "anna@uni.example", next); refused == "" {
			t.Fatal("more than the sliding window allows")
		}
		// A success gives its attempt back.
		if err := tk.Succeeded(ctx, "anna@uni.example", next); err != nil {
			t.Fatal(err)
		}
		if _, refused, _ := l.Reserve(ctx, ip, "anna@uni.example", next); refused != "" {
			t.Fatal("a success was counted as a failure")
		}
		// Pruning at a much later time leaves nothing.
		if n, err := l.Prune(ctx, t0.Add(24*time.Hour)); n == 0 || err != nil {
			t.Fatalf("pruned %d, %v", n, err)
		}
	})
}
