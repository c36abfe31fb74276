package logparse

import "math/rand/v2"

// randomInputs is n strings for the tests that compare a scanner with the
// plain version it replaces: each is prefix and then up to maxLen-1 bytes
// drawn from alphabet.
func randomInputs(rnd *rand.Rand, n int, prefix string, maxLen int, alphabet string) []string {
	out := make([]string, 0, n)
	for range n {
		b := []byte(prefix)
		for range rnd.IntN(maxLen) {
			b = append(b, alphabet[rnd.IntN(len(alphabet))])
		}
		out = append(out, string(b))
	}
	return out
}
