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
		if len(id) != 16 || strings.Trim(id, "0123456789ABCDEFGHIJKLMNOPQRSTUV") != "" {
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
	// every later millisecond sorts after, across every change of every
	// character (with base32's standard alphabet, Z → 2 sorted backwards)
	base := uint64(time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC).UnixMilli())
	for _, step := range []uint64{1, 256, 1 << 13, 1 << 18, 1 << 23, 1 << 28, 1 << 33} {
		for i := range uint64(64) {
			a, b := queueIDAt(base+i*step, 0xFFFFFFFF), queueIDAt(base+(i+1)*step, 0)
			if b <= a {
				t.Fatalf("id %q of a later millisecond sorts before %q", b, a)
			}
		}
	}
}
