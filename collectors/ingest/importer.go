package ingest

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"container/heap"
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// ImportOptions configure Import.
type ImportOptions struct {
	Files []string // plain or gzip (".gz") log files
	Loc   *time.Location
	// Progress is called with the bytes read so far (of the files as
	// stored, compressed or not) and their total size.
	Progress func(read, total int64)
}

// ImportStats summarise an import.
type ImportStats struct {
	Lines       int64
	ParseErrors int64
	Bytes       int64
	First, Last time.Time
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// readAhead is how many lines a file's reader frames and parses per chunk
// handed to the merging loop, and chunksAhead how many chunks it may run
// ahead.
const (
	readAhead   = 512
	chunksAhead = 4
)

// parsedLine is one line framed and parsed by a file's reader goroutine.
type parsedLine struct {
	fr       logparse.Frame
	ev       logparse.Event
	off, end int64
	bad      bool // did not frame
}

type lineChunk struct {
	lines  []parsedLine
	err    error // after the lines: the read error (nil at EOF)
	eof    bool
	parsed chan struct{} // closed once a parser has parsed the lines
	// retired are the parser's arena blocks filled while it parsed these
	// lines (logparse.Arena.Retired), given back once the lines are done
	retired []func()
}

// parsers parse the chunks the files' readers framed, on as many
// goroutines as there are CPUs: parsing is pure and is the larger part of
// a reader's work, while framing (the year of "Nov 22" timestamps) must
// follow the file. The merging loop waits for each chunk's parsed.
type parsers struct {
	work chan *lineChunk
	wg   sync.WaitGroup
}

func startParsers(n int, recycle bool) *parsers {
	ps := &parsers{work: make(chan *lineChunk, 2*n)}
	for range n {
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			arena := new(logparse.Arena) // nothing downstream keeps an event for long
			if recycle {
				arena.Recycle()
			}
			for c := range ps.work {
				for i := range c.lines {
					if l := &c.lines[i]; !l.bad {
						l.ev = arena.Parse(l.fr)
					}
				}
				c.retired = arena.Retired()
				close(c.parsed)
			}
		}()
	}
	return ps
}

// stop ends the parsers once no reader sends any more work.
func (ps *parsers) stop() {
	close(ps.work)
	ps.wg.Wait()
}

type importFile struct {
	idx    int
	chunks chan *lineChunk
	free   chan *lineChunk
	cur    *lineChunk
	pos    int
	head   *parsedLine
	done   bool
}

// readChunk is the size of the buffers a file is read into. Lines are
// strings over these buffers (no copy, no allocation per line); a buffer is
// never written again once a line of it was handed out, and is collected
// when nothing refers to it any more. What outlives a line for long (the
// correlator's keys, messages held for minutes) is copied by the
// correlator and the framer, so a buffer is not kept alive by a few bytes.
const readChunk = 256 << 10

// lineReader splits a reader into lines (with their newline) that are
// substrings of read-only chunks.
type lineReader struct {
	r          io.Reader
	buf        []byte
	start, end int // unread data: buf[start:end]
	scanned    int // buf[start:scanned] holds no newline
	err        error
	// consumed, for a mapped file (buf is all of it, r nil), counts the
	// bytes handed out as lines (the progress a countingReader counts
	// for a file read)
	consumed *atomic.Int64
}

// line returns the next line including its "\n" (the last one may lack
// it), or "" and the read error (io.EOF at the end).
func (lr *lineReader) line() (string, error) {
	for {
		from := max(lr.start, lr.scanned)
		if i := bytes.IndexByte(lr.buf[from:lr.end], '\n'); i >= 0 {
			s := unsafe.String(&lr.buf[lr.start], from+i+1-lr.start)
			lr.start = from + i + 1
			return s, nil
		}
		lr.scanned = lr.end
		if lr.err != nil {
			if lr.start < lr.end {
				s := unsafe.String(&lr.buf[lr.start], lr.end-lr.start)
				lr.start = lr.end
				return s, nil
			}
			return "", lr.err
		}
		if lr.end == len(lr.buf) {
			// a fresh chunk, starting with the partial line: the old one
			// stays as it is for the lines already handed out
			n := lr.end - lr.start
			size := readChunk
			for size < 2*n {
				size *= 2
			}
			nb := make([]byte, size)
			copy(nb, lr.buf[lr.start:lr.end])
			lr.buf, lr.start, lr.end, lr.scanned = nb, 0, n, n
		}
		m, err := lr.r.Read(lr.buf[lr.end:])
		lr.end += m
		if err != nil {
			lr.err = err
		}
	}
}

