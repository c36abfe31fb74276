package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

type memStore struct {
	mu     sync.Mutex
	logins []txlog.Login
}

func (m *memStore) WriteBatch(_ context.Context, b *txlog.Batch, _ []txlog.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.logins = append(m.logins, b.Logins...)
	return nil
}
func (m *memStore) Checkpoint(context.Context, string) (txlog.Checkpoint, error) {
	return txlog.Checkpoint{}, txlog.ErrNoCheckpoint
}
func (m *memStore) users() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.logins {
		out = append(out, l.User)
	}
	return out
}

func loginLine(user string) string {
	return fmt.Sprintf("2026-11-22T10:53:18.486012+00:00 mx dovecot: imap-login: Login: user=<%s>, method=PLAIN, rip=127.0.2.10, lip=127.0.0.1, mpid=1, session=<%s>\n", user, user)
}

func write(t *testing.T, path string, flag int, users ...string) {
	t.Helper()
	fh, err := os.OpenFile(path, flag|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range users {
		fh.WriteString(loginLine(u))
	}
	fh.Close()
}

// follow runs a runner and a follower of path (stream 1) until the
// returned stop is called.
func follow(t *testing.T, st *memStore, path string, plan Plan, maxLine int) (*ingest.Pipeline, func()) {
	t.Helper()
	p := ingest.New(ingest.Options{Store: st})
	if err := p.AddStream(ingest.Stream{ID: 1, Source: ingest.SourceFile, Checkpoint: "file:" + path, Inode: plan.Identity.Inode,
		HeadHash: plan.Identity.HeadHash, Start: plan.Start, Live: true}); err != nil {
		t.Fatal(err)
	}
	r := ingest.NewRunner(p, ingest.RunnerOptions{CommitEvery: 10 * time.Millisecond, Lateness: 50 * time.Millisecond})
	src := r.FileSource(1)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.Run(ctx) }()
	go func() {
		defer wg.Done()
		Follow(ctx, Options{Stream: 1, Path: path, Plan: plan, Source: src, Poll: true, PollInterval: 20 * time.Millisecond,
			MaxLine: maxLine, Metrics: p.Metrics()})
	}()
	return p, func() { cancel(); wg.Wait() }
}

func (m *memStore) wait(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for len(m.users()) < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // nothing more may come
	if got := m.users(); len(got) != n {
		t.Fatalf("read %d lines %v, want %d", len(got), got, n)
	}
}

// TestFollowSurvivesRotation tails a file through a rename rotation (lines
// written to the old file after the rename are read too), a copytruncate
// rotation, and a file that is removed and appears again: every line is
// read once.
func TestFollowSurvivesRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	write(t, path, os.O_APPEND, "a1", "a2", "a3")
	st := &memStore{}
	plan, err := Resume(path, nil)
	if err != nil || plan.Identity.Inode == 0 || plan.Identity.HeadHash == "" {
		t.Fatalf("plan %+v %v", plan, err)
	}
	_, stop := follow(t, st, path, plan, 0)
	defer stop()
	st.wait(t, 3)
	// logrotate's default: rename; the daemon still writes to the old file
	// until it reopens, then writes a new one
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path+".1", os.O_APPEND, "a4")
	time.Sleep(100 * time.Millisecond)
	write(t, path, os.O_APPEND, "b1", "b2")
	st.wait(t, 6)
	// copytruncate: copy away, truncate in place, keep writing
	data, _ := os.ReadFile(path)
	os.WriteFile(path+".2", data, 0o600)
	write(t, path, os.O_TRUNC)
	time.Sleep(100 * time.Millisecond)
	write(t, path, os.O_APPEND, "c1")
	st.wait(t, 7)
	// truncated and written past the old size between two looks
	write(t, path, os.O_TRUNC, "d1", "d2", "d3")
	st.wait(t, 10)
	want := []string{"a1", "a2", "a3", "a4", "b1", "b2", "c1", "d1", "d2", "d3"}
	if got := st.users(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("users %v, want %v", got, want)
	}
}

