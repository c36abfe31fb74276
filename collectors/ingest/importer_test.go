package ingest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
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

// TestImportMappedFile imports the same log once read and once mapped (a
// file left alone for mapQuiet): the records, the stats and the progress
// are the same, and the progress ends at the file's size.
func TestImportMappedFile(t *testing.T) {
	var sb strings.Builder
	for i := range 3000 {
		q := fmt.Sprintf("%05X%05X", 0xA0000+i, i)
		ts := time.Date(2026, 11, 22, 10, i/60, i%60, 0, time.UTC).Format(time.Stamp)
		fmt.Fprintf(&sb, "%s mx postfix/smtpd[100]: connect from ext.example[192.0.2.%d]\n", ts, i%250+1)
		fmt.Fprintf(&sb, "%s mx postfix/smtpd[100]: %s: client=ext.example[192.0.2.%d]\n", ts, q, i%250+1)
		fmt.Fprintf(&sb, "%s mx postfix/cleanup[101]: %s: message-id=<m%d@ext.example>\n", ts, q, i)
		fmt.Fprintf(&sb, "%s mx postfix/qmgr[102]: %s: from=<s%d@ext.example>, size=%d, nrcpt=1 (queue active)\n", ts, q, i%70, 1000+i)
		fmt.Fprintf(&sb, "%s mx postfix/lmtp[103]: %s: to=<u%d@uni.example>, relay=imap[10.0.0.5]:24, delay=0.2, delays=0.1/0/0/0.1, dsn=2.0.0, status=sent (250 2.0.0 Ok)\n", ts, q, i%40)
		fmt.Fprintf(&sb, "%s mx postfix/qmgr[102]: %s: removed\n", ts, q)
		fmt.Fprintf(&sb, "%s mx postfix/smtpd[100]: disconnect from ext.example[192.0.2.%d] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5\n", ts, i%250+1)
	}
	sb.WriteString("Nov 22 11:00:00 mx postfix/qmgr[102]: last line without newline")
	dir := t.TempDir()
	fresh, old := filepath.Join(dir, "fresh.log"), filepath.Join(dir, "old.log")
	for _, f := range []string{fresh, old} {
		if err := os.WriteFile(f, []byte(sb.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	hour := time.Now().Add(-time.Hour)
	if err := os.Chtimes(old, hour, hour); err != nil {
		t.Fatal(err)
	}
	for f, mapped := range map[string]bool{fresh: false, old: true} {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := fh.Stat()
		if got := mapFile(fh, fi, time.Now()) != nil; got != mapped && runtime.GOOS == "linux" {
			t.Errorf("%s mapped %v, want %v", f, got, mapped)
		}
		fh.Close()
	}
	type result struct {
		st       ImportStats
		b        txlog.Batch
		progress int64
	}
	imp := func(f string) result {
		st := &memStore{}
		var last int64
		stats, err := Import(context.Background(), New(Options{Store: st, BatchSize: 500}), ImportOptions{Files: []string{f}, Loc: time.UTC,
			Progress: func(read, total int64) {
				if total != int64(sb.Len()) || read < last {
					t.Errorf("progress %d of %d after %d", read, total, last)
				}
				last = read
			}})
		if err != nil {
			t.Fatal(err)
		}
		return result{stats, st.b, last}
	}
	// the mapped file's pages are given back behind the reader, here every
	// 16 KiB at 64 KiB behind (in an import, 32 MiB at 64 MiB): lines
	// still held downstream read back what they held
	lag, step := releaseLag, releaseStep
	releaseLag, releaseStep = 64<<10, 16<<10
	defer func() { releaseLag, releaseStep = lag, step }()
	before := releasedBytes.Load()
	r, m := imp(fresh), imp(old)
	if given := releasedBytes.Load() - before; runtime.GOOS == "linux" && given < int64(sb.Len())/2 {
		t.Errorf("%d bytes of the %d-byte mapped file given back", given, sb.Len())
	}
	if r.st.Lines != 3000*7+1 || len(r.b.Messages) != 3000 || r.progress != int64(sb.Len()) {
		t.Fatalf("read: %+v, %d messages, progress %d of %d", r.st, len(r.b.Messages), r.progress, sb.Len())
	}
	if !reflect.DeepEqual(r, m) {
		t.Fatalf("mapped import differs: %+v, %d rows, progress %d; read %+v, %d rows, progress %d",
			m.st, len(m.b.Rows), m.progress, r.st, len(r.b.Rows), r.progress)
	}
}
