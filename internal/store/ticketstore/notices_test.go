package ticketstore_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// TestNoticeListUpdates: the list carries each notice's updates, in
// order, exactly as reading the notice alone does (the list reads them in
// one query).
func TestNoticeListUpdates(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := ticketstore.New(db)
		at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		var ids []int64
		for i := range 5 {
			n, err := st.NoticeCreate(ctx, notice.Notice{Kind: notice.KindOutage, Title: fmt.Sprintf("Outage %d", i), Services: []string{"imap"},
				State: notice.Investigating, Public: i%2 == 0, StartedAt: at, Language: "en", ThreadID: fmt.Sprintf("<n%d@test>", i), CreatedAt: at, UpdatedAt: at, CreatedBy: "ana"},
				notice.Update{At: at, Actor: "ana", Kind: "created", State: notice.Investigating, Body: "first"})
			if err != nil {
				t.Fatal(err)
			}
			for j := range i { // notice i has i more updates
				if _, err := st.NoticeChange(ctx, n.ID, func(n *notice.Notice) (*notice.Update, error) {
					return &notice.Update{At: at.Add(time.Duration(j+1) * time.Minute), Actor: "bjorn", Kind: "update",
						State: n.State, Body: fmt.Sprintf("news %d", j)}, nil
				}); err != nil {
					t.Fatal(err)
				}
			}
			ids = append(ids, n.ID)
		}
		list, err := st.NoticeList(ctx, notice.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 5 {
			t.Fatalf("%d notices listed", len(list))
		}
		for _, n := range list {
			one, err := st.NoticeGet(ctx, n.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(n.Updates, one.Updates) {
				t.Errorf("notice %d: listed updates %+v, alone %+v", n.ID, n.Updates, one.Updates)
			}
			if want := int(n.ID-ids[0]) + 1; len(n.Updates) != want {
				t.Errorf("notice %d has %d updates, want %d", n.ID, len(n.Updates), want)
			}
		}
		if pub, err := st.NoticeList(ctx, notice.Filter{PublicOnly: true}); err != nil || len(pub) != 3 || len(pub[0].Updates) != 5 {
			t.Errorf("public only: %d notices, %v", len(pub), err)
		}
	})
}
