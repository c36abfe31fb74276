package ingest

import (
	"time"
)

// Merging sources by time (docs/collectors.md, "Merging sources by time").
//
// A message's lines are spread over files and hosts: Postfix's own
// maillog_file and the syslog file with amavis and postgrey, the MX and the
// submission host, Dovecot on the mailbox host. The correlator needs them
// in time order, as Import gives them: it repeatedly takes the earliest
// head line of all files (ties go to the file listed first). The live
// merge does the same with sources that are still being written: it feeds
// the earliest head of all sources, but only while every source either
// has a head line or has been quiet for the lateness (wall clock) since it
// last sent something (a tailed file: since it reported its end). So:
//
//   - tailing files that are complete, or appended to in time order
//     faster than the lateness, feeds exactly Import's order;
//   - a quiet source holds the others back for at most the lateness;
//   - a line that arrives later than that, older than a line of another
//     source already fed, is a late line: it is fed at once, counted
//     (postvakt_collector_lines_late_total), and still joins its message by
//     queue ID while the message is held (the correlator holds a finished
//     message for its link grace, two minutes of log time, and an open one
//     for the correlation horizon).
//
// A tailed file that is still being read but sends nothing for
// stallTimeout (a hung disk) stops holding the others back too.

// stallTimeout is how long a tailed file that has not reached its end may
// send nothing before the merge goes on without it.
const stallTimeout = 30 * time.Second

// maxStep bounds the lines fed per step, so engine events and commits get
// their turn under a long backlog.
const maxStep = 4096

type merge struct {
	r        *Runner
	lateness time.Duration
	srcs     []*Source
	// the latest line time fed, its source, and the latest of the other
	// sources: a line older than a line another source already fed is late
	max1, max2 time.Time
	max1Src    *Source
	// lastLine is the wall time of the last line fed, lastEvent the latest
	// line time fed: when input stalls the correlator's clock moves on from
	// lastEvent by the wall time since lastLine
	lastLine, lastEvent time.Time
}

func (m *merge) start(now time.Time) {
	m.lastLine = now
	m.lastEvent = m.r.p.corr.Now()
}

// adopt takes in the sources added since the last step.
func (m *merge) adopt(now time.Time) {
	m.r.mu.Lock()
	added := m.r.added
	m.r.added = nil
	m.r.mu.Unlock()
	for _, s := range added {
		s.lastRecv = now
		m.srcs = append(m.srcs, s)
	}
}

// before orders two heads: by time, then by the source's order.
func before(a, b *Source) bool {
	if c := a.headF.Time.Compare(b.headF.Time); c != 0 {
		return c < 0
	}
	return a.order < b.order
}

// step feeds every line that may be fed at now and returns when to look
// again without news from a source (zero: only on news). With drain, every
// line queued is fed in time order, whoever is quiet.
func (m *merge) step(now time.Time, drain bool) time.Time {
	m.adopt(now)
	for fed := 0; ; fed++ {
		m.fill(now)
		var best *Source
		for _, s := range m.srcs {
			if s.hasHead && (best == nil || before(s, best)) {
				best = s
			}
		}
		if best == nil {
			break
		}
		if !drain {
			if wait := m.blocked(now); !wait.IsZero() {
				return wait
			}
			if fed >= maxStep {
				m.r.poke()
				return time.Time{}
			}
		}
		m.feed(best, now)
	}
	m.prune()
	return time.Time{}
}

// fill gives every source without a head line its next one, acting on the
// other inputs on the way (identity, reset, end of file, bad lines).
func (m *merge) fill(now time.Time) {
	p := m.r.p
	for _, s := range m.srcs {
	next:
		for !s.hasHead {
			var in Input
			select {
			case in = <-s.ch:
			default:
				break next
			}
			// quiet since it sent this, not since the merge got to it
			s.lastRecv = in.sent
			switch {
			case in.EOF:
				s.eof = true
			case in.Reset:
				p.ResetStream(in.Stream, in.Inode, in.HeadHash)
			case in.Identity:
				p.SetIdentity(in.Stream, in.Inode, in.HeadHash)
			case in.ParseError:
				p.ParseError(in.Stream)
			case in.Frame != nil:
				s.head, s.headF, s.hasHead, s.eof = in, *in.Frame, true, false
			default:
				s.eof = false
				f, err := p.FrameLine(in.Stream, in.Line)
				if err != nil {
					p.BadLine(in.Stream, in.End)
					continue
				}
				s.head, s.headF, s.hasHead = in, f, true
			}
		}
	}
}

// blocked returns the earliest time a source without a head line stops
// holding the merge back, or zero when none does.
func (m *merge) blocked(now time.Time) time.Time {
	var first time.Time
	for _, s := range m.srcs {
		if s.hasHead || s.closed() {
			continue
		}
		wait := m.lateness
		if s.file && !s.eof {
			wait = max(stallTimeout, m.lateness)
		}
		if until := s.lastRecv.Add(wait); now.Before(until) && (first.IsZero() || until.Before(first)) {
			first = until
		}
	}
	return first
}

// feed hands s's head line to the pipeline.
func (m *merge) feed(s *Source, now time.Time) {
	t := s.headF.Time
	other := m.max1
	if m.max1Src == s {
		other = m.max2
	}
	if t.Before(other) {
		m.r.p.m.LinesLate.WithLabelValues(m.r.p.sourceLabel(s.head.Stream)).Inc()
	}
	switch {
	case m.max1Src == s:
		if t.After(m.max1) {
			m.max1 = t
		}
	case t.After(m.max1):
		m.max2, m.max1, m.max1Src = m.max1, t, s
	case t.After(m.max2):
		m.max2 = t
	}
	if t.After(m.lastEvent) {
		m.lastEvent = t
	}
	m.lastLine = now
	s.hasHead = false
	in := s.head
	s.head = Input{}
	m.r.p.FrameEvent(in.Stream, s.headF, nil, in.Off, in.End)
}

// idle moves the correlator's clock on when no line came for every: by the
// wall time since the last line, from the latest line time fed.
func (m *merge) idle(now time.Time, every time.Duration) {
	stalled := now.Sub(m.lastLine)
	if stalled < every {
		return
	}
	m.r.p.FlushIdle(m.lastEvent.Add(stalled))
}

// prune drops the sources that are closed and have nothing left.
func (m *merge) prune() {
	n := 0
	for _, s := range m.srcs {
		if !s.hasHead && s.closed() && len(s.ch) == 0 {
			if m.max1Src == s {
				m.max1Src = nil
			}
			continue
		}
		m.srcs[n] = s
		n++
	}
	clear(m.srcs[n:])
	m.srcs = m.srcs[:n]
}

func (s *Source) closed() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}