// releaseLag is how far behind the reader of a mapped file its pages are
// given back, in steps of releaseStep (releaseMapped).
// releaseStep is a power of two, a multiple of the page size; the
// variables change only in tests. releasedBytes counts what was given back.
var (
	releaseLag    int64 = 64 << 20
	releaseStep   int64 = 32 << 20
	releasedBytes atomic.Int64
)

// read runs on its own goroutine: it reads and frames the file's lines
// and hands them over in chunks, each to the parsers and, in order, to the
// merging loop (so both overlap the correlation of earlier lines).
func (f *importFile) read(ctx context.Context, lr *lineReader, framer *logparse.Framer, ps *parsers) {
	defer close(f.chunks)
	var off, counted, released int64
	if lr.consumed != nil {
		defer func() { lr.consumed.Add(off - counted) }()
	}
	for {
		if lr.consumed != nil {
			lr.consumed.Add(off - counted)
			counted = off
			// a mapped file: give back the pages well behind the reader
			// (the parsers and the merge work on the chunks ahead of it)
			if upTo := (off - releaseLag) &^ (releaseStep - 1); upTo-released >= releaseStep {
				releaseMapped(lr.buf[released:upTo])
				releasedBytes.Add(upTo - released)
				released = upTo
			}
		}
		var c *lineChunk
		select {
		case c = <-f.free:
			c.lines = c.lines[:0]
		default:
			c = &lineChunk{lines: make([]parsedLine, 0, readAhead)}
		}
		for len(c.lines) < readAhead {
			line, err := lr.line()
			if line == "" && err != nil {
				c.eof = true
				if err != io.EOF {
					c.err = err
				}
				break
			}
			start := off
			off += int64(len(line))
			// framed in place: a Frame returned and put in the chunk is
			// copied twice more
			c.lines = append(c.lines, parsedLine{off: start, end: off})
			if l := &c.lines[len(c.lines)-1]; framer.FrameTo(&l.fr, line) != nil {
				*l = parsedLine{off: start, end: off, bad: true}
			}
		}
		c.parsed = make(chan struct{})
		select {
		case ps.work <- c:
		case <-ctx.Done():
			return
		}
		select {
		case f.chunks <- c:
		case <-ctx.Done():
			return
		}
		if c.eof {
			return
		}
	}
}

// next moves to the file's next line that framed, counting those that did
// not.
func (f *importFile) next(ctx context.Context, p *Pipeline, st *ImportStats) error {
	for {
		if f.cur == nil || f.pos >= len(f.cur.lines) {
			if f.cur != nil {
				if len(f.cur.retired) > 0 {
					// every line of the chunk was added: its events are
					// done with once the second goroutine got to here
					p.release(f.cur.retired)
					f.cur.retired = nil
				}
				if f.cur.eof {
					f.done = true
					return f.cur.err
				}
				select {
				case f.free <- f.cur:
				default:
				}
			}
			c, ok := <-f.chunks
			if !ok { // the reader stopped: cancelled
				f.done = true
				return ctx.Err()
			}
			<-c.parsed
			f.cur, f.pos = c, 0
			continue
		}
		l := &f.cur.lines[f.pos]
		f.pos++
		st.Lines++
		if l.bad {
			st.ParseErrors++
			p.ParseError(f.idx)
			continue
		}
		// a view into the current chunk, which goes back to the reader
		// only once the next line is taken
		f.head = l
		return nil
	}
}

// importSplit runs an import's pipeline on two goroutines (split.go); off
// in a test that compares the two.
var importSplit = true

type fileHeap []*importFile

