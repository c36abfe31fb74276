package ticketstore_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/internal/store/unitstore"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/notice/smtpsink"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck"
)

// TestConformanceNoticeToUnits: an outage notice for two units, with an
// update and its resolution, reaches the announce list and the leader and
// network administrator of both units (four contacts) over SMTP on
// loopback, every message in one thread; an unknown unit is refused and
// creates nothing.
func TestConformanceNoticeToUnits(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		sink := smtpsink.Start(t, nil)
		clock := &testClock{t: lon(2026, 11, 24, 10, 0)}
		us, err := units.New(units.Options{Config: units.DefaultConfig(), Store: unitstore.New(db), Checker: &dnscheck.Checker{}, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, u := range []units.Unit{
			{Name: "Chemistry", Leader: units.Contact{Name: "Lena", Email: "lena@chem.uni.example"}, NetAdmin: units.Contact{Name: "Kari", Email: "kari@chem.uni.example"}},
			{Name: "Physics", Leader: units.Contact{Email: "per@phys.uni.example"}, NetAdmin: units.Contact{Email: "nils@phys.uni.example"}},
			{Name: "Library"},
		} {
			got, err := us.Create(ctx, u, "eva")
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, got.ID)
		}
		cfg := notice.DefaultConfig()
		cfg.AnnounceTo, cfg.From, cfg.Relay.Addr = "itss-announce@uni.example", "drift@uni.example", sink.Addr
		svc, err := notice.New(notice.Options{Config: cfg, Store: ticketstore.New(db), Units: us,
			Sender: &notice.SMTPSender{Addr: sink.Addr, Timeout: 5 * time.Second}, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Create(ctx, notice.CreateRequest{Kind: notice.KindOutage, Title: "x", Services: []string{"smtp"}, UnitIDs: []int64{ids[0], 999}}); err == nil {
			t.Fatal("an unknown unit was accepted")
		}
		if l, _ := svc.List(ctx, notice.Filter{}); len(l) != 0 {
			t.Fatalf("a refused notice was kept: %d", len(l))
		}
		n, err := svc.Create(ctx, notice.CreateRequest{Kind: notice.KindOutage, Title: "Mail to the science faculty delayed",
			Services: []string{"smtp"}, Body: "We are investigating.", UnitIDs: ids[:2], Actor: "ana"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(n.UnitIDs, ids[:2]) {
			t.Fatalf("notice units %v", n.UnitIDs)
		}
		clock.Set(lon(2026, 11, 24, 10, 30))
		if _, err := svc.Change(ctx, n.ID, notice.ChangeRequest{Body: "The relay is being replaced.", Actor: "ana"}); err != nil {
			t.Fatal(err)
		}
		clock.Set(lon(2026, 11, 24, 11, 0))
		if _, err := svc.Change(ctx, n.ID, notice.ChangeRequest{State: notice.Resolved, Body: "Mail flows again.", Actor: "ana"}); err != nil {
			t.Fatal(err)
		}
		msgs, err := sink.Wait(3, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"itss-announce@uni.example", "kari@chem.uni.example", "lena@chem.uni.example", "nils@phys.uni.example", "per@phys.uni.example"}
		var thread string
		for i, m := range msgs {
			rcpt := slices.Sorted(slices.Values(m.To))
			if !slices.Equal(rcpt, want) {
				t.Fatalf("message %d went to %v", i, rcpt)
			}
			r := parseReceived(t, m.Data)
			to, _ := r.h.AddressList("To")
			if len(to) != 5 {
				t.Fatalf("To header %v", to)
			}
			refs, _ := r.h.MsgIDList("References")
			irt, _ := r.h.MsgIDList("In-Reply-To")
			if i == 0 {
				thread = r.msgID(t)
				if len(refs) != 0 || len(irt) != 0 {
					t.Fatalf("first message refers to %v %v", refs, irt)
				}
				continue
			}
			if len(refs) != 1 || refs[0] != thread || len(irt) != 1 || irt[0] != thread || r.msgID(t) == thread {
				t.Fatalf("message %d not in the thread %s: %v %v", i, thread, refs, irt)
			}
		}
		if thread != n.ThreadID || !strings.Contains(thread, "uni.example") {
			t.Fatalf("thread %s, notice %s", thread, n.ThreadID)
		}
		// The notice is on both units' records.
		for _, id := range ids[:2] {
			refs, _ := unitstore.New(db).Refs(ctx, id)
			if len(refs) != 1 || refs[0].Kind != units.RefNotice || refs[0].RefID != n.ID {
				t.Fatalf("unit %d refs %+v", id, refs)
			}
		}
	})
}
