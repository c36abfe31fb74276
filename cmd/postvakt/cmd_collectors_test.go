package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
)

const sampleDir = "../../../shared/samples/real-logs"

func sampleLogs(t *testing.T) []string {
	t.Helper()
	files := []string{filepath.Join(sampleDir, "postfix.log"), filepath.Join(sampleDir, "syslog-mail.log")}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			t.Skipf("sample logs not present: %v", err)
		}
	}
	return files
}

// readmeCounts reads the table "Reference counts for this sample" of the
// samples' README into name → value, e.g. "deferred" → "26 lines, 10 …".
func readmeCounts(t *testing.T) map[string]string {
	t.Helper()
	fh, err := os.Open(filepath.Join(sampleDir, "README.md"))
	if err != nil {
		t.Skipf("sample README: %v", err)
	}
	defer fh.Close()
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "## ") {
			in = strings.Contains(l, "Reference counts")
			continue
		}
		if !in || !strings.HasPrefix(l, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) >= 2 {
			out[strings.TrimSpace(cells[0])] = strings.TrimSpace(cells[1])
		}
		if len(cells) >= 3 {
			out[strings.TrimSpace(cells[0])+" (definition)"] = strings.TrimSpace(cells[2])
		}
	}
	if len(out) == 0 {
		t.Fatal("no reference counts in the README")
	}
	return out
}

var numRe = regexp.MustCompile(`\d[\d,]*`)

// nums returns the numbers in s ("1,133" is 1133).
func nums(s string) []int64 {
	var out []int64
	for _, m := range numRe.FindAllString(s, -1) {
		n, _ := strconv.ParseInt(strings.ReplaceAll(m, ",", ""), 10, 64)
		out = append(out, n)
	}
	return out
}

// labelled returns "LABEL N" pairs of "A B: 1 · C D: 2" or "A 1 · B 2".
func labelled(s string) map[string]int64 {
	out := map[string]int64{}
	for _, part := range strings.Split(s, "·") {
		part = strings.TrimSpace(part)
		i := strings.LastIndexAny(part, " ")
		if i < 0 {
			continue
		}
		n := nums(part[i+1:])
		if len(n) == 1 {
			out[strings.TrimSuffix(strings.TrimSpace(part[:i]), ":")] = n[0]
		}
	}
	return out
}

