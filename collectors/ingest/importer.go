package ingest

import (
	"bufio"
	"compress/gzip"
	"container/heap"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	lines []parsedLine
	err   error // after the lines: the read error (nil at EOF)
	eof   bool
}

type importFile struct {
	idx    int
	chunks chan *lineChunk
	free   chan *lineChunk
	cur    *lineChunk
	pos    int
	head   parsedLine
	done   bool
}

// read runs on its own goroutine: it reads, frames and parses the file's
// lines (parsing is pure, so it overlaps the correlation of earlier
// lines on the other core) and hands them over in chunks.
func (f *importFile) read(ctx context.Context, br *bufio.Reader, framer *logparse.Framer) {
	defer close(f.chunks)
	var off int64
	for {
		var c *lineChunk
		select {
		case c = <-f.free:
			c.lines = c.lines[:0]
		default:
			c = &lineChunk{lines: make([]parsedLine, 0, readAhead)}
		}
		for len(c.lines) < readAhead {
			line, err := br.ReadString('\n')
			if line == "" && err != nil {
				c.eof = true
				if err != io.EOF {
					c.err = err
				}
				break
			}
			start := off
			off += int64(len(line))
			fr, ferr := framer.Frame(line)
			if ferr != nil {
				c.lines = append(c.lines, parsedLine{off: start, end: off, bad: true})
				continue
			}
			c.lines = append(c.lines, parsedLine{fr: fr, ev: logparse.Parse(fr), off: start, end: off})
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
			f.cur, f.pos = c, 0
			continue
		}
		l := f.cur.lines[f.pos]
		f.pos++
		st.Lines++
		if l.bad {
			st.ParseErrors++
			p.ParseError(f.idx)
			continue
		}
		f.head = l
		return nil
	}
}

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
	defer func() {
		cancel()
		readers.Wait()
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
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<16))
			if err != nil {
				fh.Close()
				return st, fmt.Errorf("import %s: %w", name, err)
			}
			r = zr
			closer = func() error { zr.Close(); return fh.Close() }
		}
		id := i + 1
		if err := p.AddStream(Stream{ID: id, Source: SourceImport, Ref: fi.ModTime(), Loc: o.Loc}, nil); err != nil {
			fh.Close()
			return st, err
		}
		closers = append(closers, closer)
		f := &importFile{idx: id, chunks: make(chan *lineChunk, chunksAhead), free: make(chan *lineChunk, chunksAhead+2)}
		files = append(files, f)
		readers.Add(1)
		go func(br *bufio.Reader, fr *logparse.Framer) {
			defer readers.Done()
			f.read(rctx, br, fr)
		}(bufio.NewReaderSize(r, 1<<20), logparse.NewFramer(fi.ModTime(), o.Loc))
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
		hd := &f.head
		if st.First.IsZero() || hd.fr.Time.Before(st.First) {
			st.First = hd.fr.Time
		}
		if hd.fr.Time.After(st.Last) {
			st.Last = hd.fr.Time
		}
		p.FrameEvent(f.idx, hd.fr, hd.ev, hd.off, hd.end)
		if err := f.next(rctx, p, &st); err != nil {
			return st, fmt.Errorf("import: %w", err)
		}
		if f.done {
			heap.Pop(h)
		} else {
			heap.Fix(h, 0)
		}
		if p.Full() {
			if err := p.Commit(ctx); err != nil {
				return st, err
			}
		}
		if n++; n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return st, err
			}
			if o.Progress != nil {
				o.Progress(read.Load(), total)
			}
		}
	}
	st.Bytes = read.Load()
	if err := p.Finish(ctx); err != nil {
		return st, err
	}
	if o.Progress != nil {
		o.Progress(st.Bytes, total)
	}
	return st, nil
}
