package logparse

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// TestHasSpecial: hasSpecial is strings.ContainsAny over the specials, for
// every byte alone and inside an address.
func TestHasSpecial(t *testing.T) {
	const specials = " <>;,()\"\\@"
	for c := 0; c < 256; c++ {
		for _, s := range []string{string([]byte{byte(c)}), "user" + string([]byte{byte(c)}) + "name", "uni.example" + string([]byte{byte(c)})} {
			if got, want := hasSpecial(s), strings.ContainsAny(s, specials); got != want {
				t.Errorf("hasSpecial(%q) = %v, want %v", s, got, want)
			}
		}
	}
	if hasSpecial("") {
		t.Error(`hasSpecial("") = true`)
	}
}

// TestAngleEnds: angleEnds gives the quote-aware end, then every other
// '>' followed by the end, ',' or ' ', in order (byte by byte, as
// written out here), over hand-picked and random addresses.
func TestAngleEnds(t *testing.T) {
	naive := func(s string) []int {
		var out []int
		if s == "" || s[0] != '<' {
			return out
		}
		q := angleEnd(s, true)
		if q > 0 {
			out = append(out, q)
		}
		for i := 1; i < len(s); i++ {
			if s[i] == '>' && i != q && (i+1 == len(s) || s[i+1] == ',' || s[i+1] == ' ') {
				out = append(out, i)
			}
		}
		return out
	}
	cases := []string{"", "<", "<>", "<a@b>", "<a@b>, orig_to=<c@d>", `<"x>, status=sent"@example.org>, relay=x`,
		"<a>b> , c>,>", "<a@b", ">", "<>>>", "<a> b>,c>"}
	rnd := rand.New(rand.NewPCG(1, 2))
	const alphabet = `<>", \a@:`
	for range 20000 {
		b := make([]byte, 1+rnd.IntN(24))
		b[0] = '<'
		for i := 1; i < len(b); i++ {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		var buf [4]int
		if got, want := angleEnds(s, buf[:]), naive(s); !slices.Equal(got, want) {
			t.Fatalf("angleEnds(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestAngleEnd: angleEnd is the byte-by-byte scan written out here, with
// and without quotes, over hand-picked and random addresses.
func TestAngleEnd(t *testing.T) {
	naive := func(s string, quotes bool) int {
		in := false
		for i := 1; i < len(s); i++ {
			c := s[i]
			switch {
			case in && c == '\\':
				i++
			case quotes && c == '"':
				in = !in
			case !in && c == '>':
				if i+1 == len(s) || s[i+1] == ' ' || s[i+1] == ',' || s[i+1] == ':' {
					return i
				}
			}
		}
		return -1
	}
	cases := []string{"", "<", "<>", "<a@b>", "<a@b>, orig_to=<c@d>", `<"x>, status=sent"@example.org>, relay=x`,
		`<"a\"b>"@c>`, `<"unterminated>`, `"<a>`, `<a>b> , c>,>`, `<a\>b>`, `<">"`}
	rnd := rand.New(rand.NewPCG(3, 4))
	const alphabet = `<>", \a@:`
	for range 50000 {
		b := make([]byte, rnd.IntN(24))
		for i := range b {
			b[i] = alphabet[rnd.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		for _, quotes := range []bool{true, false} {
			if got, want := angleEnd(s, quotes), naive(s, quotes); got != want {
				t.Fatalf("angleEnd(%q, %v) = %d, want %d", s, quotes, got, want)
			}
		}
	}
}
