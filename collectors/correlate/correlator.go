package correlate

import (
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/logparse"
)

// Defaults for Options.
const (
	// DefaultHorizon exceeds Postfix's default maximal_backoff_time (4000s),
	// so a deferred message is not flushed between two retries.
	DefaultHorizon = 2 * time.Hour
	// DefaultLinkGrace is how long a finished message waits for a late
	// content-filter link: the re-injected copy can be delivered and removed
	// before the hand-off line that names it is logged.
	DefaultLinkGrace = 2 * time.Minute
)

// Options configures a Correlator. Nil sinks discard.
type Options struct {
	// Horizon: messages with no line for longer than this (in event time)
	// are flushed as incomplete. Zero means DefaultHorizon.
	Horizon time.Duration
	// LinkGrace: a finished message is held this long (event time) before
	// it is emitted. Zero means DefaultLinkGrace.
	LinkGrace time.Duration
	// ContentFilterRelays lists relay= values (as logged, e.g.
	// "127.0.0.1[127.0.0.1]:10024") that are content filters. Deliveries
	// whose reply has amavisd-new's "from MTA(…)" or "Ok, discarded" form are
	// recognised as hand-offs without this.
	ContentFilterRelays []string

	Messages MessageSink
	Rejects  RejectSink
	Logins   LoginSink
	Warnings WarningSink
}

type qkey struct{ host, qid string }

type skey struct{ host, session string }

// dovecotSession is a Dovecot login session's service and when it was last seen.
type dovecotSession struct {
	service string
	seen    time.Time
}

// sessionDue is a Dovecot session as it was last seen.
type sessionDue struct {
	seen time.Time
	k    skey
}

// sessionHeap is a min-heap of sessions by the time they were seen. A
// session seen again is pushed again; its older item, popped, finds the
// session seen later (or gone) and is dropped.
type sessionHeap []sessionDue

func (h *sessionHeap) push(x sessionDue) {
	s := append(*h, x)
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !s[i].seen.Before(s[p].seen) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
	*h = s
}

