package smtpserver

import (
	"strings"
	"testing"
	"time"
)

func TestQueueIDUniqueAndTimeOrdered(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := range 200000 {
		id := newQueueID()
		if len(id) != 16 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
			t.Fatalf("id %q: want 16 base32 characters", id)
		}
		if seen[id] {
			t.Fatalf("id %q repeated after %d", id, i)
		}
		seen[id] = true
		// the first 8 characters hold 40 of the 48 time bits: they never go back
		if id[:8] < prev {
			t.Fatalf("id %q sorts before the previous prefix %q", id, prev)
		}
		prev = id[:8]
	}
	a := newQueueID()
	time.Sleep(300 * time.Millisecond) // > 2^8 ms: the 8-character prefix moves on
	if b := newQueueID(); b[:8] <= a[:8] {
		t.Errorf("later id %q does not sort after %q", b, a)
	}
}
