package ingest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
)

// TestLineReader checks lineReader against bufio.Reader.ReadString: lines
// across chunk boundaries, lines longer than a chunk, a last line without
// its newline, reads of any size.
func TestLineReader(t *testing.T) {
	long := strings.Repeat("x", 3*readChunk+17)
	var sb strings.Builder
	for i := range 20000 {
		sb.WriteString(strings.Repeat("ab", i%97))
		sb.WriteString("\r\n")
		if i%5000 == 0 {
			sb.WriteString(long + "\n\n")
		}
	}
	sb.WriteString("last line without newline")
	text := sb.String()
	for name, r := range map[string]func() io.Reader{
		"whole":   func() io.Reader { return strings.NewReader(text) },
		"onebyte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(text)) },
		"half":    func() io.Reader { return iotest.HalfReader(strings.NewReader(text)) },
	} {
		t.Run(name, func(t *testing.T) {
			want := bufio.NewReader(strings.NewReader(text))
			lr := &lineReader{r: r()}
			var held []string // lines handed out must not change later
			for n := 0; ; n++ {
				w, werr := want.ReadString('\n')
				g, gerr := lr.line()
				if g != w || (gerr == nil) != (werr == nil || w != "") {
					t.Fatalf("line %d: %q, %v; want %q, %v", n, g, gerr, w, werr)
				}
				if g == "" && gerr != nil {
					if gerr != io.EOF {
						t.Fatal(gerr)
					}
					break
				}
				if n%1000 == 0 {
					held = append(held, g, strings.Clone(g))
				}
			}
			for i := 0; i < len(held); i += 2 {
				if held[i] != held[i+1] {
					t.Fatalf("a line changed after it was handed out: %q", held[i])
				}
			}
		})
	}
}

type cancelStore struct {
	discard
	cancel context.CancelFunc
}

func (s cancelStore) WriteBatch(context.Context, *txlog.Batch, []txlog.Checkpoint) error {
	s.cancel()
	return nil
}

// TestImportCancel checks that an import cancelled in the middle returns
// (the readers and parsers stop) with the context's error.
func TestImportCancel(t *testing.T) {
	files := sampleFiles(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := New(Options{Store: cancelStore{cancel: cancel}, BatchSize: 100})
	done := make(chan error, 1)
	go func() {
		_, err := Import(ctx, p, ImportOptions{Files: files})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Import: %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Import did not return after cancellation")
	}
}
