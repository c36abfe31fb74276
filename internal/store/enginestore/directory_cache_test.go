package enginestore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// TestEngineDirectoryCache: recipient lookups are cached for
// smtp.directory.cache_ttl; a change through the same directory is seen
// at once, mail this node delivered keeps the quota use exact, and a change
// made elsewhere (another node) waits for the TTL.
func TestEngineDirectoryCache(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		cfg := engine.Default()
		cfg.Directory.PasswordHash = directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
		cfg.Directory.CacheTTL = time.Minute
		dir, err := engine.NewDirectory(cfg, st, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Directory.CacheTTL = 0
		other, err := engine.NewDirectory(cfg, st, time.Now) // another node, uncached
		if err != nil {
			t.Fatal(err)
		}
		if err := dir.AddDomain(ctx, "uni.example"); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: "anna@uni.example", QuotaBytes: 10000}); err != nil {
			t.Fatal(err)
		}
		anna, _ := addr.Parse("anna@uni.example")
		bob, _ := addr.Parse("bob@uni.example")
		used := func(d *directory.Directory) int64 {
			t.Helper()
			res, err := d.Resolve(ctx, anna)
			if err != nil || len(res.Mailboxes) != 1 {
				t.Fatalf("resolve anna: %+v %v", res, err)
			}
			return res.Mailboxes[0].UsedBytes
		}
		if u := used(dir); u != 0 {
			t.Fatalf("used %d", u)
		}
		// Another node stores 4000 bytes: this node's cache does not see it yet.
		if _, err := db.Exec(ctx, `UPDATE engine_mailboxes SET used_bytes = used_bytes + 4000 WHERE address = ?`, "anna@uni.example"); err != nil {
			t.Fatal(err)
		}
		if u, o := used(dir), used(other); u != 0 || o != 4000 {
			t.Fatalf("cached %d, uncached %d; want 0 and 4000", u, o)
		}
		// Mail this node delivered counts at once.
		m, _ := dir.Mailbox(ctx, "anna@uni.example")
		dir.Delivered(m.ID, 300)
		dir.Delivered(m.ID, 200)
		if u := used(dir); u != 500 {
			t.Fatalf("after delivering 500 bytes: used %d", u)
		}
		// A change through this directory empties the cache.
		if err := dir.SetQuota(ctx, "anna@uni.example", 20000); err != nil {
			t.Fatal(err)
		}
		res, err := dir.Resolve(ctx, anna)
		if err != nil || res.Mailboxes[0].UsedBytes != 4000 || res.Mailboxes[0].QuotaBytes != 20000 {
			t.Fatalf("after SetQuota: %+v %v", res.Mailboxes, err)
		}
		// Callers may change what they get without changing the cache.
		res.Mailboxes[0].UsedBytes = -1
		if u := used(dir); u != 4000 {
			t.Fatalf("cache changed through a returned slice: %d", u)
		}
		// Unknown recipients are cached too, until a change here.
		if _, err := dir.Resolve(ctx, bob); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("bob: %v", err)
		}
		if _, err := other.AddMailbox(ctx, directory.NewMailbox{Address: "bob@uni.example"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dir.Resolve(ctx, bob); !errors.Is(err, directory.ErrNotFound) {
			t.Fatalf("bob added on another node is seen before the TTL: %v", err)
		}
		dir.Flush()
		if _, err := dir.Resolve(ctx, bob); err != nil {
			t.Fatalf("bob after Flush: %v", err)
		}
	})
}
