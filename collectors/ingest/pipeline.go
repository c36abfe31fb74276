// Package ingest runs the collectors' pipeline: lines (from files, syslog
// or an import) are framed and parsed (collectors/logparse), joined into
// messages (collectors/correlate), turned into transaction-log, message and
// login records (collectors/txlog), counted in metrics, shown to the
// detector (abuse detection), and written to a txlog.Store in batches
// together with the reading positions of the files they came from. Engine
// events enter the same pipeline already structured.
//
// `postvakt import` and `postvakt serve` share it: Import merges whole
// files by time; the Runner merges live sources (tailed files, syslog
// connections) by time with a watermark (merge.go) and feeds the same
// Pipeline, so the same lines give the same records.
//
// Restart without loss or double counting: with KeepState, every commit
// writes, in one transaction, the records, the offset of every tailed file
// up to which its lines were processed, and the pipeline's state at that
// point (the correlator's open messages, the detector's windows). A
// restart restores the state and reads each file from its offset: no line
// is processed twice and none is skipped.
//
// A Pipeline is not safe for concurrent use: one goroutine feeds it.
package ingest

import (
	"bytes"
	"context"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/collectors/correlate"
	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// DefaultBatchSize is the number of records written per transaction.
const DefaultBatchSize = 5000

// Options configure a Pipeline.
type Options struct {
	Store txlog.Store
	// Correlate sets Horizon, LinkGrace and ContentFilterRelays; its sinks
	// are the Pipeline's.
	Correlate correlate.Options
	// LocalNetworks are the clients whose unauthenticated mail counts as
	// sent by the organisation (Postfix mynetworks); default 127.0.0.1/32
	// and ::1/128.
	LocalNetworks []netip.Prefix
	// WebmailNetworks are the webmail servers' addresses: Dovecot IMAP
	// sessions logged in from them are webmail reads (Session.Service
	// "webmail"), not IMAP reads (collectors.webmail_networks).
	WebmailNetworks []netip.Prefix
	Metrics         *Metrics // nil: a private, unregistered set
	// Detector sees every line and record (abuse detection); nil: none.
	Detector  Detector
	BatchSize int
	// Writers > 1 writes batches on that many goroutines while parsing
	// goes on (import: several COPY streams into PostgreSQL). Batches
	// then commit out of order, so it is refused for tailed files, whose
	// checkpoints must follow their records. 0 or 1: Commit writes.
	Writers int
	// KeepState commits the pipeline's state (txlog.StateSource) with every
	// batch, for Restore after a restart (`serve`).
	KeepState bool
	// EngineJournal says the engine's own commits write the records of
	// accepted mail and of the relay queue and quarantine (txlog journal,
	// docs/collectors.md "The engine"): their events then only move the
	// metrics and the detector here.
	EngineJournal bool
	Now           func() time.Time
}

// Stream is one input of a Pipeline: a file, a syslog listener, an import.
type Stream struct {
	ID     int    // 1…65535, unique per Pipeline
	Source string // metric label: SourceFile, SourceSyslog, SourceImport
	// Ref is the reference time for timestamps without a year (the file's
	// modification time, or now for live input); Loc their zone (nil: UTC).
	Ref time.Time
	Loc *time.Location
	// Checkpoint names the checkpoint of a tailed file ("file:/var/log/…");
	// empty for input that is not resumed.
	Checkpoint string
	Inode      uint64
	HeadHash   string
	// Start is the offset reading starts at (a resumed file's checkpoint).
	Start int64
	// Host, when set, replaces the host name of every line.
	Host string
	// Live streams (tailed files, syslog) get their year-less timestamps'
	// reference renewed as time passes (logparse.MaxFuture is counted
	// from it).
	Live bool
}

type stream struct {
	Stream
	read, parsed prometheus.Counter // this source's, looked up once
	// readN and parsedN are counts not yet added to read and parsed
	// during an import's split (split.go): a counter's atomic add per
	// line is a few per cent of an import
	readN, parsedN int
	framer         *logparse.Framer
	framerAt       time.Time // when the framer was made (Live streams)
	end            int64     // offset after the last line added
}

// Pipeline is the collectors' ingestion pipeline.
type Pipeline struct {
	o       Options
	corr    *correlate.Correlator
	engine  *EngineRecords
	batch   txlog.Batch
	streams map[int]*stream
	m       *Metrics

	ctx   context.Context
	errs  []error
	async *asyncWriter
	hot   hotMetrics
	// lastStream is the stream of the last line (stream)
	lastStream *stream
	// dirty: lines or events were added since the last commit (their
	// positions and state are to be committed even without records)
	dirty bool
	// sessionIPs remembers the client address of Dovecot login sessions
	// (by host and session ID) until their logout line, for
	// WebmailNetworks; bounded by maxSessionIPs. Part of the committed
	// state (pipelineState).
	sessionIPs map[[2]string]string
	// sessPut and sessGone are the sessionIPs changed and removed since
	// the last commit (KeepState)
	sessPut, sessGone map[[2]string]struct{}
	// seq is the number of the last state committed (pipelineState.Seq)
	seq uint64
	// split, during an import, hands what follows from lines and records
	// to a second goroutine (split.go)
	split *splitter
}

// maxSessionIPs bounds Pipeline.sessionIPs: a session whose logout was
// never logged is forgotten when the map is full (it is then cleared).
const maxSessionIPs = 1 << 16

// hotMetrics caches the children of the metric vectors the pipeline
// updates per record: WithLabelValues hashes its labels and takes a lock
// on every call. Filled on first use.
type hotMetrics struct {
	dir        [numDirections]*dirMetrics
	greylisted prometheus.Counter
	passed     prometheus.Counter
	verdicts   map[string]prometheus.Counter // by verdict ("Passed CLEAN")
	logins     map[[2]string]prometheus.Counter
	texts      []verdictText
	delays     map[[4]float64]string
}

type dirMetrics struct {
	messages, received, delivered prometheus.Counter
	delay                         prometheus.Observer
	recipients                    map[string]prometheus.Counter // by status
}

const numDirections = 5

// dirIndex is d's place in hotMetrics.dir, -1 outside the closed set.
func dirIndex(d txlog.Direction) int {
	switch d {
	case txlog.Inbound:
		return 0
	case txlog.Outbound:
		return 1
	case txlog.Internal:
		return 2
	case txlog.Relayed:
		return 3
	case txlog.Unknown:
		return 4
	}
	return -1
}

func (p *Pipeline) dirMetrics(d txlog.Direction) *dirMetrics {
	i := dirIndex(d)
	if i < 0 {
		return p.newDirMetrics(d)
	}
	if p.hot.dir[i] == nil {
		p.hot.dir[i] = p.newDirMetrics(d)
	}
	return p.hot.dir[i]
}

func (p *Pipeline) newDirMetrics(d txlog.Direction) *dirMetrics {
	l := string(d)
	return &dirMetrics{messages: p.m.Messages.WithLabelValues(l), received: p.m.ReceivedBytes.WithLabelValues(l),
		delivered: p.m.DeliveredBytes.WithLabelValues(l), delay: p.m.Delay.WithLabelValues(l),
		recipients: map[string]prometheus.Counter{}}
}

// recipient counts one recipient outcome.
func (p *Pipeline) recipient(d txlog.Direction, status string) {
	dm := p.dirMetrics(d)
	c := dm.recipients[status]
	if c == nil {
		c = p.m.Recipients.WithLabelValues(string(d), status)
		dm.recipients[strings.Clone(status)] = c
	}
	c.Inc()
}

// verdictText is action + " " + category, the same string for the same
// verdict (a few are seen over and over).
func (p *Pipeline) verdictText(action, category string) string {
	for _, v := range p.hot.texts {
		if v.a == action && v.c == category {
			return v.v
		}
	}
	v := action + " " + category
	if len(p.hot.texts) < 16 {
		p.hot.texts = append(p.hot.texts, verdictText{strings.Clone(action), strings.Clone(category), v})
	}
	return v
}

type verdictText struct{ a, c, v string }

// maxDelays bounds the formatted delays= values kept by formatDelays.
const maxDelays = 4096

// formatDelays is txlog.FormatDelays, remembering the text of values seen
// before (a few hundredths of a second each: they repeat).
func (p *Pipeline) formatDelays(d [4]float64) string {
	if v, ok := p.hot.delays[d]; ok {
		return v
	}
	v := txlog.FormatDelays(d)
	for _, x := range d {
		// NaN never finds itself again; -0 would find the text of 0
		if x != x || (x == 0 && math.Signbit(x)) {
			return v
		}
	}
	if len(p.hot.delays) < maxDelays {
		if p.hot.delays == nil {
			p.hot.delays = map[[4]float64]string{}
		}
		p.hot.delays[d] = v
	}
	return v
}

func (p *Pipeline) verdict(v string) {
	c := p.hot.verdicts[v]
	if c == nil {
		if p.hot.verdicts == nil {
			p.hot.verdicts = map[string]prometheus.Counter{}
		}
		c = p.m.Verdicts.WithLabelValues(VerdictLabel(v))
		if len(p.hot.verdicts) < 64 {
			p.hot.verdicts[strings.Clone(v)] = c
		}
	}
	c.Inc()
}

type writeJob struct {
	b *txlog.Batch
}

// asyncWriter writes batches on several goroutines (Options.Writers).
type asyncWriter struct {
	jobs chan writeJob
	wg   sync.WaitGroup
	mu   sync.Mutex
	err  error
	free chan *txlog.Batch
}

func (p *Pipeline) startWriters(ctx context.Context) {
	n := p.o.Writers
	a := &asyncWriter{jobs: make(chan writeJob, n), free: make(chan *txlog.Batch, 2*n+1)}
	for range n {
		a.wg.Add(1)
		go func() {
			defer a.wg.Done()
			for j := range a.jobs {
				err := p.o.Store.WriteBatch(ctx, j.b, nil)
				if err != nil {
					p.m.WriteErrors.Inc()
					a.mu.Lock()
					a.err = errors.Join(a.err, fmt.Errorf("collectors: write batch: %w", err))
					a.mu.Unlock()
				} else {
					p.m.Written.WithLabelValues("tx").Add(float64(len(j.b.Rows)))
					p.m.Written.WithLabelValues("message").Add(float64(len(j.b.Messages)))
					p.m.Written.WithLabelValues("login").Add(float64(len(j.b.Logins)))
					p.m.Written.WithLabelValues("session").Add(float64(len(j.b.Sessions)))
				}
				j.b.Reset()
				select {
				case a.free <- j.b:
				default:
				}
			}
		}()
	}
	p.async = a
}

func (a *asyncWriter) failed() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// New returns a Pipeline.
func New(o Options) *Pipeline {
	if o.BatchSize <= 0 {
		o.BatchSize = DefaultBatchSize
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if len(o.LocalNetworks) == 0 {
		o.LocalNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	}
	if o.Metrics == nil {
		o.Metrics, _ = NewMetrics(nil)
	}
	p := &Pipeline{o: o, streams: map[int]*stream{}, m: o.Metrics, ctx: context.Background(), engine: NewEngineRecords(o.LocalNetworks)}
	p.corr = correlate.New(p.corrOptions())
	return p
}

func (p *Pipeline) corrOptions() correlate.Options {
	co := p.o.Correlate
	co.Messages = correlate.MessageSinkFunc(p.sinkMessage)
	co.Rejects = correlate.RejectSinkFunc(p.sinkReject)
	co.Logins = correlate.LoginSinkFunc(p.sinkLogin)
	return co
}

// AddStream registers an input.
func (p *Pipeline) AddStream(s Stream) error {
	if s.ID <= 0 || s.ID > 0xffff {
		return fmt.Errorf("ingest: stream ID %d out of range", s.ID)
	}
	if _, dup := p.streams[s.ID]; dup {
		return fmt.Errorf("ingest: stream ID %d already added", s.ID)
	}
	ref := s.Ref
	if ref.IsZero() {
		ref = p.o.Now()
	}
	st := &stream{Stream: s, framer: logparse.NewFramer(ref, s.Loc), framerAt: p.o.Now(), end: s.Start,
		read: p.m.LinesRead.WithLabelValues(s.Source), parsed: p.m.LinesParsed.WithLabelValues(s.Source)}
	p.streams[s.ID] = st
	return nil
}

// renewFramers gives live streams whose framer is a day old a new one
// whose reference is now: a year-less timestamp more than
// logparse.MaxFuture after the reference would be put a year back.
func (p *Pipeline) renewFramers(now time.Time) {
	for _, s := range p.streams {
		if s.Live && now.Sub(s.framerAt) >= 24*time.Hour {
			s.framer, s.framerAt = logparse.NewFramer(now, s.Loc), now
		}
	}
}

// stream returns stream id, nil if none was added: the last one found is
// remembered (streams are never removed), which spares a map lookup per
// line.
func (p *Pipeline) stream(id int) *stream {
	if s := p.lastStream; s != nil && s.ID == id {
		return s
	}
	s := p.streams[id]
	if s != nil {
		p.lastStream = s
	}
	return s
}

// sourceLabel is the metric label of stream id's source.
func (p *Pipeline) sourceLabel(id int) string {
	if s := p.stream(id); s != nil {
		return s.Source
	}
	return SourceFile
}

// Metrics are the pipeline's metrics.
func (p *Pipeline) Metrics() *Metrics { return p.m }

// Correlator exposes the correlator's counters (Summary) for reporting.
func (p *Pipeline) Correlator() *correlate.Correlator { return p.corr }

func pos(stream int, off int64) int64 { return int64(stream)<<48 | off }

// Line adds one line of stream id that starts at offset off and ends (after
// its newline) at end. A line that cannot be framed is counted and skipped.
func (p *Pipeline) Line(id int, line string, off, end int64) {
	f, err := p.FrameLine(id, line)
	if err != nil {
		p.BadLine(id, end)
		return
	}
	p.FrameEvent(id, f, nil, off, end)
}

// FrameLine frames one line of stream id with the stream's framer (which
// keeps the year of year-less timestamps: frame a stream's lines in order).
func (p *Pipeline) FrameLine(id int, line string) (logparse.Frame, error) {
	s := p.stream(id)
	if s == nil {
		return logparse.Frame{}, fmt.Errorf("ingest: unknown stream %d", id)
	}
	return s.framer.Frame(line)
}

// BadLine counts a line of stream id that could not be framed, which ends
// at end.
func (p *Pipeline) BadLine(id int, end int64) {
	s := p.stream(id)
	if s == nil {
		p.errs = append(p.errs, fmt.Errorf("ingest: unknown stream %d", id))
		return
	}
	s.read.Inc()
	p.m.ParseErrors.WithLabelValues(s.Source).Inc()
	if end > s.end {
		s.end = end
	}
	p.dirty = true
}

// Frame adds one line already framed (an RFC 5424 syslog message, or a
// line an importer framed to merge files by time) that spans [off, end).
func (p *Pipeline) Frame(id int, f logparse.Frame, off, end int64) {
	p.FrameEvent(id, f, nil, off, end)
}

// FrameEvent is Frame with the event logparse.Parse(f) already parsed
// (by an importer's reader goroutine: parsing is pure). A stream with a
// Host override parses again.
func (p *Pipeline) FrameEvent(id int, f logparse.Frame, ev logparse.Event, off, end int64) {
	p.frameEvent(id, &f, ev, off, end)
}

// frameEvent is FrameEvent with the frame by reference (an importer's
// line in its chunk, not copied again for every line); f is not changed.
func (p *Pipeline) frameEvent(id int, f *logparse.Frame, ev logparse.Event, off, end int64) {
	s := p.stream(id)
	if s == nil {
		p.errs = append(p.errs, fmt.Errorf("ingest: unknown stream %d", id))
		return
	}
	if p.split != nil {
		if s.readN++; s.readN == countEvery {
			s.read.Add(countEvery)
			s.readN = 0
		}
	} else {
		s.read.Inc()
	}
	if s.Host != "" {
		ev = nil
	}
	p.add(s, f, ev, off, end)
}

// ResetStream tells the pipeline that a tailed file was replaced (rotated
// by rename or truncated by copytruncate): reading starts again at offset
// 0 of a file with a new identity.
func (p *Pipeline) ResetStream(id int, inode uint64, headHash string) {
	s := p.streams[id]
	if s == nil {
		return
	}
	s.Inode, s.HeadHash, s.end = inode, headHash, 0
	p.dirty = true
}

// StreamEnd is the offset after the last line added to stream id.
func (p *Pipeline) StreamEnd(id int) int64 {
	if s := p.streams[id]; s != nil {
		return s.end
	}
	return 0
}

// SetIdentity updates the identity of a tailed file (its first line may be
// written only after tailing started).
func (p *Pipeline) SetIdentity(id int, inode uint64, headHash string) {
	if s := p.streams[id]; s != nil {
		s.Inode, s.HeadHash = inode, headHash
	}
}

// HasCheckpoints reports whether any stream is resumed from checkpoints,
// or the pipeline keeps its state.
func (p *Pipeline) HasCheckpoints() bool {
	if p.o.KeepState {
		return true
	}
	for _, s := range p.streams {
		if s.Checkpoint != "" {
			return true
		}
	}
	return false
}

// ParseError counts a line of stream id that could not be framed at all.
func (p *Pipeline) ParseError(id int) {
	if s := p.streams[id]; s != nil {
		p.m.LinesRead.WithLabelValues(s.Source).Inc()
		p.m.ParseErrors.WithLabelValues(s.Source).Inc()
	}
}

func (p *Pipeline) add(s *stream, f *logparse.Frame, ev logparse.Event, off, end int64) {
	p.corr.SetPos(pos(s.ID, off))
	if ev == nil {
		fr := *f
		if s.Host != "" {
			fr.Host = s.Host
		}
		ev = logparse.Parse(fr)
		f = &fr
	}
	if p.split != nil {
		p.split.push(op{kind: opLine, s: s, ev: ev})
	} else {
		p.lineEffects(s, ev)
	}
	// f is ev's frame (FrameEvent)
	if err := p.corr.AddFramed(ev, f); err != nil {
		p.errs = append(p.errs, err)
	}
	if end > s.end {
		s.end = end
	}
}

// lineRecords writes the records that belong to one line rather than to a
// finished message: greylisting decisions, content-filter verdicts and
// Dovecot auth failures without a login session.
func (p *Pipeline) lineRecords(ev logparse.Event) {
	// e.Time and e.Host are the embedded frame's: no copy of the header
	// for every line
	switch e := ev.(type) {
	case *logparse.PostgreyResult:
		status := ""
		switch e.Action {
		case "greylist":
			status = txlog.StatusGreylisted
			if p.hot.greylisted == nil {
				p.hot.greylisted = p.m.Greylist.WithLabelValues("greylisted")
			}
			p.hot.greylisted.Inc()
		case "pass":
			status = txlog.StatusGreylistPass
			if p.hot.passed == nil {
				p.hot.passed = p.m.Greylist.WithLabelValues("passed")
			}
			p.hot.passed.Inc()
		default:
			return
		}
		reply := e.Reason
		if e.Delay >= 0 {
			reply += " (delay " + strconv.Itoa(e.Delay) + "s)"
		}
		p.batch.Rows = append(p.batch.Rows, txlog.Row{Time: e.Time, Node: e.Host, Source: "postgrey", Direction: txlog.Inbound,
			QueueID: e.QueueID, MailFrom: e.Sender, Rcpt: e.Recipient, ClientIP: e.ClientAddress, ClientName: e.ClientName,
			Status: status, Reply: reply, Agent: "postgrey"})
		p.rowAdded()
	case *logparse.AmavisResult:
		verdict := p.verdictText(e.Action, e.Category)
		p.verdict(verdict)
		dir := txlog.Inbound
		if e.Originating {
			dir = txlog.Outbound
		}
		qid := e.QueueID
		if qid == "" && len(e.QueuedAs) > 0 {
			qid = e.QueuedAs[0]
		}
		rcpt := ""
		if len(e.To) == 1 {
			rcpt = e.To[0]
		}
		// "[detail; ]N recipient(s)[; queued_as A/B]", made in one piece
		var rb [160]byte
		r := rb[:0]
		if e.Detail != "" {
			r = append(append(r, e.Detail...), "; "...)
		}
		r = append(strconv.AppendInt(r, int64(len(e.To)), 10), " recipient(s)"...)
		for i, q := range e.QueuedAs {
			if i == 0 {
				r = append(r, "; queued_as "...)
			} else {
				r = append(r, '/')
			}
			r = append(r, q...)
		}
		reply := string(r)
		score := e.Hits
		if score == "-" {
			score = ""
		}
		p.batch.Rows = append(p.batch.Rows, txlog.Row{Time: e.Time, Node: e.Host, Source: "amavis", Direction: dir,
			QueueID: qid, MessageID: e.MessageID, MailFrom: e.From, Rcpt: rcpt, Size: e.Size, ClientIP: e.ClientIP,
			SpamScore: score, AVVerdict: verdict, Status: txlog.StatusScanned, Reply: reply, Agent: "amavis"})
		p.rowAdded()
	case *logparse.DovecotLogin:
		if len(p.o.WebmailNetworks) > 0 && e.Session != "" {
			if p.sessionIPs == nil || len(p.sessionIPs) >= maxSessionIPs {
				for k := range p.sessionIPs {
					p.sessionChanged(k, true)
				}
				p.sessionIPs = map[[2]string]string{}
			}
			k := [2]string{strings.Clone(e.Host), strings.Clone(e.Session)}
			p.sessionIPs[k] = strings.Clone(e.RemoteIP)
			p.sessionChanged(k, false)
		}
	case *logparse.DovecotLogout:
		p.session(e)
	case *logparse.DovecotAuthFailure:
		if e.Session == "" {
			p.loginRecord(txlog.Login{Time: e.Time, Node: e.Host, Source: txlog.SourceDovecotAuth,
				User: e.User, RemoteIP: e.RemoteIP, Reason: e.Reason})
		}
	case *logparse.RspamdResult:
		verdict := "rspamd " + e.Action
		p.batch.Rows = append(p.batch.Rows, txlog.Row{Time: e.Time, Node: e.Host, Source: "rspamd", Direction: txlog.Unknown,
			QueueID: e.QueueID, MessageID: e.MessageID, MailFrom: e.From, ClientIP: e.IP,
			SpamScore: strconv.FormatFloat(e.Score, 'f', 2, 64), AVVerdict: verdict, Status: txlog.StatusScanned, Agent: "rspamd"})
		p.rowAdded()
	}
}

// session records the end of an IMAP or POP3 session with the messages
// it read (docs/collectors.md, "Records").
func (p *Pipeline) session(e *logparse.DovecotLogout) {
	if !e.HasReads || (e.Service != "imap" && e.Service != "pop3") {
		return
	}
	svc, ip := e.Service, ""
	if p.sessionIPs != nil && e.Session != "" {
		k := [2]string{e.Host, e.Session}
		var held bool
		if ip, held = p.sessionIPs[k]; held {
			delete(p.sessionIPs, k)
			p.sessionChanged(k, true)
		}
	}
	if svc == "imap" && ip != "" && inNetworks(p.o.WebmailNetworks, ip) {
		svc = "webmail"
	}
	p.batch.Sessions = append(p.batch.Sessions, txlog.Session{Time: e.Time, Node: e.Host, Source: "dovecot", Service: svc,
		User: e.User, Session: e.Session, RemoteIP: ip, Reads: e.Reads, ReadBytes: e.ReadBytes})
}

// sessionChanged notes a change of sessionIPs for the next commit's state.
func (p *Pipeline) sessionChanged(k [2]string, gone bool) {
	if !p.o.KeepState {
		return
	}
	if p.sessPut == nil {
		p.sessPut, p.sessGone = map[[2]string]struct{}{}, map[[2]string]struct{}{}
	}
	if gone {
		delete(p.sessPut, k)
		p.sessGone[k] = struct{}{}
	} else {
		delete(p.sessGone, k)
		p.sessPut[k] = struct{}{}
	}
}

// sessionItem is a Dovecot session's client address as an item of the
// committed state: key and value are text-safe.
func sessionItem(k [2]string) string { return "w:" + strconv.Quote(k[0]) + strconv.Quote(k[1]) }

func inNetworks(nets []netip.Prefix, ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range nets {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

func (p *Pipeline) local(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range p.o.LocalNetworks {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

func localAgent(agent string) bool {
	switch agent {
	case "lmtp", "local", "virtual", "pipe":
		return true
	}
	return false
}

func (p *Pipeline) onMessage(m *correlate.Message) error {
	key := txlog.MsgKey(m.Host, m.Queues[0].ID, m.FirstSeen)
	received := 0
	for _, q := range m.Queues {
		if (q.Origin == correlate.OriginSMTP || q.Origin == correlate.OriginPickup) && !q.LinkedByAmavis {
			received++
		}
	}
	if refusedAfterData(m) {
		received = 0
	}
	localSender := m.SASLUsername != "" || m.Origin == correlate.OriginPickup || m.Origin == correlate.OriginBounce ||
		(m.Service != "" && m.Service != "smtpd" && m.Origin == correlate.OriginSMTP) || (m.ClientIP != "" && p.local(m.ClientIP))
	knownOrigin := m.Origin != correlate.OriginUnknown
	rowDir := func(agent string) txlog.Direction {
		switch {
		case !knownOrigin && localAgent(agent):
			return txlog.Inbound
		case !knownOrigin:
			return txlog.Outbound
		case localSender && localAgent(agent):
			return txlog.Internal
		case localSender:
			return txlog.Outbound
		case localAgent(agent):
			return txlog.Inbound
		}
		return txlog.Relayed
	}
	// The message's direction: its senders' side, refined by where the
	// final deliveries went when they all went one way.
	dir := txlog.Unknown
	var seen [4]bool // by dirIndex: rowDir gives inbound, outbound, internal or relayed
	nseen := 0
	var only txlog.Direction
	for _, d := range m.Deliveries {
		if !d.Handoff {
			rd := rowDir(d.Agent)
			if i := dirIndex(rd); !seen[i] {
				seen[i] = true
				nseen++
				only = rd
			}
		}
	}
	switch {
	case nseen == 1:
		dir = only
	case knownOrigin && localSender:
		dir = txlog.Outbound
	case knownOrigin:
		dir = txlog.Inbound
	}
	verdict, score := "", ""
	if m.Filter != nil {
		verdict = p.verdictText(m.Filter.Action, m.Filter.Category)
		if m.Filter.Hits != "-" {
			score = m.Filter.Hits
		}
	}
	qids := make([]string, len(m.Queues))
	for i, q := range m.Queues {
		qids[i] = q.ID
	}
	row := txlog.MessageRow{FirstSeen: m.FirstSeen, LastSeen: m.LastSeen, Node: m.Host, Source: txlog.SourcePostfix,
		Direction: dir, MsgKey: key, Origin: string(m.Origin), Service: m.Service, State: string(m.State), QueueIDs: qids,
		MessageID: m.MessageID, MailFrom: m.From, Size: m.Size, NRcpt: m.NRcpt, ClientIP: m.ClientIP,
		ClientName: m.ClientName, Helo: m.Helo, AuthUser: m.SASLUsername, SpamScore: score, AVVerdict: verdict,
		Received: received}
	p.batch.Messages = append(p.batch.Messages, row)
	if p.o.Detector != nil {
		p.o.Detector.Message(p.ctx, &p.batch.Messages[len(p.batch.Messages)-1])
	}
	if received > 0 {
		dm := p.dirMetrics(dir)
		dm.messages.Inc()
		dm.received.Add(float64(m.Size))
	}
	for _, d := range m.Deliveries {
		rd := rowDir(d.Agent)
		if d.Handoff {
			rd = dir
		}
		p.batch.Rows = append(p.batch.Rows, txlog.Row{Time: d.Time, Node: m.Host, Source: txlog.SourcePostfix, Direction: rd,
			MsgKey: key, QueueID: d.QueueID, MessageID: m.MessageID, MailFrom: m.From, Rcpt: d.To, OrigRcpt: d.OrigTo,
			Size: m.Size, ClientIP: m.ClientIP, ClientName: m.ClientName, Helo: m.Helo, AuthUser: m.SASLUsername,
			SpamScore: score, AVVerdict: verdict, Status: d.Status, DSN: d.DSN, Reply: d.Reply, Relay: d.Relay,
			Agent: d.Agent, Handoff: d.Handoff, Delay: d.Delay, Delays: p.formatDelays(d.Delays)})
		p.rowAdded()
		if !d.Handoff {
			switch d.Status {
			case txlog.StatusSent, txlog.StatusDeferred, txlog.StatusBounced:
				p.recipient(rd, d.Status)
			}
			if d.Status == txlog.StatusSent {
				dm := p.dirMetrics(rd)
				dm.delivered.Add(float64(m.Size))
				dm.delay.Observe(d.Delay)
			}
		}
	}
	for _, q := range m.Queues {
		if q.Expired {
			p.batch.Rows = append(p.batch.Rows, txlog.Row{Time: m.LastSeen, Node: m.Host, Source: txlog.SourcePostfix,
				Direction: dir, MsgKey: key, QueueID: q.ID, MessageID: m.MessageID, MailFrom: m.From, Size: m.Size,
				ClientIP: m.ClientIP, AuthUser: m.SASLUsername, Status: txlog.StatusExpired, Agent: "qmgr",
				Reply: "maximal_queue_lifetime reached, returned to sender"})
			p.rowAdded()
			p.recipient(dir, txlog.StatusExpired)
		}
	}
	return nil
}

// refusedAfterData reports whether a message with a queue ID was refused
// before Postfix accepted it: a reject (header or body checks in cleanup,
// a milter) and no queue manager line (no size, no recipients) and no
// delivery. cleanup(8) answers the client 5xx and removes the queue file,
// so the message was never received (the transaction log summary's
// "received", docs/collectors.md).
func refusedAfterData(m *correlate.Message) bool {
	return len(m.Rejects) > 0 && m.Size == 0 && m.NRcpt == 0 && len(m.Deliveries) == 0
}

func (p *Pipeline) onReject(r *logparse.Reject) error {
	h := r.Header()
	svc, daemon := logparse.SplitPostfixTag(h.Program)
	status := txlog.StatusRejected
	switch r.Action {
	case "reject", "milter-reject":
	case "discard":
		status = txlog.StatusDiscarded
	default:
		return nil // warn, hold, info: no outcome
	}
	if daemon == "cleanup" && r.Stage == "" {
		r.Stage = "header"
	}
	dir := txlog.Inbound
	if (svc != "" && svc != "smtpd" && svc != "postscreen" && svc != "cleanup") || p.local(r.ClientIP) {
		dir = txlog.Outbound
	}
	reply := r.Reason
	if r.Detail != "" {
		reply = r.Detail + ": " + reply
	}
	subject := ""
	if r.Stage == "header" && len(r.Detail) > 8 && strings.EqualFold(r.Detail[:8], "Subject:") {
		subject = strings.TrimSpace(r.Detail[8:]) // header_checks logs the matched header
	}
	p.batch.Rows = append(p.batch.Rows, txlog.Row{Time: h.Time, Node: h.Host, Source: txlog.SourcePostfix, Direction: dir,
		QueueID: r.QueueID, MailFrom: r.From, Rcpt: r.To, ClientIP: r.ClientIP, ClientName: r.ClientName, Helo: r.Helo,
		Subject: subject, Status: status, Stage: r.Stage, Code: r.Code, DSN: r.Enhanced, Reply: reply, Agent: daemon})
	p.rowAdded()
	p.recipient(dir, status)
	return nil
}

func (p *Pipeline) onLogin(l correlate.Login) error {
	p.login(txlog.Login{Time: l.Time, Node: l.Host, Source: l.Source, Service: l.Service, User: l.User,
		RemoteIP: l.RemoteIP, Method: l.Method, Session: l.Session, TLS: l.TLS, OK: l.OK, Reason: l.Reason})
	return nil
}

// rowAdded shows the transaction-log row just appended to the detector
// (rows are appended in place: a Row is large, and this is the import's
// hot path).
func (p *Pipeline) rowAdded() {
	if p.o.Detector != nil {
		p.o.Detector.Outcome(p.ctx, &p.batch.Rows[len(p.batch.Rows)-1])
	}
}

// loginRecord adds a login record and shows it to the detector.
func (p *Pipeline) loginRecord(l txlog.Login) {
	p.batch.Logins = append(p.batch.Logins, l)
	if p.o.Detector != nil {
		p.o.Detector.Login(p.ctx, &p.batch.Logins[len(p.batch.Logins)-1])
	}
}

func (p *Pipeline) login(l txlog.Login) {
	p.loginRecord(l)
	p.countLogin(&l)
}

// countLogin counts one login outcome in the metrics.
func (p *Pipeline) countLogin(l *txlog.Login) {
	result := "ok"
	if !l.OK {
		result = "failed"
	}
	k := [2]string{ProtocolLabel(l.Service), result}
	c := p.hot.logins[k]
	if c == nil {
		if p.hot.logins == nil {
			p.hot.logins = map[[2]string]prometheus.Counter{}
		}
		c = p.m.Logins.WithLabelValues(k[0], k[1])
		p.hot.logins[k] = c
	}
	c.Inc()
}

// Full reports whether the batch has reached the batch size.
func (p *Pipeline) Full() bool { return p.batch.Len() >= p.o.BatchSize }

// Pending is the number of records waiting to be written.
func (p *Pipeline) Pending() int { return p.batch.Len() }

// FlushIdle emits messages idle for longer than the correlation horizon
// (input stalled) at wall-clock now.
func (p *Pipeline) FlushIdle(now time.Time) {
	if err := p.corr.FlushIdle(now); err != nil {
		p.errs = append(p.errs, err)
	}
}

// Finish emits every message still held (end of an import) and commits.
func (p *Pipeline) Finish(ctx context.Context) error {
	if p.split != nil {
		// the check a line fed from one goroutine is followed by
		p.split.push(op{kind: opCheck})
	}
	if err := p.corr.Flush(); err != nil {
		p.errs = append(p.errs, err)
	}
	if err := p.endSplit(); err != nil {
		p.errs = append(p.errs, err)
	}
	err := p.Commit(ctx)
	if p.async != nil {
		close(p.async.jobs)
		p.async.wg.Wait()
		err = errors.Join(err, p.async.failed())
		p.async = nil
	}
	return err
}

// Abandon ends a pipeline whose input failed without writing what is
// pending: it waits for the batches already handed to the writers
// (Options.Writers) and returns their error, so that nothing writes to
// the store after it returns.
func (p *Pipeline) Abandon() error {
	if p.async == nil {
		return nil
	}
	close(p.async.jobs)
	p.async.wg.Wait()
	err := p.async.failed()
	p.async = nil
	return err
}

// Commit writes the pending records with a checkpoint for every tailed
// stream (and, with KeepState, the pipeline's state) in one transaction.
// On failure the records stay pending and Commit may be called again.
func (p *Pipeline) Commit(ctx context.Context) error {
	if len(p.errs) > 0 {
		err := errors.Join(p.errs...)
		p.errs = nil
		return err
	}
	if p.o.Writers > 1 {
		return p.commitAsync(ctx)
	}
	if p.batch.Len() == 0 && !p.dirty {
		return nil
	}
	cps, err := p.checkpoints()
	if err != nil {
		if p.o.KeepState {
			p.corr.LoseChanges() // the changes taken were not written
		}
		return err
	}
	if err := p.o.Store.WriteBatch(ctx, &p.batch, cps); err != nil && !p.committedAnyway(ctx) {
		p.m.WriteErrors.Inc()
		if p.o.KeepState {
			p.corr.LoseChanges() // the next commit writes the whole state
		}
		return fmt.Errorf("collectors: write batch: %w", err)
	}
	p.m.Written.WithLabelValues("tx").Add(float64(len(p.batch.Rows)))
	p.m.Written.WithLabelValues("message").Add(float64(len(p.batch.Messages)))
	p.m.Written.WithLabelValues("login").Add(float64(len(p.batch.Logins)))
	p.m.Written.WithLabelValues("session").Add(float64(len(p.batch.Sessions)))
	if p.split == nil { // else the correlator is busy on the other goroutine
		p.m.OpenMessages.Set(float64(p.corr.Open()))
	}
	p.batch.Reset()
	p.dirty = false
	return nil
}

func (p *Pipeline) commitAsync(ctx context.Context) error {
	if p.HasCheckpoints() {
		return errors.New("collectors: several writers cannot keep checkpoints in order; use one for tailed files")
	}
	if p.async == nil {
		p.startWriters(ctx)
	}
	if err := p.async.failed(); err != nil {
		return err
	}
	if p.batch.Len() == 0 {
		return nil
	}
	b := new(txlog.Batch)
	*b = p.batch
	select {
	case next := <-p.async.free:
		p.batch = *next
	default:
		p.batch = txlog.Batch{}
	}
	select {
	case p.async.jobs <- writeJob{b: b}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// checkpoints builds the checkpoint of every tailed stream, and with
// KeepState the state's.
func (p *Pipeline) checkpoints() ([]txlog.Checkpoint, error) {
	var ids []int
	for id, s := range p.streams {
		if s.Checkpoint != "" {
			ids = append(ids, id)
		}
	}
	sort.Ints(ids)
	now := p.o.Now()
	var cps []txlog.Checkpoint
	for _, id := range ids {
		s := p.streams[id]
		cps = append(cps, txlog.Checkpoint{Source: s.Checkpoint, Inode: s.Inode, HeadHash: s.HeadHash, Offset: s.end, Updated: now})
	}
	if p.o.KeepState {
		st, err := p.stateCheckpoint()
		if err != nil {
			return nil, err
		}
		st.Updated = now
		cps = append(cps, st)
	}
	return cps, nil
}

// stateVersion changes whenever the meaning of the state changes.
const stateVersion = 2

// pipelineState is the global part of the pipeline's state.
type pipelineState struct {
	Version    int
	Correlator []byte
	Detector   []byte
	// Seq numbers the commits: committedAnyway tells by it whether a
	// commit that reported an error was written all the same.
	Seq uint64
}

// committedAnyway reports, after WriteBatch returned an error, whether the
// transaction was committed all the same: an error on the way back from
// COMMIT (a cancelled context, a broken connection) leaves that open, and
// writing the batch again would store its records twice. The committed
// state says: its Seq is the one just written, or an earlier one.
func (p *Pipeline) committedAnyway(ctx context.Context) bool {
	if !p.o.KeepState || p.seq == 0 {
		return false
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cp, err := p.o.Store.Checkpoint(cctx, txlog.StateSource)
	if err != nil {
		return false
	}
	var st pipelineState
	if err := gob.NewDecoder(bytes.NewReader(cp.State)).Decode(&st); err != nil {
		return false
	}
	return st.Seq == p.seq
}

// stateCheckpoint is the pipeline's state for Restore, as the checkpoint of
// txlog.StateSource: its global part (the correlator's clocks and counters,
// the detector's windows when it keeps them, DetectorState) and the
// correlator's items that changed since the last commit (all of them on
// the first).
func (p *Pipeline) stateCheckpoint() (txlog.Checkpoint, error) {
	cs, err := p.corr.State(false)
	if err != nil {
		return txlog.Checkpoint{}, err
	}
	p.seq++
	st := pipelineState{Version: stateVersion, Correlator: cs.Global, Seq: p.seq}
	if d, ok := p.o.Detector.(DetectorState); ok {
		if st.Detector, err = d.MarshalState(); err != nil {
			return txlog.Checkpoint{}, fmt.Errorf("ingest: detector state: %w", err)
		}
	}
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(&st); err != nil {
		return txlog.Checkpoint{}, fmt.Errorf("ingest: state: %w", err)
	}
	cp := txlog.Checkpoint{Source: txlog.StateSource, State: buf.Bytes(), Items: cs.Put, Drop: cs.Delete, ReplaceItems: cs.Full}
	// the Dovecot sessions' client addresses (WebmailNetworks), as items
	// of their own
	put := func(k [2]string) error {
		b, err := json.Marshal([3]string{k[0], k[1], p.sessionIPs[k]})
		if err != nil {
			return fmt.Errorf("ingest: state: %w", err)
		}
		if cp.Items == nil {
			cp.Items = map[string][]byte{}
		}
		cp.Items[sessionItem(k)] = b
		return nil
	}
	if cs.Full {
		for k := range p.sessionIPs {
			if err := put(k); err != nil {
				return txlog.Checkpoint{}, err
			}
		}
	} else {
		for k := range p.sessPut {
			if _, ok := p.sessionIPs[k]; ok {
				if err := put(k); err != nil {
					return txlog.Checkpoint{}, err
				}
			}
		}
		for k := range p.sessGone {
			cp.Drop = append(cp.Drop, sessionItem(k))
		}
	}
	p.sessPut, p.sessGone = nil, nil
	return cp, nil
}

// ErrStateVersion is returned by Restore for a state written by another
// version of the pipeline: the caller starts afresh.
var ErrStateVersion = errors.New("ingest: state of another version")

// Restore replaces the pipeline's state with the committed one (the
// checkpoint of txlog.StateSource, as loaded), before the first line is
// added. On an error nothing is changed.
func (p *Pipeline) Restore(cp txlog.Checkpoint) error {
	var st pipelineState
	if err := gob.NewDecoder(bytes.NewReader(cp.State)).Decode(&st); err != nil {
		return fmt.Errorf("ingest: restore: %w", err)
	}
	if st.Version != stateVersion {
		return fmt.Errorf("%w (%d, want %d)", ErrStateVersion, st.Version, stateVersion)
	}
	c := correlate.New(p.corrOptions())
	if err := c.Restore(st.Correlator, cp.Items); err != nil {
		if errors.Is(err, correlate.ErrSnapshotVersion) {
			return fmt.Errorf("%w: %w", ErrStateVersion, err)
		}
		return err
	}
	var ips map[[2]string]string
	for key, b := range cp.Items {
		if !strings.HasPrefix(key, "w:") {
			continue
		}
		var v [3]string
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("ingest: restore %s: %w", key, err)
		}
		if ips == nil {
			ips = map[[2]string]string{}
		}
		ips[[2]string{v[0], v[1]}] = v[2]
	}
	if d, ok := p.o.Detector.(DetectorState); ok && len(st.Detector) > 0 {
		if err := d.UnmarshalState(st.Detector); err != nil {
			return fmt.Errorf("ingest: detector state: %w", err)
		}
	}
	p.corr, p.sessionIPs, p.sessPut, p.sessGone, p.seq = c, ips, nil, nil, st.Seq
	return nil
}

// SetContext sets the context abuse alerts are raised with.
func (p *Pipeline) SetContext(ctx context.Context) { p.ctx = ctx }
