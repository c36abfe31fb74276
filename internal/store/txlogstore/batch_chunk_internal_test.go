package txlogstore

import "testing"

// TestChunkSizesAreFewAndCoverTheBatch: multi-row statements on SQLite come
// in at most ten sizes (so at most ten texts per statement kind fill the
// prepared-statement cache), never exceed maxChunk rows, and together
// write every row of the batch exactly once.
func TestChunkSizesAreFewAndCoverTheBatch(t *testing.T) {
	t.Parallel()
	sizes := map[int]bool{}
	for n := 1; n <= 3000; n++ {
		total := 0
		for rest := n; rest > 0; {
			c := chunkSize(rest)
			if c < 1 || c > rest || c > maxChunk || c&(c-1) != 0 {
				t.Fatalf("n=%d: chunk %d of the %d rows left", n, c, rest)
			}
			sizes[c] = true
			total += c
			rest -= c
		}
		if total != n {
			t.Fatalf("n=%d: chunks write %d rows", n, total)
		}
	}
	if len(sizes) > 10 {
		t.Errorf("%d distinct chunk sizes: %v", len(sizes), sizes)
	}
}
