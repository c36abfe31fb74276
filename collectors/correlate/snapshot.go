package correlate

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// The Correlator's state, for a reader that commits it with its input
// positions and resumes exactly after a restart (collectors/ingest,
// docs/collectors.md "Restarts without loss or double counting").
//
// The state is one small global part (the clocks, counters, the order of
// the finished records, auth failures waiting for their session) and one
// item per held record and per Dovecot session. State(false) returns only
// the items that changed since the last call, and those that are gone, so
// what is committed each second is proportional to what happened in it,
// not to everything held.

// stateVersion changes whenever the state's meaning changes; a state of
// another version is refused (the caller starts afresh).
const stateVersion = 2

// ErrSnapshotVersion is returned by Restore for a state written by another
// version of the Correlator.
var ErrSnapshotVersion = errors.New("correlate: state of another version")

// Saved is the Correlator's state, or what changed in it.
type Saved struct {
	Global []byte
	// Put are the items (records, sessions) new or changed, by key; Delete
	// the keys of those gone. With Full, Put holds every item, and any
	// item stored before that is not in it is gone.
	Put    map[string][]byte
	Delete []string
	Full   bool
}

// changes are the items changed since the last State, when tracking.
type changes struct {
	on      bool
	entries map[*entry]struct{}
	gone    map[uint64]struct{}
	sess    map[skey]struct{}
	goneS   map[skey]struct{}
}

func (c *Correlator) mark(e *entry) {
	if c.chg.on {
		c.chg.entries[e] = struct{}{}
	}
}

func (c *Correlator) markGone(e *entry) {
	if c.chg.on {
		delete(c.chg.entries, e)
		c.chg.gone[e.id] = struct{}{}
	}
}

func (c *Correlator) markSession(k skey) {
	if c.chg.on {
		delete(c.chg.goneS, k)
		c.chg.sess[k] = struct{}{}
	}
}

func (c *Correlator) markSessionGone(k skey) {
	if c.chg.on {
		delete(c.chg.sess, k)
		c.chg.goneS[k] = struct{}{}
	}
}

func (c *Correlator) resetChanges() {
	c.chg = changes{on: true, entries: map[*entry]struct{}{}, gone: map[uint64]struct{}{}, sess: map[skey]struct{}{},
		goneS: map[skey]struct{}{}}
}

// LoseChanges says the last State was not committed: the next State is a
// full one.
func (c *Correlator) LoseChanges() { c.chg.on = false }

// global is the State's global part.
type global struct {
	Version   int
	NextID    uint64
	Finished  []uint64 // c.finished by record ID (a record reopened and finished again is there twice)
	Pending   []snapPending
	Smtpd     []snapSMTPD
	Amavis    []snapAmavis
	Releases  []snapRelease
	Resent    []snapResent
	Exim      []snapExim
	Filters   [][2]string // filterClients
	Pos       int64
	Now       time.Time
	LastSweep time.Time
	GraceAt   time.Time
	FinMin    time.Time
	Sum       Summary
	Events    [256]int
}

// snapEntry is one held record.
type snapEntry struct {
	ID        uint64
	Msg       Message
	Keys      []string // the queue IDs whose open-set key points to this record (on Msg.Host)
	Done      time.Time
	Compacted time.Time
}

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
	User, Method  string
	IP            string
	At            time.Time
	SHost, SProg  string
}

// snapAmavis is the first piece of a split amavis line: its frame, parsed
// again on Restore, and the text joined so far.
type snapAmavis struct {
	Frame logparse.Frame
	Text  string
}

type snapRelease struct {
	Host, ID string
	At       time.Time
}

type snapResent struct {
	Host, ID string
	QHost    string
	QID      string
}

type snapExim struct {
	Host, IP string
	Port     int
	At       time.Time
}

func entryKey(id uint64) string { return "m:" + strconv.FormatUint(id, 36) }

// sessionKey names a session's item; the key is stored as text, so host
// and session (bytes from a log line) are quoted: valid UTF-8, no NUL.
func sessionKey(k skey) string { return "s:" + strconv.Quote(k.host) + strconv.Quote(k.session) }

func (c *Correlator) encodeEntry(e *entry) ([]byte, error) {
	se := snapEntry{ID: e.id, Msg: *e.msg, Done: e.done, Compacted: e.compacted}
	for _, q := range e.msg.Queues {
		if c.open[qkey{e.msg.Host, q.ID}] == e {
			se.Keys = append(se.Keys, q.ID)
		}
	}
	return json.Marshal(&se)
}

