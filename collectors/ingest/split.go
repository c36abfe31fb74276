package ingest

import (
	"context"

	"github.com/uni-mail/postvakt/collectors/correlate"
	"github.com/uni-mail/postvakt/collectors/logparse"
)

// An import runs the pipeline on two goroutines (Import): the one that
// feeds it merges the files and correlates, and a second one does what
// follows from each line and each finished record in the same order as a
// Pipeline fed from one goroutine would — the line's metrics, abuse
// detection, the records of lines (lineRecords) and of messages, rejects
// and logins (onMessage, onReject, onLogin), and the commits when the
// batch is full. The correlator hands a record over when it emits it and
// never changes it again; events are not changed after the correlator
// has seen them, except by the pipeline's reject handling, which the
// correlator does not look at again.
//
// The hand-off is in batches of operations (one channel send per
// opBatchSize), so each side works without waiting for the other.

type opKind uint8

const (
	opLine    opKind = iota + 1 // a line's event: metrics, detector, lineRecords, then check the batch
	opMessage                   // onMessage(messages[i])
	opReject                    // onReject(ev)
	opLogin                     // onLogin(logins[i])
	opCheck                     // commit if the batch is full (before the final flush)
	opRelease                   // give arena blocks back (releases[i])
)

// op is 32 bytes: a million lines are a million ops written and read.
type op struct {
	s    *stream
	ev   logparse.Event // a line's; a reject
	i    int32          // of messages, logins or releases
	kind opKind
}

type opBatch struct {
	ops      []op
	messages []*correlate.Message
	logins   []correlate.Login
	releases [][]func()
}

// countEvery is how many lines are counted at once in the read and parsed
// counters during the split.
const countEvery = 1024

// opBatchSize is the number of operations handed over at once.
const opBatchSize = 4096

// splitter is the hand-off to the second goroutine.
type splitter struct {
	cur   *opBatch
	work  chan *opBatch
	free  chan *opBatch
	done  chan struct{}
	err   error // the second goroutine's first error (a commit); read after done
	ctx   context.Context
	stop  chan struct{} // closed when the second goroutine stopped early
	alive bool
}

// startSplit starts the second goroutine; ctx is the commits' context.
func (p *Pipeline) startSplit(ctx context.Context) {
	sp := &splitter{work: make(chan *opBatch, 4), free: make(chan *opBatch, 6), done: make(chan struct{}),
		stop: make(chan struct{}), ctx: ctx, alive: true}
	sp.cur = &opBatch{ops: make([]op, 0, opBatchSize)}
	p.split = sp
	go func() {
		defer close(sp.done)
		failed := false
		for b := range sp.work {
			if !failed {
				if err := p.runOps(ctx, b); err != nil {
					sp.err = err
					failed = true
					close(sp.stop)
				}
			}
			clear(b.ops)
			clear(b.messages)
			clear(b.logins)
			clear(b.releases)
			b.ops, b.messages, b.logins, b.releases = b.ops[:0], b.messages[:0], b.logins[:0], b.releases[:0]
			select {
			case sp.free <- b:
			default:
			}
		}
	}()
}

// runOps does a batch of operations on the second goroutine.
func (p *Pipeline) runOps(ctx context.Context, b *opBatch) error {
	for i := range b.ops {
		o := &b.ops[i]
		switch o.kind {
		case opLine:
			if p.Full() {
				if err := p.Commit(ctx); err != nil {
					return err
				}
			}
			p.lineEffects(o.s, o.ev)
		case opMessage:
			_ = p.onMessage(b.messages[o.i])
		case opReject:
			_ = p.onReject(o.ev.(*logparse.Reject))
		case opLogin:
			_ = p.onLogin(b.logins[o.i])
		case opRelease:
			for _, f := range b.releases[o.i] {
				f()
			}
		case opCheck:
			if p.Full() {
				if err := p.Commit(ctx); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// push appends an operation, handing the batch over when it is full.
func (sp *splitter) push(o op) {
	sp.cur.ops = append(sp.cur.ops, o)
	if len(sp.cur.ops) >= opBatchSize {
		sp.flush()
	}
}

func (sp *splitter) flush() {
	if !sp.alive {
		// the second goroutine stopped (Import returns its error): drop
		sp.cur.drop()
		return
	}
	if len(sp.cur.ops) == 0 {
		return
	}
	select {
	case sp.work <- sp.cur:
	case <-sp.stop:
		sp.alive = false
		sp.cur.drop()
		return
	}
	select {
	case sp.cur = <-sp.free:
	default:
		sp.cur = &opBatch{ops: make([]op, 0, opBatchSize)}
	}
}

// drop empties a batch that is not handed over.
func (b *opBatch) drop() {
	b.ops, b.messages, b.logins, b.releases = b.ops[:0], b.messages[:0], b.logins[:0], b.releases[:0]
}

// failed reports the second goroutine's error once it stopped early.
func (sp *splitter) failed() error {
	select {
	case <-sp.stop:
		<-sp.done
		return sp.err
	default:
		return nil
	}
}

// endSplit hands over what is left, waits for the second goroutine and
// returns to one: the pipeline is then used from one goroutine again.
func (p *Pipeline) endSplit() error {
	sp := p.split
	if sp == nil {
		return nil
	}
	sp.flush()
	close(sp.work)
	<-sp.done
	p.split = nil
	for _, s := range p.streams {
		s.read.Add(float64(s.readN))
		s.parsed.Add(float64(s.parsedN))
		s.readN, s.parsedN = 0, 0
	}
	return sp.err
}

// lineEffects is what a line does besides its correlation: its metrics,
// abuse detection and the records of the line itself.
func (p *Pipeline) lineEffects(s *stream, ev logparse.Event) {
	if ev.Kind() == logparse.KindUnknown {
		p.m.LinesUnknown.WithLabelValues(s.Source, ProgramLabel(ev.Header().Program)).Inc()
	} else if p.split != nil {
		if s.parsedN++; s.parsedN == countEvery {
			s.parsed.Add(countEvery)
			s.parsedN = 0
		}
	} else {
		s.parsed.Inc()
	}
	if p.o.Detector != nil {
		p.o.Detector.Line(p.ctx, ev)
	}
	p.lineRecords(ev)
}

// the correlator's sinks: with the split, the records are built on the
// second goroutine

func (p *Pipeline) sinkMessage(m *correlate.Message) error {
	if p.split != nil {
		sp := p.split
		sp.cur.messages = append(sp.cur.messages, m)
		sp.push(op{kind: opMessage, i: int32(len(sp.cur.messages) - 1)})
		return nil
	}
	return p.onMessage(m)
}

func (p *Pipeline) sinkReject(r *logparse.Reject) error {
	if p.split != nil {
		p.split.push(op{kind: opReject, ev: r})
		return nil
	}
	return p.onReject(r)
}

// release gives arena blocks back once the second goroutine did everything
// handed over before (the parsers recycle only with the split).
func (p *Pipeline) release(fs []func()) {
	sp := p.split
	if sp == nil {
		return // not recycled: collected
	}
	sp.cur.releases = append(sp.cur.releases, fs)
	sp.push(op{kind: opRelease, i: int32(len(sp.cur.releases) - 1)})
}

func (p *Pipeline) sinkLogin(l correlate.Login) error {
	if sp := p.split; sp != nil {
		sp.cur.logins = append(sp.cur.logins, l)
		sp.push(op{kind: opLogin, i: int32(len(sp.cur.logins) - 1)})
		return nil
	}
	return p.onLogin(l)
}
