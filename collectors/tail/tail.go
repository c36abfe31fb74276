// Package tail follows log files as they grow and survives their rotation
// by rename (logrotate's default, `create`) and by copytruncate. It owns a
// file's identity — its inode and a hash of its first line — so that a
// saved reading position is only reused for the same file, finds a file
// that was rotated away while the service was stopped so that its rest is
// read before the new file, bounds the length of a line (an over-long line
// is cut and counted, never buffered without bound), and keeps the lag
// metrics (bytes and seconds behind the files' ends). Lines go to a source
// of the collectors' ingest.Runner, which merges the files by time.
package tail

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// DefaultMaxLine is the default line limit: longer lines are cut to it.
// Syslog daemons cut far shorter (rsyslog's default $MaxMessageSize is
// 8 KiB; RFC 5426 §3.2 asks receivers for 480 octets at least).
const DefaultMaxLine = 64 << 10

// headLimit is how much of a file's first line its identity hashes.
const headLimit = 4096

// Identity names one incarnation of a file.
type Identity struct {
	Inode    uint64
	HeadHash string // hex SHA-256 (first 16 bytes) of the first line; "" while there is none
	Size     int64
	ModTime  time.Time
}

// hashHead is the identity hash of a first line (with its newline), or of
// its first headLimit bytes when it is longer.
func hashHead(line []byte) string {
	if len(line) > headLimit {
		line = line[:headLimit]
	}
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:16])
}

// Identify reads the identity of path. A missing file has the zero
// identity and no error.
func Identify(path string) (Identity, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return Identity{}, nil
	}
	if err != nil {
		return Identity{}, fmt.Errorf("tail: %w", err)
	}
	defer fh.Close()
	return identifyOpen(fh)
}

func identifyOpen(fh *os.File) (Identity, error) {
	fi, err := fh.Stat()
	if err != nil {
		return Identity{}, fmt.Errorf("tail: %w", err)
	}
	id := Identity{Size: fi.Size(), ModTime: fi.ModTime(), Inode: inodeOf(fi)}
	buf := make([]byte, headLimit)
	n, _ := fh.ReadAt(buf, 0)
	if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
		id.HeadHash = hashHead(buf[:i+1])
	} else if n == headLimit {
		id.HeadHash = hashHead(buf[:n])
	}
	return id, nil
}

func inodeOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// Plan is where to read a file on start.
type Plan struct {
	// Start is the offset in the file at the path.
	Start int64
	// Identity is the identity of the file read first: the rotated one
	// when Rotated is set, else the file at the path.
	Identity Identity
	// Rotated, when set, is the file the checkpoint was taken in, found
	// renamed beside the path (logrotate's path.1 or path-DATE): its rest
	// from RotatedStart is read first, then the file at the path from 0.
	Rotated      string
	RotatedStart int64
	// Resumed says a checkpoint was used.
	Resumed bool
}

// same reports whether id is the file the checkpoint was taken in.
func same(id Identity, cp *txlog.Checkpoint) bool {
	if cp.HeadHash == "" {
		return cp.Offset == 0 && cp.Inode == id.Inode
	}
	return cp.HeadHash == id.HeadHash && id.Size >= cp.Offset
}

// Resume decides where to start reading path given its saved checkpoint
// (nil when none): at the checkpoint's offset when the file is the same
// one (same first line, at least as long as the offset); else, when the
// checkpoint's file is found rotated beside it (same inode and first
// line), at the offset in that file and then from the start of the new
// one; else from the start.
func Resume(path string, cp *txlog.Checkpoint) (Plan, error) {
	id, err := Identify(path)
	if err != nil {
		return Plan{}, err
	}
	if cp == nil {
		return Plan{Identity: id}, nil
	}
	if same(id, cp) {
		return Plan{Start: cp.Offset, Identity: id, Resumed: true}, nil
	}
	for _, cand := range rotatedNames(path) {
		rid, err := Identify(cand)
		if err != nil || rid.Inode != cp.Inode || cp.HeadHash == "" || !same(rid, cp) {
			continue
		}
		return Plan{Identity: rid, Rotated: cand, RotatedStart: cp.Offset, Resumed: true}, nil
	}
	return Plan{Identity: id}, nil
}