func (c *Correlator) encodeSession(k skey, ss dovecotSession) ([]byte, error) {
	return json.Marshal(&snapSession{Host: k.host, Session: k.session, Service: ss.service, Seen: ss.seen})
}

// State returns the Correlator's state for Restore: with full, or on the
// first call, all of it; else what changed since the previous call. Only
// the set of queue IDs already emitted, which serves the Orphans counter
// alone, is left out.
func (c *Correlator) State(full bool) (Saved, error) {
	if !c.chg.on {
		full = true
	}
	st := Saved{Put: map[string][]byte{}, Full: full}
	put := func(key string, b []byte, err error) error {
		if err != nil {
			return fmt.Errorf("correlate: state: %w", err)
		}
		st.Put[key] = b
		return nil
	}
	if full {
		seen := map[*entry]bool{}
		for _, e := range c.open {
			if !e.dead && !seen[e] {
				seen[e] = true
				b, err := c.encodeEntry(e)
				if err := put(entryKey(e.id), b, err); err != nil {
					return Saved{}, err
				}
			}
		}
		for k, ss := range c.sessions {
			b, err := c.encodeSession(k, ss)
			if err := put(sessionKey(k), b, err); err != nil {
				return Saved{}, err
			}
		}
	} else {
		for e := range c.chg.entries {
			if e.dead {
				continue
			}
			b, err := c.encodeEntry(e)
			if err := put(entryKey(e.id), b, err); err != nil {
				return Saved{}, err
			}
		}
		for id := range c.chg.gone {
			st.Delete = append(st.Delete, entryKey(id))
		}
		for k := range c.chg.sess {
			if ss, ok := c.sessions[k]; ok {
				b, err := c.encodeSession(k, ss)
				if err := put(sessionKey(k), b, err); err != nil {
					return Saved{}, err
				}
			}
		}
		for k := range c.chg.goneS {
			st.Delete = append(st.Delete, sessionKey(k))
		}
	}
	g := global{Version: stateVersion, NextID: c.nextID, Pos: c.pos, Now: c.now, LastSweep: c.lastSweep, GraceAt: c.graceAt,
		FinMin: c.finishedMin, Sum: c.sum, Events: c.events}
	for _, it := range c.finished {
		if !it.e.dead {
			g.Finished = append(g.Finished, it.e.id)
		}
	}
	for k, ps := range c.pending {
		p := snapPending{Host: k.host, Session: k.session, At: c.pendingAt[k]}
		for _, a := range ps {
			p.Events = append(p.Events, *a.ev)
		}
		g.Pending = append(g.Pending, p)
	}
	for k, ss := range c.smtpd {
		g.Smtpd = append(g.Smtpd, snapSMTPD{Host: k.host, Program: k.program, PID: k.pid, User: ss.user, Method: ss.method,
			IP: ss.ip, At: ss.at, SHost: ss.host, SProg: ss.program})
	}
	for _, ap := range c.amavis {
		g.Amavis = append(g.Amavis, snapAmavis{Frame: ap.ev.Frame, Text: ap.text})
	}
	for k, t := range c.releases {
		g.Releases = append(g.Releases, snapRelease{Host: k.host, ID: k.id, At: t})
	}
	for k, q := range c.resent {
		g.Resent = append(g.Resent, snapResent{Host: k.host, ID: k.id, QHost: q.host, QID: q.qid})
	}
	for k, t := range c.eximLogins {
		g.Exim = append(g.Exim, snapExim{Host: k.host, IP: k.ip, Port: k.port, At: t})
	}
	for k := range c.filterClients {
		g.Filters = append(g.Filters, k)
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&g); err != nil {
		return Saved{}, fmt.Errorf("correlate: state: %w", err)
	}
	st.Global = buf.Bytes()
	c.resetChanges()
	return st, nil
}

