package correlate

import (
	"bytes"
	"encoding/gob"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// snapshotVersion changes whenever the snapshot's meaning changes; a
// snapshot of another version is refused (the caller starts afresh).
const snapshotVersion = 1

// ErrSnapshotVersion is returned by Restore for a snapshot written by
// another version of the Correlator.
var ErrSnapshotVersion = errors.New("correlate: snapshot of another version")

// snapshot is the Correlator's state as Snapshot writes it: everything
// that decides what it emits next, so that a Correlator restored from it
// and fed the rest of the input emits what the original would have.
type snapshot struct {
	Version int
	Entries []snapEntry
	// Finished are indexes into Entries, in the order of c.finished
	// (an entry reopened by a link and finished again is listed twice,
	// as in c.finished).
	Finished  []int
	Sessions  []snapSession
	Pending   []snapPending
	SmtpdSASL []snapSMTPD
	Pos       int64
	Now       time.Time
	LastSweep time.Time
	GraceAt   time.Time
	FinMin    time.Time
	Sum       Summary
	Events    [256]int
}

type snapEntry struct {
	Msg       Message
	Keys      []snapKey // the open-set keys that point to this record
	Done      time.Time
	Compacted time.Time
}

type snapKey struct{ Host, QID string }

type snapSession struct {
	Host, Session, Service string
	Seen                   time.Time
}

type snapPending struct {
	Host, Session string
	At            time.Time
	Events        []logparse.DovecotAuthFailure
}

type snapSMTPD struct {
	Host, Program string
	PID           int
}

// Snapshot returns the Correlator's state (open and finished records,
// Dovecot sessions and auth failures waiting for theirs, SMTP AUTH
// sessions, its event clock and counters) as bytes for Restore. Only the
// set of queue IDs already emitted, which serves the Orphans counter
// alone, is left out. A reader that checkpoints its input positions
// together with the snapshot resumes exactly: Restore, then feed the input
// from those positions on.
func (c *Correlator) Snapshot() ([]byte, error) {
	s := snapshot{Version: snapshotVersion, Pos: c.pos, Now: c.now, LastSweep: c.lastSweep, GraceAt: c.graceAt,
		FinMin: c.finishedMin, Sum: c.sum, Events: c.events}
	index := map[*entry]int{}
	add := func(e *entry) int {
		if i, ok := index[e]; ok {
			return i
		}
		index[e] = len(s.Entries)
		s.Entries = append(s.Entries, snapEntry{Msg: *e.msg, Done: e.done, Compacted: e.compacted})
		return index[e]
	}
	// in the order of c.finished first, then the open set: the order the
	// records are rebuilt in does not matter, their links do
	for _, e := range c.finished {
		if !e.dead {
			s.Finished = append(s.Finished, add(e))
		}
	}
	for k, e := range c.open {
		i := add(e)
		s.Entries[i].Keys = append(s.Entries[i].Keys, snapKey{k.host, k.qid})
	}
	for k, ss := range c.sessions {
		s.Sessions = append(s.Sessions, snapSession{Host: k.host, Session: k.session, Service: ss.service, Seen: ss.seen})
	}
	for k, ps := range c.pending {
		p := snapPending{Host: k.host, Session: k.session, At: c.pendingAt[k]}
		for _, a := range ps {
			p.Events = append(p.Events, *a.ev)
		}
		s.Pending = append(s.Pending, p)
	}
	for k := range c.smtpdSASL {
		s.SmtpdSASL = append(s.SmtpdSASL, snapSMTPD{Host: k.host, Program: k.program, PID: k.pid})
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&s); err != nil {
		return nil, fmt.Errorf("correlate: snapshot: %w", err)
	}
	return buf.Bytes(), nil
}

// Restore replaces the Correlator's state with a Snapshot. The options
// (horizon, grace, content-filter relays, sinks) stay those of New. On an
// error the Correlator is unchanged.
func (c *Correlator) Restore(data []byte) error {
	var s snapshot
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&s); err != nil {
		return fmt.Errorf("correlate: restore: %w", err)
	}
	if s.Version != snapshotVersion {
		return fmt.Errorf("%w (%d, want %d)", ErrSnapshotVersion, s.Version, snapshotVersion)
	}
	entries := make([]*entry, len(s.Entries))
	open := map[qkey]*entry{}
	for i := range s.Entries {
		se := &s.Entries[i]
		e := &entry{m: se.Msg, done: se.Done, compacted: se.Compacted}
		e.msg = &e.m
		entries[i] = e
		for _, k := range se.Keys {
			open[qkey{k.Host, k.QID}] = e
		}
	}
	finished := make([]*entry, 0, len(s.Finished))
	for _, i := range s.Finished {
		if i < 0 || i >= len(entries) {
			return errors.New("correlate: restore: bad snapshot")
		}
		finished = append(finished, entries[i])
	}
	sessions := make(map[skey]dovecotSession, len(s.Sessions))
	for _, ss := range s.Sessions {
		sessions[skey{ss.Host, ss.Session}] = dovecotSession{service: c.keep(ss.Service), seen: ss.Seen}
	}
	pending := make(map[skey][]pendingAuth, len(s.Pending))
	pendingAt := make(map[skey]time.Time, len(s.Pending))
	for _, p := range s.Pending {
		k := skey{p.Host, p.Session}
		for i := range p.Events {
			pending[k] = append(pending[k], pendingAuth{ev: &p.Events[i], compacted: true})
		}
		pendingAt[k] = p.At
	}
	sasl := make(map[smtpdKey]bool, len(s.SmtpdSASL))
	for _, k := range s.SmtpdSASL {
		sasl[smtpdKey{k.Host, k.Program, k.PID}] = true
	}
	sum := s.Sum
	for _, m := range []*map[string]int{&sum.DovecotLogins, &sum.Amavis, &sum.Rspamd, &sum.Unknown, &sum.Events} {
		if *m == nil {
			*m = map[string]int{}
		}
	}
	if sum.Rejects == nil {
		sum.Rejects = map[RejectKey]int{}
	}
	c.open, c.finished, c.sessions, c.pending, c.pendingAt, c.smtpdSASL = open, finished, sessions, pending, pendingAt, sasl
	c.pos, c.now, c.lastSweep, c.graceAt, c.finishedMin = s.Pos, s.Now, s.LastSweep, s.GraceAt, s.FinMin
	c.sum, c.events = sum, s.Events
	clear(c.emitted)
	clear(c.emittedBits[:])
	return nil
}