func importSample(t *testing.T, dbURL string) string {
	t.Helper()
	cfg := writeConfig(t, "data_dir: DATADIR\ndatabase:\n  url: "+dbURL+"\ncollectors:\n  log_timezone: UTC\n")
	// import writes data: without a database it refuses and makes none,
	// --create-database makes one.
	args := append([]string{"import", "--config", cfg}, sampleLogs(t)...)
	if code, _, errOut := runCLI(t, args...); code != exitNoDatabase || !strings.Contains(errOut, "--config") {
		t.Fatalf("import without a database: %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, append(args, "--create-database")...)
	if code != exitOK {
		t.Fatalf("import: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(out, "imported 18692 lines (0 unparsable, 0 unknown)") {
		t.Errorf("import output: %s", out)
	}
	return cfg
}

// TestImportThenSummaryGivesReferenceCounts (docs/collectors.md, "Summary"):
// import the sample logs, then `summary --json` reproduces the README's
// reference counts, on SQLite and on PostgreSQL.
func TestImportThenSummaryGivesReferenceCounts(t *testing.T) {
	t.Parallel()
	ref := readmeCounts(t)
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			cfg := importSample(t, storagetest.URL(t, d))
			code, out, errOut := runCLI(t, "summary", "--config", cfg, "--json")
			if code != exitOK {
				t.Fatalf("summary: %d %s", code, errOut)
			}
			var s txlog.Summary
			if err := json.Unmarshal([]byte(out), &s); err != nil {
				t.Fatal(err)
			}
			check := func(name string, got, want int64) {
				t.Helper()
				if got != want {
					t.Errorf("%s = %d, want %d (README)", name, got, want)
				}
			}
			first := func(key string) int64 {
				t.Helper()
				n := nums(ref[key])
				if len(n) == 0 {
					t.Fatalf("README has no figure %q", key)
				}
				return n[0]
			}
			// "messages that entered Postfix from a client": those received
			// and those refused after their data (the queue file size limit)
			check("received + refused", s.Received+s.Refused, first("messages from clients"))
			const fdKey = "final deliveries (status=sent, hand-offs to amavis excluded)"
			fd := nums(ref[fdKey] + " " + ref[fdKey+" (definition)"]) // "1,133 | 954 over LMTP …, 179 to remote …"
			if len(fd) != 3 {
				t.Fatalf("README final deliveries: %v", fd)
			}
			check("delivered", s.Delivered, fd[0])
			check("delivered over LMTP", s.DeliveredBy["lmtp"], fd[1])
			check("delivered to remote servers", s.DeliveredBy["smtp"], fd[2])
			check("status=sent lines", s.SentLines, first("status=sent lines, all"))
			df := nums(ref["deferred"])
			check("deferred", s.Deferred, df[0])
			check("deferred messages", s.DeferredMessages, df[1])
			check("bounced", s.Bounced, first("bounced"))
			check("expired", s.Expired, first("expired"))
			rej := labelled(ref["smtpd rejects by stage and code"])
			check("rejected total", s.RejectedTotal, rej["total"])
			delete(rej, "total")
			got := map[string]int64{}
			for _, r := range s.Rejected {
				got[fmt.Sprintf("%s %d", r.Stage, r.Code)] = r.Count
			}
			if len(got) != len(rej) {
				t.Errorf("reject kinds %v, want %v", got, rej)
			}
			for k, v := range rej {
				check("rejected "+k, got[k], v)
			}
			check("greylisted", s.Greylisted, first("greylisted (postgrey action=greylist)"))
			check("SASL failures", s.SASLFailures, first("SASL authentication failures (Postfix)"))
			logins := map[string]int64{}
			for _, l := range s.Logins {
				logins[l.Protocol+" "+l.Result] = l.Count
			}
			ok := labelled(ref["Dovecot logins OK"])
			check("imap ok", logins["imap ok"], ok["IMAP"])
			check("pop3 ok", logins["pop3 ok"], ok["POP3"])
			fail := labelled(ref["Dovecot failed authentications"])
			check("imap failed", s.AuthFailures["imap"], fail["IMAP"])
			check("pop3 failed", s.AuthFailures["pop3"], fail["POP3"])
			check("smtp auth failed", s.AuthFailures["smtp"], fail["SMTP AUTH via Postfix"])
			am := labelled(ref["amavis"])
			if len(am) != 5 {
				t.Fatalf("amavis figures %v", am)
			}
			for k, v := range am {
				check(k, s.Verdicts[k], v)
			}
			check("verdict kinds", int64(len(s.Verdicts)), int64(len(am)))
			if s.BytesReceived <= 0 || s.BytesDelivered <= 0 || s.Senders <= 0 || s.Recipients <= 0 {
				t.Errorf("bytes/senders/recipients missing: %+v", s)
			}
			// the text form shows the same totals
			code, text, _ := runCLI(t, "summary", "--config", cfg)
			if code != exitOK || !strings.Contains(text, strconv.FormatInt(s.Received, 10)+"  received") {
				t.Errorf("text summary: %d %s", code, text)
			}
		})
	}
}

