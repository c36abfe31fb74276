package ingest

import (
	"os"
	"syscall"
	"time"
)

// mapQuiet is how long a file must have been left alone (by its
// modification time) before Import maps it instead of reading it.
const mapQuiet = 5 * time.Minute

// mapFile maps a plain log file read-only, so that its lines are views of
// the page cache: no copy into read buffers, no buffers to allocate and
// zero. It returns nil (read it instead) for anything but a regular,
// non-empty file that nothing has written to for mapQuiet: a mapped file
// that is truncated under us (copytruncate rotation of a live log) would
// fault on access, while the rotated, older files a backfill imports stay
// as they are.
//
// The mapping is never unmapped: lines, and strings cut from them, may be
// held anywhere downstream until the process ends, and Import is the
// one-shot backfill of the CLI. It costs address space, not memory: the
// pages are the page cache's. The reader gives the pages it is well past
// back (releaseMapped), so that they stop counting as the import's
// resident memory (a 5.4 GB log counted 5.4 GB of it).
func mapFile(fh *os.File, fi os.FileInfo, now time.Time) []byte {
	size := fi.Size()
	if !fi.Mode().IsRegular() || size <= 0 || size != int64(int(size)) || now.Sub(fi.ModTime()) < mapQuiet {
		return nil
	}
	b, err := syscall.Mmap(int(fh.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(b, syscall.MADV_SEQUENTIAL)
	return b
}

// releaseMapped tells the kernel that the mapped pages of b are not needed
// for now. b is a read-only private mapping of a file nothing writes to
// (mapFile), so a page touched again (a string still held downstream) is
// read back from the file: the contents never change, only the process's
// resident set shrinks.
func releaseMapped(b []byte) {
	if len(b) > 0 {
		_ = syscall.Madvise(b, syscall.MADV_DONTNEED)
	}
}
