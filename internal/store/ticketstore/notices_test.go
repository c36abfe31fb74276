package ticketstore_test

import (
	"context"
	"errors"
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

// TestNoticeWithdraw: a withdrawn notice keeps its record and history
// but leaves the public list, the maintenance windows, the report's
// outages and the outbox, and takes no more changes (SQLite and
// PostgreSQL).
func TestNoticeWithdraw(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := ticketstore.New(db)
		at := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		svc, err := notice.New(notice.Options{Config: notice.DefaultConfig(), Store: st, Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		no := false
		keep, err := svc.Create(ctx, notice.CreateRequest{Kind: notice.KindMaintenance, Title: "Kept", Services: []string{"imap"},
			StartedAt: at.Add(time.Hour), PlannedEnd: at.Add(3 * time.Hour), Announce: &no})
		if err != nil {
			t.Fatal(err)
		}
		gone, err := svc.Create(ctx, notice.CreateRequest{Kind: notice.KindMaintenance, Title: "Wrong day", Services: []string{"imap"},
			StartedAt: at.Add(time.Hour), PlannedEnd: at.Add(2 * time.Hour), Announce: &no})
		if err != nil {
			t.Fatal(err)
		}
		n, err := svc.Withdraw(ctx, gone.ID, notice.WithdrawRequest{Reason: "made by mistake", Actor: "ana"})
		if err != nil {
			t.Fatal(err)
		}
		if !n.WithdrawnAt.Equal(at) || n.WithdrawnBy != "ana" || n.State != notice.Scheduled {
			t.Errorf("withdrawn: %v by %q, state %s", n.WithdrawnAt, n.WithdrawnBy, n.State)
		}
		if last := n.Updates[len(n.Updates)-1]; last.Kind != notice.UpdateWithdrawn || last.Body != "made by mistake" || last.Announce {
			t.Errorf("last update %+v", last)
		}
		public, err := st.NoticeList(ctx, notice.Filter{PublicOnly: true})
		if err != nil || len(public) != 1 || public[0].ID != keep.ID {
			t.Errorf("public list: %d notices (%v)", len(public), err)
		}
		if all, err := st.NoticeList(ctx, notice.Filter{}); err != nil || len(all) != 2 {
			t.Errorf("full list: %d notices (%v)", len(all), err)
		}
		for name, list := range map[string]func(context.Context, time.Time, time.Time) ([]notice.Notice, error){
			"maintenance windows": st.MaintenanceNotices, "report outages": st.OutageNotices} {
			ns, err := list(ctx, at, at.Add(24*time.Hour))
			if err != nil || len(ns) != 1 || ns[0].ID != keep.ID {
				t.Errorf("%s: %+v %v", name, ns, err)
			}
		}
		if _, err := svc.Withdraw(ctx, gone.ID, notice.WithdrawRequest{Actor: "bjorn"}); !errors.Is(err, notice.ErrWithdrawn) {
			t.Errorf("withdrawn twice: %v", err)
		}
		if _, err := svc.Change(ctx, gone.ID, notice.ChangeRequest{State: notice.InProgress, Announce: &no}); !errors.Is(err, notice.ErrWithdrawn) {
			t.Errorf("changed after withdrawal: %v", err)
		}
	})
}

// TestNoticeResolveBeforeStart: a notice is not resolved before it
// started (its end would read before its start); cancelling a maintenance
// before its planned start is allowed.
func TestNoticeResolveBeforeStart(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		at := time.Date(2026, 12, 7, 1, 48, 0, 0, time.UTC)
		s, err := notice.New(notice.Options{Config: notice.DefaultConfig(), Store: ticketstore.New(db), Now: func() time.Time { return at }})
		if err != nil {
			t.Fatal(err)
		}
		no := false
		n, err := s.Create(ctx, notice.CreateRequest{Kind: notice.KindOutage, Title: "x", Services: []string{"imap"}, StartedAt: at, Announce: &no})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Change(ctx, n.ID, notice.ChangeRequest{State: notice.Resolved, At: at.Add(-time.Minute), Announce: &no}); !errors.Is(err, notice.ErrInvalid) {
			t.Errorf("resolved before the start: %v", err)
		}
		if got, _ := s.Get(ctx, n.ID); got.State != notice.Investigating {
			t.Errorf("the refused change changed the notice: %s", got.State)
		}
		m, err := s.Create(ctx, notice.CreateRequest{Kind: notice.KindMaintenance, Title: "y", Services: []string{"imap"}, StartedAt: at.Add(24 * time.Hour), Announce: &no})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Change(ctx, m.ID, notice.ChangeRequest{State: notice.Cancelled, Announce: &no}); err != nil {
			t.Errorf("cancel a planned maintenance: %v", err)
		}
	})
}