// TestTraceSampleMessage (docs/collectors.md, "Trace"): trace finds one
// submitted message that went through amavis by each of its fields, as one
// timeline.
func TestTraceSampleMessage(t *testing.T) {
	t.Parallel()
	dbURL := storagetest.URL(t, storage.SQLite)
	cfg := importSample(t, dbURL)
	const (
		q1, q2 = "E0BF0BA129", "5CFE0BA12A"
		msgid  = "20261122105325.acffa7b2f0b3@uni.example"
	)
	// learn the sender and client IP from one search, then search by each
	trace1 := func(args ...string) trace.Page {
		t.Helper()
		code, out, errOut := runCLI(t, append([]string{"trace", "--config", cfg, "--json", "--limit", "500"}, args...)...)
		if code != exitOK {
			t.Fatalf("trace %v: %d %s", args, code, errOut)
		}
		var p trace.Page
		if err := json.Unmarshal([]byte(out), &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	find := func(p trace.Page) *trace.Message {
		for i := range p.Messages {
			if slices.Contains(p.Messages[i].QueueIDs, q1) {
				return &p.Messages[i]
			}
		}
		return nil
	}
	m := find(trace1("--queue-id", q1))
	if m == nil {
		t.Fatal("not found by first queue ID")
	}
	if !slices.Equal(m.QueueIDs, []string{q1, q2}) || m.MessageID != msgid || m.AuthUser != "sam.taylor@uni.example" {
		t.Fatalf("message %+v", m)
	}
	var steps []string
	for _, s := range m.Steps {
		if len(steps) == 0 || steps[len(steps)-1] != s.Step {
			steps = append(steps, s.Step)
		}
	}
	if !slices.Equal(steps, []string{"accepted", "filter", "scanned", "delivered"}) {
		t.Errorf("timeline %v", steps)
	}
	if m.Verdict != "Passed CLEAN" {
		t.Errorf("verdict %q", m.Verdict)
	}
	var rcpts []string
	for _, r := range m.Recipients {
		if r.Status == "delivered" {
			rcpts = append(rcpts, r.Rcpt)
		}
	}
	slices.Sort(rcpts)
	if !slices.Equal(rcpts, []string{"diana.walsh@webmail.example", "leo.fischer@uni.example"}) {
		t.Errorf("delivered to %v", rcpts)
	}
	for _, args := range [][]string{
		{"--queue-id", q2},
		{"--msgid", "<" + msgid + ">"},
		{"--from", m.From},
		{"--to", "leo.fischer@uni.example"},
		{"--ip", m.ClientIP, "--from", m.From},
		{"--status", "sent", "--to", "diana.walsh@webmail.example"},
		{"--from", m.From, "--since", m.FirstSeen.Format("2006-01-02T15:04:05Z"), "--until", m.LastSeen.Add(1e9).Format("2006-01-02T15:04:05Z")},
	} {
		got := find(trace1(args...))
		if got == nil {
			t.Errorf("trace %v does not find %s", args, q1)
			continue
		}
		if !slices.Equal(got.QueueIDs, m.QueueIDs) || len(got.Steps) != len(m.Steps) {
			t.Errorf("trace %v: a different view: %v %d steps", args, got.QueueIDs, len(got.Steps))
		}
	}
	// text and CSV forms, and the audit log
	if code, out, _ := runCLI(t, "trace", "--config", cfg, "--queue-id", q2); code != exitOK || !strings.Contains(out, "scanned") || !strings.Contains(out, q1+","+q2) {
		t.Errorf("text trace: %s", out)
	}
	if code, out, _ := runCLI(t, "trace", "--config", cfg, "--csv", "--msgid", msgid); code != exitOK || !strings.HasPrefix(out, "message,first_seen") || strings.Count(out, "\n") < 5 {
		t.Errorf("csv trace: %s", out)
	}
	if code, _, _ := runCLI(t, "trace", "--config", cfg); code != exitUsage {
		t.Errorf("trace without criteria: exit %d", code)
	}
	db := storagetest.OpenURL(t, dbURL)
	entries, err := accessstore.New(db).ListAudit(t.Context(), m.FirstSeen.AddDate(-1, 0, 0), 1000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == "trace.search" {
			n++
		}
	}
	if n < 10 {
		t.Errorf("%d trace searches audited, want every one", n)
	}
}

// TestTraceTextShowsAuthResultsAndOriginalSender: the text trace prints a
// message's SPF/DKIM/DMARC results and the sender as submitted before it
// was rewritten, each on a line of its own.
func TestTraceTextShowsAuthResultsAndOriginalSender(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	p := trace.Page{Total: 1, Messages: []trace.Message{{Key: "n1/Q1", Direction: "inbound", State: "accepted", FirstSeen: at,
		QueueIDs: []string{"Q1"}, From: "123456@uni.example", AuthResults: "spf=pass dkim=pass dmarc=pass",
		OriginalFrom: "envelope jan.novak@uni.example; From: <jan.novak@uni.example>"}}}
	var b strings.Builder
	if err := writeTraceText(&b, p, time.UTC); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"\n  authentication spf=pass dkim=pass dmarc=pass\n", "\n  rewritten from envelope jan.novak@uni.example; From: <jan.novak@uni.example>\n"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("%q missing:\n%s", w, b.String())
		}
	}
	p.Messages[0].Steps = []trace.Step{{Time: at, Node: "n1", Step: "accepted", QueueID: "Q1"}}
	b.Reset()
	if err := writeTraceCSV(&b, p); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ",detail,auth_results,original_from\n") ||
		!strings.Contains(b.String(), ",spf=pass dkim=pass dmarc=pass,envelope jan.novak@uni.example; From: <jan.novak@uni.example>\n") {
		t.Errorf("CSV without the results or the original sender:\n%s", b.String())
	}
}

// logIndexes lists the indexes of the collectors' logs (on PostgreSQL the
// parents' and their partitions'), sorted, and the indexes still recorded
// as deferred.
func logIndexes(t *testing.T, url string) (indexes []string, deferred int) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'mail\_%' ESCAPE '\' AND tbl_name <> 'mail_rollups'`
	if db.Dialect() == storage.Postgres {
		q = `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename ~ '^mail_(tx|messages|logins|sessions|warnings)'`
	}
	rows, err := db.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		indexes = append(indexes, n)
	}
	slices.Sort(indexes)
	defs, err := db.DeferredIndexes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return indexes, len(defs)
}

