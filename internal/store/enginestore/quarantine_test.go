package enginestore_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// TestConformanceEngineQuarantine covers add, list, get, release into the
// relay queue, delete and expiry.
func TestConformanceEngineQuarantine(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := enginestore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		svc := &quarantine.Service{Store: st, Retention: 30 * 24 * time.Hour, Clock: func() time.Time { return now }}
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
