package membudget_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/membudget"
)

// Reservations never exceed the capacity, however many ask at once; a
// reservation larger than the budget runs alone; a waiter that gives up
// gets ErrBusy and holds nothing.
func TestBudget(t *testing.T) {
	t.Parallel()
	b := membudget.New(100)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(10 + i%40)
			rel, err := b.Acquire(context.Background(), n)
			if err != nil {
				t.Error(err)
				return
			}
			v := held.Add(n)
			for p := peak.Load(); v > p && !peak.CompareAndSwap(p, v); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			held.Add(-n)
			rel()
		}()
	}
	wg.Wait()
	if st := b.Stats(); peak.Load() > 100 || st.Peak > 100 || st.Used != 0 || st.Granted != 50 {
		t.Fatalf("peak %d, stats %+v", peak.Load(), st)
	}
	// Larger than the budget: waits for all of it, then runs alone.
	rel, err := b.Acquire(context.Background(), 1000)
	if err != nil || b.Stats().Used != 100 {
		t.Fatalf("huge: %v, %+v", err, b.Stats())
	}
	if _, ok := b.TryAcquire(1); ok {
		t.Fatal("TryAcquire succeeded on a full budget")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, 1); !errors.Is(err, membudget.ErrBusy) {
		t.Fatalf("waiter on a full budget: %v", err)
	}
	rel()
	rel() // a second release is harmless
	if st := b.Stats(); st.Used != 0 || st.Waiting != 0 || st.Refused != 1 {
		t.Fatalf("after release: %+v", st)
	}
	// FIFO: a request that would fit now does not overtake an earlier
	// waiter that does not (it would starve a large message).
	small, _ := b.Acquire(context.Background(), 60)
	got := make(chan string, 2)
	go func() {
		r, _ := b.Acquire(context.Background(), 50)
		got <- "large"
		r()
	}()
	for b.Stats().Waiting == 0 {
		time.Sleep(time.Millisecond)
	}
	go func() {
		r, _ := b.Acquire(context.Background(), 40) // fits next to the 60 held, not next to the 50 waiting
		got <- "small"
		r()
	}()
	time.Sleep(20 * time.Millisecond)
	if b.Stats().Waiting != 2 {
		t.Fatalf("the later request overtook the waiter: %+v", b.Stats())
	}
	small()
	<-got
	<-got
	// A nil budget grants everything.
	var none *membudget.Budget
	if r, err := none.Acquire(context.Background(), 1<<40); err != nil {
		t.Fatal(err)
	} else {
		r()
	}
}