// rotatedNames lists where logrotate puts a rotated file, uncompressed:
// path.1, and path-DATE (dateext), newest first.
func rotatedNames(path string) []string {
	out := []string{path + ".1"}
	dated, _ := filepath.Glob(path + "-*")
	var keep []string
	for _, d := range dated {
		if !strings.HasSuffix(d, ".gz") && !strings.HasSuffix(d, ".xz") && !strings.HasSuffix(d, ".bz2") && !strings.HasSuffix(d, ".zst") {
			keep = append(keep, d)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(keep)))
	return append(out, keep...)
}

// Lag adds up the lag of several followed files for the metrics:
// postvakt_collector_lag_bytes is the sum of the bytes not yet read,
// postvakt_collector_lag_seconds the largest age of a last line read
// while unread data remains.
type Lag struct {
	m     *ingest.Metrics
	mu    sync.Mutex
	bytes map[int]int64
	secs  map[int]float64
}

// NewLag returns a Lag that sets m's gauges.
func NewLag(m *ingest.Metrics) *Lag {
	return &Lag{m: m, bytes: map[int]int64{}, secs: map[int]float64{}}
}

func (l *Lag) set(stream int, behind int64, secs float64) {
	if l == nil || l.m == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.bytes[stream], l.secs[stream] = behind, secs
	var sum int64
	var top float64
	for _, b := range l.bytes {
		sum += b
	}
	for _, s := range l.secs {
		top = max(top, s)
	}
	l.m.LagBytes.WithLabelValues(ingest.SourceFile).Set(float64(sum))
	l.m.LagSeconds.WithLabelValues(ingest.SourceFile).Set(top)
}

// Options configure Follow.
type Options struct {
	Stream int
	Path   string
	// Plan is where to start (Resume).
	Plan   Plan
	Source *ingest.Source
	// Poll checks the file every PollInterval instead of being woken by
	// inotify (for file systems without it).
	Poll         bool
	PollInterval time.Duration // default 250ms when polling, 1s as inotify's safety net
	// MaxLine bounds a line; a longer one is cut to its first MaxLine bytes
	// (the rest is skipped) and counted. Default DefaultMaxLine.
	MaxLine int
	Logger  *slog.Logger
	Metrics *ingest.Metrics // postvakt_collector_lines_cut_total; nil: not counted
	Lag     *Lag            // nil: no lag metrics
	Now     func() time.Time
}

// follower reads one incarnation of a file after another.
type follower struct {
	o   Options
	ctx context.Context

	f    *os.File
	ino  uint64
	name string // what f was opened as (the path, or the rotated file)
	buf  []byte
	r, w int   // unread data: buf[r:w]
	base int64 // file offset of buf[0]
	// an over-long line: its start, its first MaxLine bytes, and that the
	// rest is being skipped
	cutting  bool
	cutStart int64
	cutHead  string
	sentLine bool // a line was sent since the last EOF notice
	eofSent  bool // an EOF notice was ever sent
	first    bool // the next line sent is the file's first (Identity)
	head     string
	lastLine time.Time
}

// Follow reads the file as o.Plan says, sends each line to the source, and
// keeps following the path through rotation until ctx ends. Whenever it
// has read all there is, it sends an EOF notice (the merge then waits for
// it only as long as the lateness).
func Follow(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxLine <= 0 {
		o.MaxLine = DefaultMaxLine
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
		if o.Poll {
			o.PollInterval = 250 * time.Millisecond
		}
	}
	fl := &follower{o: o, ctx: ctx, buf: make([]byte, o.MaxLine+64<<10)}
	defer fl.close()
	var wake <-chan fsnotify.Event
	var werr <-chan error
	if !o.Poll {
		if w, err := fsnotify.NewWatcher(); err == nil {
			defer w.Close()
			if err := w.Add(filepath.Dir(o.Path)); err == nil {
				wake, werr = w.Events, w.Errors
			} else {
				o.Logger.Warn("tail: no inotify watch; polling", "path", o.Path, "err", err)
			}
		} else {
			o.Logger.Warn("tail: no inotify; polling", "path", o.Path, "err", err)
		}
	}
	tick := time.NewTicker(o.PollInterval)
	defer tick.Stop()
	lag := time.NewTicker(5 * time.Second)
	defer lag.Stop()

	if o.Plan.Rotated != "" {
		// the rest of the file the checkpoint was taken in, then on
		if err := fl.open(o.Plan.Rotated, o.Plan.RotatedStart); err != nil {
			o.Logger.Warn("tail: rotated file gone; reading the new one", "path", o.Plan.Rotated, "err", err)
		} else if err := fl.drain(true); err != nil {
			return nil // stopped
		}
		fl.close()
		if err := fl.openCurrent(0, true); err != nil {
			return err
		}
	} else if err := fl.openCurrent(o.Plan.Start, false); err != nil {
		return err
	}
	for {
		// replaced or truncated first: then what is read is the file's
		if err := fl.check(); err != nil {
			return nil // stopped
		}
		if err := fl.drain(false); err != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case err := <-werr:
			o.Logger.Warn("tail: inotify", "path", o.Path, "err", err)
		case <-tick.C:
		case <-lag.C:
			fl.reportLag()
		}
	}
}

