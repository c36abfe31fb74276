package ingest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

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
	if m.cps == nil {
		m.cps = map[string]txlog.Checkpoint{}
	}
	for _, c := range cps {
		m.cps[c.Source] = c
	}
	return nil
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
