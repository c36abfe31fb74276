package ticketstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestConformanceTicketLinksAndIncident: a ticket links to another
// (related, duplicate-of) and the other gets the reverse link, each in
// its history; a link to itself or to no ticket is refused and changes
// nothing. The incident side: an acknowledged incident acknowledges a
// ticket still new, as its person, and not one past new; a reassigned
// incident gives the ticket to the new owner.
func TestConformanceTicketLinksAndIncident(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := newTicketEnv(t, db, lon(2026, 11, 24, 10, 0), nil, nil)
		open := func(title string) tickets.Ticket {
			tk, err := e.svc.Open(ctx, tickets.OpenRequest{Title: title, Service: "imap", Severity: "major", Reporter: "helpdesk", Actor: "hd1"})
			if err != nil {
				t.Fatal(err)
			}
			return tk
		}
		a, b := open("IMAP slow"), open("IMAP slow for staff")
		got, err := e.svc.Edit(ctx, b.ID, tickets.EditRequest{AddLinks: []tickets.Link{{Kind: tickets.LinkDuplicateOf, Ref: " #" + tickets.ID(a.ID)}}, Actor: "hd1"})
		if err != nil || len(got.Links) != 1 || got.Links[0].Title != "IMAP slow" || got.Links[0].Ref != tickets.ID(a.ID) {
			t.Fatalf("link: %+v %v", got.Links, err)
		}
		other, _ := e.svc.Get(ctx, a.ID)
		if len(other.Links) != 1 || other.Links[0].Kind != tickets.LinkDuplicatedBy || other.Links[0].Ref != tickets.ID(b.ID) {
			t.Fatalf("reverse link: %+v", other.Links)
		}
		for _, id := range []int64{a.ID, b.ID} {
			tl, _ := e.svc.Timeline(ctx, id)
			if !hasEvent(tl, tickets.EvLink) {
				t.Errorf("ticket %d: no link event in %+v", id, tl)
			}
		}
		for _, ref := range []string{tickets.ID(b.ID), "9999", "x"} {
			if _, err := e.svc.Edit(ctx, b.ID, tickets.EditRequest{AddLinks: []tickets.Link{{Kind: tickets.LinkRelated, Ref: ref}}}); !errors.Is(err, tickets.ErrInvalid) {
				t.Errorf("related %q: %v", ref, err)
			}
		}
		if again, _ := e.svc.Get(ctx, b.ID); len(again.Links) != 1 {
			t.Errorf("a refused link changed the ticket: %+v", again.Links)
		}

		// The incident's acknowledgement and reassignment.
		changed, err := e.svc.AckForIncident(ctx, tickets.ID(a.ID), "12", "bjorn")
		if err != nil || !changed {
			t.Fatalf("ack for incident: %v %v", changed, err)
		}
		acked, _ := e.svc.Get(ctx, a.ID)
		if acked.State != tickets.StateAcknowledged || acked.RespondedAt.IsZero() {
			t.Fatalf("after the incident's ack: %+v", acked)
		}
		if changed, err := e.svc.AckForIncident(ctx, tickets.ID(a.ID), "12", "bjorn"); err != nil || changed {
			t.Fatalf("second ack for incident: %v %v", changed, err)
		}
		if err := e.svc.AssignForIncident(ctx, tickets.ID(a.ID), "chen", "bjorn"); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AssignForIncident(ctx, tickets.ID(a.ID), "chen", "bjorn"); err != nil {
			t.Fatalf("assigning again: %v", err)
		}
		assigned, _ := e.svc.Get(ctx, a.ID)
		tl, _ := e.svc.Timeline(ctx, a.ID)
		if assigned.Assignee != "chen" || !hasEvent(tl, tickets.EvAssign) {
			t.Fatalf("after the incident's reassignment: %q %+v", assigned.Assignee, tl)
		}
	})
}

func hasEvent(tl []tickets.Event, kind string) bool {
	for _, e := range tl {
		if e.Kind == kind {
			return true
		}
	}
	return false
}
