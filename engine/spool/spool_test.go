package spool_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/uni-mail/postvakt/engine/membudget"
	"github.com/uni-mail/postvakt/engine/spool"
)

// A File keeps up to the threshold in memory, within the budget, spills
// the rest to an unlinked file, reads back what was written, and gives its
// memory back on Close.
func TestSpool(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	budget := membudget.New(256 << 10)
	sp, err := spool.New(dir, 64<<10, budget)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	small := sp.Create()
	small.Write(data[:1000])
	if small.OnDisk() || budget.Stats().Used == 0 {
		t.Fatalf("small: on disk %v, reserved %d", small.OnDisk(), budget.Stats().Used)
	}
	big := sp.Create()
	for i := 0; i < len(data); i += 7919 {
		if _, err := big.Write(data[i:min(i+7919, len(data))]); err != nil {
			t.Fatal(err)
		}
	}
	if !big.OnDisk() || big.Size() != int64(len(data)) {
		t.Fatalf("big: on disk %v, size %d", big.OnDisk(), big.Size())
	}
	if got, _ := io.ReadAll(big.Reader()); !bytes.Equal(got, data) {
		t.Fatal("big file reads back differently")
	}
	part := make([]byte, 10)
	if _, err := big.ReadAt(part, 500_005); err != nil || string(part) != "5678901234" {
		t.Fatalf("ReadAt: %q, %v", part, err)
	}
	// The temporary file is unlinked from the start.
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("spool directory holds %d entries", len(ents))
	}
	small.Close()
	big.Close()
	if u := budget.Stats().Used; u != 0 {
		t.Fatalf("%d bytes still reserved after Close", u)
	}
	// The budget's room decides too: with no room, a File goes to disk at
	// once.
	hold, _ := budget.Acquire(t.Context(), budget.Capacity())
	starved := sp.Create()
	starved.Write([]byte("x"))
	if !starved.OnDisk() {
		t.Fatal("a File kept bytes in memory the budget did not grant")
	}
	hold()
	starved.Close()
}

// Files reuse the memory of closed ones (the first chunk is pooled): many
// Files in turn and side by side each read back exactly what was written
// to them, through growth past the first chunk and a spill to disk, and a
// closed File refuses reads rather than showing another File's bytes.
func TestSpoolReuse(t *testing.T) {
	t.Parallel()
	budget := membudget.New(1 << 20)
	sp, err := spool.New(t.TempDir(), 100<<10, budget)
	if err != nil {
		t.Fatal(err)
	}
	content := func(i, n int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, n) }
	for round := range 50 {
		sizes := []int{4096, 40 << 10, 200 << 10} // first chunk, grown, spilled
		files := make([]*spool.File, len(sizes))
		for i, n := range sizes {
			files[i] = sp.Create()
			data := content(round+i, n)
			for len(data) > 0 { // in pieces, as DATA arrives
				k := min(len(data), 1500)
				if _, err := files[i].Write(data[:k]); err != nil {
					t.Fatal(err)
				}
				data = data[k:]
			}
		}
		for i, n := range sizes {
			got, err := io.ReadAll(files[i].Reader())
			if err != nil || !bytes.Equal(got, content(round+i, n)) {
				t.Fatalf("round %d file %d: %d bytes back, err %v", round, i, len(got), err)
			}
		}
		for _, f := range files {
			f.Close()
		}
		if _, err := files[0].ReadAt(make([]byte, 10), 0); err != spool.ErrClosed {
			t.Fatalf("read of a closed file: %v, want ErrClosed", err)
		}
		if u := budget.Stats().Used; u != 0 {
			t.Fatalf("round %d: %d bytes still reserved after Close", round, u)
		}
	}
}
