package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/engine/event"

	"github.com/uni-mail/postvakt/collectors/txlog"
)

const sampleDir = "../../../shared/samples/real-logs"

func sampleFiles(t testing.TB) []string {
	t.Helper()
	files := []string{filepath.Join(sampleDir, "postfix.log"), filepath.Join(sampleDir, "syslog-mail.log")}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("sample logs not present: %v", err)
		}
	}
	return files
}

// memStore is a txlog.Store in memory.
type memStore struct {
	mu   sync.Mutex
	b    txlog.Batch
	cps  map[string]txlog.Checkpoint
	fail error
	// failAfter is returned after the batch was written: a COMMIT whose
	// answer was lost
	failAfter error
}

func (m *memStore) WriteBatch(_ context.Context, b *txlog.Batch, cps []txlog.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.b.Rows = append(m.b.Rows, b.Rows...)
	m.b.Messages = append(m.b.Messages, b.Messages...)
	m.b.Logins = append(m.b.Logins, b.Logins...)
	m.b.Sessions = append(m.b.Sessions, b.Sessions...)
	if m.cps == nil {
		m.cps = map[string]txlog.Checkpoint{}
	}
	for _, c := range cps {
		// the state's items as a store keeps them: changes applied
		items := m.cps[c.Source].Items
		if c.ReplaceItems || items == nil {
			items = map[string][]byte{}
		}
		for _, k := range c.Drop {
			delete(items, k)
		}
		for k, v := range c.Items {
			items[k] = v
		}
		c.Items, c.Drop, c.ReplaceItems = items, nil, false
		m.cps[c.Source] = c
	}
	return m.failAfter
}

func (m *memStore) Checkpoint(_ context.Context, src string) (txlog.Checkpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.cps[src]
	if !ok {
		return c, txlog.ErrNoCheckpoint
	}
	return c, nil
}

// totals computes the README's figures from stored records, the way the
// database summary does.
func totals(b *txlog.Batch) map[string]int {
	t := map[string]int{}
	deferredMsgs := map[string]bool{}
	for _, m := range b.Messages {
		t["received"] += m.Received
	}
	for _, r := range b.Rows {
		switch r.Status {
		case txlog.StatusSent:
			if !r.Handoff {
				t["delivered"]++
				t["delivered "+r.Agent]++
			}
		case txlog.StatusDeferred:
			t["deferred"]++
			deferredMsgs[r.MsgKey] = true
		case txlog.StatusRejected:
			if r.Stage != "header" && r.Stage != "body" {
				t["reject "+r.Stage+" "+strconv.Itoa(r.Code)]++
				t["rejects"]++
			}
		default:
			t[r.Status]++
		}
		if r.Status == txlog.StatusScanned {
			t[r.AVVerdict]++
		}
	}
	t["deferred messages"] = len(deferredMsgs)
	for _, l := range b.Logins {
		switch {
		case l.Source == txlog.SourceDovecotAuth:
			t["auth failed smtp"]++
		case l.Source == "postfix" && !l.OK:
			t["sasl failures"]++
		case l.Source == "dovecot" && l.OK:
			t["login "+l.Service]++
		case l.Source == "dovecot":
			t["auth failed "+l.Service]++
		}
	}
	return t
}

// want are the README's "Reference counts for this sample".
var want = map[string]int{
	"received": 751, "delivered": 1133, "delivered lmtp": 954, "delivered smtp": 179,
	"deferred": 26, "deferred messages": 10, "bounced": 9, "expired": 0,
	"reject RCPT 450": 970, "reject RCPT 550": 143, "reject RCPT 554": 118, "reject RCPT 504": 32,
	"reject RCPT 553": 7, "reject MAIL 552": 4, "rejects": 1274, "greylisted": 969, "sasl failures": 12,
	"login imap": 129, "login pop3": 43, "auth failed imap": 36, "auth failed pop3": 27, "auth failed smtp": 17,
	"Passed CLEAN": 720, "Passed SPAMMY": 10, "Blocked INFECTED": 6, "Blocked SPAM": 6, "Blocked BANNED": 3,
}

