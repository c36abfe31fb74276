package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// The Postfix corpus (collectors/corpus/README.md): three hosts' logs,
// written by real Postfix, postgrey, amavisd-new and Dovecot, with the
// generator's own ground truth in truth.json.
const corpusDir = "../../collectors/corpus/postfix"

// corpusFiles are the per-host files, in the order they are given to
// import and to collectors.files.
var corpusFiles = []string{"mx1/postfix.log", "mx1/mail.log", "smtp/mail.log", "imap/mail.log"}

type corpusLine struct {
	file int
	text string
	t    time.Time
}

// corpusTruth is the part of truth.json the summary is checked against.
type corpusTruth struct {
	Period struct {
		Drained float64 `json:"drained"`
	} `json:"period"`
	Summary struct {
		Received            int64               `json:"received"`
		Delivered           int64               `json:"delivered"`
		DeliveredLocalLMTP  int64               `json:"delivered_local_lmtp"`
		DeliveredRemote     int64               `json:"delivered_remote"`
		ForwardedByMX1      int64               `json:"delivered_remote_forwarded_by_mx1"`
		FilterHandoffs      int64               `json:"filter_handoffs"`
		SentLines           int64               `json:"sent_lines"`
		Deferred            int64               `json:"deferred"`
		DeferredMessages    int64               `json:"deferred_messages"`
		Bounced             int64               `json:"bounced"`
		Expired             int64               `json:"expired"`
		Rejected            []txlog.RejectCount `json:"rejected"`
		RejectedTotal       int64               `json:"rejected_total"`
		CleanupRejected     int64               `json:"cleanup_rejected"`
		Greylisted          int64               `json:"greylisted"`
		SASLFailures        int64               `json:"sasl_failures"`
		Logins              []txlog.LoginCount  `json:"logins"`
		Verdicts            map[string]int64    `json:"verdicts"`
		Spam                int64               `json:"spam"`
		Virus               int64               `json:"virus"`
		Banned              int64               `json:"banned"`
		BytesReceivedClient int64               `json:"bytes_received_client"`
	} `json:"summary"`
	Compromise struct {
		Account     string   `json:"account"`
		AttackerIPs []string `json:"attacker_ips"`
		Burst       struct {
			Src string `json:"src"`
		} `json:"burst"`
		GuessByAcct map[string]int `json:"guess_failures_by_account"`
	} `json:"compromise"`
	OrdinaryAccounts []string `json:"ordinary_accounts"`
}

func loadCorpus(t *testing.T) ([]corpusLine, corpusTruth) {
	t.Helper()
	var truth corpusTruth
	data, err := os.ReadFile(filepath.Join(corpusDir, "truth.json"))
	if err != nil {
		t.Fatalf("corpus: %v", err)
	}
	if err := json.Unmarshal(data, &truth); err != nil {
		t.Fatal(err)
	}
	end := time.Unix(int64(truth.Period.Drained), 0).UTC()
	var all []corpusLine
	for i, name := range corpusFiles {
		fh, err := os.Open(filepath.Join(corpusDir, name))
		if err != nil {
			t.Fatal(err)
		}
		fr := logparse.NewFramer(end, time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			f, err := fr.Frame(sc.Text())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			all = append(all, corpusLine{i, sc.Text(), f.Time})
		}
		fh.Close()
	}
	// the order Import merges them in: by time, ties to the file given first
	sort.SliceStable(all, func(i, j int) bool {
		if c := all[i].t.Compare(all[j].t); c != 0 {
			return c < 0
		}
		return all[i].file < all[j].file
	})
	return all, truth
}

// corpusRun is what one way of reading the corpus stored.
type corpusRun struct {
	sum      txlog.Summary
	records  map[string][]string
	findings []string
	alerts   []abusedetect.Alert
}

type findingList struct {
	mu     sync.Mutex
	list   []string
	alerts []abusedetect.Alert
}

func (f *findingList) sink() abusedetect.AlertSink {
	return abusedetect.AlertSinkFunc(func(_ context.Context, a abusedetect.Alert) error {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.list = append(f.list, fmt.Sprintf("%s %s %s %d %v", a.At.UTC().Format(time.RFC3339), a.Kind, a.Subject, a.Count, a.Addresses))
		f.alerts = append(f.alerts, a)
		return nil
	})
}