func (h fileHeap) Len() int { return len(h) }
func (h fileHeap) Less(i, j int) bool {
	if c := h[i].head.fr.Time.Compare(h[j].head.fr.Time); c != 0 {
		return c < 0
	}
	return h[i].idx < h[j].idx
}
func (h fileHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *fileHeap) Push(x any)   { *h = append(*h, x.(*importFile)) }
func (h *fileHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Import reads whole files into p, merging their lines by time (ties keep
// the order of Files), committing every batch, and finishes with every
// message flushed. Streams 1…len(Files) are registered on p as SourceImport;
// a year-less timestamp is resolved against its file's modification time.
func Import(ctx context.Context, p *Pipeline, o ImportOptions) (ImportStats, error) {
	var st ImportStats
	var total int64
	var read atomic.Int64
	files := make([]*importFile, 0, len(o.Files))
	var closers []func() error
	rctx, cancel := context.WithCancel(ctx)
	var readers sync.WaitGroup
	// what follows from each line and record runs on a second goroutine
	// (split.go); tailed files' checkpoints need the commits in step
	// with the lines, so a pipeline that keeps them stays on one
	split := importSplit && !p.HasCheckpoints() && p.split == nil
	// The parsers' event blocks are used again once the second goroutine
	// is done with their lines: with one file, whose chunks the merging
	// loop takes in the order they were parsed (with several, a parser's
	// block may hold events of another file's chunk not yet merged).
	ps := startParsers(runtime.GOMAXPROCS(0), split && len(o.Files) == 1)
	defer func() {
		cancel()
		readers.Wait()
		ps.stop()
		for _, c := range closers {
			c()
		}
	}()
	for i, name := range o.Files {
		fh, err := os.Open(name)
		if err != nil {
			return st, fmt.Errorf("import: %w", err)
		}
		fi, err := fh.Stat()
		if err != nil {
			fh.Close()
			return st, fmt.Errorf("import: %w", err)
		}
		total += fi.Size()
		var r io.Reader = countingReader{fh, &read}
		closer := fh.Close
		lr := &lineReader{r: r}
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<16))
			if err != nil {
				fh.Close()
				return st, fmt.Errorf("import %s: %w", name, err)
			}
			lr.r = zr
			closer = func() error { zr.Close(); return fh.Close() }
		} else if m := mapFile(fh, fi, time.Now()); m != nil {
			// the whole file is one chunk, read: its lines are views of
			// the mapping; the reader goroutine counts what it consumed
			lr.buf, lr.end, lr.err, lr.r, lr.consumed = m, len(m), io.EOF, nil, &read
		}
		id := i + 1
		if err := p.AddStream(Stream{ID: id, Source: SourceImport, Ref: fi.ModTime(), Loc: o.Loc}); err != nil {
			fh.Close()
			return st, err
		}
		closers = append(closers, closer)
		f := &importFile{idx: id, chunks: make(chan *lineChunk, chunksAhead), free: make(chan *lineChunk, chunksAhead+2)}
		files = append(files, f)
		readers.Add(1)
		go func(lr *lineReader, fr *logparse.Framer) {
			defer readers.Done()
			f.read(rctx, lr, fr, ps)
		}(lr, logparse.NewFramer(fi.ModTime(), o.Loc))
	}
	if split {
		p.startSplit(ctx)
		defer func() {
			if p.split != nil {
				_ = p.endSplit()
			}
		}()
	}
	h := &fileHeap{}
	for _, f := range files {
		if err := f.next(rctx, p, &st); err != nil {
			return st, fmt.Errorf("import: %w", err)
		}
		if !f.done {
			heap.Push(h, f)
		}
	}
	var n int
	for h.Len() > 0 {
		f := (*h)[0]
		hd := f.head
		if st.First.IsZero() || hd.fr.Time.Before(st.First) {
			st.First = hd.fr.Time
		}
		if hd.fr.Time.After(st.Last) {
			st.Last = hd.fr.Time
		}
		p.frameEvent(f.idx, &hd.fr, hd.ev, hd.off, hd.end)
		if err := f.next(rctx, p, &st); err != nil {
			return st, fmt.Errorf("import: %w", err)
		}
		if f.done {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
		if split {
			// the second goroutine commits
		} else if p.Full() {
			if err := p.Commit(ctx); err != nil {
				return st, err
			}
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			if split {
				if err := p.split.failed(); err != nil {
					return st, err
				}
			}
			if o.Progress != nil {
				o.Progress(read.Load(), total)
			}
		}
	}
	// every file reached its end: a reader of a mapped file counts its
	// last bytes as it returns
	readers.Wait()
	st.Bytes = read.Load()
	if err := p.Finish(ctx); err != nil {
		return st, err
	}
	if o.Progress != nil {
		o.Progress(st.Bytes, total)
	}
	return st, nil
}
