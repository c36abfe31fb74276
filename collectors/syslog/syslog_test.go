package syslog

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

func TestReadFramesMixed(t *testing.T) {
	t.Parallel()
	in := "12 <13>1 - h a\n" + "<22>Nov 22 10:53:10 mx postfix/smtpd[1]: hello\r\n" + "\n" + "5 abcde" + "last line without LF"
	var got []string
	err := ReadFrames(bufio.NewReader(strings.NewReader(in)), 0, func(m []byte) error {
		got = append(got, string(m))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"<13>1 - h a", "<22>Nov 22 10:53:10 mx postfix/smtpd[1]: hello", "abcde", "last line without LF"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	for _, bad := range []string{"99999999999 x", "0 ", "12x", "5 abc"} {
		if err := ReadFrames(bufio.NewReader(strings.NewReader(bad)), 100, func([]byte) error { return nil }); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseForms(t *testing.T) {
	t.Parallel()
	now := func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }
	p := NewParser(now, nil)
	for _, c := range []struct{ in, host, prog, msg string }{
		{"<22>1 2026-11-22T10:53:18.486012+00:00 mx postfix/smtpd 4242 - - connect from a[1.2.3.4]", "mx", "postfix/smtpd", "connect from a[1.2.3.4]"},
		{"<22>Nov 22 10:53:10 mx postfix/smtpd[1]: hello", "mx", "postfix/smtpd", "hello"},
		{"Nov 22 10:53:10.123 mx dovecot: imap-login: x", "mx", "dovecot", "imap-login: x"},
		{"2026-11-22T10:53:18.486012+00:00 mx amavis[7]: (1-01) Passed", "mx", "amavis", "(1-01) Passed"},
	} {
		f, err := p.Parse([]byte(c.in))
		if err != nil {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if f.Host != c.host || f.Program != c.prog || f.Message != c.msg || f.Time.Year() != 2026 {
			t.Errorf("%q: got %+v", c.in, f)
		}
	}
	if _, err := p.Parse([]byte("garbage")); err == nil {
		t.Error("garbage parsed")
	}
}

type memStore struct {
	mu sync.Mutex
	b  txlog.Batch
}

func (m *memStore) WriteBatch(_ context.Context, b *txlog.Batch, _ []txlog.Checkpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.b.Rows = append(m.b.Rows, b.Rows...)
	m.b.Logins = append(m.b.Logins, b.Logins...)
	m.b.Messages = append(m.b.Messages, b.Messages...)
	return nil
}
func (m *memStore) Checkpoint(context.Context, string) (txlog.Checkpoint, error) {
	return txlog.Checkpoint{}, txlog.ErrNoCheckpoint
}
func (m *memStore) logins() int { m.mu.Lock(); defer m.mu.Unlock(); return len(m.b.Logins) }

// TestServerTCPAndUDP sends Dovecot login lines over TCP (octet counting,
// RFC 5424), TCP (newline, RFC 3164) and UDP, and finds each as a login.
func TestServerTCPAndUDP(t *testing.T) {
	t.Parallel()
	st := &memStore{}
	p := ingest.New(ingest.Options{Store: st})
	for _, id := range []int{1, 2} {
		if err := p.AddStream(ingest.Stream{ID: id, Source: ingest.SourceSyslog}); err != nil {
			t.Fatal(err)
		}
	}
	r := ingest.NewRunner(p, ingest.RunnerOptions{CommitEvery: 20 * time.Millisecond})
	srv, err := Listen(Options{TCP: "127.0.0.1:0", UDP: "127.0.0.1:0", TCPStream: 1, UDPStream: 2, Runner: r})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{}, 2)
	go func() { r.Run(ctx); done <- struct{}{} }()
	go func() { srv.Serve(ctx); done <- struct{}{} }()
	login := func(user string) string {
		return "imap-login: Login: user=<" + user + ">, method=PLAIN, rip=127.0.2.10, lip=127.0.0.1, mpid=1, session=<s" + user + ">"
	}
	c, err := net.Dial("tcp", srv.TCPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	m1 := "<22>1 2026-11-22T10:53:18.486012+00:00 mx dovecot - - - " + login("a")
	fmt.Fprintf(&buf, "%d %s", len(m1), m1)
	fmt.Fprintf(&buf, "<22>Nov 22 10:53:19 mx dovecot: %s\n", login("b"))
	c.Write(buf.Bytes())
	c.Close()
	u, err := net.Dial("udp", srv.UDPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(u, "<22>Nov 22 10:53:20 mx dovecot: %s\n", login("c"))
	u.Close()
	deadline := time.Now().Add(10 * time.Second)
	for st.logins() < 3 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
	<-done
	if n := st.logins(); n != 3 {
		t.Fatalf("logins %d, want 3", n)
	}
}
