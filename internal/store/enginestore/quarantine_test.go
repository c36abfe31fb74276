package enginestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// newDirectory is the engine's directory on st with the default
// configuration (fast password hashes), its clock at now.
func newDirectory(t *testing.T, st *enginestore.Store, now time.Time) *directory.Directory {
	t.Helper()
	cfg := engine.Default()
	cfg.Directory.PasswordHash = directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1}
	dir, err := engine.NewDirectory(cfg, st, func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestConformanceEngineQuarantine covers add, list, get, release into the
// relay queue, delete and expiry.
func TestConformanceEngineQuarantine(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		svc := &quarantine.Service{Store: st, Directory: newDirectory(t, st, now), Retention: 30 * 24 * time.Hour, Clock: func() time.Time { return now }}
		body := []byte("Subject: virus\r\n\r\nbody\r\n")
		if err := st.DirPutDomain(ctx, directory.Domain{Name: "uni.example", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		mbs, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "local@uni.example"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		id1, err := svc.Add(ctx, &quarantine.Item{QueueID: "QA", Reason: quarantine.ReasonVirus, Detail: "Eicar-Test-Signature",
			MailFrom: "s@ext.example", Rcpts: []string{"a@remote.example", "b@remote.example", "local@uni.example"}, Subject: "virus", Body: body})
		if err != nil {
			t.Fatal(err)
		}
		id2, _ := svc.Add(ctx, &quarantine.Item{QueueID: "QB", At: now.Add(-40 * 24 * time.Hour), Reason: quarantine.ReasonSpam,
			MailFrom: "t@ext.example", Rcpts: []string{"c@uni.example"}, Body: body})
		list, err := st.QuarantineList(ctx, quarantine.Filter{})
		if err != nil || len(list) != 2 || list[0].ID != id1 || list[0].Body != nil || list[0].Size != int64(len(body)) {
			t.Fatalf("list = %+v, %v", list, err)
		}
		if l, _ := st.QuarantineList(ctx, quarantine.Filter{Recipient: "b@remote.example"}); len(l) != 1 || l[0].ID != id1 {
			t.Fatalf("by recipient = %+v", l)
		}
		// "_" in an address is a character, not LIKE's any-character
		if l, _ := st.QuarantineList(ctx, quarantine.Filter{Recipient: "_@remote.example"}); len(l) != 0 {
			t.Fatalf("by recipient _@remote.example = %+v, want none", l)
		}
		if l, _ := st.QuarantineList(ctx, quarantine.Filter{Reason: quarantine.ReasonSpam}); len(l) != 1 || l[0].ID != id2 {
			t.Fatalf("by reason = %+v", l)
		}
		it, err := st.QuarantineGet(ctx, id1)
		if err != nil || !bytes.Equal(it.Body, body) || len(it.Rcpts) != 3 || !it.At.Equal(now) || it.Reason != quarantine.ReasonVirus {
			t.Fatalf("get = %+v, %v", it, err)
		}
		if n, err := svc.Release(ctx, id1); n != 3 || err != nil {
			t.Fatalf("release = %d, %v", n, err)
		}
		if msgs, _ := st.MailMessages(ctx, mbs[0]); len(msgs) != 1 || msgs[0].QueueID != "QA" || msgs[0].Size != int64(len(body)) {
			t.Fatalf("local delivery of a released message = %+v", msgs)
		}
		if _, err := st.QuarantineGet(ctx, id1); !errors.Is(err, quarantine.ErrNotFound) {
			t.Fatalf("released item still there: %v", err)
		}
		q, _ := st.QueueList(ctx, queue.Filter{QueueID: "QA"})
		if len(q) != 2 || q[0].State != queue.StateQueued || q[0].MailFrom != "s@ext.example" || !q[0].Checked {
			t.Fatalf("released into queue: %+v", q)
		}
		if b, err := st.QueueBody(ctx, q[0].BodyHash); err != nil || !bytes.Equal(b, body) {
			t.Fatalf("queue body = %q, %v", b, err)
		}
		if n, _ := svc.Expire(ctx); n != 1 {
			t.Fatalf("expire = %d", n)
		}
		if err := st.QuarantineDelete(ctx, id2); !errors.Is(err, quarantine.ErrNotFound) {
			t.Fatalf("delete of expired: %v", err)
		}
	})
}

// TestConformanceEngineQuarantineReleaseResolves: a released item goes
// where delivery would send it, by the directory's rule (engine/directory
// Resolve) and not one of the store's own: an alias chain seven deep
// reaches its mailbox (the directory expands eight levels), a dangling
// local alias target and a recipient the directory no longer knows are
// skipped (not relayed back to the MX), an external forward the mailbox
// may not use keeps the mail in the mailbox, each mailbox gets one copy
// however many recipients lead to it, and a remote recipient is relayed.
// An item no recipient can receive any more is kept.
func TestConformanceEngineQuarantineReleaseResolves(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		dir := newDirectory(t, st, now)
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(dir.AddDomain(ctx, "uni.example"))
		final, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: "final@uni.example"})
		must(err)
		dana, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: "dana@uni.example"})
		must(err)
		cleo, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: "cleo@uni.example"})
		must(err)
		must(dir.SetForward(ctx, "cleo@uni.example", "c@gmail.example", false, false)) // external, not allowed
		// chain1 → chain2 → … → chain7 → final@uni.example
		for i := 7; i >= 1; i-- {
			target := fmt.Sprintf("chain%d@uni.example", i+1)
			if i == 7 {
				target = "final@uni.example"
			}
			must(dir.AddAlias(ctx, fmt.Sprintf("chain%d@uni.example", i), directory.KindAlias, []string{target}))
		}
		must(dir.AddAlias(ctx, "team@uni.example", directory.KindList, []string{"dana@uni.example", "gone@uni.example"}))

		svc := &quarantine.Service{Store: st, Directory: dir, Clock: func() time.Time { return now }}
		body := []byte("Subject: held\r\n\r\nbody\r\n")
		add := func(qid string, rcpts ...string) int64 {
			t.Helper()
			id, err := svc.Add(ctx, &quarantine.Item{QueueID: qid, Reason: quarantine.ReasonSpam, MailFrom: "s@ext.example", Rcpts: rcpts, Body: body})
			must(err)
			return id
		}
		id := add("QR", "chain1@uni.example", "team@uni.example", "Dana@uni.example", "cleo@uni.example", "left@uni.example", "r@remote.example")
		kept := add("QK", "left@uni.example", "nobody@uni.example")

		if n, err := svc.Release(ctx, id); n != 4 || err != nil {
			t.Fatalf("release = %d, %v; want 4 (final, dana, cleo, r@remote.example)", n, err)
		}
		for _, m := range []directory.Mailbox{final, dana, cleo} {
			if msgs, _ := st.MailMessages(ctx, m.ID); len(msgs) != 1 || msgs[0].QueueID != "QR" {
				t.Errorf("%s after release: %+v, want one copy of QR", m.Address, msgs)
			}
		}
		es, err := st.QueueList(ctx, queue.Filter{QueueID: "QR"})
		must(err)
		var targets []string
		for _, e := range es {
			targets = append(targets, e.Rcpt+"→"+e.Target)
		}
		if strings.Join(targets, " ") != "r@remote.example→r@remote.example" {
			t.Errorf("relayed %v, want only r@remote.example (not gone@, left@ or c@gmail.example)", targets)
		}
		if n, err := svc.Release(ctx, kept); n != 0 || !errors.Is(err, quarantine.ErrNoRecipients) {
			t.Errorf("release to no one = %d, %v; want ErrNoRecipients", n, err)
		}
		if it, err := st.QuarantineGet(ctx, kept); err != nil || !bytes.Equal(it.Body, body) {
			t.Errorf("the item no one can receive was not kept: %+v, %v", it, err)
		}
		if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "QK"}); len(es) != 0 {
			t.Errorf("relayed to recipients the directory does not know: %+v", es)
		}
	})
}

