package abusedetect

import (
	"bytes"
	"context"
	"encoding/gob"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// Stream is the Detector as the collectors' pipeline drives it (the
// pipeline's Detector seam: every line's event in merged time order, then
// every login, message and transaction-log record, each once, in import
// and serve alike).
//
// Every log line reaches the rules through Line (Observe): its event is
// where a login, a submission, a rate limit or a policy reject is read,
// with the line itself as evidence. The records the pipeline builds from
// log lines say the same again, so Login, Message and Outcome read only
// the engine's own records (source "engine"), which come as no line.
type Stream struct{ D *Detector }

// Line observes the event of one log line.
func (s Stream) Line(ctx context.Context, ev logparse.Event) { s.D.Observe(ctx, ev) }

// Login observes a login record of the engine (SMTP AUTH on its
// submission listener).
func (s Stream) Login(ctx context.Context, l *txlog.Login) {
	if l.Source != sourceEngine {
		return
	}
	s.D.Login(ctx, Login{At: l.Time, Node: l.Node, Service: l.Service, User: l.User, IP: l.RemoteIP, OK: l.OK})
}

// Message observes a message record of the engine: what an account
// submitted, with its recipients.
func (s Stream) Message(ctx context.Context, m *txlog.MessageRow) {
	if m.Source != sourceEngine || m.Received == 0 {
		return
	}
	s.D.Message(ctx, Message{At: m.FirstSeen, Node: m.Node, User: m.AuthUser, IP: m.ClientIP, MessageID: m.MessageID,
		Recipients: m.NRcpt})
}

// Outcome observes a transaction-log row of the engine: its rejects for
// a rate limit or a policy are policy rejects.
func (s Stream) Outcome(ctx context.Context, r *txlog.Row) {
	if r.Source != sourceEngine || r.Status != txlog.StatusRejected || !policyReason(r.Reply) {
		return
	}
	d := s.D
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.o.Config.Enabled {
		return
	}
	d.policyReject(ctx, policyReject{at: r.Time, node: r.Node, user: logparse.AccountName(r.AuthUser), ip: r.ClientIP, what: r.Reply,
		evidence: fmt.Sprintf("%s %s engine: %s %d %s from %s user=%s: %s", stamp(r.Time), r.Node, r.Stage, r.Code, r.DSN, r.ClientIP, r.AuthUser, r.Reply)})
}

// sourceEngine is the source of the records the engine writes
// (collectors/ingest's engine adapter).
const sourceEngine = "engine"

// The Detector's state as MarshalState writes it: every count of the
// current windows, the failed logins remembered, what Observe holds across
// lines, and the known addresses not yet written to the History.
type (
	detState struct {
		Last, Swept time.Time
		Windows     []stWindow
		Fails       []stFails
		Sessions    []stSession
		ByIP        []stIP
		Queued      []stQueued
		Dovecot     []stDovecot
		Known       []KnownAddress
	}
	stWindow struct {
		Kind                        Kind
		Key                         string
		Times                       []time.Time
		Weights                     []int
		Addrs                       []string
		Sum                         int
		Quiet, FirstAt              time.Time
		Head, Tail, SeenAddrs, Also []string
	}
	stFails struct {
		User            string
		Times           []time.Time
		Addrs, Evidence []string
		Guessed         time.Time
		Raised          []string
	}
	stSession struct {
		Host, Program string
		PID           int
		User          string
		At            time.Time
		Counted       bool
	}
	stIP struct {
		Host, IP, User string
		At             time.Time
	}
	stQueued struct {
		Host, QueueID, User, IP string
		At                      time.Time
		Held                    bool
	}
	stDovecot struct {
		Host, Session string
		Failures      int
		At            time.Time
	}
)

// MarshalState returns the Detector's state, so that a restart of `serve`
// goes on counting where it stopped.
func (s Stream) MarshalState() ([]byte, error) {
	d := s.D
	d.mu.Lock()
	st := detState{Last: d.last, Swept: d.swept}
	for k, w := range d.windows {
		st.Windows = append(st.Windows, stWindow{Kind: k.kind, Key: k.key, Times: w.times, Weights: w.weights, Addrs: w.addrs,
			Sum: w.sum, Quiet: w.quiet, FirstAt: w.firstAt, Head: w.head, Tail: w.tail, SeenAddrs: w.seenAddrs, Also: w.also})
	}
	for u, fm := range d.fails {
		st.Fails = append(st.Fails, stFails{User: u, Times: fm.times, Addrs: fm.addrs, Evidence: fm.evidence, Guessed: fm.guessed,
			Raised: sortedKeys(fm.raised)})
	}
	o := &d.obs
	for k, x := range o.sessions {
		st.Sessions = append(st.Sessions, stSession{Host: k.host, Program: k.program, PID: k.pid, User: x.user, At: x.at, Counted: x.counted})
	}
	for k, x := range o.byIP {
		st.ByIP = append(st.ByIP, stIP{Host: k[0], IP: k[1], User: x.user, At: x.at})
	}
	for k, x := range o.queued {
		st.Queued = append(st.Queued, stQueued{Host: k[0], QueueID: k[1], User: x.user, IP: x.ip, At: x.at, Held: x.held})
	}
	for k, x := range o.dovecot {
		st.Dovecot = append(st.Dovecot, stDovecot{Host: k[0], Session: k[1], Failures: x.failures, At: x.at})
	}
	for k := range d.known.dirty {
		if e := d.known.m[k[0]][k[1]]; e != nil {
			st.Known = append(st.Known, KnownAddress{Account: k[0], Address: k[1], FirstSeen: e.first, LastSeen: e.last})
		}
	}
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(&st)
	d.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("abusedetect: state: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalState replaces the Detector's state with what MarshalState
// returned (the known addresses are added to those Load read).
func (s Stream) UnmarshalState(data []byte) error {
	var st detState
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&st); err != nil {
		return fmt.Errorf("abusedetect: state: %w", err)
	}
	d := s.D
	d.mu.Lock()
	defer d.mu.Unlock()
	d.last, d.swept = st.Last, st.Swept
	d.windows = map[winKey]*window{}
	for _, w := range st.Windows {
		d.windows[winKey{w.Kind, w.Key}] = &window{times: w.Times, weights: w.Weights, addrs: w.Addrs, sum: w.Sum, quiet: w.Quiet,
			firstAt: w.FirstAt, head: w.Head, tail: w.Tail, seenAddrs: w.SeenAddrs, also: w.Also}
	}
	d.fails = map[string]*failMemory{}
	for _, f := range st.Fails {
		fm := &failMemory{times: f.Times, addrs: f.Addrs, evidence: f.Evidence, guessed: f.Guessed}
		if len(f.Raised) > 0 {
			fm.raised = map[string]bool{}
			for _, a := range f.Raised {
				fm.raised[a] = true
			}
		}
		d.fails[f.User] = fm
	}
	d.obs.init()
	for _, x := range st.Sessions {
		d.obs.sessions[sessionKey{x.Host, x.Program, x.PID}] = &sessionInfo{user: x.User, at: x.At, counted: x.Counted}
	}
	for _, x := range st.ByIP {
		d.obs.byIP[[2]string{x.Host, x.IP}] = &ipInfo{user: x.User, at: x.At}
	}
	for _, x := range st.Queued {
		d.obs.queued[[2]string{x.Host, x.QueueID}] = &queuedInfo{user: x.User, ip: x.IP, at: x.At, held: x.Held}
	}
	for _, x := range st.Dovecot {
		d.obs.dovecot[[2]string{x.Host, x.Session}] = &dovecotInfo{failures: x.Failures, at: x.At}
	}
	for _, a := range st.Known {
		d.known.put(a.Account, a.Address, a.FirstSeen, a.LastSeen, true)
	}
	return nil
}
