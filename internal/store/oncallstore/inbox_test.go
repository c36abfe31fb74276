package oncallstore_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/alertmanager"
)

// TestAlertmanagerInbox runs the receiver's inbox on both engines: groups
// come back oldest first and byte for byte, a failed attempt is recorded,
// a handled group leaves the pending list and is pruned after its time;
// two replicas (two opens of one database) see the same inbox.
func TestAlertmanagerInbox(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			u := storagetest.URL(t, d)
			a, b := oncallstore.New(storagetest.OpenURL(t, u)), oncallstore.New(storagetest.OpenURL(t, u))
			ctx := context.Background()
			now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
			bodies := []string{`{"groupKey":"{}:{alertname=\"X\"}","status":"firing"}`,
				`{"groupKey":"k2","summary":"Dårlig \u00e6 – 日本 \\u0000 quoted"}`, strings.Repeat("x", 1<<20)}
			var ids []int64
			for i, body := range bodies {
				st := a
				if i%2 == 1 {
					st = b
				}
				id, err := st.AddInboxItem(ctx, alertmanager.Item{Key: "alertmanager/postvakt/k" + string(rune('0'+i)), Body: []byte(body),
					ReceivedAt: now.Add(time.Duration(i) * time.Second), NextAt: now})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, id)
			}
			pending, err := b.PendingInboxItems(ctx, 10)
			if err != nil || len(pending) != 3 {
				t.Fatalf("pending: %d %v", len(pending), err)
			}
			for i, it := range pending {
				if it.ID != ids[i] || string(it.Body) != bodies[i] || !it.ReceivedAt.Equal(now.Add(time.Duration(i)*time.Second)) || it.Attempts != 0 {
					t.Errorf("item %d: id %d, %d bytes, received %v, attempts %d", i, it.ID, len(it.Body), it.ReceivedAt, it.Attempts)
				}
			}
			if err := a.InboxItemFailed(ctx, ids[0], 3, now.Add(8*time.Second), "incident store unreachable"); err != nil {
				t.Fatal(err)
			}
			if err := a.InboxItemDone(ctx, ids[1], now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if pending, _ = b.PendingInboxItems(ctx, 1); len(pending) != 1 || pending[0].ID != ids[0] || pending[0].Attempts != 3 ||
				!pending[0].NextAt.Equal(now.Add(8*time.Second)) {
				t.Fatalf("after a failure and a done, limit 1: %+v", pending)
			}
			if pending, _ = b.PendingInboxItems(ctx, 10); len(pending) != 2 || pending[1].ID != ids[2] {
				t.Fatalf("pending after one is done: %d", len(pending))
			}
			if n, err := a.PruneInbox(ctx, now.Add(time.Minute)); err != nil || n != 0 {
				t.Fatalf("prune before its time: %d %v", n, err)
			}
			if n, err := a.PruneInbox(ctx, now.Add(time.Hour)); err != nil || n != 1 {
				t.Fatalf("prune: %d %v", n, err)
			}
		})
	}
}
