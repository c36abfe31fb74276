package event_test

import (
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/event"
)

func TestBufferDropsWhenFull(t *testing.T) {
	t.Parallel()
	b := event.NewBuffer(2)
	for i := range 5 {
		b.Emit(&event.Auth{At: time.Unix(int64(i), 0)})
	}
	if b.Len() != 2 || b.Dropped() != 3 {
		t.Fatalf("len %d dropped %d", b.Len(), b.Dropped())
	}
	b.Close()
	var kinds []event.Kind
	for e := range b.C() {
		kinds = append(kinds, e.EventKind())
	}
	if len(kinds) != 2 || kinds[0] != event.KindAuth {
		t.Fatalf("kinds %v", kinds)
	}
}
