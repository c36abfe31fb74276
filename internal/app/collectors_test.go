package app

import (
	"bufio"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uni-mail/postvakt/collectors"
	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// mergedSample returns the lines of the two sample logs merged by time, as
// one mail.log would have them when Postfix logs through syslog.
func mergedSample(t *testing.T) []string {
	t.Helper()
	type line struct {
		t    time.Time
		text string
	}
	var all []line
	for _, name := range []string{"postfix.log", "syslog-mail.log"} {
		fh, err := os.Open(filepath.Join("../../../shared/samples/real-logs", name))
		if err != nil {
			t.Skipf("sample logs: %v", err)
		}
		fr := logparse.NewFramer(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), time.UTC)
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<16), 1<<20)
		for sc.Scan() {
			f, err := fr.Frame(sc.Text())
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, line{f.Time, sc.Text()})
		}
		fh.Close()
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].t.Before(all[j].t) })
	out := make([]string, len(all))
	for i, l := range all {
		out[i] = l.text
	}
	return out
}

func appendLines(t *testing.T, path string, lines []string) int64 {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fh.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
	fi, _ := fh.Stat()
	fh.Close()
	return fi.Size()
}

// runLive runs the live pipeline on db until stop(offset) says so, then
// stops it as `postvakt serve` stops on SIGTERM.
func runLive(t *testing.T, cfg collectors.Config, db *storage.DB, flush bool, stop func(off int64) bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, loops, err := buildLive(ctx, liveOptions{cfg: cfg, db: db, logger: slog.New(slog.DiscardHandler), now: time.Now,
		loc: time.UTC, flushOnStop: flush})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(loops)+1)
	for _, fn := range append(loops, r.Run) {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- fn(ctx) }()
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		cp, err := db.Checkpoint(ctx, "file:"+cfg.Files[0].Path)
		if err == nil && stop(cp.Offset) {
			break
		}
		time.Sleep(5 * time.Millisecond)
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

// TestTailStopAppendRestartEqualsImport is acceptance 2: a tailed file,
// the service stopped in the middle of reading it, lines appended, the
// service started again: the stored totals equal a one-shot import of the
// same file.
func TestTailStopAppendRestartEqualsImport(t *testing.T) {
	t.Parallel()
	lines := mergedSample(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	half := len(lines) / 2
	size1 := appendLines(t, path, lines[:half])

	cfg := collectors.Default()
	cfg.Files = []collectors.FileConfig{{Path: path}}
	cfg.Poll, cfg.Timezone, cfg.CommitInterval, cfg.BatchSize = true, "UTC", 10*time.Millisecond, 100
	db := storagetest.Open(t, storage.SQLite)

	// 1. stop while reading the first half
	runLive(t, cfg, db, false, func(off int64) bool { return off > size1/4 })
	cp, err := db.Checkpoint(context.Background(), "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Offset >= size1 || cp.Replay > cp.Offset || len(cp.Open) == 0 {
		t.Fatalf("not stopped mid-file with open messages: offset %d of %d, replay %d, open %d", cp.Offset, size1, cp.Replay, len(cp.Open))
	}
	t.Logf("stopped at offset %d of %d (replay from %d, %d messages open)", cp.Offset, size1, cp.Replay, len(cp.Open))
	// 2. append the rest while stopped, restart, read to the end, stop
	size2 := appendLines(t, path, lines[half:])
	runLive(t, cfg, db, true, func(off int64) bool { return off >= size2 })
	live, err := db.TxSummary(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}

	// the same file imported in one go
	db2 := storagetest.Open(t, storage.SQLite)
	po, err := PipelineOptions(cfg, db2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ingest.Import(context.Background(), ingest.New(po), ingest.ImportOptions{Files: []string{path}, Loc: time.UTC}); err != nil {
		t.Fatal(err)
	}
	once, err := db2.TxSummary(context.Background(), time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if once.Received == 0 || once.Delivered == 0 {
		t.Fatalf("import stored nothing: %+v", once)
	}
	if d := cmp.Diff(once, live); d != "" {
		t.Errorf("tailed with a restart differs from a one-shot import (-import +tailed):\n%s", d)
	}
	if d := cmp.Diff(messageKeys(t, db2), messageKeys(t, db)); d != "" {
		t.Errorf("message records differ (-import +tailed):\n%s", d)
	}
	for _, table := range []string{"mail_tx", "mail_messages", "mail_logins"} {
		var a, b int
		db.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&a)
		db2.QueryRow(context.Background(), "SELECT COUNT(*) FROM "+table).Scan(&b)
		if a != b {
			t.Errorf("%s: %d rows tailed, %d imported", table, a, b)
		}
	}
}

// messageKeys lists the message records by key (a key can repeat: a
// fragment logged in the same second as its message).
func messageKeys(t *testing.T, db *storage.DB) map[string][]string {
	t.Helper()
	rows, err := db.Query(context.Background(), "SELECT msg_key, state, queue_ids, origin FROM mail_messages ORDER BY msg_key, state, queue_ids, origin")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[string][]string{}
	for rows.Next() {
		var k, s, q, o string
		if err := rows.Scan(&k, &s, &q, &o); err != nil {
			t.Fatal(err)
		}
		m[k] = append(m[k], s+" "+q+" "+o)
	}
	return m
}