// openCurrent opens the file at the path (when it exists) at offset start;
// with reset, the pipeline is told the stream restarts at 0 with its
// identity.
func (fl *follower) openCurrent(start int64, reset bool) error {
	err := fl.open(fl.o.Path, start)
	if errors.Is(err, os.ErrNotExist) {
		fl.base, fl.first = 0, true
		return nil // not there yet: check() opens it when it appears
	}
	if err != nil {
		return err
	}
	if reset || fl.base != start {
		// (shorter than the offset: truncated since the plan was made)
		return fl.sendReset()
	}
	return nil
}

func (fl *follower) open(name string, start int64) error {
	fh, err := os.Open(name)
	if err != nil {
		return err
	}
	fi, err := fh.Stat()
	if err != nil {
		fh.Close()
		return err
	}
	if start > fi.Size() {
		start = 0
	}
	if _, err := fh.Seek(start, io.SeekStart); err != nil {
		fh.Close()
		return err
	}
	fl.f, fl.ino, fl.name = fh, inodeOf(fi), name
	fl.base, fl.r, fl.w, fl.cutting = start, 0, 0, false
	fl.first = start == 0
	id, _ := identifyOpen(fh)
	fl.head = id.HeadHash
	return nil
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
		fl.f = nil
	}
}

func (fl *follower) send(in ingest.Input) error {
	in.Stream = fl.o.Stream
	return fl.o.Source.Send(fl.ctx, in)
}

func (fl *follower) sendReset() error {
	id, _ := identifyOpen(fl.f)
	fl.head = id.HeadHash
	return fl.send(ingest.Input{Reset: true, Inode: fl.ino, HeadHash: id.HeadHash})
}

// drain reads to the end of the open file, sending every complete line,
// and then an EOF notice. With final (a rotated file that is written no
// more), a last line without its newline is sent too.
func (fl *follower) drain(final bool) error {
	if fl.f == nil {
		return fl.eof()
	}
	for {
		if fl.w == len(fl.buf) {
			// make room: drop what was sent
			n := copy(fl.buf, fl.buf[fl.r:fl.w])
			fl.base += int64(fl.r)
			fl.r, fl.w = 0, n
		}
		n, err := fl.f.Read(fl.buf[fl.w:])
		fl.w += n
		if serr := fl.lines(); serr != nil {
			return serr
		}
		if n == 0 || err != nil {
			if final && fl.w > fl.r {
				if err := fl.emit(fl.buf[fl.r:fl.w], fl.base+int64(fl.r), fl.base+int64(fl.w)); err != nil {
					return err
				}
				fl.r = fl.w
			}
			if err != nil && !errors.Is(err, io.EOF) {
				fl.o.Logger.Warn("tail: read", "path", fl.name, "err", err)
			}
			return fl.eof()
		}
	}
}

// eof sends the EOF notice once per stretch of lines.
func (fl *follower) eof() error {
	if !fl.sentLine && fl.eofSent {
		return nil
	}
	fl.sentLine, fl.eofSent = false, true
	return fl.send(ingest.Input{EOF: true})
}