func (h *sessionHeap) pop() sessionDue {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = sessionDue{}
	s = s[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && s[l].seen.Before(s[m].seen) {
			m = l
		}
		if r := l + 1; r < n && s[r].seen.Before(s[m].seen) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// smtpdKey names one smtpd process; it serves one session at a time.
type smtpdKey struct {
	host, program string
	pid           int
}

// smtpdSession is what one smtpd session showed of its SMTP AUTH: the
// account from its first "client=…, sasl_username=" line. The session's
// successes are counted from its disconnect line ("auth=1", smtpd(8)
// since Postfix 3.0), so a session that authenticated and sent nothing is
// a login too.
type smtpdSession struct {
	user, method, ip string
	at               time.Time // the first client= line with a user
	host, program    string
}

// releaseKey names a quarantine release: the host and "mail_id-release_id",
// the local part of the released copy's Resent-Message-ID.
type releaseKey struct{ host, id string }

// amavisKey names a split amavis line: its host and log ID.
type amavisKey struct{ host, logID string }

// amavisPending is the first piece of a split amavis line, waiting for the
// rest.
type amavisPending struct {
	ev   *logparse.AmavisResult
	text string // the message so far, without the trailing "..."
}

// amavisJoinWait is how long (event time) the first piece of a split
// amavis line waits for the rest: amavis writes them one after the other.
const amavisJoinWait = 10 * time.Second

type pendingAuth struct {
	ev        *logparse.DovecotAuthFailure
	compacted bool // ev is a copy that shares no memory with its line
}

type entry struct {
	id   uint64 // names the record in the committed state (snapshot.go)
	msg  *Message
	done time.Time // when every queue ID was removed; zero while open
	dead bool      // emitted or merged into another entry
	// live is the record's place in Correlator.live
	live int32
	// compacted is LastSeen when the record's strings were last copied
	// out of the lines they came from (compactAfter).
	compacted time.Time

	m Message // msg points here: one allocation per record
	// q0 holds the first Queues, with room for a second: the copy a
	// content filter queues again (most records get one)
	q0 [2]Queue
}

// compactAfter is the age (event time) after which a record still held has
// its strings copied, so it does not keep the input it was read from (an
// importer's read buffers) alive for up to the horizon.
const compactAfter = 5 * time.Minute

// maxDeliveriesAhead bounds the room made for a message's deliveries from
// its recipient count.
const maxDeliveriesAhead = 256

// maxAmavisKeys bounds the amavis actions and categories whose summary key
// is kept made (past it, the key is made for each line).
const maxAmavisKeys = 256

// maxEmitted bounds the queue IDs remembered as emitted (for Orphans).
const maxEmitted = 100000

// keyBits is a one-hash Bloom filter over queue keys.
type keyBits [1 << 14]uint64 // 2^20 bits, 128 KB

var keySeed = maphash.MakeSeed()

// keyHash is a queue key's 64-bit hash: its low 20 bits are its bit in
// keyBits, all of it its place in emittedSet.
func keyHash(k qkey) uint64 {
	return maphash.String(keySeed, k.qid) ^ maphash.String(keySeed, k.host)*0x9e3779b97f4a7c15
}

func (b *keyBits) add(h uint64) {
	i := h & (1<<20 - 1)
	b[i>>6] |= 1 << (i & 63)
}

func (b *keyBits) mayHave(h uint64) bool {
	i := h & (1<<20 - 1)
	return b[i>>6]&(1<<(i&63)) != 0
}

// emittedSet is a set of queue keys indexed by their hash: a map of 12-byte
// slots instead of 33-byte ones (two strings), which the emission of every
// record writes to (a third of the time the set took was cache misses in
// its larger table). Exact: a key whose hash another key holds goes to
// more.
type emittedSet struct {
	idx  map[uint64]int32 // keyHash → the key's place in keys
	keys []qkey           // in the order added; removed ones stay until compacted
	more map[qkey]struct{}
}

func (s *emittedSet) len() int { return len(s.idx) + len(s.more) }

func (s *emittedSet) has(h uint64, k qkey) bool {
	if i, ok := s.idx[h]; ok && s.keys[i] == k {
		return true
	}
	if len(s.more) > 0 {
		_, ok := s.more[k]
		return ok
	}
	return false
}

func (s *emittedSet) add(h uint64, k qkey) {
	if s.idx == nil {
		s.idx = map[uint64]int32{}
	}
	if i, ok := s.idx[h]; ok {
		if s.keys[i] != k {
			if s.more == nil {
				s.more = map[qkey]struct{}{}
			}
			s.more[k] = struct{}{}
		}
		return
	}
	s.insert(h, k)
}

// insert adds k, whose hash no key in s has.
func (s *emittedSet) insert(h uint64, k qkey) {
	if s.idx == nil {
		s.idx = map[uint64]int32{}
	}
	if len(s.keys) >= 2*maxEmitted {
		s.compact()
	}
	if len(s.more) > 0 {
		delete(s.more, k) // held there while another key had its hash
	}
	s.idx[h] = int32(len(s.keys))
	s.keys = append(s.keys, k)
	if len(s.idx) == emittedPresize {
		// a long input: size the set for maxEmitted at once (growing it
		// key by key rehashed it again and again)
		big := make(map[uint64]int32, maxEmitted+maxEmitted/4)
		for h, i := range s.idx {
			big[h] = i
		}
		s.idx = big
		s.keys = append(make([]qkey, 0, maxEmitted+maxEmitted/4), s.keys...)
	}
}

func (s *emittedSet) remove(h uint64, k qkey) {
	if i, ok := s.idx[h]; ok && s.keys[i] == k {
		delete(s.idx, h)
	}
	if len(s.more) > 0 {
		delete(s.more, k)
	}
}

// compact drops the keys removed from keys (their places are renumbered).
func (s *emittedSet) compact() {
	keys := make([]qkey, 0, max(len(s.idx)*2, 1024))
	for h, i := range s.idx {
		s.idx[h] = int32(len(keys))
		keys = append(keys, s.keys[i])
	}
	s.keys = keys
}

func (s *emittedSet) clear() {
	clear(s.idx)
	clear(s.keys) // no strings kept alive
	s.keys = s.keys[:0]
	s.more = nil
}

// wasEmitted reports whether k is in the emitted set.
func (c *Correlator) wasEmitted(k qkey) bool {
	h := keyHash(k)
	return c.emittedBits.mayHave(h) && c.emitted.has(h, k)
}

// forgetEmitted removes k from the emitted set.
func (c *Correlator) forgetEmitted(k qkey) {
	if h := keyHash(k); c.emittedBits.mayHave(h) {
		c.emitted.remove(h, k)
	}
}

// emittedPresize is the size of the emitted set at which it is made room
// for maxEmitted.
const emittedPresize = 4096

// Correlator builds Message records from events fed in time order. It is
// not safe for concurrent use; feed it from one goroutine (merge the
// sources first).
type Correlator struct {
	opts    Options
	filters map[string]bool

	open map[qkey]*entry
	// live has every record not emitted or merged away (the values of
	// open, once each) with its times, for the sweep (liveItem)
	live []liveItem
	// scanOpen makes the sweep look at every record through open, as it
	// did before live (a test compares the two)
	scanOpen bool
	// finished are the records done, waiting for LinkGrace, in the order
	// they were done, each with its done time as it was then
	// (finishedItem)
	finished []finishedItem
	// finishedSorted: the done times of finished are in order, so the
	// items due are the first ones (the pass over finished stops at
	// the first that is not)
	finishedSorted bool
	// finishedExact: the done time of every item of finished is its
	// record's, which was neither reopened nor emitted or merged away
	// since (finishedItem); passing is set during a pass over finished
	finishedExact, passing bool
	// finishedDropped counts the items taken out of finished since the
	// last pass (dropFinished), which would have been there until then
	finishedDropped int
	// scanFinished makes the pass read every item's record, as it did
	// before finishedItem.done (a test compares the two)
	scanFinished bool
	emitted      emittedSet
	// emittedBits has the bit of every key of emitted set (and of some
	// removed since): most queue IDs looked up were never emitted, and a
	// clear bit answers without probing a map of up to maxEmitted.
	emittedBits *keyBits

	// amavisKeys are the keys of Summary.Amavis by action and category,
	// made once (not a concatenation on every amavis line)
	amavisKeys map[[2]string]string
	sessions   map[skey]dovecotSession // Dovecot login sessions
	// sessionsDue has every session of sessions by the time it was last
	// seen, the oldest first: the sweep ends those older than the horizon
	// without looking at the others
	sessionsDue sessionHeap
	pending     map[skey][]pendingAuth
	pendingAt   map[skey]time.Time
	smtpd       map[smtpdKey]*smtpdSession
	amavis      map[amavisKey]*amavisPending
	releases    map[releaseKey]time.Time
	// eximLogins are the Exim SMTP sessions whose login was counted
	eximLogins map[eximSession]time.Time
	resent     map[releaseKey]qkey // Resent-Message-IDs waiting for their release line
	// filterClients are the client addresses (per host) whose messages
	// amavis named as its re-injections: its re-injection path.
	filterClients map[[2]string]bool

	pos       int64 // input position of the event being added (SetPos)
	now       time.Time
	lastSweep time.Time // last idle sweep
	graceAt   time.Time // the next pass over finished: a second after the last
	// finishedMin is at or before the done time of every entry in
	// finished that may be due: the pass over finished (every second of
	// event time) is skipped until it is LinkGrace old. An entry's done
	// only changes by a reset (then it is not due) or by finishing again,
	// which appends it again and lowers finishedMin as needed.
	finishedMin time.Time
	sum         Summary
	// events counts events by kind; Summary copies it into Events (a
	// map update per line hashed the kind's name).
	events [256]int
	errs   []error
	words  logparse.Interner // c.keep
	// nextID numbers the records; chg are the changes since the last
	// State (snapshot.go)
	nextID uint64
	chg    changes
}

// keep returns a copy of s that is kept for the next equal s: for the
// few words that become map keys (services, reject stages), which must
// not be views of the lines they came from.
func (c *Correlator) keep(s string) string { return c.words.Intern(s, 1024) }

// compactMessage replaces every string of m with a copy, so a record held
// for long does not keep the lines (or read buffers) it came from.
func compactMessage(m *Message) {
	cl := strings.Clone
	m.Host, m.Service, m.ClientName, m.ClientIP, m.Helo = cl(m.Host), cl(m.Service), cl(m.ClientName), cl(m.ClientIP), cl(m.Helo)
	m.SASLMethod, m.SASLUsername, m.MessageID, m.From = cl(m.SASLMethod), cl(m.SASLUsername), cl(m.MessageID), cl(m.From)
	m.ParentQueueID = cl(m.ParentQueueID)
	for i := range m.Queues {
		q := &m.Queues[i]
		q.ID = cl(q.ID)
	}
	for i := range m.Deliveries {
		d := &m.Deliveries[i]
		d.QueueID, d.Agent, d.To, d.OrigTo, d.Relay = cl(d.QueueID), cl(d.Agent), cl(d.To), cl(d.OrigTo), cl(d.Relay)
		d.DSN, d.Status, d.Reply = cl(d.DSN), cl(d.Status), cl(d.Reply)
	}
	for i := range m.Greylist {
		g := &m.Greylist[i]
		g.Action, g.Reason, g.Recipient = cl(g.Action), cl(g.Reason), cl(g.Recipient)
	}
	for i := range m.Rejects {
		r := &m.Rejects[i]
		r.Stage, r.Enhanced, r.Reason, r.To = cl(r.Stage), cl(r.Enhanced), cl(r.Reason), cl(r.To)
	}
	for i, id := range m.NotificationIDs {
		m.NotificationIDs[i] = cl(id)
	}
	if f := m.Filter; f != nil {
		// a Filter may be shared by the copies amavis re-injected: a new one
		n := &Filter{Action: cl(f.Action), Category: cl(f.Category), Detail: cl(f.Detail), Hits: cl(f.Hits), LogID: cl(f.LogID)}
		if f.QueuedAs != nil {
			n.QueuedAs = make([]string, len(f.QueuedAs))
			for i, q := range f.QueuedAs {
				n.QueuedAs[i] = cl(q)
			}
		}
		m.Filter = n
	}
}

// compactAuthFailure returns a copy of e that shares no memory with its
// line.
func compactAuthFailure(e *logparse.DovecotAuthFailure) *logparse.DovecotAuthFailure {
	cl := strings.Clone
	n := *e
	n.Host, n.Program, n.Message = cl(n.Host), cl(n.Program), cl(n.Message)
	n.Driver, n.User, n.RemoteIP, n.Session, n.Reason = cl(n.Driver), cl(n.User), cl(n.RemoteIP), cl(n.Session), cl(n.Reason)
	return &n
}

// New returns a Correlator.
func New(opts Options) *Correlator {
	if opts.Horizon <= 0 {
		opts.Horizon = DefaultHorizon
	}
	if opts.LinkGrace <= 0 {
		opts.LinkGrace = DefaultLinkGrace
	}
	c := &Correlator{
		opts:          opts,
		filters:       map[string]bool{},
		open:          map[qkey]*entry{},
		emittedBits:   new(keyBits),
		sessions:      map[skey]dovecotSession{},
		pending:       map[skey][]pendingAuth{},
		pendingAt:     map[skey]time.Time{},
		smtpd:         map[smtpdKey]*smtpdSession{},
		amavis:        map[amavisKey]*amavisPending{},
		releases:      map[releaseKey]time.Time{},
		resent:        map[releaseKey]qkey{},
		eximLogins:    map[eximSession]time.Time{},
		filterClients: map[[2]string]bool{},
		sum:           newSummary(),
	}
	for _, r := range opts.ContentFilterRelays {
		c.filters[r] = true
	}
	return c
}

// Summary returns a copy of the counters so far.
func (c *Correlator) Summary() Summary {
	s := c.sum.clone()
	for k, n := range c.events {
		if n > 0 {
			s.Events[logparse.Kind(k).String()] += n
		}
	}
	return s
}

// Now is the Correlator's event clock: the latest event time it has seen
// (or been given by FlushIdle).
func (c *Correlator) Now() time.Time { return c.now }

// Open returns the number of messages not yet emitted.
func (c *Correlator) Open() int {
	seen := map[*entry]bool{}
	for _, e := range c.open {
		seen[e] = true
	}
	for _, it := range c.finished {
		if !it.e.dead {
			seen[it.e] = true
		}
	}
	return len(seen)
}

// SetPos sets the input position of the events fed next (for example a
// file offset, opaque to the Correlator). A record remembers the position
// of the first event that created it in Message.FirstPos, and
// OldestOpen says from when on input is still needed, so a reader that
// checkpoints its input can tell a rebuilt record from a new one.
func (c *Correlator) SetPos(pos int64) { c.pos = pos }

// OldestOpen returns the earliest FirstSeen of the records not yet
// emitted and of the auth failures still waiting for their session: input
// logged from then on is still needed to rebuild them. ok is false when
// nothing is held.
func (c *Correlator) OldestOpen() (oldest time.Time, ok bool) {
	see := func(t time.Time) {
		if !ok || t.Before(oldest) {
			oldest, ok = t, true
		}
	}
	for _, e := range c.open {
		if !e.dead {
			see(e.msg.FirstSeen)
		}
	}
	for _, it := range c.finished {
		if !it.e.dead {
			see(it.e.msg.FirstSeen)
		}
	}
	for _, t := range c.pendingAt {
		see(t)
	}
	return oldest, ok
}

// EachOpen calls fn for every record not yet emitted (in no particular
// order). fn must not keep or change the record.
func (c *Correlator) EachOpen(fn func(m *Message)) {
	seen := map[*entry]bool{}
	for _, e := range c.open {
		if !e.dead && !seen[e] {
			seen[e] = true
			fn(e.msg)
		}
	}
	for _, it := range c.finished {
		if e := it.e; !e.dead && !seen[e] {
			seen[e] = true
			fn(e.msg)
		}
	}
}

// Add feeds one event. It returns the errors sinks returned while handling
// it (joined), if any; the event is counted either way.
func (c *Correlator) Add(ev logparse.Event) error {
	h := ev.Header()
	return c.AddFramed(ev, &h)
}

// AddFramed is Add for an event whose frame, h (ev.Header()), the caller
// holds: an importer's line in its chunk, read there already. Half the
// lines need nothing else of their event, which is not read then (a line
// of memory parsed on the other core is a cache miss to read).
func (c *Correlator) AddFramed(ev logparse.Event, h *logparse.Frame) error {
	if h.Time.After(c.now) {
		c.now = h.Time
	}
	c.events[ev.Kind()]++
	switch e := ev.(type) {
	case *logparse.Unknown:
		c.sum.Unknown[c.keep(h.Program)]++
	case *logparse.SmtpdConnect:
		c.endSmtpd(smtpdKey{h.Host, h.Program, h.PID}, nil)
	case *logparse.SmtpdDisconnect:
		c.endSmtpd(smtpdKey{h.Host, h.Program, h.PID}, e)
	case *logparse.SmtpdClient:
		c.onClient(e)
	case *logparse.EximArrival:
		c.onEximArrival(e)
	case *logparse.Pickup:
		m := c.start(h.Host, e.QueueID, h.Time, OriginPickup)
		if m != nil {
			m.Service = "pickup"
			m.PickupUID = e.UID
			if m.From == "" {
				m.From = e.From
			}
		}
	case *logparse.CleanupMessageID:
		m := c.get(h.Host, e.QueueID, h.Time)
		if e.Resent {
			c.onResent(h.Host, m, e.MessageID)
			break
		}
		c.sum.QueueIDsWithMessageID++
		if m.MessageID == "" {
			m.MessageID = e.MessageID
		}
	case *logparse.QmgrQueued:
		m := c.get(h.Host, e.QueueID, h.Time)
		if i := queueIndex(m, e.QueueID); i >= 0 {
			m.Queues[i].Queued = true
		}
		if m.Queues[0].ID == e.QueueID || m.Size == 0 {
			m.From, m.Size, m.NRcpt = e.From, e.Size, e.NRcpt
		}
	case *logparse.AmavisRelease:
		c.sum.QuarantineReleases++
		k := releaseKey{c.keep(h.Host), e.MailID + "-" + e.ReleaseID()}
		if q, ok := c.resent[k]; ok {
			// the copy's line came first (Postfix's own log has whole
			// seconds)
			delete(c.resent, k)
			if en := c.open[q]; en != nil {
				c.markReleased(en.msg, k.id)
				c.mark(en)
			}
			break
		}
		c.releases[k] = h.Time
	case *logparse.Delivery:
		c.onDelivery(e)
	case *logparse.QmgrRemoved:
		c.sum.Removed++
		c.endQueue(h.Host, e.QueueID, h.Time, false)
	case *logparse.QmgrExpired:
		c.sum.Expired++
		c.endQueue(h.Host, e.QueueID, h.Time, true)
	case *logparse.BounceNotice:
		c.sum.Bounces++
		m := c.get(h.Host, e.QueueID, h.Time)
		m.NotificationIDs = append(m.NotificationIDs, e.NotifyQueueID)
		if n := c.start(h.Host, e.NotifyQueueID, h.Time, OriginBounce); n != nil {
			n.ParentQueueID = e.QueueID
		}
	case *logparse.AmavisResult:
		if e.Truncated {
			c.holdAmavis(e)
			break
		}
		c.onAmavis(e)
	case *logparse.AmavisPart:
		c.joinAmavis(e)
	case *logparse.Reject:
		c.onReject(e)
	case *logparse.PostfixWarning:
		c.warning(*h, e.Severity, e.Text)
	case *logparse.RateLimit:
		c.sum.RateLimited++
		c.severityLine(*h)
	case *logparse.SizeLimitExceeded:
		c.sum.SizeLimit++
		c.severityLine(*h)
		c.get(h.Host, e.QueueID, h.Time).SizeLimitExceeded = true
	case *logparse.PostgreyResult:
		switch e.Action {
		case "greylist":
			c.sum.Greylisted++
		case "pass":
			c.sum.GreylistPass++
		}
		if e.QueueID != "" {
			m := c.get(h.Host, e.QueueID, h.Time)
			m.Greylist = append(m.Greylist, Greylist{Time: h.Time, Action: e.Action, Reason: e.Reason, Recipient: e.Recipient})
		}
	case *logparse.SASLFailure:
		c.sum.SASLFailures++
		if logparse.FamilyOf(h.Program) == logparse.FamilyPostfix {
			c.severityLine(*h)
		}
		c.login(Login{Time: h.Time, Host: h.Host, Source: logparse.FamilyOf(h.Program).String(), Service: smtpService(h.Program),
			User: e.Username, RemoteIP: e.ClientIP, Method: e.Method, Reason: e.Reason})
	case *logparse.DovecotLogin:
		c.sum.DovecotLogins[c.keep(e.Service)]++
		c.bindSession(h.Host, e.Session, e.Service, h.Time)
		c.login(Login{Time: h.Time, Host: h.Host, Source: "dovecot", Service: e.Service, User: e.User,
			RemoteIP: e.RemoteIP, Method: e.Method, Session: e.Session, TLS: e.TLS, OK: true})
	case *logparse.DovecotLoginEnd:
		c.bindSession(h.Host, e.Session, e.Service, h.Time)
	case *logparse.DovecotAuthFailure:
		c.onAuthFailure(e)
	case *logparse.DovecotLMTPDelivery:
		if e.Saved {
			c.sum.LMTPSaved++
		} else {
			c.sum.LMTPSaveFailed++
		}
	case *logparse.ClamdFound:
		c.sum.Virus++
	case *logparse.RspamdResult:
		c.sum.Rspamd[c.keep(e.Action)]++
	case *logparse.RoundcubeLogin:
		if e.OK {
			c.sum.WebmailLogins++
		} else {
			c.sum.WebmailFailures++
		}
		c.login(Login{Time: h.Time, Host: h.Host, Source: logparse.FamilyOf(h.Program).String(), Service: "webmail", User: e.User,
			RemoteIP: e.RemoteIP, Session: e.Session, OK: e.OK})
	}
	c.sweep(false)
	return c.takeErrs()
}

// Flush emits every record still held: finished ones, then unfinished ones
// as StateIncomplete (end of input, log rotation). Dovecot auth failures
// whose session never showed a login line are counted as Unresolved.
func (c *Correlator) Flush() error {
	c.sweep(true)
	return c.takeErrs()
}

// FlushIdle emits records with no line since before now minus the horizon,
// as Add does on its own as event time advances. Use it when input stalls.
func (c *Correlator) FlushIdle(now time.Time) error {
	if now.After(c.now) {
		c.now = now
	}
	c.lastSweep, c.graceAt = time.Time{}, time.Time{}
	c.sweep(false)
	return c.takeErrs()
}

func (c *Correlator) takeErrs() error {
	if len(c.errs) == 0 {
		return nil
	}
	err := errors.Join(c.errs...)
	c.errs = c.errs[:0]
	return err
}

func smtpService(program string) string {
	if logparse.FamilyOf(program) == logparse.FamilyExim {
		return "smtp"
	}
	svc, _ := logparse.SplitPostfixTag(program)
	if svc == "smtpd" {
		return "smtp"
	}
	return svc
}

// eximSession names an Exim SMTP session: the host and the client's
// address and port.
type eximSession struct {
	host, ip string
	port     int
}

// onEximArrival starts the record of a message Exim received (its "<="
// line, which says what Postfix says in smtpd's client=, cleanup's
// message-id= and qmgr's from= lines together). A message submitted with
// SMTP AUTH makes the session's login, once per session: Exim logs no
// line of its own for a successful AUTH.
func (c *Correlator) onEximArrival(e *logparse.EximArrival) {
	h := e.Header()
	origin := OriginSMTP
	switch {
	case e.Bounce:
		origin = OriginBounce
	case e.Protocol == "local" || (e.ClientIP == "" && e.LocalUser != ""):
		origin = OriginPickup
	}
	m := c.start(h.Host, e.ID, h.Time, origin)
	if m == nil {
		return
	}
	m.Queues[0].Queued = true
	m.ClientName, m.ClientIP, m.Helo = e.ClientName, e.ClientIP, e.Helo
	if m.ClientName == "" && e.ClientIP != "" {
		m.ClientName = "unknown"
	}
	m.MessageID, m.From, m.Size, m.NRcpt = e.MessageID, e.From, e.Size, len(e.Recipients)
	m.SASLMethod, m.SASLUsername = e.AuthMethod, e.AuthUser
	switch {
	case origin == OriginBounce:
		m.ParentQueueID = e.BounceOf
		c.sum.Bounces++
		if e.BounceOf != "" {
			if p := c.open[qkey{h.Host, e.BounceOf}]; p != nil {
				p.msg.NotificationIDs = append(p.msg.NotificationIDs, strings.Clone(e.ID))
				c.mark(p)
			}
		}
	case origin == OriginPickup:
		m.Service = "pickup"
	case e.LocalPort == 587 || (e.LocalPort == 0 && e.AuthUser != ""):
		m.Service = "submission"
	case e.LocalPort == 465:
		m.Service = "smtps"
	default:
		m.Service = "smtpd"
	}
	if e.AuthUser != "" && e.ClientIP != "" {
		k := eximSession{c.keep(h.Host), strings.Clone(e.ClientIP), e.ClientPort}
		if _, seen := c.eximLogins[k]; !seen {
			c.eximLogins[k] = h.Time
			c.sum.SASLLogins++
			c.login(Login{Time: h.Time, Host: h.Host, Source: "exim", Service: "smtp", User: e.AuthUser,
				RemoteIP: e.ClientIP, Method: e.AuthMethod, OK: true})
		}
	}
}

// --- messages ---

// newEntry returns a record for a new queue ID. qid is copied (it is
// kept as a key of the open and emitted sets, which outlive the line).
func newEntry(host, qid string, t time.Time, origin Origin, pos int64) *entry {
	e := &entry{q0: [2]Queue{{ID: strings.Clone(qid), Origin: origin, FirstSeen: t}}}
	e.m = Message{
		FirstPos:  pos,
		Host:      host,
		Queues:    e.q0[:1],
		FirstSeen: t,
		LastSeen:  t,
		Origin:    origin,
		PickupUID: -1,
	}
	e.msg = &e.m
	return e
}

// key is the open-set key of the record's first queue ID, with the
// record's own copy of it.
func (e *entry) key() qkey { return qkey{e.msg.Host, e.msg.Queues[0].ID} }

// get returns the message a queue ID belongs to, creating a record with
// unknown origin when the queue ID is new (its start was not seen).
func (c *Correlator) get(host, qid string, t time.Time) *Message { return c.getEntry(host, qid, t).msg }

// getEntry is get returning the record, c.open[qkey{host, qid}] after it.
func (c *Correlator) getEntry(host, qid string, t time.Time) *entry {
	k := qkey{host, qid}
	e := c.open[k]
	if e == nil {
		if c.wasEmitted(k) {
			c.sum.Orphans++
			c.emitted.remove(keyHash(k), k)
		}
		e = newEntry(host, qid, t, OriginUnknown, c.pos)
		c.nextID++
		e.id = c.nextID
		c.open[e.key()] = e
		c.addLive(e)
	}
	c.touch(e, t)
	return e
}

// touch notes a line about the record at t. Every change of a record goes
// through touch (get, start, link) or is one of emit, merge and
// recheckDone, which mark it too.
func (c *Correlator) touch(e *entry, t time.Time) {
	if t.After(e.msg.LastSeen) {
		e.msg.LastSeen = t
		c.live[e.live].last = t
	}
	c.mark(e)
}

// liveItem is a record of Correlator.live with its FirstSeen, LastSeen
// and compacted, kept the same as the record's own: the sweep, once a
// minute of event time, finds the records idle for the horizon and those
// to compact from these alone, instead of reading every record held
// through open (a cache miss or more each).
type liveItem struct {
	e                      *entry
	first, last, compacted time.Time
}

// addLive adds a new record to live.
func (c *Correlator) addLive(e *entry) {
	e.live = int32(len(c.live))
	c.live = append(c.live, liveItem{e, e.msg.FirstSeen, e.msg.LastSeen, e.compacted})
}

// dropLive takes a record emitted or merged away out of live.
func (c *Correlator) dropLive(e *entry) {
	i, last := e.live, len(c.live)-1
	if int(i) != last {
		c.live[i] = c.live[last]
		c.live[i].e.live = i
	}
	c.live[last] = liveItem{}
	c.live = c.live[:last]
	e.live = -1
}

// start handles the line that creates a queue ID (smtpd client=, pickup,
// bounce notification). A queue ID that a content-filter link already
// announced joins that message as its re-injected copy. A queue ID still
// open from an earlier message whose queue file was removed or never
// finished is Postfix reusing the ID: the old record is flushed. It returns
// nil when the queue ID joined an existing message as a re-injection.
func (c *Correlator) start(host, qid string, t time.Time, origin Origin) *Message {
	k := qkey{host, qid}
	if e := c.open[k]; e != nil {
		i := queueIndex(e.msg, qid)
		q := &e.msg.Queues[i]
		switch {
		case q.Reinjected && q.Origin == OriginUnknown:
			q.Origin = origin
			if t.Before(q.FirstSeen) || q.FirstSeen.IsZero() {
				q.FirstSeen = t
			}
			c.touch(e, t)
			return nil
		case q.Origin == OriginUnknown && !q.Removed && i == 0 && len(e.msg.Deliveries) == 0 && e.msg.MessageID == "":
			// lines about this ID arrived before its start (out-of-order input)
			q.Origin, e.msg.Origin = origin, origin
			c.touch(e, t)
			return e.msg
		default:
			c.emit(e, finalState(e))
		}
	}
	c.forgetEmitted(k)
	e := newEntry(host, qid, t, origin, c.pos)
	c.nextID++
	e.id = c.nextID
	c.open[e.key()] = e
	c.addLive(e)
	c.mark(e)
	return e.msg
}

func queueIndex(m *Message, qid string) int {
	for i := range m.Queues {
		if m.Queues[i].ID == qid {
			return i
		}
	}
	return -1
}

func (c *Correlator) onClient(e *logparse.SmtpdClient) {
	h := e.Header()
	svc, _ := logparse.SplitPostfixTag(h.Program)
	m := c.start(h.Host, e.QueueID, h.Time, OriginSMTP)
	if m == nil {
		c.filterClient(h.Host, e.ClientIP)
	}
	if m != nil {
		m.Service = svc
		m.ClientName, m.ClientIP = e.ClientName, e.ClientIP
		m.SASLMethod, m.SASLUsername = e.SASLMethod, e.SASLUsername
	}
	if e.SASLUsername != "" {
		k := smtpdKey{h.Host, h.Program, h.PID}
		if ss := c.smtpd[k]; ss == nil || ss.user == "" {
			k.host, k.program = c.keep(k.host), c.keep(k.program)
			c.smtpd[k] = &smtpdSession{user: strings.Clone(e.SASLUsername), method: c.keep(e.SASLMethod),
				ip: strings.Clone(e.ClientIP), at: h.Time, host: k.host, program: k.program}
		}
	}
}

// endSmtpd ends an smtpd session at its disconnect line (d) or, when that
// was not seen, at the next connect of the same process (d nil) or at the
// end of input. Each successful AUTH the disconnect line counts ("auth=1",
// "auth=1/2") is a login, whether the session sent mail or not; its
// account is the one the session's mail named, or missing. Without a
// disconnect line (or one without counts, before Postfix 3.0) a session
// whose mail named an account is one login.
func (c *Correlator) endSmtpd(k smtpdKey, d *logparse.SmtpdDisconnect) {
	ss := c.smtpd[k]
	delete(c.smtpd, k)
	n := 0
	if d != nil && len(d.Commands) > 0 {
		for _, cc := range d.Commands {
			if cc.Name == "auth" {
				n = cc.OK
			}
		}
	} else if ss != nil && ss.user != "" {
		n = 1
	}
	if n == 0 {
		return
	}
	l := Login{Source: "postfix", Service: smtpService(k.program), OK: true, Host: k.host}
	if d != nil {
		l.Time, l.Host, l.RemoteIP = d.Time, d.Host, d.ClientIP
	}
	if ss != nil {
		l.Time, l.User, l.Method = ss.at, ss.user, ss.method
		if l.RemoteIP == "" {
			l.RemoteIP = ss.ip
		}
	}
	for range n {
		c.sum.SASLLogins++
		c.login(l)
	}
}

// filterClient remembers ip as the address the content filter on host
// re-injects from (a client whose message amavis named as its copy).
func (c *Correlator) filterClient(host, ip string) {
	if ip == "" || len(c.filterClients) >= 64 {
		return
	}
	k := [2]string{host, ip}
	if !c.filterClients[k] {
		c.filterClients[[2]string{c.keep(host), c.keep(ip)}] = true
	}
}

// onResent marks the copy of a message amavis released from quarantine:
// its Resent-Message-ID is "<mail_id-release_id@host>" of a release line
// seen on the same host.
func (c *Correlator) onResent(host string, m *Message, id string) {
	local, _, _ := strings.Cut(id, "@")
	k := releaseKey{host, local}
	if _, ok := c.releases[k]; !ok {
		if len(c.resent) < 1024 && strings.IndexByte(local, '-') > 0 {
			c.resent[releaseKey{c.keep(host), strings.Clone(local)}] = m.key()
		}
		return
	}
	delete(c.releases, k)
	c.markReleased(m, local)
}

// markReleased marks m as the copy of a quarantine release whose
// Resent-Message-ID local part is local ("mail_id-release_id").
func (c *Correlator) markReleased(m *Message, local string) {
	mailID, _, _ := strings.Cut(local, "-")
	m.ReleasedMailID = strings.Clone(mailID)
	if m.Origin == OriginSMTP && len(m.Queues) == 1 {
		m.Origin, m.Queues[0].Origin = OriginRelease, OriginRelease
	}
}

// holdAmavis keeps the first piece of a split amavis line until its rest
// arrives (joinAmavis) or amavisJoinWait passes.
func (c *Correlator) holdAmavis(e *logparse.AmavisResult) {
	h := e.Header()
	k := amavisKey{c.keep(h.Host), strings.Clone(e.LogID)}
	if old := c.amavis[k]; old != nil {
		c.onAmavis(old.ev)
	}
	// held across lines: parsed again from a copy, so that nothing held
	// is a view of the input's buffers
	f := h
	f.Message = strings.Clone(h.Message)
	ev, ok := logparse.ParseAmavis(f).(*logparse.AmavisResult)
	if !ok {
		return
	}
	c.amavis[k] = &amavisPending{ev: ev, text: strings.TrimSuffix(f.Message, "...")}
}

// joinAmavis adds a piece to the split line it continues; the last piece
// completes the line, which is parsed whole. A piece whose start was not
// seen is dropped (counted in AmavisOrphanParts).
func (c *Correlator) joinAmavis(e *logparse.AmavisPart) {
	h := e.Header()
	k := amavisKey{h.Host, e.LogID}
	p := c.amavis[k]
	if p == nil {
		c.sum.AmavisOrphanParts++
		return
	}
	p.text += e.Text
	if e.More {
		return
	}
	delete(c.amavis, k)
	f := p.ev.Frame
	f.Message = p.text
	whole, ok := logparse.ParseAmavis(f).(*logparse.AmavisResult)
	if !ok || whole.Truncated {
		c.onAmavis(p.ev)
		return
	}
	c.sum.AmavisJoined++
	c.onAmavis(whole)
}

// flushAmavis handles the first pieces that waited too long (or all) as
// they are.
func (c *Correlator) flushAmavis(force bool) {
	for k, p := range c.amavis {
		if force || c.now.Sub(p.ev.Time) >= amavisJoinWait {
			delete(c.amavis, k)
			c.onAmavis(p.ev)
		}
	}
}

func (c *Correlator) onDelivery(e *logparse.Delivery) {
	h := e.Header()
	m := c.get(h.Host, e.QueueID, h.Time)
	handoff := e.FilterHandoff() || c.filters[e.Relay]
	if m.Deliveries == nil {
		// one delivery line per recipient: room for them at once, not
		// grown one by one (bounded: nrcpt= is the log's word); after a
		// hand-off to a content filter the copy it queues again is
		// delivered to the same recipients, into this record
		n := m.NRcpt
		if handoff {
			n *= 2
		}
		if n > 1 {
			m.Deliveries = make([]Delivery, 0, min(n, maxDeliveriesAhead))
		}
	}
	m.Deliveries = append(m.Deliveries, Delivery{
		Time: h.Time, QueueID: e.QueueID, Agent: e.Agent, To: e.To, OrigTo: e.OrigTo, Relay: e.Relay,
		Delay: e.Delay, Delays: e.Delays, DSN: e.DSN, Status: e.Status, Reply: e.Reply, Handoff: handoff,
	})
	switch e.Status {
	case logparse.StatusSent:
		c.sum.SentLines++
		if handoff {
			c.sum.FilterHandoffs++
			break
		}
		c.sum.Delivered++
		switch e.Agent {
		case "lmtp":
			c.sum.DeliveredLMTP++
		case "smtp":
			c.sum.DeliveredRemote++
		case "local", "virtual", "pipe":
			c.sum.DeliveredLocal++
		}
	case logparse.StatusDeferred:
		c.sum.DeferredLines++
	case logparse.StatusBounced:
		c.sum.Bounced++
	}
	if handoff && e.QueuedAs != "" && e.Status == logparse.StatusSent {
		c.sum.ReinjectionsByHandoff++
		c.link(h.Host, e.QueueID, e.QueuedAs, h.Time, true)
	}
}

func (c *Correlator) onAmavis(e *logparse.AmavisResult) {
	h := e.Header()
	ak := [2]string{e.Action, e.Category}
	k, ok := c.amavisKeys[ak]
	if !ok {
		k = e.Action + " " + e.Category
		if len(c.amavisKeys) < maxAmavisKeys {
			if c.amavisKeys == nil {
				c.amavisKeys = map[[2]string]string{}
			}
			c.amavisKeys[[2]string{strings.Clone(e.Action), strings.Clone(e.Category)}] = k
		}
	}
	c.sum.Amavis[k]++
	c.sum.Reinjections += len(e.QueuedAs)
	f := &Filter{Action: e.Action, Category: e.Category, Detail: e.Detail, Hits: e.Hits,
		LogID: e.LogID, MailID: e.MailID, QueuedAs: e.QueuedAs}
	if e.QueueID == "" {
		// amavis learns the queue ID through XFORWARD; mail from pickup or
		// from localhost arrives without one. The hand-off line links the
		// copies; here only the copies are marked and get the verdict.
		for _, q := range e.QueuedAs {
			m := c.get(h.Host, q, h.Time)
			i := queueIndex(m, q)
			m.Queues[i].Reinjected, m.Queues[i].LinkedByAmavis = true, true
			if m.Filter == nil {
				m.Filter = f
			}
		}
		return
	}
	m := c.get(h.Host, e.QueueID, h.Time)
	m.Filter = f
	for _, q := range e.QueuedAs {
		c.link(h.Host, e.QueueID, q, h.Time, false)
	}
}

func (c *Correlator) onReject(e *logparse.Reject) {
	h := e.Header()
	_, daemon := logparse.SplitPostfixTag(h.Program)
	switch daemon {
	case "smtpd", "postscreen", "exim":
		if e.Action == "reject" || e.Action == "milter-reject" {
			c.sum.Rejects[RejectKey{c.keep(e.Stage), e.Code}]++
			c.sum.RejectsTotal++
		}
	case "cleanup":
		if e.Action == "reject" {
			c.sum.CleanupRejects++
		}
	}
	if e.QueueID != "" {
		m := c.get(h.Host, e.QueueID, h.Time)
		m.Rejects = append(m.Rejects, Reject{Time: h.Time, Action: e.Action, Stage: e.Stage, Code: e.Code,
			Enhanced: e.Enhanced, Reason: e.Reason, To: e.To})
		if m.Helo == "" {
			m.Helo = e.Helo
		}
	}
	if c.opts.Rejects != nil {
		if err := c.opts.Rejects.WriteReject(e); err != nil {
			c.errs = append(c.errs, err)
		}
	}
}

// link joins queue ID child to the message of queue ID parent: child is the
// copy the content filter re-injected (Postfix FILTER_README, "advanced
// content filter"). Either line may come first, and the child may already
// have a record of its own (its smtpd "client=" line is logged before the
// hand-off line that names it); that record is merged in.
func (c *Correlator) link(host, parent, child string, t time.Time, byHandoff bool) {
	pk, ck := qkey{host, parent}, qkey{host, child}
	pe := c.open[pk]
	if pe == nil {
		pe = c.getEntry(host, parent, t)
	}
	pm := pe.msg
	ce := c.open[ck]
	switch {
	case ce == pe:
	case ce == nil:
		child = strings.Clone(child)
		pm.Queues = append(pm.Queues, Queue{ID: child, FirstSeen: t, Reinjected: true})
		c.open[qkey{host, child}] = pe
		c.forgetEmitted(ck)
	default:
		c.filterClient(host, ce.msg.ClientIP)
		c.merge(pe, ce)
	}
	i := queueIndex(pm, child)
	q := &pm.Queues[i]
	q.Reinjected = true
	if byHandoff {
		q.LinkedByHandoff = true
	} else {
		q.LinkedByAmavis = true
	}
	c.touch(pe, t)
	c.recheckDone(pe)
}

// merge moves the record of a re-injected copy into the original's.
func (c *Correlator) merge(dst, src *entry) {
	d, s := dst.msg, src.msg
	for _, q := range s.Queues {
		q.Reinjected = true
		d.Queues = append(d.Queues, q)
		if c.open[qkey{s.Host, q.ID}] == src {
			c.open[qkey{s.Host, q.ID}] = dst
		}
	}
	d.Deliveries = append(d.Deliveries, s.Deliveries...)
	d.Greylist = append(d.Greylist, s.Greylist...)
	d.Rejects = append(d.Rejects, s.Rejects...)
	d.NotificationIDs = append(d.NotificationIDs, s.NotificationIDs...)
	d.SizeLimitExceeded = d.SizeLimitExceeded || s.SizeLimitExceeded
	if d.MessageID == "" {
		d.MessageID = s.MessageID
	}
	if d.From == "" && s.From != "" {
		d.From = s.From
	}
	if d.Filter == nil {
		d.Filter = s.Filter
	}
	if s.FirstSeen.Before(d.FirstSeen) {
		d.FirstSeen = s.FirstSeen
	}
	if s.FirstPos < d.FirstPos {
		d.FirstPos = s.FirstPos
	}
	if s.LastSeen.After(d.LastSeen) {
		d.LastSeen = s.LastSeen
	}
	it := &c.live[dst.live]
	it.first, it.last = d.FirstSeen, d.LastSeen
	if !src.done.IsZero() {
		c.dropFinished(src) // (a copy finished before it was linked)
	}
	src.dead = true
	c.dropLive(src)
	c.mark(dst)
	c.markGone(src)
}

// endQueue marks a queue ID removed (or expired). The message is finished
// when all its queue IDs are.
func (c *Correlator) endQueue(host, qid string, t time.Time, expired bool) {
	e := c.getEntry(host, qid, t)
	m := e.msg
	i := queueIndex(m, qid)
	if expired {
		m.Queues[i].Expired = true
	} else {
		m.Queues[i].Removed = true
	}
	c.recheckDone(e)
}

func (c *Correlator) recheckDone(e *entry) {
	done := true
	for _, q := range e.msg.Queues {
		if !q.Removed && !q.Expired {
			done = false
			break
		}
	}
	c.mark(e)
	switch {
	case done && e.done.IsZero():
		e.done = e.msg.LastSeen
		if len(c.finished) == 0 {
			c.finishedSorted = true
		} else if e.done.Before(c.finished[len(c.finished)-1].done) {
			c.finishedSorted = false
		}
		c.finished = append(c.finished, finishedItem{e, e.done})
		if len(c.finished)+c.finishedDropped == 1 || e.done.Before(c.finishedMin) {
			c.finishedMin = e.done
		}
	case !done:
		if !e.done.IsZero() {
			c.finishedExact = false // reopened (finishedItem)
		}
		e.done = time.Time{}
	}
}

// sweep emits finished records older than LinkGrace and idle ones older
// than Horizon; all of them when force is set.
func (c *Correlator) sweep(force bool) {
	if !force && c.now.Before(c.graceAt) {
		return
	}
	if len(c.amavis) > 0 {
		c.flushAmavis(force)
	}
	c.graceAt = c.now.Add(time.Second)
	if force || (len(c.finished)+c.finishedDropped > 0 && c.now.Sub(c.finishedMin) >= c.opts.LinkGrace) {
		c.passFinished(force)
	}

	if !force && c.now.Sub(c.lastSweep) < time.Minute {
		return
	}
	c.lastSweep = c.now
	cut := c.now.Add(-c.opts.Horizon)
	var idle []*entry
	old := c.now.Add(-compactAfter)
	if c.scanOpen {
		for _, e := range c.open {
			if !e.dead && (force || e.msg.LastSeen.Before(cut)) && !slices.Contains(idle, e) {
				idle = append(idle, e)
			}
			if !force && !e.dead && e.msg.FirstSeen.Before(old) && (e.compacted.IsZero() || !e.msg.LastSeen.Before(e.compacted)) {
				compactMessage(e.msg)
				e.compacted = c.now
				c.live[e.live].compacted = c.now
				c.mark(e)
			}
		}
	}
	for i := range c.live {
		if c.scanOpen {
			break
		}
		it := &c.live[i]
		if force || it.last.Before(cut) {
			idle = append(idle, it.e)
		}
		if !force && it.first.Before(old) && (it.compacted.IsZero() || !it.last.Before(it.compacted)) {
			compactMessage(it.e.msg)
			it.e.compacted, it.compacted = c.now, c.now
			c.mark(it.e)
		}
	}
	slices.SortFunc(idle, func(a, b *entry) int { return a.msg.FirstSeen.Compare(b.msg.FirstSeen) })
	for _, e := range idle {
		c.emit(e, StateIncomplete)
	}
	for k, t := range c.pendingAt {
		if !force && t.Before(old) {
			for i := range c.pending[k] {
				if p := &c.pending[k][i]; !p.compacted {
					p.ev, p.compacted = compactAuthFailure(p.ev), true
				}
			}
		}
		if force || t.Before(cut) {
			c.sum.DovecotAuthFailures.Unresolved += len(c.pending[k])
			for _, p := range c.pending[k] {
				c.authLogin(p.ev, "")
			}
			delete(c.pending, k)
			delete(c.pendingAt, k)
		}
	}
	if force {
		for k := range c.sessions {
			delete(c.sessions, k)
			c.markSessionGone(k)
		}
		clear(c.sessionsDue)
		c.sessionsDue = c.sessionsDue[:0]
	} else {
		// the sessions last seen before cut, oldest first (each has an
		// item with the time it was last seen)
		for len(c.sessionsDue) > 0 && c.sessionsDue[0].seen.Before(cut) {
			k := c.sessionsDue.pop().k
			if ss, ok := c.sessions[k]; ok && ss.seen.Before(cut) {
				delete(c.sessions, k)
				c.markSessionGone(k)
			}
		}
	}
	for k, t := range c.eximLogins {
		if force || t.Before(old) {
			delete(c.eximLogins, k)
		}
	}
	for k, t := range c.releases {
		if force || t.Before(cut) {
			delete(c.releases, k)
		}
	}
	for k, q := range c.resent {
		if force || c.open[q] == nil {
			delete(c.resent, k)
		}
	}
	if force || c.emitted.len() > maxEmitted {
		c.emitted.clear()
		clear(c.emittedBits[:])
	}
	if force {
		for k := range c.smtpd {
			c.endSmtpd(k, nil)
		}
	} else {
		for k, ss := range c.smtpd {
			// a process that logged neither its disconnect nor a new
			// connect for the horizon (killed): its session ended
			if ss.at.Before(cut) {
				c.endSmtpd(k, nil)
			}
		}
	}
}

// finishedItem is a record of Correlator.finished with its done time as
// it was when the item was made or last looked at.
//
// The pass over finished, every second of event time, looked at every
// record held (a cache miss each). Now, while the items' done times are
// in order and exact (Correlator.finishedSorted, finishedExact), it
// looks at the items due alone, the first ones, and stops at the first
// that is not due. A record's done time changes only when it is reopened
// by a link (and maybe finished again later, with a new item), and an item
// is dropped only when its record was emitted or merged away or is
// reopened when a pass looks at it. A record emitted or merged away
// before its turn has its items taken out at once (dropFinished), which
// the next pass would have dropped; a record reopened makes the items
// inexact until a pass has looked at them all again, as every pass did
// before.
type finishedItem struct {
	e    *entry
	done time.Time
}

// passFinished emits the finished records LinkGrace old (all with force),
// in the order they were finished, and keeps the others in that order.
func (c *Correlator) passFinished(force bool) {
	// now.Sub(done) >= LinkGrace, without a Sub per entry
	due := c.now.Add(-c.opts.LinkGrace)
	fin := c.finished
	end := len(fin) // the items from end on are kept as they are
	if !force && c.finishedSorted && c.finishedExact && !c.scanFinished {
		end = 0
		for end < len(fin) && !fin[end].done.After(due) {
			end++
		}
	}
	c.passing = true
	n := 0
	var lowest time.Time
	sorted := true
	for i := 0; i < end; i++ {
		it := fin[i]
		e := it.e
		switch {
		case e.dead || e.done.IsZero():
			// merged, emitted, or reopened by a link; dropped from the list
			continue
		case force || !e.done.After(due):
			c.emit(e, finalState(e))
			continue
		}
		it.done = e.done
		if n == 0 || it.done.Before(lowest) {
			lowest = it.done
		}
		if n > 0 && it.done.Before(fin[n-1].done) {
			sorted = false
		}
		fin[n] = it // (in its place when n == i: not written again)
		n++
	}
	c.passing = false
	if end < len(fin) {
		// the rest: in order, exact, and none due
		if n > 0 && fin[end].done.Before(fin[n-1].done) {
			sorted = false
		}
		if n == 0 || fin[end].done.Before(lowest) {
			lowest = fin[end].done
		}
		n += copy(fin[n:], fin[end:])
	} else {
		c.finishedExact = true // every item was looked at
	}
	clear(fin[n:])
	c.finished = fin[:n]
	c.finishedSorted = sorted
	c.finishedMin = lowest
	c.finishedDropped = 0
}

// dropFinished takes the items of e, which is emitted or merged away
// before its turn, out of finished, as the next pass would: found by
// their done time while the items are in order and exact; else they
// stay, and are inexact until a pass has looked at them all.
func (c *Correlator) dropFinished(e *entry) {
	fin := c.finished
	if !c.finishedSorted || !c.finishedExact {
		c.finishedExact = false
		return
	}
	i, _ := slices.BinarySearchFunc(fin, e.done, func(it finishedItem, t time.Time) int { return it.done.Compare(t) })
	n, j := i, i
	for ; j < len(fin) && fin[j].done.Compare(e.done) == 0; j++ {
		if fin[j].e != e {
			fin[n] = fin[j]
			n++
		}
	}
	if n == j {
		c.finishedExact = false // not there: cannot be
		return
	}
	c.finishedDropped += j - n
	n += copy(fin[n:], fin[j:])
	clear(fin[n:])
	c.finished = fin[:n]
}

// finalState is the state a record ends in when emitted now.
func finalState(e *entry) State {
	if e.done.IsZero() {
		return StateIncomplete
	}
	for _, q := range e.msg.Queues {
		if q.Expired {
			return StateExpired
		}
	}
	return StateRemoved
}

// emit finishes a record: removes its queue IDs from the open set, counts
// it and hands it to the sink.
func (c *Correlator) emit(e *entry, state State) {
	if e.dead {
		return
	}
	if !c.passing && !e.done.IsZero() {
		c.dropFinished(e)
	}
	e.dead = true
	c.dropLive(e)
	c.markGone(e)
	m := e.msg
	for _, q := range m.Queues {
		k := qkey{m.Host, q.ID}
		if c.open[k] == e {
			delete(c.open, k)
			if h := keyHash(k); c.emittedBits.mayHave(h) {
				c.emitted.add(h, k)
			} else {
				// every key of the set has its bit: none has this hash
				c.emitted.insert(h, k)
				c.emittedBits.add(h)
			}
		}
	}
	if m.Origin == OriginSMTP && m.From == "" && len(m.Queues) == 1 && m.Queues[0].Queued && !m.Queues[0].Reinjected &&
		c.filterClients[[2]string{m.Host, m.ClientIP}] {
		m.FilterNotification = true
		m.Origin, m.Queues[0].Origin = OriginFilter, OriginFilter
	}
	if state == StateIncomplete && m.Refused() {
		state = StateRefused
		c.sum.Refused++
	}
	m.State = state
	c.sum.Messages++
	if m.FromClient() {
		c.sum.MessagesFromClients++
	}
	c.sum.ReceivedFromClients += m.Received()
	for _, d := range m.Deliveries {
		if d.Status == logparse.StatusDeferred {
			c.sum.DeferredMessages++
			break
		}
	}
	if c.opts.Messages != nil {
		if err := c.opts.Messages.WriteMessage(m); err != nil {
			c.errs = append(c.errs, err)
		}
	}
}

// --- logins ---

func (c *Correlator) login(l Login) {
	l.User = logparse.AccountName(l.User)
	if c.opts.Logins == nil {
		return
	}
	if err := c.opts.Logins.WriteLogin(l); err != nil {
		c.errs = append(c.errs, err)
	}
}

// severityLine is warning for a line that starts "severity: text".
func (c *Correlator) severityLine(h logparse.Frame) {
	sev, text, ok := strings.Cut(h.Message, ": ")
	if !ok {
		sev, text = "warning", h.Message
	}
	c.warning(h, sev, text)
}

// warning counts a Postfix "warning:", "error:", "fatal:" or "panic:" line
// and hands it to the warning sink.
func (c *Correlator) warning(h logparse.Frame, severity, text string) {
	c.sum.Warnings[c.keep(severity)]++
	if c.opts.Warnings == nil {
		return
	}
	if err := c.opts.Warnings.WriteWarning(Warning{Time: h.Time, Host: h.Host, Program: h.Program, Severity: severity, Text: text}); err != nil {
		c.errs = append(c.errs, err)
	}
}

// bindSession records which login service a Dovecot session ID belongs to
// and settles auth failures that were waiting for it. Dovecot's auth
// process logs the failure before the login process logs the session's
// outcome ("Login" or "Disconnected … (auth failed …)").
func (c *Correlator) bindSession(host, session, service string, t time.Time) {
	if session == "" {
		return
	}
	// a map assignment stores its key even when the key was there: the
	// kept copies must not be views of the line
	k := skey{host, strings.Clone(session)}
	service = c.keep(service)
	c.sessions[k] = dovecotSession{service, t}
	c.sessionsDue.push(sessionDue{t, k})
	c.markSession(k)
	for _, p := range c.pending[k] {
		c.countAuth(service)
		c.authLogin(p.ev, service)
	}
	delete(c.pending, k)
	delete(c.pendingAt, k)
}

func (c *Correlator) onAuthFailure(e *logparse.DovecotAuthFailure) {
	h := e.Header()
	if e.Session == "" {
		c.sum.DovecotAuthFailures.NoSession++
		if e.RemoteIP != "" {
			c.sum.DovecotAuthFailures.NoSessionWithIP++
		}
		return // Postfix logs its own SASL failure, which is the login record
	}
	k := skey{h.Host, e.Session}
	if ss, ok := c.sessions[k]; ok {
		svc := ss.service
		c.countAuth(svc)
		c.authLogin(e, svc)
		return
	}
	ps, ok := c.pending[k]
	if !ok {
		k.session = strings.Clone(k.session)
	}
	c.pending[k] = append(ps, pendingAuth{ev: e})
	if _, ok := c.pendingAt[k]; !ok {
		c.pendingAt[k] = h.Time
	}
}

func (c *Correlator) countAuth(service string) {
	a := &c.sum.DovecotAuthFailures
	switch service {
	case "imap":
		a.IMAP++
	case "pop3":
		a.POP3++
	case "submission":
		a.Submission++
	default:
		a.Other++
	}
}

func (c *Correlator) authLogin(e *logparse.DovecotAuthFailure, service string) {
	h := e.Header()
	c.login(Login{Time: h.Time, Host: h.Host, Source: "dovecot", Service: service, User: e.User,
		RemoteIP: e.RemoteIP, Session: e.Session, Reason: e.Reason})
}
