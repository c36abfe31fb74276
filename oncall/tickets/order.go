package tickets

import (
	"context"
	"slices"

	"github.com/uni-mail/postvakt/oncall/sla"
)

// SortClocks puts a ticket's clocks in the order of sla.Kinds (response,
// update, resolution); a kind it does not know sorts with the first. The
// order is stable, so equal kinds keep theirs.
func SortClocks(cs []Clock) {
	kinds := sla.Kinds()
	rank := func(k string) int { return max(slices.Index(kinds, k), 0) }
	slices.SortStableFunc(cs, func(a, b Clock) int { return rank(a.Kind) - rank(b.Kind) })
}

// orderedStore is a Store whose tickets come with their clocks in the
// order of SortClocks: the store loads them in any order, the order is
// this package's rule. The Service uses its store through it.
type orderedStore struct{ Store }

func (o orderedStore) TicketCreate(ctx context.Context, t Ticket, events []Event) (Ticket, error) {
	t, err := o.Store.TicketCreate(ctx, t, events)
	SortClocks(t.Clocks)
	return t, err
}

func (o orderedStore) TicketGet(ctx context.Context, id int64) (Ticket, error) {
	t, err := o.Store.TicketGet(ctx, id)
	SortClocks(t.Clocks)
	return t, err
}

func (o orderedStore) TicketList(ctx context.Context, f Filter) ([]Ticket, error) {
	list, err := o.Store.TicketList(ctx, f)
	for i := range list {
		SortClocks(list[i].Clocks)
	}
	return list, err
}

func (o orderedStore) TicketChange(ctx context.Context, id int64, fn func(t *Ticket, timeline []Event) ([]Event, error)) (Ticket, error) {
	t, err := o.Store.TicketChange(ctx, id, func(t *Ticket, timeline []Event) ([]Event, error) {
		SortClocks(t.Clocks)
		return fn(t, timeline)
	})
	SortClocks(t.Clocks)
	return t, err
}