// Restore replaces the Correlator's state with a committed one: its global
// part and its items (every item committed, changes applied). The options
// (horizon, grace, content-filter relays, sinks) stay those of New. On an
// error the Correlator is unchanged. Changes are tracked from there on.
func (c *Correlator) Restore(globalPart []byte, items map[string][]byte) error {
	var g global
	if err := gob.NewDecoder(bytes.NewReader(globalPart)).Decode(&g); err != nil {
		return fmt.Errorf("correlate: restore: %w", err)
	}
	if g.Version != stateVersion {
		return fmt.Errorf("%w (%d, want %d)", ErrSnapshotVersion, g.Version, stateVersion)
	}
	byID := map[uint64]*entry{}
	open := map[qkey]*entry{}
	sessions := map[skey]dovecotSession{}
	for key, b := range items {
		switch {
		case strings.HasPrefix(key, "m:"):
			var se snapEntry
			if err := json.Unmarshal(b, &se); err != nil {
				return fmt.Errorf("correlate: restore %s: %w", key, err)
			}
			e := &entry{id: se.ID, m: se.Msg, done: se.Done, compacted: se.Compacted}
			e.msg = &e.m
			byID[e.id] = e
			for _, q := range se.Keys {
				open[qkey{e.msg.Host, q}] = e
			}
		case strings.HasPrefix(key, "s:"):
			var ss snapSession
			if err := json.Unmarshal(b, &ss); err != nil {
				return fmt.Errorf("correlate: restore %s: %w", key, err)
			}
			sessions[skey{ss.Host, ss.Session}] = dovecotSession{service: c.keep(ss.Service), seen: ss.Seen}
		}
	}
	finished := make([]finishedItem, 0, len(g.Finished))
	for _, id := range g.Finished {
		e := byID[id]
		if e == nil {
			return fmt.Errorf("correlate: restore: finished record %d is not in the state", id)
		}
		finished = append(finished, finishedItem{e, e.done})
	}
	pending := make(map[skey][]pendingAuth, len(g.Pending))
	pendingAt := make(map[skey]time.Time, len(g.Pending))
	for _, p := range g.Pending {
		k := skey{p.Host, p.Session}
		for i := range p.Events {
			pending[k] = append(pending[k], pendingAuth{ev: &p.Events[i], compacted: true})
		}
		pendingAt[k] = p.At
	}
	smtpd := make(map[smtpdKey]*smtpdSession, len(g.Smtpd))
	for _, k := range g.Smtpd {
		smtpd[smtpdKey{k.Host, k.Program, k.PID}] = &smtpdSession{user: k.User, method: k.Method, ip: k.IP, at: k.At,
			host: k.SHost, program: k.SProg}
	}
	amavis := make(map[amavisKey]*amavisPending, len(g.Amavis))
	for _, a := range g.Amavis {
		ev, ok := logparse.ParseAmavis(a.Frame).(*logparse.AmavisResult)
		if !ok {
			return fmt.Errorf("correlate: restore: a held amavis line does not parse again: %q", a.Frame.Message)
		}
		amavis[amavisKey{ev.Host, ev.LogID}] = &amavisPending{ev: ev, text: a.Text}
	}
	releases := make(map[releaseKey]time.Time, len(g.Releases))
	for _, r := range g.Releases {
		releases[releaseKey{r.Host, r.ID}] = r.At
	}
	resent := make(map[releaseKey]qkey, len(g.Resent))
	for _, r := range g.Resent {
		resent[releaseKey{r.Host, r.ID}] = qkey{r.QHost, r.QID}
	}
	exim := make(map[eximSession]time.Time, len(g.Exim))
	for _, x := range g.Exim {
		exim[eximSession{x.Host, x.IP, x.Port}] = x.At
	}
	filters := make(map[[2]string]bool, len(g.Filters))
	for _, f := range g.Filters {
		filters[f] = true
	}
	sum := g.Sum
	for _, m := range []*map[string]int{&sum.DovecotLogins, &sum.Amavis, &sum.Rspamd, &sum.Unknown, &sum.Events, &sum.Warnings} {
		if *m == nil {
			*m = map[string]int{}
		}
	}
	if sum.Rejects == nil {
		sum.Rejects = map[RejectKey]int{}
	}
	c.open, c.finished, c.sessions, c.pending, c.pendingAt = open, finished, sessions, pending, pendingAt
	clear(c.live)
	c.live = c.live[:0]
	for _, e := range byID {
		c.addLive(e)
	}
	// the next pass looks at every item
	c.finishedSorted, c.finishedExact, c.finishedDropped = false, false, 0
	c.sessionsDue = c.sessionsDue[:0]
	for k, ss := range sessions {
		c.sessionsDue.push(sessionDue{ss.seen, k})
	}
	c.smtpd, c.amavis, c.releases, c.resent, c.eximLogins, c.filterClients = smtpd, amavis, releases, resent, exim, filters
	c.nextID, c.pos, c.now, c.lastSweep, c.graceAt, c.finishedMin = g.NextID, g.Pos, g.Now, g.LastSweep, g.GraceAt, g.FinMin
	c.sum, c.events = sum, g.Events
	c.emitted.clear()
	clear(c.emittedBits[:])
	c.resetChanges()
	return nil
}