// lines sends the complete lines in the buffer, cutting over-long ones.
func (fl *follower) lines() error {
	max := fl.o.MaxLine
	for {
		data := fl.buf[fl.r:fl.w]
		i := bytes.IndexByte(data, '\n')
		if fl.cutting {
			if i < 0 {
				fl.r = fl.w // skip what there is of the rest
				return nil
			}
			end := fl.base + int64(fl.r+i+1)
			fl.r += i + 1
			fl.cutting = false
			if fl.o.Metrics != nil {
				fl.o.Metrics.LinesCut.WithLabelValues(ingest.SourceFile).Inc()
			}
			if err := fl.emitString(fl.cutHead, fl.cutStart, end); err != nil {
				return err
			}
			continue
		}
		if i < 0 {
			if len(data) > max {
				// longer than the limit and not ended: keep its head,
				// skip the rest up to its newline
				fl.cutting, fl.cutStart, fl.cutHead = true, fl.base+int64(fl.r), string(data[:max])
				fl.r = fl.w
			}
			return nil
		}
		line := data[:i+1]
		off := fl.base + int64(fl.r)
		fl.r += i + 1
		if len(line)-1 > max {
			if fl.o.Metrics != nil {
				fl.o.Metrics.LinesCut.WithLabelValues(ingest.SourceFile).Inc()
			}
			if err := fl.emitString(string(line[:max]), off, off+int64(len(line))); err != nil {
				return err
			}
			continue
		}
		if err := fl.emit(line, off, off+int64(len(line))); err != nil {
			return err
		}
	}
}

// emit sends one line (its bytes, with or without the newline).
func (fl *follower) emit(line []byte, off, end int64) error {
	text := line
	for len(text) > 0 && (text[len(text)-1] == '\n' || text[len(text)-1] == '\r') {
		text = text[:len(text)-1]
	}
	return fl.emitString(string(text), off, end)
}

func (fl *follower) emitString(text string, off, end int64) error {
	if fl.first && off == 0 && fl.f != nil {
		// the file's first line: now it has an identity
		fl.first = false
		id, _ := identifyOpen(fl.f)
		fl.head = id.HeadHash
		if err := fl.send(ingest.Input{Identity: true, Inode: fl.ino, HeadHash: id.HeadHash}); err != nil {
			return err
		}
	}
	fl.sentLine = true
	fl.lastLine = fl.o.Now()
	return fl.send(ingest.Input{Line: text, Off: off, End: end})
}

// check looks at the path: a file that appeared is opened; a file that was
// replaced (a new inode at the path: rotated by rename) is read to its end
// and the new one opened; a file shorter than what was read (truncated by
// copytruncate) is read again from the start.
func (fl *follower) check() error {
	fi, err := os.Stat(fl.o.Path)
	if err != nil {
		return nil // moved away and not recreated yet: keep reading the old one
	}
	if fl.f == nil {
		if err := fl.open(fl.o.Path, 0); err != nil {
			return nil
		}
		fl.o.Logger.Info("tail: file appeared", "path", fl.o.Path)
		return fl.sendReset()
	}
	if inodeOf(fi) != fl.ino {
		// rotated: what the writer added before it reopened is in the old
		// file
		if err := fl.drain(true); err != nil {
			return err
		}
		fl.close()
		fl.o.Logger.Info("tail: file rotated; reading the new one", "path", fl.o.Path)
		return fl.openCurrent(0, true)
	}
	pos := fl.base + int64(fl.w)
	truncated := fi.Size() < pos
	if !truncated && fl.head != "" && pos > 0 {
		// truncated and written again past where we were (copytruncate
		// between two looks): the first line is another one
		id, _ := identifyOpen(fl.f)
		truncated = id.HeadHash != fl.head
	}
	if truncated {
		fl.o.Logger.Info("tail: file truncated; reading from the start", "path", fl.o.Path, "size", fi.Size(), "was", pos)
		if _, err := fl.f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		fl.base, fl.r, fl.w, fl.cutting, fl.first = 0, 0, 0, false, true
		return fl.sendReset()
	}
	return nil
}

func (fl *follower) reportLag() {
	if fl.o.Lag == nil {
		return
	}
	var behind int64
	if fi, err := os.Stat(fl.o.Path); err == nil {
		if fl.f != nil && inodeOf(fi) == fl.ino {
			behind = max(fi.Size()-(fl.base+int64(fl.w)), 0)
		} else {
			behind = fi.Size()
		}
	}
	secs := 0.0
	if behind > 0 && !fl.lastLine.IsZero() {
		secs = fl.o.Now().Sub(fl.lastLine).Seconds()
	}
	fl.o.Lag.set(fl.o.Stream, behind, secs)
}
