package correlate

import (
	"strconv"
	"testing"
)

// TestEmittedSet: the emitted set answers exactly, also for keys whose
// hashes are the same (forced here), across removals and compaction.
func TestEmittedSet(t *testing.T) {
	var s emittedSet
	want := map[qkey]bool{}
	key := func(i int) qkey { return qkey{"mx" + strconv.Itoa(i%3), strconv.Itoa(i)} }
	hash := func(k qkey) uint64 { return keyHash(k) % 512 } // collisions on purpose
	for i := range 3 * maxEmitted {
		k := key(i)
		s.add(hash(k), k)
		want[k] = true
		if i%3 == 0 {
			o := key(i / 2)
			s.remove(hash(o), o)
			delete(want, o)
		}
	}
	for i := range 3*maxEmitted + 10 {
		k := key(i)
		if got := s.has(hash(k), k); got != want[k] {
			t.Fatalf("has(%v) = %v, want %v", k, got, want[k])
		}
	}
	if s.len() != len(want) {
		t.Fatalf("len %d, want %d", s.len(), len(want))
	}
	if len(s.keys) > 2*maxEmitted+1 {
		t.Fatalf("%d keys held for %d", len(s.keys), s.len())
	}
	s.clear()
	if s.len() != 0 || s.has(hash(key(1)), key(1)) {
		t.Fatal("not empty after clear")
	}
}