// TestRotatedWhileStopped: the file is rotated while the service is
// stopped; on start the rest of the rotated file (found as path.1 by its
// inode and first line) is read from the checkpoint, then the new file.
func TestRotatedWhileStopped(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	write(t, path, os.O_APPEND, "a1", "a2")
	plan, _ := Resume(path, nil)
	st := &memStore{}
	p, stop := follow(t, st, path, plan, 0)
	st.wait(t, 2)
	stop()
	cp := txlog.Checkpoint{Source: "file:" + path, Inode: plan.Identity.Inode, HeadHash: plan.Identity.HeadHash, Offset: p.StreamEnd(1)}
	if cp.Offset == 0 {
		t.Fatal("nothing read")
	}
	// while stopped: more lines, rotation, a new file
	write(t, path, os.O_APPEND, "a3")
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	write(t, path, os.O_APPEND, "b1")
	plan, err := Resume(path, &cp)
	if err != nil || plan.Rotated != path+".1" || plan.RotatedStart != cp.Offset {
		t.Fatalf("plan %+v %v", plan, err)
	}
	_, stop = follow(t, st, path, plan, 0)
	defer stop()
	st.wait(t, 4)
	if got := st.users(); fmt.Sprint(got) != "[a1 a2 a3 b1]" {
		t.Errorf("users %v", got)
	}
}

// TestLineLimit: a line longer than the limit is cut to it and counted,
// the lines around it are read whole, and memory stays bounded (the long
// line is never held whole: it is written in pieces larger than the
// follower's buffer).
func TestLineLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	write(t, path, os.O_APPEND, "a1")
	fh, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	long := strings.TrimSuffix(loginLine("long"), "\n")
	fh.WriteString(long)
	for range 40 { // 4 MiB of one line
		fh.WriteString(strings.Repeat("x", 100<<10))
	}
	fh.WriteString("\n")
	fh.Close()
	write(t, path, os.O_APPEND, "a2")
	plan, _ := Resume(path, nil)
	st := &memStore{}
	p, stop := follow(t, st, path, plan, 2048)
	defer stop()
	st.wait(t, 3)
	if got := st.users(); fmt.Sprint(got) != "[a1 long a2]" {
		t.Errorf("users %v", got)
	}
	if n := testutil.ToFloat64(p.Metrics().LinesCut.WithLabelValues(ingest.SourceFile)); n != 1 {
		t.Errorf("lines cut %v, want 1", n)
	}
	fi, _ := os.Stat(path)
	if end := p.StreamEnd(1); end != fi.Size() {
		t.Errorf("stream end %d, file size %d", end, fi.Size())
	}
}

func TestResume(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	write(t, path, os.O_APPEND, "a1", "a2", "a3")
	id, err := Identify(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		cp      *txlog.Checkpoint
		start   int64
		resumed bool
	}{
		{"none", nil, 0, false},
		{"same file", &txlog.Checkpoint{Inode: id.Inode, HeadHash: id.HeadHash, Offset: 100}, 100, true},
		{"same content, new inode (copied)", &txlog.Checkpoint{Inode: id.Inode + 1, HeadHash: id.HeadHash, Offset: 100}, 100, true},
		{"replaced while away", &txlog.Checkpoint{Inode: id.Inode, HeadHash: "other", Offset: 100}, 0, false},
		{"truncated while away", &txlog.Checkpoint{Inode: id.Inode, HeadHash: id.HeadHash, Offset: id.Size + 1}, 0, false},
	} {
		plan, err := Resume(path, c.cp)
		if err != nil || plan.Start != c.start || plan.Resumed != c.resumed || plan.Rotated != "" {
			t.Errorf("%s: %+v %v", c.name, plan, err)
		}
	}
}
