package enginestore_test

import (
	"context"
	"fmt"
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

// TestConformanceEngineMailCommitBatch: one batch of 100 messages (more
// than one multi-row statement per table) whose bodies repeat within the
// batch, some copies truncated to a body another message stores whole,
// some relayed, writes every row once, each body once, and adds each
// mailbox's copies to its used bytes.
func TestConformanceEngineMailCommitBatch(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := enginestore.New(db)
		now := time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
		ids, err := st.DirUpsertMailboxes(ctx, []directory.Mailbox{{Address: "a@uni.example"}, {Address: "b@uni.example"}}, now)
		if err != nil {
			t.Fatal(err)
		}
		bodies := [][]byte{[]byte("Subject: 0\r\n\r\nzero\r\n"), []byte("Subject: 1\r\n\r\none\r\n"), []byte("Subject: 2\r\n\r\n")}
		var msgs []*store.Message
		var usedA, usedB int64
		queued := 0
		for i := range 100 {
			b := bodies[i%2]
			m := &store.Message{QueueID: fmt.Sprintf("B%03d", i), ReceivedAt: now.Add(time.Duration(i) * time.Millisecond),
				MailFrom: "x@else.example", Rcpts: []string{"a@uni.example", "b@uni.example"}, MessageID: fmt.Sprintf("<%d@else.example>", i),
				Body: b, BodyHash: store.Hash(b)}
			m.Deliveries = []store.Delivery{{Rcpt: "a@uni.example", MailboxID: ids[0]}}
			usedA += int64(len(b))
			if i%3 == 0 {
				m.Truncated, m.TruncatedHash = bodies[2], store.Hash(bodies[2])
				m.Deliveries = append(m.Deliveries, store.Delivery{Rcpt: "b@uni.example", MailboxID: ids[1], Truncated: true})
				usedB += int64(len(bodies[2]))
			}
			if i%5 == 0 {
				m.Deliveries = append(m.Deliveries, store.Delivery{Rcpt: "c@far.example", Remote: "c@far.example"})
				queued++
			}
			msgs = append(msgs, m)
		}
		if err := st.MailCommit(ctx, msgs); err != nil {
			t.Fatal(err)
		}
		stats, err := st.MailStats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := store.Stats{Bodies: 3, BodyBytes: int64(len(bodies[0]) + len(bodies[1]) + len(bodies[2])), Messages: 100 + 34, QueuedMail: int64(queued)}
		if stats != want {
			t.Fatalf("stats = %+v, want %+v", stats, want)
		}
		for i, box := range []struct {
			id   int64
			n    int
			used int64
		}{{ids[0], 100, usedA}, {ids[1], 34, usedB}} {
			got, err := st.MailMessages(ctx, box.id)
			if err != nil || len(got) != box.n {
				t.Fatalf("mailbox %d: %d messages, %v; want %d", i, len(got), err, box.n)
			}
			m, err := st.DirMailbox(ctx, box.id)
			if err != nil || m.UsedBytes != box.used {
				t.Fatalf("mailbox %d: used %d, %v; want %d", i, m.UsedBytes, err, box.used)
			}
		}
		for _, i := range []int{0, 63, 64, 99} {
			q, err := st.MailQueueIDsByMessageID(ctx, fmt.Sprintf("<%d@else.example>", i))
			if err != nil || len(q) != 1 || q[0] != fmt.Sprintf("B%03d", i) {
				t.Fatalf("transaction of message %d: %v, %v", i, q, err)
			}
		}
		for _, b := range bodies {
			if got, err := st.MailBody(ctx, store.Hash(b)); err != nil || string(got) != string(b) {
				t.Fatalf("body %q: %q, %v", b, got, err)
			}
		}
	})
}
