package accessstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// The web sign-in hashes through the service's one password-hash gate
// (docs/resources.md): while it is full a sign-in
// fails with ErrBusy after the gate's wait (503 in the web interface), and
// that is neither a failure nor a success of the user.
func TestWebSignInSharesTheHashGate(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	st := accessstore.New(db)
	ctx := context.Background()
	params := directory.HashParams{MemoryKiB: 32 * 1024, Time: 4, Threads: 1}
	gate := directory.NewHasher(directory.HasherOptions{Memory: int64(params.MemoryKiB) * 1024, Wait: 5 * time.Millisecond})
	svc, err := webauth.New(webauth.Options{Config: webauth.Default(), Store: st, Hash: params, Hasher: gate})
	if err != nil {
		t.Fatal(err)
	}
	const pw = "a long enough password"
	if _, err := svc.AddUser(ctx, "kari", "", "oncall", pw); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() {
		_, _, _, err := svc.Login(ctx, "kari", pw, "192.0.2.1")
		first <- err
	}()
	for gate.Stats().InProgress == 0 {
		time.Sleep(100 * time.Microsecond)
	}
	if _, _, _, err := svc.Login(ctx, "kari", "a wrong password!", "192.0.2.2"); !errors.Is(err, webauth.ErrBusy) {
		t.Fatalf("sign-in while the gate is full: %v, want ErrBusy", err)
	}
	if err := <-first; err != nil {
		t.Fatalf("the first sign-in: %v", err)
	}
	if u, _ := st.UserByName(ctx, "kari"); u.FailedCount != 0 {
		t.Fatalf("a sign-in that was not checked counted as a failure: %d", u.FailedCount)
	}
	if s := gate.Stats(); s.PeakInProgress != 1 || s.Refused == 0 {
		t.Fatalf("gate: %+v", s)
	}
}