// TestConformanceEngineQuarantineReleaseOnce: an item released twice (two
// postmasters at once) is delivered once; the second release is
// ErrNotFound and leaves nothing behind.
func TestConformanceEngineQuarantineReleaseOnce(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		dir := newDirectory(t, st, now)
		if err := dir.AddDomain(ctx, "uni.example"); err != nil {
			t.Fatal(err)
		}
		mb, err := dir.AddMailbox(ctx, directory.NewMailbox{Address: "anna@uni.example"})
		if err != nil {
			t.Fatal(err)
		}
		body := []byte("Subject: x\r\n\r\nx\r\n")
		id, err := st.QuarantineAdd(ctx, &quarantine.Item{QueueID: "Q1", At: now, Reason: quarantine.ReasonVirus, Rcpts: []string{"anna@uni.example"}, Body: body})
		if err != nil {
			t.Fatal(err)
		}
		it, err := st.QuarantineGet(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		to := quarantine.Delivery{Mailboxes: []int64{mb.ID}, Relay: []quarantine.RelayTarget{{Rcpt: "anna@uni.example", Target: "a@remote.example"}}}
		if n, err := st.QuarantineRelease(ctx, it, now, to); n != 2 || err != nil {
			t.Fatalf("release = %d, %v", n, err)
		}
		if n, err := st.QuarantineRelease(ctx, it, now, to); n != 0 || !errors.Is(err, quarantine.ErrNotFound) {
			t.Fatalf("second release = %d, %v; want ErrNotFound", n, err)
		}
		if msgs, _ := st.MailMessages(ctx, mb.ID); len(msgs) != 1 {
			t.Errorf("copies in the mailbox: %d, want 1", len(msgs))
		}
		if m, _ := dir.Mailbox(ctx, "anna@uni.example"); m.UsedBytes != int64(len(body)) {
			t.Errorf("mailbox use %d, want %d", m.UsedBytes, len(body))
		}
		if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "Q1"}); len(es) != 1 || es[0].Target != "a@remote.example" || es[0].MailFrom != "" {
			t.Errorf("queue: %+v", es)
		}
	})
}
