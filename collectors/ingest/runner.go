package ingest

import (
	"context"
	"log/slog"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/engine/event"
)

// Input is one item for a Runner: a raw line, a framed line, a notice that
// a tailed file was replaced, or an engine event.
type Input struct {
	Stream   int
	Line     string
	Off, End int64
	Frame    *logparse.Frame
	// Reset says the file of Stream was replaced (Inode, HeadHash are the
	// new identity); Identity updates the identity without a reset.
	Reset, Identity bool
	Inode           uint64
	HeadHash        string
	ParseError      bool
	Event           event.Event
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	Buffer      int           // queued inputs; default 8192
	CommitEvery time.Duration // default 1s
	// IdleEvery is how often messages idle beyond the horizon are
	// flushed; default 1m.
	IdleEvery time.Duration
	Logger    *slog.Logger
	Now       func() time.Time
	// FlushOnStop writes every message still held when Run stops, even
	// for tailed files (whose checkpoints otherwise keep them open to be
	// rebuilt on the next start): for a last run before a source is
	// retired, and for tests.
	FlushOnStop bool
}

// Runner feeds one Pipeline from many sources (tailers, syslog listeners,
// the engine) on one goroutine and commits on a timer.
type Runner struct {
	p  *Pipeline
	o  RunnerOptions
	in chan Input
}

// NewRunner returns a Runner for p.
func NewRunner(p *Pipeline, o RunnerOptions) *Runner {
	if o.Buffer <= 0 {
		o.Buffer = 8192
	}
	if o.CommitEvery <= 0 {
		o.CommitEvery = time.Second
	}
	if o.IdleEvery <= 0 {
		o.IdleEvery = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Runner{p: p, o: o, in: make(chan Input, o.Buffer)}
}

// Send queues in, waiting while the queue is full (back-pressure for
// files and TCP), until ctx ends.
func (r *Runner) Send(ctx context.Context, in Input) error {
	select {
	case r.in <- in:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Offer queues in without waiting; it reports false (and counts a drop)
// when the queue is full (UDP syslog, engine events).
func (r *Runner) Offer(in Input) bool {
	select {
	case r.in <- in:
		return true
	default:
		if r.p.m != nil {
			r.p.m.EventsDropped.Inc()
		}
		return false
	}
}

// Emit implements event.Sink for the engine: events are offered, never
// waited for.
func (r *Runner) Emit(e event.Event) { r.Offer(Input{Event: e}) }

var _ event.Sink = (*Runner)(nil)

// Run processes inputs until ctx ends, then commits what was processed.
// Messages still open stay open: they are in the checkpoints of tailed
// files and are rebuilt on the next start. Without tailed files they are
// flushed as incomplete, so nothing is lost on a restart.
func (r *Runner) Run(ctx context.Context) error {
	r.p.SetContext(ctx)
	commit := time.NewTicker(r.o.CommitEvery)
	defer commit.Stop()
	idle := time.NewTicker(r.o.IdleEvery)
	defer idle.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if r.o.FlushOnStop || !r.p.HasCheckpoints() {
				return r.p.Finish(fctx)
			}
			return r.p.Commit(fctx)
		case in := <-r.in:
			r.handle(in)
			if r.p.Full() {
				r.commit(ctx)
			}
		case <-commit.C:
			r.commit(ctx)
		case <-idle.C:
			r.p.FlushIdle(r.o.Now())
		}
	}
}

func (r *Runner) commit(ctx context.Context) {
	// A failing database must not lose records: they stay pending and the
	// next tick tries again; while far behind, wait here (back-pressure).
	for attempt := 0; attempt < 1000; attempt++ {
		err := r.p.Commit(ctx)
		if err == nil {
			return
		}
		r.o.Logger.Warn("collectors: commit failed; will retry", "err", err, "pending", r.p.Pending())
		if r.p.Pending() < 20*r.p.o.BatchSize || ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (r *Runner) handle(in Input) {
	switch {
	case in.Event != nil:
		r.p.Engine(in.Event)
	case in.Reset:
		r.p.ResetStream(in.Stream, in.Inode, in.HeadHash)
	case in.Identity:
		r.p.SetIdentity(in.Stream, in.Inode, in.HeadHash)
	case in.ParseError:
		r.p.ParseError(in.Stream)
	case in.Frame != nil:
		r.p.Frame(in.Stream, *in.Frame, in.Off, in.End)
	default:
		r.p.Line(in.Stream, in.Line, in.Off, in.End)
	}
}
