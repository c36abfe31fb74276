package logparse

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// TestLastIndexIsStringsLastIndex: lastIndex answers as strings.LastIndex,
// for patterns that overlap themselves, at either end, and absent.
func TestLastIndexIsStringsLastIndex(t *testing.T) {
	subs := []string{", recipient=", ", sender=", "aa", "aba", ",", "", "x"}
	cases := []string{"", ",", "aa", "aaa", "abababa", ", recipient=", "action=greylist, sender=a, recipient=b",
		"sender=<a, sender=b>, recipient=<c, recipient=d>", ", recipient=, recipient="}
	cases = append(cases, randomInputs(rand.New(rand.NewPCG(3, 4)), 20000, "", 30, "ab, =rx")...)
	for _, s := range cases {
		for _, sub := range subs {
			if got, want := lastIndex(s, sub), strings.LastIndex(s, sub); got != want {
				t.Fatalf("lastIndex(%q, %q) = %d, strings.LastIndex says %d", s, sub, got, want)
			}
		}
	}
}

// BenchmarkLastIndex: a postgrey line's recipient and sender, by lastIndex
// and by strings.LastIndex.
func BenchmarkLastIndex(b *testing.B) {
	const m = "action=greylist, reason=new, client_name=unknown, client_address=127.0.4.64, sender=winner@offers.example, recipient=nina.svensson@uni.example"
	for _, f := range []struct {
		name string
		fn   func(s, sub string) int
	}{{"lastIndex", lastIndex}, {"strings.LastIndex", strings.LastIndex}} {
		b.Run(f.name, func(b *testing.B) {
			n := 0
			for range b.N {
				i := f.fn(m, ", recipient=")
				n += i + f.fn(m[:i], ", sender=")
			}
			if n == 0 {
				b.Fatal("not found")
			}
		})
	}
}
