package ingest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fileLines splits a file into lines with their offsets.
func fileLines(t *testing.T, path string) []textLine {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []textLine
	var off int64
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if l == "" {
			continue
		}
		out = append(out, textLine{text: strings.TrimSuffix(l, "\n"), off: off, end: off + int64(len(l))})
		off += int64(len(l))
	}
	return out
}

// TestMergeEqualsImport sends the sample's two files to the runner as two
// file sources, each from its own goroutine as the tailers do, the second
// starting late (the first fills its queue and waits), and gets the records
// Import writes for the same files.
func TestMergeEqualsImport(t *testing.T) {
	t.Parallel()
	files := sampleFiles(t)
	imp := &memStore{}
	if _, err := Import(context.Background(), New(Options{Store: imp}), ImportOptions{Files: files}); err != nil {
		t.Fatal(err)
	}

	live := &memStore{}
	p := New(Options{Store: live})
	r := NewRunner(p, RunnerOptions{CommitEvery: 20 * time.Millisecond, FlushOnStop: true})
	var srcs []*Source
	for i, f := range files {
		fi, _ := os.Stat(f)
		// as Import: the year of "Nov 22" from the file's time
		if err := p.AddStream(Stream{ID: i + 1, Source: SourceFile, Ref: fi.ModTime()}); err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, r.FileSource(i+1))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var wg sync.WaitGroup
	for i, f := range files {
		lines := fileLines(t, f)
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 300 * time.Millisecond)
			for _, l := range lines {
				if err := srcs[i].Send(ctx, Input{Stream: i + 1, Line: l.text, Off: l.off, End: l.end}); err != nil {
					t.Error(err)
					return
				}
			}
			srcs[i].Send(ctx, Input{Stream: i + 1, EOF: true})
		}()
	}
	wg.Wait()
	cancel() // FlushOnStop: what is queued is merged and written
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(sortedBatch(&imp.b), sortedBatch(&live.b)); d != "" {
		t.Errorf("merged live differs from import (-import +live):\n%s", d)
	}
	if n := testutil.ToFloat64(p.Metrics().LinesLate.WithLabelValues(SourceFile)); n != 0 {
		t.Errorf("%v late lines", n)
	}
	checkTotals(t, &live.b)
}

// TestMergeLateness: a quiet source holds the others back for the lateness
// only; a line it sends after that, older than what was fed, is fed at
// once and counted late.
func TestMergeLateness(t *testing.T) {
	t.Parallel()
	st := &memStore{}
	p := New(Options{Store: st})
	for _, id := range []int{1, 2} {
		if err := p.AddStream(Stream{ID: id, Source: SourceFile}); err != nil {
			t.Fatal(err)
		}
	}
	const lateness = 300 * time.Millisecond
	r := NewRunner(p, RunnerOptions{CommitEvery: 10 * time.Millisecond, Lateness: lateness})
	a, b := r.FileSource(1), r.FileSource(2)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); r.Run(ctx) }()
	login := func(sec int, user string) string {
		return "2026-11-22T10:53:" + string(rune('0'+sec/10)) + string(rune('0'+sec%10)) +
			"+00:00 imap dovecot: imap-login: Login: user=<" + user + ">, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2, mpid=1, session=<" + user + ">"
	}
	b.Send(ctx, Input{Stream: 2, EOF: true}) // b has read all there is
	start := time.Now()
	a.Send(ctx, Input{Stream: 1, Line: login(20, "a20"), Off: 0, End: 1})
	a.Send(ctx, Input{Stream: 1, EOF: true})
	st.waitLogins(t, 1)
	if waited := time.Since(start); waited < lateness*2/3 {
		t.Errorf("a's line was fed after %v: b's lateness (%v) not waited for", waited, lateness)
	}
	b.Send(ctx, Input{Stream: 2, Line: login(10, "b10"), Off: 0, End: 1}) // older than a's: late
	st.waitLogins(t, 2)
	if n := testutil.ToFloat64(p.Metrics().LinesLate.WithLabelValues(SourceFile)); n != 1 {
		t.Errorf("late lines %v, want 1", n)
	}
	cancel()
	wg.Wait()
}

func (m *memStore) waitLogins(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		m.mu.Lock()
		got := len(m.b.Logins)
		m.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d logins written, want %d", got, n)
		}
	}
}
