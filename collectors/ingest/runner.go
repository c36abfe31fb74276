package ingest

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/engine/event"
)

// Input is one item a Source sends to the Runner: a raw line, a framed
// line, a notice that a tailed file was replaced or is read to its end,
// or a line that could not be framed.
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
	// ParseError is a message that could not be framed (syslog); a raw
	// Line that does not frame counts the same.
	ParseError bool
	// EOF says a tailed file was read to its end: its next line, if any,
	// is written later. It lets the merge go on without the file once the
	// lateness has passed (merge.go).
	EOF bool

	sent time.Time // when the source sent it (Send, Offer)
}

// RunnerOptions configure a Runner.
type RunnerOptions struct {
	// Buffer is the number of inputs queued per source; default 1024.
	Buffer int
	// Events is the number of engine events queued; default 8192.
	Events      int
	CommitEvery time.Duration // default 1s
	// IdleEvery is how often the runner checks whether input stalled;
	// when no line came for that long, the correlator's clock moves on by
	// the time that passed, so that finished and idle messages are
	// written. Default 1m.
	IdleEvery time.Duration
	// Lateness is how long the merge waits for a quiet source before it
	// goes on without it (docs/collectors.md, "Merging sources by time");
	// default DefaultLateness.
	Lateness time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
	// FlushOnStop writes every message still held when Run stops, instead
	// of keeping them in the committed state for the next start: for a
	// last run before a source is retired, and for tests.
	FlushOnStop bool
}

// DefaultLateness is the default of RunnerOptions.Lateness.
const DefaultLateness = 2 * time.Second

// Runner feeds one Pipeline from many sources (tailed files, syslog
// connections, the engine) on one goroutine: it merges the sources' lines
// by time (merge.go), feeds engine events as they come, commits on a timer
// and advances the correlator's clock when input stalls.
type Runner struct {
	p      *Pipeline
	o      RunnerOptions
	events chan event.Event
	wake   chan struct{}
	done   chan struct{} // closed when Run returns

	mu    sync.Mutex
	added []*Source // sources added since the runner last looked
	order int64     // the tie-break order of the next live source

	m merge
}

// NewRunner returns a Runner for p.
func NewRunner(p *Pipeline, o RunnerOptions) *Runner {
	if o.Buffer <= 0 {
		o.Buffer = 1024
	}
	if o.Events <= 0 {
		o.Events = 8192
	}
	if o.CommitEvery <= 0 {
		o.CommitEvery = time.Second
	}
	if o.IdleEvery <= 0 {
		o.IdleEvery = time.Minute
	}
	if o.Lateness <= 0 {
		o.Lateness = DefaultLateness
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	r := &Runner{p: p, o: o, events: make(chan event.Event, o.Events), wake: make(chan struct{}, 1),
		done: make(chan struct{}), order: 1 << 20}
	r.m = merge{r: r, lateness: o.Lateness}
	return r
}

// Pipeline is the pipeline the runner feeds.
func (r *Runner) Pipeline() *Pipeline { return r.p }

// Source is one input of the merge: a tailed file, a syslog connection.
// Its inputs are processed in the order sent; the Runner merges sources
// by the time of their lines.
type Source struct {
	r       *Runner
	ch      chan Input
	closing chan struct{}
	once    sync.Once
	order   int64
	file    bool

	// the merge's, on the runner's goroutine
	head     Input
	headF    logparse.Frame
	hasHead  bool
	lastRecv time.Time
	eof      bool
}

// FileSource adds the source of a tailed file, which sends EOF whenever
// it has read its file to the end. Files tie-break by stream ID when lines
// have the same time, as Import's files do by their order.
func (r *Runner) FileSource(stream int) *Source {
	return r.addSource(int64(stream), true)
}

// LiveSource adds a source without an end, such as a syslog connection:
// it is waited for until it has been quiet for the lateness.
func (r *Runner) LiveSource() *Source {
	r.mu.Lock()
	r.order++
	o := r.order
	r.mu.Unlock()
	return r.addSource(o, false)
}

func (r *Runner) addSource(order int64, file bool) *Source {
	s := &Source{r: r, ch: make(chan Input, r.o.Buffer), closing: make(chan struct{}), order: order, file: file}
	r.mu.Lock()
	r.added = append(r.added, s)
	r.mu.Unlock()
	r.poke()
	return s
}

// errStopped is returned by Send once the runner has stopped.
var errStopped = errors.New("ingest: runner stopped")

// Send queues in, waiting while the source's queue is full (back-pressure
// for files and TCP), until ctx ends or the runner stops.
func (s *Source) Send(ctx context.Context, in Input) error {
	in.sent = s.r.o.Now()
	select {
	case s.ch <- in:
		s.r.poke()
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-s.r.done:
		return errStopped
	}
}

// Offer queues in without waiting; it reports false (and counts a drop)
// when the queue is full (UDP syslog).
func (s *Source) Offer(in Input) bool {
	in.sent = s.r.o.Now()
	select {
	case s.ch <- in:
		s.r.poke()
		return true
	default:
		s.r.p.m.EventsDropped.Inc()
		return false
	}
}

// Close says the source sends no more: once its queue is processed it
// leaves the merge.
func (s *Source) Close() {
	s.once.Do(func() { close(s.closing) })
	s.r.poke()
}

func (r *Runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Emit implements event.Sink for the engine: events are queued, never
// waited for; a full queue drops and counts.
func (r *Runner) Emit(e event.Event) {
	select {
	case r.events <- e:
	default:
		r.p.m.EventsDropped.Inc()
	}
}

var _ event.Sink = (*Runner)(nil)

// Run processes inputs until ctx ends, then commits what was processed.
// Messages still open stay open: they are in the committed state and are
// carried on by the next start (unless FlushOnStop).
func (r *Runner) Run(ctx context.Context) error {
	defer close(r.done)
	r.p.SetContext(ctx)
	commit := time.NewTicker(r.o.CommitEvery)
	defer commit.Stop()
	idle := time.NewTicker(r.o.IdleEvery)
	defer idle.Stop()
	// the merge's next deadline (a quiet source's lateness running out);
	// since Go 1.23 Reset and Stop leave no stale value in the channel
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	r.m.start(r.o.Now())
	for {
		next := r.m.step(r.o.Now(), false)
		if r.p.Full() {
			r.commit(ctx)
		}
		var wait <-chan time.Time
		if !next.IsZero() {
			timer.Reset(max(next.Sub(r.o.Now()), time.Millisecond))
			wait = timer.C
		} else {
			timer.Stop()
		}
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			if r.o.FlushOnStop {
				r.m.step(r.o.Now(), true)
				return r.p.Finish(fctx)
			}
			if !r.p.HasCheckpoints() {
				// nothing resumes: write what is held rather than lose it
				return r.p.Finish(fctx)
			}
			return r.p.Commit(fctx)
		case <-r.wake:
		case e := <-r.events:
			r.p.Engine(e)
			for n := 0; n < 256; n++ { // a few more without going round
				select {
				case e := <-r.events:
					r.p.Engine(e)
					continue
				default:
				}
				break
			}
		case <-commit.C:
			r.commit(ctx)
			r.p.renewFramers(r.o.Now())
		case <-idle.C:
			r.m.idle(r.o.Now(), r.o.IdleEvery)
		case <-wait:
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