func (f *findingList) sorted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]string(nil), f.list...)
	sort.Strings(out)
	return out
}

func corpusConfig(paths []string) collectors.Config {
	cfg := collectors.Default()
	for _, p := range paths {
		cfg.Files = append(cfg.Files, collectors.FileConfig{Path: p})
	}
	cfg.LogTimezone, cfg.CommitInterval = "UTC", 50*time.Millisecond
	return cfg
}

// importCorpus imports the corpus files (their modification time set to
// the end of the corpus, as if just written) into db.
func importCorpus(t *testing.T, db *storage.DB, lines []corpusLine, end time.Time) corpusRun {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i := range corpusFiles {
		p := filepath.Join(dir, fmt.Sprintf("f%d.log", i))
		var b strings.Builder
		for _, l := range lines {
			if l.file == i {
				b.WriteString(l.text + "\n")
			}
		}
		if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chtimes(p, end, end)
		paths = append(paths, p)
	}
	cfg := corpusConfig(paths)
	po, err := PipelineOptions(cfg, txlogstore.New(db))
	if err != nil {
		t.Fatal(err)
	}
	var found findingList
	if po.Detector, err = Detector(cfg, found.sink(), nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Import(context.Background(), ingest.New(po), ingest.ImportOptions{Files: paths, Loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	return corpusRun{sum: summaryOf(t, db), records: dumpRecords(t, db), findings: found.sorted(), alerts: found.alerts}
}

// serveCorpus runs the live pipeline on the corpus files as they are
// written: the lines are appended to four files in time order, at speed.
// With stopAt > 0 the service is stopped (as on SIGTERM, without writing
// what is open) once that many lines are written, the rest is appended
// while it is down, and it is started again.
func serveCorpus(t *testing.T, db *storage.DB, lines []corpusLine, end time.Time, stopAt int) corpusRun {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	var fhs []*os.File
	sizes := make([]int64, len(corpusFiles))
	for i := range corpusFiles {
		p := filepath.Join(dir, fmt.Sprintf("f%d.log", i))
		fh, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		paths, fhs = append(paths, p), append(fhs, fh)
	}
	for _, l := range lines {
		sizes[l.file] += int64(len(l.text)) + 1
	}
	cfg := corpusConfig(paths)
	// the service's clock runs at the corpus' time: year-less timestamps
	// are resolved against it, and wall-clock waits keep their length
	shift := end.Add(time.Minute).Sub(time.Now())
	now := func() time.Time { return time.Now().Add(shift) }
	store := txlogstore.New(db)
	var found findingList

	var written atomic.Int64
	appended := make(chan struct{})
	go func() {
		defer close(appended)
		bufs := make([]*bufio.Writer, len(fhs))
		for i, fh := range fhs {
			bufs[i] = bufio.NewWriterSize(fh, 1<<16)
		}
		for i, l := range lines {
			bufs[l.file].WriteString(l.text + "\n")
			if (i+1)%50 == 0 || i == len(lines)-1 {
				for _, b := range bufs {
					b.Flush()
				}
				written.Store(int64(i + 1))
				time.Sleep(time.Millisecond)
			}
		}
	}()

	run := func(flush bool, until func() bool) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		det, err := Detector(cfg, found.sink(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, loops, err := buildLive(ctx, liveOptions{cfg: cfg, store: store, abuse: det, logger: slog.New(slog.DiscardHandler),
			now: now, flushOnStop: flush})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make(chan error, len(loops)+1)
		for _, fn := range append(loops, r.Run) {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- fn(ctx) }()
		}
		deadline := time.Now().Add(5 * time.Minute)
		for !until() {
			if time.Now().After(deadline) {
				cancel()
				wg.Wait()
				t.Fatal("the live pipeline did not get there in 5 minutes")
			}
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// done: everything appended, and every file's offset committed at its end
	done := func() bool {
		select {
		case <-appended:
		default:
			return false
		}
		for i, p := range paths {
			cp, err := store.Checkpoint(context.Background(), "file:"+p)
			if err != nil || cp.Offset != sizes[i] {
				return false
			}
		}
		return true
	}
	if stopAt > 0 {
		run(false, func() bool { return written.Load() >= int64(stopAt) })
		open := openAtCheckpoint(t, db)
		t.Logf("stopped with %d of %d lines appended, %d messages open", written.Load(), len(lines), open)
		if open == 0 {
			t.Fatal("nothing open at the stop: the restart would prove little")
		}
	}
	run(true, done)
	return corpusRun{sum: summaryOf(t, db), records: dumpRecords(t, db), findings: found.sorted(), alerts: found.alerts}
}

func summaryOf(t *testing.T, db *storage.DB) txlog.Summary {
	t.Helper()
	s, err := txlogstore.New(db).TxSummary(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// dumpRecords lists every stored record as text, sorted, by table.
func dumpRecords(t *testing.T, db *storage.DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for table, cols := range map[string]string{
		"mail_tx": `ts, node, source, direction, msg_key, queue_id, message_id, mail_from, rcpt, orig_rcpt, subject, size,
			client_ip, client_name, helo, auth_user, spam_score, av_verdict, status, stage, code, dsn, reply, relay, agent,
			handoff, delay, delays`,
		"mail_messages": `ts, last_seen, node, source, direction, msg_key, origin, service, state, queue_ids, message_id,
			mail_from, size, nrcpt, client_ip, client_name, helo, auth_user, spam_score, av_verdict, received`,
		"mail_logins": `ts, node, source, service, username, remote_ip, method, session, tls, ok, reason`,
	} {
		n := len(strings.Split(cols, ","))
		rows, err := db.Query(context.Background(), "SELECT "+cols+" FROM "+table)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			vals := make([]any, n)
			ptrs := make([]any, n)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			out[table] = append(out[table], fmt.Sprint(vals...))
		}
		rows.Close()
		sort.Strings(out[table])
	}
	return out
}

// TestCorpusServeEqualsImport is the acceptance of docs/collectors.md
// "Merging sources by time" and "Restarts without loss or double
// counting" on a real corpus: `serve` tailing the three hosts' four files
// from the start, appended to in time order at speed, and again stopped and
// restarted mid-way, stores what `import` of the same files stores — every
// summary figure, every record, every abuse finding — on SQLite and
// PostgreSQL. The import is then checked against the generator's ground
// truth (truth.json).
func TestCorpusServeEqualsImport(t *testing.T) {
	if testing.Short() {
		t.Skip("the corpus runs take a while")
	}
	t.Parallel()
	lines, truth := loadCorpus(t)
	end := time.Unix(int64(truth.Period.Drained), 0).UTC()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		imported := importCorpus(t, db, lines, end)
		if imported.sum.Received == 0 || len(imported.records["mail_tx"]) == 0 {
			t.Fatalf("import stored nothing: %+v", imported.sum)
		}
		for _, c := range []struct {
			name   string
			stopAt int
		}{{"from the start", 0}, {"stopped and restarted mid-way", len(lines) * 2 / 5}} {
			t.Run(c.name, func(t *testing.T) {
				live := serveCorpus(t, storagetest.Open(t, db.Dialect()), lines, end, c.stopAt)
				if d := cmp.Diff(imported.sum, live.sum); d != "" {
					t.Errorf("summary differs (-import +serve):\n%s", d)
				}
				for table, want := range imported.records {
					got := live.records[table]
					if d := cmp.Diff(want, got); d != "" {
						t.Errorf("%s: %d records imported, %d served; differences (-import +serve):\n%s", table, len(want), len(got), d)
					}
				}
				if d := cmp.Diff(imported.findings, live.findings); d != "" {
					t.Errorf("abuse findings differ (-import +serve):\n%s", d)
				}
				checkCompromiseFound(t, live.alerts, truth)
			})
		}
		t.Run("import equals the ground truth", func(t *testing.T) {
			checkCorpusTruth(t, imported.sum, truth)
			checkCompromiseFound(t, imported.alerts, truth)
		})
	})
}

// checkCorpusTruth compares a summary with truth.json's figures where the
// truth defines the same figure (collectors/corpus/README.md, "truth.json").
func checkCorpusTruth(t *testing.T, s txlog.Summary, truth corpusTruth) {
	t.Helper()
	w := truth.Summary
	check := func(name string, got, want int64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, truth %d", name, got, want)
		}
	}
	check("received", s.Received, w.Received)
	check("delivered", s.Delivered, w.Delivered)
	check("delivered by lmtp", s.DeliveredBy["lmtp"], w.DeliveredLocalLMTP)
	check("delivered by smtp", s.DeliveredBy["smtp"], w.DeliveredRemote)
	check("filter hand-offs", s.FilterHandoffs, w.FilterHandoffs)
	check("sent lines", s.SentLines, w.SentLines)
	check("deferred", s.Deferred, w.Deferred)
	check("deferred messages", s.DeferredMessages, w.DeferredMessages)
	check("bounced", s.Bounced, w.Bounced)
	check("expired", s.Expired, w.Expired)
	check("rejected", s.RejectedTotal, w.RejectedTotal)
	check("rejected by header checks", s.CleanupRejected, w.CleanupRejected)
	check("greylisted", s.Greylisted, w.Greylisted)
	check("SASL failures", s.SASLFailures, w.SASLFailures)
	check("spam", s.Spam, w.Spam)
	check("virus", s.Virus, w.Virus)
	check("banned", s.Banned, w.Banned)
	wantRej := append([]txlog.RejectCount(nil), w.Rejected...)
	gotRej := append([]txlog.RejectCount(nil), s.Rejected...)
	byKey := func(r []txlog.RejectCount) {
		sort.Slice(r, func(i, j int) bool { return fmt.Sprint(r[i]) < fmt.Sprint(r[j]) })
	}
	byKey(wantRej)
	byKey(gotRej)
	if d := cmp.Diff(wantRej, gotRej); d != "" {
		t.Errorf("rejects by stage and code (-truth +got):\n%s", d)
	}
	if d := cmp.Diff(w.Verdicts, s.Verdicts); d != "" {
		t.Errorf("verdicts (-truth +got):\n%s", d)
	}
	// truth's "smtp" logins are SMTP AUTH on the submission port, which
	// Postfix logs as the "submission" service
	logins := map[string]int64{}
	for _, l := range s.Logins {
		logins[l.Protocol+" "+l.Result] = l.Count
	}
	for _, l := range w.Logins {
		proto := l.Protocol
		if proto == "smtp" {
			proto = "submission"
		}
		check("logins "+proto+" "+l.Result, logins[proto+" "+l.Result], l.Count)
	}
	// Postfix's size= adds its own headers: between what the clients sent
	// and that plus 600 bytes a message (README, "truth.json")
	if s.BytesReceived < w.BytesReceivedClient || s.BytesReceived > w.BytesReceivedClient+600*w.Received {
		t.Errorf("bytes received %d, truth: the clients sent %d (+ at most 600 per message)", s.BytesReceived, w.BytesReceivedClient)
	}
}

// checkCompromiseFound: with the default thresholds a critical finding
// names the corpus' compromised account with the address of its burst, and
// no finding names an ordinary account but as the target of the
// attacker's guessing (truth.json "compromise", "ordinary_accounts").
func checkCompromiseFound(t *testing.T, alerts []abusedetect.Alert, truth corpusTruth) {
	t.Helper()
	c := truth.Compromise
	if c.Account == "" || c.Burst.Src == "" {
		t.Fatal("truth.json names no compromised account")
	}
	found := false
	ordinary := map[string]bool{}
	for _, u := range truth.OrdinaryAccounts {
		ordinary[u] = true
	}
	for _, a := range alerts {
		if a.Account == c.Account && a.Severity == abusedetect.SeverityCritical && slices.Contains(a.Addresses, c.Burst.Src) {
			found = true
		}
		who := a.Account
		if who == "" {
			who = a.Subject
		}
		if who == c.Account || !ordinary[who] {
			continue
		}
		if _, attacked := c.GuessByAcct[who]; attacked && a.Kind == abusedetect.KindGuessingAccount {
			continue
		}
		t.Errorf("ordinary account %s raised a finding: %s %s", who, a.Kind, a.Summary)
	}
	if !found {
		t.Errorf("no critical finding names %s with the burst's address %s (%d findings)", c.Account, c.Burst.Src, len(alerts))
	}
}
