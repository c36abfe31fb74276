package tail

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

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

// TestFollowSurvivesRotation tails a file through a rename rotation and a
// copytruncate rotation: every line is read once.
func TestFollowSurvivesRotation(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "mail.log")
	write(t, path, os.O_APPEND, "a1", "a2", "a3")
	st := &memStore{}
	p := ingest.New(ingest.Options{Store: st})
	id, err := Identify(path)
	if err != nil || id.Inode == 0 || id.HeadHash == "" {
		t.Fatalf("identity %+v %v", id, err)
	}
	if err := p.AddStream(ingest.Stream{ID: 1, Source: ingest.SourceFile, Checkpoint: "file:" + path, Inode: id.Inode, HeadHash: id.HeadHash}, nil); err != nil {
		t.Fatal(err)
	}
	r := ingest.NewRunner(p, ingest.RunnerOptions{CommitEvery: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.Run(ctx) }()
	go func() { defer wg.Done(); Follow(ctx, Options{Stream: 1, Path: path, Runner: r, Poll: true}) }()
	defer func() { cancel(); wg.Wait() }()
	wait := func(n int) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for len(st.users()) < n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // nothing more may come
		if got := st.users(); len(got) != n {
			t.Fatalf("read %d lines %v, want %d", len(got), got, n)
		}
	}
	wait(3)
	// logrotate's default: rename, then the daemon writes a new file
	if err := os.Rename(path, path+".1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	write(t, path, os.O_APPEND, "b1", "b2")
	wait(5)
	// copytruncate: copy away, truncate in place, keep writing
	data, _ := os.ReadFile(path)
	os.WriteFile(path+".2", data, 0o600)
	write(t, path, os.O_TRUNC)
	time.Sleep(300 * time.Millisecond)
	write(t, path, os.O_APPEND, "c1")
	wait(6)
	want := []string{"a1", "a2", "a3", "b1", "b2", "c1"}
	if got := st.users(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("users %v, want %v", got, want)
	}
}

func TestResume(t *testing.T) {
	t.Parallel()
	id := Identity{Inode: 7, HeadHash: "h", Size: 1000}
	for _, c := range []struct {
		name  string
		cp    *txlog.Checkpoint
		start int64
		ok    bool
	}{
		{"none", nil, 0, false},
		{"same file", &txlog.Checkpoint{Inode: 7, HeadHash: "h", Offset: 800, Replay: 500}, 500, true},
		{"same content, new inode (copied)", &txlog.Checkpoint{Inode: 9, HeadHash: "h", Offset: 800, Replay: 500}, 500, true},
		{"rotated while away", &txlog.Checkpoint{Inode: 7, HeadHash: "other", Offset: 800, Replay: 500}, 0, false},
		{"truncated while away", &txlog.Checkpoint{Inode: 7, HeadHash: "h", Offset: 2000, Replay: 1500}, 0, false},
	} {
		start, cp := Resume(id, c.cp)
		if start != c.start || (cp != nil) != c.ok {
			t.Errorf("%s: start %d resumed %v", c.name, start, cp != nil)
		}
	}
}
