package tickets

import (
	"context"
	"slices"
	"testing"

	"github.com/uni-mail/postvakt/oncall/sla"
)

func clockKinds(cs []Clock) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Kind)
	}
	return out
}

func TestSortClocks(t *testing.T) {
	t.Parallel()
	cs := []Clock{{Kind: sla.KindResolution}, {Kind: "other", Status: "a"}, {Kind: sla.KindUpdate}, {Kind: sla.KindResponse}, {Kind: "other", Status: "b"}}
	SortClocks(cs)
	// An unknown kind ranks with the first; equal ranks keep their order.
	want := []string{"other", sla.KindResponse, "other", sla.KindUpdate, sla.KindResolution}
	if got := clockKinds(cs); !slices.Equal(got, want) || cs[0].Status != "a" || cs[2].Status != "b" {
		t.Fatalf("sorted %v %+v, want %v", got, cs, want)
	}
	every := reversedClocks()
	SortClocks(every)
	if got := clockKinds(every); !slices.Equal(got, sla.Kinds()) {
		t.Fatalf("sorted %v, want sla.Kinds() %v", got, sla.Kinds())
	}
}

// reversedClocks is one clock of every kind, in the reverse of sla.Kinds().
func reversedClocks() []Clock {
	kinds := sla.Kinds()
	cs := make([]Clock, len(kinds))
	for i, k := range kinds {
		cs[len(kinds)-1-i] = Clock{Kind: k}
	}
	return cs
}

// reversedStore loads a ticket with its clocks in the reverse order, as a
// store without an ORDER BY may.
type reversedStore struct {
	Store
	get func(id int64) Ticket
}

func (r reversedStore) TicketGet(_ context.Context, id int64) (Ticket, error) { return r.get(id), nil }

func TestServiceOrdersClocks(t *testing.T) {
	t.Parallel()
	store := reversedStore{get: func(id int64) Ticket {
		return Ticket{ID: id, Clocks: reversedClocks()}
	}}
	svc, err := New(Options{Store: store})
	if err != nil {
		t.Fatal(err)
	}
	tk, err := svc.Get(context.Background(), 7)
	if err != nil {
		t.Fatal(err)
	}
	if got := clockKinds(tk.Clocks); !slices.Equal(got, sla.Kinds()) {
		t.Fatalf("clocks %v, want %v", got, sla.Kinds())
	}
}
