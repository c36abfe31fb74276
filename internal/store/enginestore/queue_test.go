package enginestore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// commitRemote commits a message the way the engine does, with one relay
// queue entry per remote recipient.
func commitRemote(t *testing.T, st *enginestore.Store, qid, from, authUser string, at time.Time, rcpts ...string) {
	t.Helper()
	body := []byte(fmt.Sprintf("Received: from test\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: test %s\r\nMessage-ID: <%s@uni.example>\r\n\r\nHello\r\n", from, rcpts[0], qid, qid))
	m := &store.Message{QueueID: qid, ReceivedAt: at, Node: "n1", Listener: "submission", ClientIP: "127.0.0.1", HELO: "client",
		AuthUser: authUser, MailFrom: from, Rcpts: rcpts, MessageID: "<" + qid + "@uni.example>", Subject: "test", Body: body, BodyHash: store.Hash(body)}
	for _, r := range rcpts {
		m.Deliveries = append(m.Deliveries, store.Delivery{Rcpt: r, Remote: r})
	}
	if err := st.MailCommit(context.Background(), []*store.Message{m}); err != nil {
		t.Fatal(err)
	}
}

// TestConformanceEngineQueueAdmin covers hold, release, retry and delete
// with the filters of `postvakt queue …`, and claims by two nodes.
func TestConformanceEngineQueueAdmin(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		commitRemote(t, st, "A1", "evil@uni.example", "evil@uni.example", now.Add(-2*time.Hour), "x1@remote.example", "x2@remote.example")
		commitRemote(t, st, "A2", "other@uni.example", "evil@uni.example", now, "x3@remote.example")
		commitRemote(t, st, "A3", "good@uni.example", "good@uni.example", now, "x4@remote.example")
		all, err := st.QueueList(ctx, queue.Filter{})
		if err != nil || len(all) != 4 || all[0].AuthUser != "evil@uni.example" || all[0].TxRcpts != 2 || all[0].Size == 0 {
			t.Fatalf("list = %+v, %v", all, err)
		}
		if es, _ := st.QueueList(ctx, queue.Filter{Sender: "EVIL@uni.example"}); len(es) != 2 {
			t.Fatalf("by sender: %d", len(es))
		}
		if es, _ := st.QueueList(ctx, queue.Filter{Recipient: "x3@remote.example"}); len(es) != 1 || es[0].QueueID != "A2" {
			t.Fatalf("by recipient: %+v", es)
		}
		if es, _ := st.QueueList(ctx, queue.Filter{OlderThan: now.Add(-time.Hour)}); len(es) != 2 {
			t.Fatalf("older than: %d", len(es))
		}
		if n, err := st.QueueHold(ctx, queue.Filter{AuthUser: "evil@uni.example"}, "account_locked"); n != 3 || err != nil {
			t.Fatalf("hold by account = %d, %v", n, err)
		}
		claimed, err := st.QueueClaim(ctx, now, "n1", now.Add(time.Minute), 10)
		if err != nil || len(claimed) != 1 || claimed[0].QueueID != "A3" {
			t.Fatalf("claim skips held: %+v, %v", claimed, err)
		}
		if again, _ := st.QueueClaim(ctx, now, "n2", now.Add(time.Minute), 10); len(again) != 0 {
			t.Fatalf("claimed twice: %+v", again)
		}
		if again, _ := st.QueueClaim(ctx, now.Add(2*time.Minute), "n2", now.Add(3*time.Minute), 10); len(again) != 1 {
			t.Fatalf("expired lease not reclaimed: %+v", again)
		}
		stats, _ := st.QueueStats(ctx)
		if stats[2].State != queue.StateHeld || stats[2].Count != 3 || !stats[2].Oldest.Equal(now.Add(-2*time.Hour)) {
			t.Fatalf("stats = %+v", stats)
		}
		if n, _ := st.QueueRelease(ctx, queue.Filter{QueueID: "A2"}, now); n != 1 {
			t.Fatalf("release = %d", n)
		}
		if es, _ := st.QueueList(ctx, queue.Filter{QueueID: "A2"}); es[0].State != queue.StateQueued || !es[0].Checked {
			t.Fatalf("released: %+v", es)
		}
		if n, _ := st.QueueRetry(ctx, queue.Filter{QueueID: "A2"}, now); n != 1 {
			t.Fatalf("retry = %d", n)
		}
		if _, err := st.QueueDelete(ctx, queue.Filter{}); err == nil {
			t.Fatal("delete without a filter allowed")
		}
		if n, _ := st.QueueDelete(ctx, queue.Filter{Sender: "evil@uni.example"}); n != 2 {
			t.Fatalf("delete by sender = %d", n)
		}
		if es, _ := st.QueueList(ctx, queue.Filter{}); len(es) != 2 {
			t.Fatalf("after delete: %+v", es)
		}
	})
}