func checkTotals(t *testing.T, b *txlog.Batch) {
	t.Helper()
	got := totals(b)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %d, want %d", k, got[k], w)
		}
	}
}

func TestImportSampleReferenceCounts(t *testing.T) {
	t.Parallel()
	files := sampleFiles(t)
	st := &memStore{}
	p := New(Options{Store: st, BatchSize: 1000})
	stats, err := Import(context.Background(), p, ImportOptions{Files: files})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Lines != 13539+5153 || stats.ParseErrors != 0 {
		t.Errorf("lines %d errors %d", stats.Lines, stats.ParseErrors)
	}
	checkTotals(t, &st.b)
}

type alerts struct{ list []abusedetect.Alert }

func (a *alerts) Alert(_ context.Context, al abusedetect.Alert) error {
	a.list = append(a.list, al)
	return nil
}

// TestSampleAbuse runs abuse detection over the sample: the small POP3
// password-guessing run from 127.0.6.41 (with a per-IP threshold of 10)
// and the mailings to 25 recipients are found.
func TestSampleAbuse(t *testing.T) {
	t.Parallel()
	files := sampleFiles(t)
	got := &alerts{}
	cfg := abusedetect.DefaultConfig()
	cfg.AuthFailuresPerIP = 10 // the sample's run is 12 guesses in 3 minutes
	det, err := abusedetect.New(abusedetect.Options{Config: cfg, Sink: got})
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{Store: &memStore{}, Detector: abusedetect.Stream{D: det}})
	if _, err := Import(context.Background(), p, ImportOptions{Files: files}); err != nil {
		t.Fatal(err)
	}
	found := map[abusedetect.Kind][]string{}
	for _, a := range got.list {
		found[a.Kind] = append(found[a.Kind], a.Subject)
	}
	if !slices.Contains(found[abusedetect.KindAuthFailuresIP], "127.0.6.41") {
		t.Errorf("password guessing from 127.0.6.41 not found: %v", found)
	}
	if len(found[abusedetect.KindManyRecipients]) == 0 {
		t.Errorf("no message to more than 20 recipients found: %v", found)
	}
	t.Logf("findings: %v", found)
}

func TestEngineEvents(t *testing.T) {
	t.Parallel()
	st := &memStore{}
	p := New(Options{Store: st})
	s := event.Session{ID: "s1", Node: "mx1", Listener: "mx", ClientIP: "192.0.2.1", HELO: "mail.example"}
	sub := event.Session{ID: "s2", Node: "mx1", Listener: "submission", ClientIP: "10.1.2.3", AuthUser: "ola@uni.example"}
	at := time.Date(2026, 11, 22, 11, 0, 0, 0, time.UTC)
	for _, ev := range []event.Event{
		&event.Recipient{At: at, Session: s, MailFrom: "a@b.example", Rcpt: "x@uni.example", Outcome: event.OutcomeRefused, Code: 451, Reason: "greylisted"},
		&event.Recipient{At: at, Session: s, MailFrom: "a@b.example", Rcpt: "nobody@uni.example", Outcome: event.OutcomeRefused, Code: 550, Reason: "unknown_recipient"},
		&event.Transaction{At: at, Session: s, QueueID: "Q1", MailFrom: "a@b.example", Rcpts: []string{"x@uni.example"}, Size: 1234,
			MessageID: "<m1@b.example>", Subject: "Hello", HeaderFrom: "A <a@b.example>", Code: 250},
		&event.Recipient{At: at, Session: s, QueueID: "Q1", MailFrom: "a@b.example", Rcpt: "x@uni.example", Target: "x@uni.example", Outcome: event.OutcomeDelivered, Code: 250},
		&event.Transaction{At: at, Session: sub, QueueID: "Q2", MailFrom: "ola@uni.example", Rcpts: []string{"y@z.example"}, Size: 99, Code: 250},
		&event.Recipient{At: at, Session: sub, QueueID: "Q2", Rcpt: "y@z.example", Outcome: event.OutcomeQueued, Code: 250},
		&event.Auth{At: at, Session: sub, Mechanism: "PLAIN", Username: "ola@uni.example", Success: true},
		&event.Auth{At: at, Session: sub, Mechanism: "PLAIN", Username: "ola@uni.example", Reason: "bad_credentials"},
	} {
		p.Engine(ev)
	}
	if err := p.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	b := st.b
	if len(b.Messages) != 2 || b.Messages[0].MsgKey != "mx1/Q1" || b.Messages[0].MessageID != "m1@b.example" ||
		b.Messages[0].Subject != "Hello" || b.Messages[0].Direction != txlog.Inbound || b.Messages[1].Direction != txlog.Outbound {
		t.Fatalf("messages %+v", b.Messages)
	}
	var statuses []string
	for _, r := range b.Rows {
		statuses = append(statuses, r.Status+"/"+string(r.Direction))
	}
	want := []string{"greylisted/inbound", "rejected/inbound", "sent/inbound", "queued/outbound"}
	if !slices.Equal(statuses, want) {
		t.Errorf("rows %v, want %v", statuses, want)
	}
	if len(b.Logins) != 2 || !b.Logins[0].OK || b.Logins[1].OK || b.Logins[0].Service != "submission" {
		t.Errorf("logins %+v", b.Logins)
	}
}

