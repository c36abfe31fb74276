package queue

import (
	"bytes"
	"testing"
)

// crlfWriter makes every line end CRLF, however the input is cut into
// writes (a CR at the end of one write and an LF at the start of the next
// are one CRLF).
func TestCRLFWriter(t *testing.T) {
	t.Parallel()
	in := "a\rb\nc\r\nd\r\re\n\nf\r"
	want := "a\r\nb\r\nc\r\nd\r\n\r\ne\r\n\r\nf\r\n"
	for cut := 0; cut <= len(in); cut++ {
		var b bytes.Buffer
		w := &crlfWriter{w: &b}
		w.Write([]byte(in[:cut]))
		w.Write([]byte(in[cut:]))
		w.Flush()
		if b.String() != want {
			t.Errorf("cut at %d: %q, want %q", cut, b.String(), want)
		}
	}
}
