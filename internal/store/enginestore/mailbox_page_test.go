package enginestore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

func TestDirMailboxPage(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Now()
		if err := st.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		var mbs []directory.Mailbox
		for i := range 30 {
			mbs = append(mbs, directory.Mailbox{Address: fmt.Sprintf("user%02d@uni.example", i), DisplayName: fmt.Sprintf("User %d", i), Locked: i%10 == 0})
		}
		mbs = append(mbs, directory.Mailbox{Address: "per_cent@uni.example", DisplayName: "100% Ola"})
		if _, err := st.DirUpsertMailboxes(ctx, mbs, now); err != nil {
			t.Fatal(err)
		}
		check := func(q string, locked bool, offset, limit, wantTotal int, wantFirst string, wantLen int) {
			t.Helper()
			page, total, err := st.DirMailboxPage(ctx, q, locked, offset, limit)
			if err != nil {
				t.Fatal(err)
			}
			if total != wantTotal || len(page) != wantLen || (wantLen > 0 && page[0].Address != wantFirst) {
				first := ""
				if len(page) > 0 {
					first = page[0].Address
				}
				t.Errorf("q=%q locked=%v offset=%d: total %d, %d rows, first %q; want %d, %d, %q", q, locked, offset, total, len(page), first, wantTotal, wantLen, wantFirst)
			}
		}
		check("", false, 0, 10, 31, "per_cent@uni.example", 10)
		check("", false, 30, 10, 31, "user29@uni.example", 1)
		check("USER1", false, 0, 50, 10, "user10@uni.example", 10)
		check("user 7", false, 0, 50, 1, "user07@uni.example", 1) // display name "User 7"
		check("", true, 0, 50, 3, "user00@uni.example", 3)
		check("%", false, 0, 50, 1, "per_cent@uni.example", 1) // a wildcard is searched as text
		check("r_c", false, 0, 50, 1, "per_cent@uni.example", 1)
		check("nobody", false, 0, 50, 0, "", 0)
		check("user", false, 25, 3, 30, "user25@uni.example", 3)
		check("user", false, 40, 10, 30, "", 0) // past the end: the total all the same
		check("user", true, 1, 10, 3, "user10@uni.example", 2)
	})
}

// BenchmarkDirMailboxPage is the mailbox search of the web's Mailboxes page
// over 20,000 mailboxes (docs/performance.md, "Web"), on SQLite.
func BenchmarkDirMailboxPage(b *testing.B) {
	db := storagetest.Open(b, storage.SQLite)
	st := enginestore.New(db)
	ctx := context.Background()
	now := time.Now()
	if err := st.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: now}); err != nil {
		b.Fatal(err)
	}
	for n := 0; n < 20000; n += 2000 {
		var mbs []directory.Mailbox
		for i := n; i < n+2000; i++ {
			mbs = append(mbs, directory.Mailbox{Address: fmt.Sprintf("s%d@uni.example", i), DisplayName: fmt.Sprintf("Student %d", i)})
		}
		if _, err := st.DirUpsertMailboxes(ctx, mbs, now); err != nil {
			b.Fatal(err)
		}
	}
	for _, c := range []struct {
		q      string
		offset int
	}{{"", 0}, {"s1999", 0}, {"student 123", 0}, {"s1999", 50}} {
		b.Run(fmt.Sprintf("q=%s/offset=%d", c.q, c.offset), func(b *testing.B) {
			for b.Loop() {
				page, total, err := st.DirMailboxPage(ctx, c.q, false, c.offset, 50)
				if err != nil || total == 0 || (len(page) == 0) != (c.offset >= total) {
					b.Fatalf("%d of %d, %v", len(page), total, err)
				}
			}
		})
	}
}