// TestRestoreResumesExactly feeds the sample as one tailed stream, stopping
// four times: each time the pipeline commits its state with the records
// and the offset, and a fresh pipeline restores the state and goes on from
// the offset. The runs together write what one run writes, record for
// record.
func TestRestoreResumesExactly(t *testing.T) {
	t.Parallel()
	files := sampleFiles(t)
	lines := collectLines(t, nil, files)
	one := &memStore{}
	p := New(Options{Store: one})
	if err := p.AddStream(Stream{ID: 1, Source: SourceImport, Ref: sampleRef}); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		p.Line(1, l.text, l.off, l.end)
	}
	if err := p.Finish(context.Background()); err != nil {
		t.Fatal(err)
	}

	st := &memStore{}
	next := 0
	for part := 1; part <= 5; part++ {
		p := New(Options{Store: st, KeepState: true})
		cp, err := st.Checkpoint(context.Background(), "file:x")
		if part > 1 && err != nil {
			t.Fatal(err)
		}
		if state, err := st.Checkpoint(context.Background(), txlog.StateSource); err == nil {
			if err := p.Restore(state); err != nil {
				t.Fatal(err)
			}
			if p.Correlator().Open() == 0 {
				t.Fatalf("part %d: nothing open at the restart: the test would prove little", part)
			}
		}
		if err := p.AddStream(Stream{ID: 1, Source: SourceFile, Checkpoint: "file:x", Ref: sampleRef, Start: cp.Offset}); err != nil {
			t.Fatal(err)
		}
		if next < len(lines) && lines[next].off != cp.Offset {
			t.Fatalf("part %d: offset %d is not where the last part stopped (%d)", part, cp.Offset, lines[next].off)
		}
		end := len(lines) * part / 5
		for n := 0; next < end; next, n = next+1, n+1 {
			l := lines[next]
			p.Line(1, l.text, l.off, l.end)
			// commits along the way write only what changed; one of them
			// fails, and the next must make up for it
			if n%97 == 96 {
				switch {
				case n/97 == 2:
					st.fail = errors.New("disk full")
					if err := p.Commit(context.Background()); err == nil {
						t.Fatal("a failing store's commit succeeded")
					}
					st.fail, err = nil, nil
				case n/97 == 4:
					// written, but the answer is lost: not written again
					st.failAfter = errors.New("connection reset")
					if err := p.Commit(context.Background()); err != nil {
						t.Fatalf("a commit written but not answered: %v", err)
					}
					st.failAfter, err = nil, nil
				default:
					err = p.Commit(context.Background())
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		if part == 5 {
			err = p.Finish(context.Background())
		} else {
			err = p.Commit(context.Background())
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if d := cmp.Diff(sortedBatch(&one.b), sortedBatch(&st.b)); d != "" {
		t.Errorf("with four restarts the records differ (-one run +restarted):\n%s", d)
	}
	checkTotals(t, &st.b)
}

// sortedBatch is b's records as sorted strings, to compare sets of records.
func sortedBatch(b *txlog.Batch) []string {
	var out []string
	for _, m := range b.Messages {
		m.FirstSeen, m.LastSeen = m.FirstSeen.UTC(), m.LastSeen.UTC()
		out = append(out, fmt.Sprintf("M %+v", m))
	}
	for _, r := range b.Rows {
		r.Time = r.Time.UTC()
		out = append(out, fmt.Sprintf("R %+v", r))
	}
	for _, l := range b.Logins {
		l.Time = l.Time.UTC()
		out = append(out, fmt.Sprintf("L %+v", l))
	}
	sort.Strings(out)
	return out
}

var sampleRef = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

type textLine struct {
	text     string
	off, end int64
	t        time.Time
}

// collectLines merges the files by time into one stream of lines with
// offsets, as a single mail.log, and feeds nothing.
func collectLines(t *testing.T, _ *Pipeline, files []string) []textLine {
	t.Helper()
	var all []textLine
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fr := logparse.NewFramer(sampleRef, time.UTC)
		for _, l := range strings.SplitAfter(string(data), "\n") {
			if l == "" {
				continue
			}
			text := strings.TrimSuffix(l, "\n")
			fm, err := fr.Frame(text)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, textLine{text: text, t: fm.Time})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	var off int64
	for i := range all {
		all[i].off = off
		off += int64(len(all[i].text)) + 1
		all[i].end = off
	}
	return all
}

// TestSampleDirections: in the sample logs (README: mynetworks is
// 127.0.0.1/32, the web application submits on port 25 from 127.0.0.1,
// users submit on 587 with SASL) the direction follows where and how mail
// came in. Submission with SASL is the organisation's; partner MTAs on
// port 25 are inbound; the web application on port 25 from 127.0.0.1 is
// the organisation's too — Postfix relays for mynetworks
// (collectors.local_networks), which is what makes it a sender of the
// organisation, and its mail to mailboxes here is internal; amavis'
// re-injection from 127.0.0.1 is no message of its own. (The engine, whose
// local networks only skip AUTH on submission, counts the MX listener
// inbound whatever the address: TestEngineRecordsDirection.)
func TestSampleDirections(t *testing.T) {
	t.Parallel()
	files := sampleFiles(t)
	st := &memStore{}
	if _, err := Import(context.Background(), New(Options{Store: st, BatchSize: 1000}), ImportOptions{Files: files}); err != nil {
		t.Fatal(err)
	}
	type kind struct{ who, dir string }
	count := map[kind]int{}
	for _, m := range st.b.Messages {
		if m.Received == 0 {
			continue
		}
		who := "partner"
		switch {
		case m.AuthUser != "":
			who = "submission"
		case m.ClientIP == "127.0.0.1":
			who = "web application"
		case strings.HasPrefix(m.ClientIP, "127.0.2."):
			who = "user machine"
		}
		count[kind{who, string(m.Direction)}]++
	}
	t.Logf("received messages by client and direction: %v", count)
	for k, n := range count {
		switch {
		case k.who == "submission" && k.dir != "outbound" && k.dir != "internal",
			k.who == "web application" && k.dir != "outbound" && k.dir != "internal",
			k.who == "partner" && k.dir == "outbound":
			t.Errorf("%d messages from a %s are %s", n, k.who, k.dir)
		}
	}
	if count[kind{"web application", "internal"}] == 0 || count[kind{"submission", "outbound"}] == 0 || count[kind{"partner", "inbound"}] == 0 {
		t.Errorf("the sample's cases are not all there: %v", count)
	}
}
