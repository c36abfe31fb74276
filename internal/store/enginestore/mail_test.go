package enginestore_test

import (
	"context"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// TestConformanceEngineMailRemove: a message found by a token in its
// header leaves its mailbox with its size off the mailbox's used bytes,
// never below zero; its body stays for MailPrune.
func TestConformanceEngineMailRemove(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := enginestore.New(db)
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		ids, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "probe@uni.example"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		msg := func(qid, subject string, at time.Time) *store.Message {
			b := []byte("Subject: " + subject + "\r\n\r\nbody\r\n")
			return &store.Message{QueueID: qid, ReceivedAt: at, MailFrom: "probe@uni.example", Rcpts: []string{"probe@uni.example"},
				Subject: subject, Body: b, BodyHash: store.Hash(b), Deliveries: []store.Delivery{{Rcpt: "probe@uni.example", MailboxID: ids[0]}}}
		}
		a, b := msg("Q1", "loop pv-1-aa", now), msg("Q2", "loop pv-2-bb", now.Add(time.Second))
		if err := st.MailCommit(ctx, []*store.Message{a, b}); err != nil {
			t.Fatal(err)
		}
		used := func() int64 {
			t.Helper()
			m, err := st.DirMailbox(ctx, ids[0])
			if err != nil {
				t.Fatal(err)
			}
			return m.UsedBytes
		}
		total := int64(len(a.Body) + len(b.Body))
		if u := used(); u != total {
			t.Fatalf("used %d after the commit, want %d", u, total)
		}
		found, ok, err := st.MailFindToken(ctx, "PROBE@uni.example", "pv-1-aa")
		if err != nil || !ok || found.MailboxID != ids[0] || found.Size != int64(len(a.Body)) || !found.ReceivedAt.Equal(now) || found.BodyHash != a.BodyHash {
			t.Fatalf("MailFindToken = %+v, %v, %v", found, ok, err)
		}
		if err := st.MailRemove(ctx, found); err != nil {
			t.Fatal(err)
		}
		if u := used(); u != int64(len(b.Body)) {
			t.Errorf("used %d after the removal, want %d", u, len(b.Body))
		}
		if _, ok, _ := st.MailFindToken(ctx, "probe@uni.example", "pv-1-aa"); ok {
			t.Error("the removed message is still found")
		}
		if _, err := st.MailBody(ctx, a.BodyHash); err != nil {
			t.Errorf("the body went with the message: %v", err)
		}
		// Usage never goes below zero (a mailbox whose count was reset).
		if _, err := db.Exec(ctx, `UPDATE engine_mailboxes SET used_bytes = 1 WHERE id = ?`, ids[0]); err != nil {
			t.Fatal(err)
		}
		other, ok, err := st.MailFindToken(ctx, "probe@uni.example", "pv-2-bb")
		if err != nil || !ok {
			t.Fatalf("second message: %v, %v", ok, err)
		}
		if err := st.MailRemove(ctx, other); err != nil {
			t.Fatal(err)
		}
		if u := used(); u != 0 {
			t.Errorf("used %d, want 0", u)
		}
		msgs, err := st.MailMessages(ctx, ids[0])
		if err != nil || len(msgs) != 0 {
			t.Errorf("messages left: %+v, %v", msgs, err)
		}
	})
}
