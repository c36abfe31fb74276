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
	n *int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	*c.n += int64(n)
	return n, err
}

type importFile struct {
	idx    int
	br     *bufio.Reader
	framer *logparse.Framer
	closer func() error
	off    int64
	head   logparse.Frame
	hoff   int64
	hend   int64
	done   bool
}

// next reads lines until one frames, counting those that do not.
func (f *importFile) next(p *Pipeline, st *ImportStats) error {
	for {
		line, err := f.br.ReadString('\n')
		if line == "" && err != nil {
			f.done = true
			if err == io.EOF {
				return nil
			}
			return err
		}
		start := f.off
		f.off += int64(len(line))
		st.Lines++
		fr, ferr := f.framer.Frame(strings.TrimRight(line, "\r\n"))
		if ferr != nil {
			st.ParseErrors++
			p.ParseError(f.idx)
			continue
		}
		f.head, f.hoff, f.hend = fr, start, f.off
		return nil
	}
}

type fileHeap []*importFile

func (h fileHeap) Len() int { return len(h) }
func (h fileHeap) Less(i, j int) bool {
	if c := h[i].head.Time.Compare(h[j].head.Time); c != 0 {
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
	files := make([]*importFile, 0, len(o.Files))
	defer func() {
		for _, f := range files {
			if f.closer != nil {
				f.closer()
			}
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
		var r io.Reader = countingReader{fh, &st.Bytes}
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
		files = append(files, &importFile{idx: id, br: bufio.NewReaderSize(r, 1<<20), framer: logparse.NewFramer(fi.ModTime(), o.Loc), closer: closer})
	}
	h := &fileHeap{}
	for _, f := range files {
		if err := f.next(p, &st); err != nil {
			return st, fmt.Errorf("import: %w", err)
		}
		if !f.done {
			heap.Push(h, f)
		}
	}
	var n int
	for h.Len() > 0 {
		f := (*h)[0]
		if st.First.IsZero() || f.head.Time.Before(st.First) {
			st.First = f.head.Time
		}
		if f.head.Time.After(st.Last) {
			st.Last = f.head.Time
		}
		p.Frame(f.idx, f.head, f.hoff, f.hend)
		if err := f.next(p, &st); err != nil {
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
				o.Progress(st.Bytes, total)
			}
		}
	}
	if err := p.Finish(ctx); err != nil {
		return st, err
	}
	if o.Progress != nil {
		o.Progress(st.Bytes, total)
	}
	return st, nil
}