// logRows counts the rows of the collectors' logs.
func logRows(t *testing.T, url string) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int64{}
	for _, table := range []string{"mail_tx", "mail_messages", "mail_logins", "mail_sessions", "mail_warnings"} {
		var n int64
		if err := db.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// TestImportCutShortThenRerunGivesOneRunsFigures (docs/collectors.md,
// "Backfill"): an import into empty logs loads them without their indexes
// and builds the indexes at the end: the same indexes as a migrated
// database's. An import cut short (here a damaged .gz whose lines come
// after the others', so that batches were committed before it fails)
// leaves its indexes recorded as deferred; importing again starts over
// and stores what one run stores, with every index. On SQLite and
// PostgreSQL.
func TestImportCutShortThenRerunGivesOneRunsFigures(t *testing.T) {
	t.Parallel()
	logs := sampleLogs(t)
	// lines no parser knows, after the samples' last line, gzipped and cut
	var junk bytes.Buffer
	zw := gzip.NewWriter(&junk)
	for i := range 40000 {
		fmt.Fprintf(zw, "2026-11-22T12:%02d:%02d.%06d+00:00 mx junkd[%d]: line %d of %x\n", i/3600%60, i/60%60, i, 1000+i%7919, i, i*2654435761)
	}
	zw.Close()
	damaged := filepath.Join(t.TempDir(), "junk.log.gz")
	if err := os.WriteFile(damaged, junk.Bytes()[:junk.Len()*6/10], 0o600); err != nil {
		t.Fatal(err)
	}
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			// one run, into a new database
			url1 := storagetest.URL(t, d)
			cfg1 := importSample(t, url1)
			code, want, errOut := runCLI(t, "summary", "--config", cfg1, "--json")
			if code != exitOK {
				t.Fatalf("summary: %d %s", code, errOut)
			}
			wantRows := logRows(t, url1)
			wantIdx, deferred := logIndexes(t, url1)
			migrated := storagetest.URL(t, d)
			storagetest.OpenURL(t, migrated)
			if idx, _ := logIndexes(t, migrated); !slices.Equal(wantIdx, idx) && d == storage.SQLite {
				t.Errorf("indexes after a bulk load %v, a migrated database has %v", wantIdx, idx)
			}
			if len(wantIdx) < 20 || deferred != 0 {
				t.Errorf("after the import: indexes %v, %d still deferred", wantIdx, deferred)
			}

			// cut short, then again
			url2 := storagetest.URL(t, d)
			cfg2 := writeConfig(t, "data_dir: DATADIR\ndatabase:\n  url: "+url2+"\ncollectors:\n  log_timezone: UTC\n")
			code, out, errOut := runCLI(t, append(append([]string{"import", "--config", cfg2, "--create-database"}, logs...), damaged)...)
			if code == exitOK || !strings.Contains(errOut, "run the same import again") {
				t.Fatalf("import of a damaged file: %d %s %s", code, out, errOut)
			}
			if _, deferred := logIndexes(t, url2); deferred == 0 {
				t.Fatal("the import cut short left no deferred indexes")
			}
			// the batches handed to the writers before the failure are
			// written (Pipeline.Abandon) and stay until the import starts over
			if left := logRows(t, url2); left["mail_tx"] == 0 || left["mail_tx"] >= wantRows["mail_tx"] {
				t.Errorf("rows left by the import cut short %v, want some of %v", left, wantRows)
			}
			code, out, errOut = runCLI(t, append([]string{"import", "--config", cfg2}, logs...)...)
			if code != exitOK || !strings.Contains(out, "did not finish: its rows were deleted, starting over") ||
				!strings.Contains(out, "imported 18692 lines (0 unparsable, 0 unknown)") {
				t.Fatalf("import again: %d %s %s", code, out, errOut)
			}
			code, got, errOut := runCLI(t, "summary", "--config", cfg2, "--json")
			if code != exitOK {
				t.Fatalf("summary: %d %s", code, errOut)
			}
			if got != want {
				t.Errorf("summary after the import cut short and again:\n%s\none import:\n%s", got, want)
			}
			if rows := logRows(t, url2); !maps.Equal(rows, wantRows) {
				t.Errorf("rows after the import cut short and again %v, one import %v", rows, wantRows)
			}
			if idx, deferred := logIndexes(t, url2); !slices.Equal(idx, wantIdx) || deferred != 0 {
				t.Errorf("indexes %v (%d deferred), want %v", idx, deferred, wantIdx)
			}

			// into logs that hold rows: no bulk load (the rows add up)
			code, out, errOut = runCLI(t, append([]string{"import", "--config", cfg2}, logs...)...)
			if code != exitOK || strings.Contains(out, "empty logs") {
				t.Fatalf("import into logs with rows: %d %s %s", code, out, errOut)
			}
			if rows := logRows(t, url2); rows["mail_tx"] != 2*wantRows["mail_tx"] {
				t.Errorf("second import: %d transaction rows, want %d", rows["mail_tx"], 2*wantRows["mail_tx"])
			}
		})
	}
}

