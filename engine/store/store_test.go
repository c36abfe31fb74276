package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/uni-mail/postvakt/engine/store"
)

// fakeStore fails any batch containing a message with QueueID "bad".
type fakeStore struct {
	store.Store
	mu        sync.Mutex
	committed map[string]bool
	batches   []int
}

func (f *fakeStore) MailCommit(_ context.Context, msgs []*store.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, len(msgs))
	for _, m := range msgs {
		if m.QueueID == "bad" {
			return errors.New("constraint")
		}
	}
	for _, m := range msgs {
		f.committed[m.QueueID] = true
	}
	return nil
}

// A failing message fails alone; its batch neighbours are committed.
func TestCommitterIsolatesFailure(t *testing.T) {
	t.Parallel()
	f := &fakeStore{committed: map[string]bool{}}
	c := store.NewCommitter(f, store.CommitterOptions{MaxBatch: 8})
	var wg sync.WaitGroup
	errs := map[string]error{}
	var mu sync.Mutex
	for _, id := range []string{"a", "b", "bad", "c", "d"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.Commit(context.Background(), &store.Message{QueueID: id})
			mu.Lock()
			errs[id] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	c.Close()
	for id, err := range errs {
		if (err != nil) != (id == "bad") || (id != "bad" && !f.committed[id]) {
			t.Errorf("%s: err %v committed %v", id, err, f.committed[id])
		}
	}
	if err := c.Commit(context.Background(), &store.Message{QueueID: "late"}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	if got := store.Hash([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatal(got)
	}
}
