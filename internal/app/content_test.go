package app

import (
	"context"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// TestAccountLockedFoldsCase: the relay queue's gate finds a locked
// account whatever the case of the AUTH user, as the directory looks
// addresses up.
func TestAccountLockedFoldsCase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storagetest.Open(t, storage.SQLite)
	dir, err := engine.NewDirectory(engine.Default(), enginestore.New(db), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.AddDomain(ctx, "uni.example"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"ola@uni.example", "kari@uni.example"} {
		if _, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: a}); err != nil {
			t.Fatal(err)
		}
	}
	if err := dir.Lock(ctx, "ola@uni.example", "spam"); err != nil {
		t.Fatal(err)
	}
	locked := accountLocked(dir)
	for user, want := range map[string]bool{"ola@uni.example": true, "Ola@Uni.Example": true, "kari@uni.example": false, "KARI@uni.example": false, "nobody@uni.example": false} {
		if got := locked(ctx, user); got != want {
			t.Errorf("accountLocked(%q) = %v, want %v", user, got, want)
		}
	}
}
