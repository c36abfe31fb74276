// Package spool owns where message bytes wait while the engine works on
// them: a File keeps its first bytes in memory, reserved from the engine's
// message memory budget, and spills to an unlinked temporary file once it
// outgrows the spool threshold or the budget has no room (as Postfix
// streams a message into its queue file rather than holding it), so the
// memory an SMTP client can make the engine hold is bounded by
// configuration, not by the message size or the number of clients
// (docs/resources.md). A File is written once, then
// read any number of times through io.ReaderAt.
package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/uni-mail/postvakt/engine/membudget"
)

// chunk is how much memory a File reserves at a time while it grows.
const chunk = 32 << 10

// firstChunks recycles the first chunk of memory of closed Files, which
// holds the whole of most messages: without it every message allocated
// (and the collector scanned) a fresh chunk. Only memory the File reserved
// from the budget is in use at a time; what the pool keeps is free.
var firstChunks = sync.Pool{New: func() any { b := make([]byte, 0, chunk); return &b }}

// Spool makes Files.
type Spool struct {
	dir       string
	threshold int64
	budget    *membudget.Budget
}

// New returns a Spool whose Files keep up to threshold bytes in memory
// (reserved from budget; nil: no budget) and put the rest in a temporary
// file under dir ("" uses os.TempDir). dir is created if missing.
func New(dir string, threshold int64, budget *membudget.Budget) (*Spool, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
	}
	return &Spool{dir: dir, threshold: max(threshold, 0), budget: budget}, nil
}

// Dir is the spool directory ("" for the system's temporary directory).
func (s *Spool) Dir() string { return s.dir }

// Create returns an empty File.
func (s *Spool) Create() *File { return &File{s: s} }

// File is spooled message bytes: memory first, then disk.
type File struct {
	s        *Spool
	mem      []byte
	pooled   *[]byte // mem's first chunk, from firstChunks, while mem is it
	reserved int64
	releases []func()
	f        *os.File
	size     int64
	err      error
	closed   bool
}

var _ io.ReaderAt = (*File)(nil)

// ErrClosed is returned by a File used after Close.
var ErrClosed = errors.New("spool: file closed")

// Write appends p.
func (f *File) Write(p []byte) (int, error) {
	if f.closed {
		return 0, ErrClosed
	}
	if f.err != nil {
		return 0, f.err
	}
	n := len(p)
	if f.f == nil {
		room := f.s.threshold - int64(len(f.mem))
		if int64(len(p)) <= room && f.reserve(int64(len(f.mem)+len(p))) {
			f.mem = append(f.mem, p...)
			f.size += int64(n)
			return n, nil
		}
		if err := f.spill(); err != nil {
			f.err = err
			return 0, err
		}
	}
	w, err := f.f.WriteAt(p, f.size)
	f.size += int64(w)
	if err != nil {
		f.err = fmt.Errorf("spool: write: %w", err)
		return w, f.err
	}
	return n, nil
}

// reserve makes sure total bytes of memory are reserved, taking chunks
// from the budget without waiting; false when the budget has no room.
func (f *File) reserve(total int64) bool {
	for f.reserved < total {
		rel, ok := f.s.budget.TryAcquire(chunk)
		if !ok {
			return false
		}
		f.releases = append(f.releases, rel)
		f.reserved += chunk
	}
	if cap(f.mem) < int(total) {
		if f.mem == nil && f.reserved == chunk {
			f.pooled = firstChunks.Get().(*[]byte)
			f.mem = (*f.pooled)[:0]
			return true
		}
		// Grow to the reserved size, not beyond: append's doubling would
		// hold memory the budget does not know of.
		m := make([]byte, len(f.mem), f.reserved)
		copy(m, f.mem)
		f.freeMem()
		f.mem = m
	}
	return true
}

// freeMem drops mem, giving a pooled first chunk back. Nothing keeps mem
// after this: ReadAt copies out of it and refuses a closed File.
func (f *File) freeMem() {
	if f.pooled != nil {
		*f.pooled = (*f.pooled)[:0]
		firstChunks.Put(f.pooled)
		f.pooled = nil
	}
	f.mem = nil
}

// spill moves what is in memory to a temporary file, unlinked at once so
// that nothing is left behind by a crash.
func (f *File) spill() error {
	tf, err := os.CreateTemp(f.s.dir, "postvakt-spool-*")
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	_ = os.Remove(tf.Name())
	if _, err := tf.WriteAt(f.mem, 0); err != nil {
		tf.Close()
		return fmt.Errorf("spool: write: %w", err)
	}
	f.f = tf
	f.freeMem()
	f.release()
	return nil
}

func (f *File) release() {
	for _, r := range f.releases {
		r()
	}
	f.releases, f.reserved = nil, 0
}

// Err is the error that made a Write fail, if any (a full disk).
func (f *File) Err() error { return f.err }

// Size is the number of bytes written.
func (f *File) Size() int64 { return f.size }

// OnDisk reports whether the File has spilled to disk.
func (f *File) OnDisk() bool { return f.f != nil }

// ReadAt implements io.ReaderAt.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if f.closed {
		return 0, ErrClosed
	}
	if off >= f.size {
		return 0, io.EOF
	}
	if f.f == nil {
		n := copy(p, f.mem[off:])
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	want := p
	if rest := f.size - off; int64(len(p)) > rest {
		want = p[:rest]
	}
	n, err := f.f.ReadAt(want, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// Reader returns a reader of the whole File from its start.
func (f *File) Reader() *io.SectionReader { return io.NewSectionReader(f, 0, f.size) }

// Close frees the File's memory reservation and its temporary file.
func (f *File) Close() error {
	if f.closed {
		return nil
	}
	f.closed = true
	f.freeMem()
	f.release()
	if f.f != nil {
		return f.f.Close()
	}
	return nil
}