// TestTraceThroughControlSocket (docs/collectors.md, "Trace"): with
// `postvakt serve` running on the same data directory and database,
// `postvakt trace` searches in the service through its control socket
// and prints exactly what it prints on a connection of its own
// (--direct), on SQLite and on PostgreSQL; the search is audited with the
// socket as its remote end. A configuration naming another database with
// the same data directory does not get the service's answer, and when the
// service is gone the command searches by itself.
func TestTraceThroughControlSocket(t *testing.T) {
	t.Parallel()
	for _, d := range storagetest.Dialects() {
		t.Run(d.String(), func(t *testing.T) {
			t.Parallel()
			dbURL := storagetest.URL(t, d)
			cfg := importSample(t, dbURL)
			httpAddr := freeAddr(t)
			f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.WriteString("http:\n  listen: " + httpAddr + "\n"); err != nil {
				t.Fatal(err)
			}
			f.Close()
			dataDir := filepath.Join(filepath.Dir(cfg), "data")
			sock := filepath.Join(dataDir, "control.sock")

			searches := [][]string{{"--queue-id", "E0BF0BA129"}, {"--msgid", "20261122105325.acffa7b2f0b3@uni.example"}, {"--ip", "127.0.0.1", "--limit", "500"}}
			search := func(args ...string) string {
				t.Helper()
				code, out, errOut := runCLI(t, append([]string{"trace", "--config", cfg}, args...)...)
				if code != exitOK {
					t.Fatalf("trace %v: %d %s", args, code, errOut)
				}
				return out
			}
			var direct []string
			for _, s := range searches {
				direct = append(direct, search(append([]string{"--direct", "--json"}, s...)...))
			}

			p := startServe(t, nil, "--config", cfg)
			waitHTTP(t, p, "http://"+httpAddr+"/readyz")
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(sock); err == nil {
					break
				} else if time.Now().After(deadline) {
					t.Fatalf("no control socket: %v\n%s", err, p.log())
				}
			}
			for i, s := range searches {
				if got := search(append([]string{"--json"}, s...)...); got != direct[i] {
					t.Errorf("trace %v through the service differs from --direct:\n%s\nwant\n%s", s, got, direct[i])
				}
			}
			if a, b := search(searches[0]...), search(append([]string{"--direct"}, searches[0]...)...); a != b || !strings.Contains(a, "E0BF0BA129") {
				t.Errorf("text through the service:\n%s\n--direct:\n%s", a, b)
			}

			// another database behind the same data directory
			other := writeConfig(t, "data_dir: "+dataDir+"\ndatabase:\n  url: sqlite:"+filepath.Join(t.TempDir(), "other.db")+"\n")
			if code, out, errOut := runCLI(t, "trace", "--config", other, "--queue-id", "E0BF0BA129"); code != exitNoDatabase {
				t.Errorf("trace with another database: %d %s %s", code, out, errOut)
			}

			db := storagetest.OpenURL(t, dbURL)
			entries, err := accessstore.New(db).ListAudit(t.Context(), time.Now().Add(-time.Hour), 1000)
			if err != nil {
				t.Fatal(err)
			}
			via := 0
			for _, e := range entries {
				if e.Action == "trace.search" && strings.HasPrefix(e.Actor, "cli:") && e.Remote == fmt.Sprintf("control socket, uid %d", os.Geteuid()) {
					via++
				}
			}
			if via != len(searches)+1 {
				t.Errorf("%d searches audited as through the control socket, want %d", via, len(searches)+1)
			}

			if code := p.stop(t, syscall.SIGTERM); code != 0 {
				t.Fatalf("serve exit %d\n%s", code, p.log())
			}
			if _, err := os.Stat(sock); err == nil {
				t.Error("the control socket is left after serve stopped")
			}
			if got := search(append([]string{"--json"}, searches[0]...)...); got != direct[0] {
				t.Errorf("trace without the service:\n%s\nwant\n%s", got, direct[0])
			}
		})
	}
}
