// Package tail follows log files as they grow (github.com/nxadm/tail) and
// survives their rotation by rename (logrotate's default) and by
// copytruncate. It owns a file's identity — its inode and a hash of its
// first line — so that a saved reading position is only reused for the
// same file, and the lag metrics (bytes and seconds behind the file end).
// Lines go to the collectors' ingest.Runner.
package tail

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"time"

	nxtail "github.com/nxadm/tail"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// Identity names one incarnation of a file.
type Identity struct {
	Inode    uint64
	HeadHash string // hex SHA-256 (first 16 bytes) of the first line; "" while empty
	Size     int64
	ModTime  time.Time
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
	fi, err := fh.Stat()
	if err != nil {
		return Identity{}, fmt.Errorf("tail: %w", err)
	}
	id := Identity{Size: fi.Size(), ModTime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.Inode = st.Ino
	}
	br := bufio.NewReaderSize(io.LimitReader(fh, 4096), 4096)
	head, err := br.ReadString('\n')
	if err == nil || (errors.Is(err, io.EOF) && len(head) == 4096) {
		sum := sha256.Sum256([]byte(head))
		id.HeadHash = hex.EncodeToString(sum[:16])
	}
	return id, nil
}

// Resume decides where to start reading path given its saved checkpoint
// (nil when none): at cp.Replay when the file is the same one (same first
// line, at least as long as the offset), else at 0. It returns the
// checkpoint to hand to ingest.Pipeline.AddStream (nil when not resumed).
func Resume(id Identity, cp *txlog.Checkpoint) (start int64, resumed *txlog.Checkpoint) {
	if cp == nil {
		return 0, nil
	}
	same := cp.HeadHash != "" && cp.HeadHash == id.HeadHash
	if cp.HeadHash == "" {
		same = cp.Inode == id.Inode && cp.Offset == 0
	}
	if !same || id.Size < cp.Offset {
		return 0, nil // rotated or truncated while we were away
	}
	return cp.Replay, cp
}

// Options configure Follow.
type Options struct {
	Stream int
	Path   string
	Start  int64 // offset to start reading at
	Runner *ingest.Runner
	// Poll polls for changes instead of using inotify.
	Poll    bool
	Logger  *slog.Logger
	Metrics *ingest.Metrics // lag gauges; nil: none
	Now     func() time.Time
}

// Follow reads o.Path from o.Start, sends each line to the runner, and
// keeps following through rotation until ctx ends.
func Follow(ctx context.Context, o Options) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	t, err := nxtail.TailFile(o.Path, nxtail.Config{
		Follow: true, ReOpen: true, MustExist: false, Poll: o.Poll, CompleteLines: true,
		Location: &nxtail.SeekInfo{Offset: o.Start, Whence: io.SeekStart},
		Logger:   nxtail.DiscardingLogger,
	})
	if err != nil {
		return fmt.Errorf("tail %s: %w", o.Path, err)
	}
	defer t.Cleanup()
	defer t.Stop() //nolint:errcheck // stopping
	prevEnd := o.Start
	var lastLine time.Time
	lag := time.NewTicker(5 * time.Second)
	defer lag.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-lag.C:
			if o.Metrics != nil {
				id, _ := Identify(o.Path)
				behind := max(id.Size-prevEnd, 0)
				o.Metrics.LagBytes.WithLabelValues(ingest.SourceFile).Set(float64(behind))
				secs := 0.0
				if behind > 0 && !lastLine.IsZero() {
					secs = o.Now().Sub(lastLine).Seconds()
				}
				o.Metrics.LagSeconds.WithLabelValues(ingest.SourceFile).Set(secs)
			}
		case line, ok := <-t.Lines:
			if !ok {
				return fmt.Errorf("tail %s: stopped: %v", o.Path, t.Err())
			}
			if line.Err != nil {
				o.Logger.Warn("tail", "path", o.Path, "err", line.Err)
				continue
			}
			end := line.SeekInfo.Offset
			off := end - int64(len(line.Text)) - 1
			if off < 0 {
				off = 0
			}
			if end < prevEnd || (off == 0 && prevEnd > 0) {
				// The file was replaced: rotated by rename, or truncated.
				id, _ := Identify(o.Path)
				o.Logger.Info("tail: file replaced, reading from the start", "path", o.Path)
				if err := o.Runner.Send(ctx, ingest.Input{Stream: o.Stream, Reset: true, Inode: id.Inode, HeadHash: id.HeadHash}); err != nil {
					return nil
				}
			} else if off == 0 {
				id, _ := Identify(o.Path)
				if err := o.Runner.Send(ctx, ingest.Input{Stream: o.Stream, Identity: true, Inode: id.Inode, HeadHash: id.HeadHash}); err != nil {
					return nil
				}
			}
			prevEnd = end
			lastLine = o.Now()
			if err := o.Runner.Send(ctx, ingest.Input{Stream: o.Stream, Line: line.Text, Off: off, End: end}); err != nil {
				return nil
			}
		}
	}
}
