package dovecotauth_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/dovecotauth"
	"github.com/uni-mail/postvakt/internal/dovecottest"
)

// TestAgainstDovecot speaks the protocol to a real Dovecot's auth-client
// socket: OK with the canonical user name, FAIL for a wrong password or an
// unknown user, and a temporary failure when the service is gone.
func TestAgainstDovecot(t *testing.T) {
	t.Parallel()
	dv := dovecottest.Start(t, dovecottest.User{Name: "alice@ug.example", Password: "pw with space"})
	c := dovecotauth.New(dovecotauth.Options{Network: "unix", Addr: dv.AuthSocket, Timeout: 5 * time.Second})
	ctx := context.Background()
	for _, tc := range []struct {
		user, pass string
		want       dovecotauth.Result
	}{
		{"alice@ug.example", "pw with space", dovecotauth.ResultOK},
		{"alice@ug.example", "wrong", dovecotauth.ResultFail},
		{"nobody@ug.example", "pw", dovecotauth.ResultFail},
		{"alice@ug.example", "pw with space", dovecotauth.ResultOK},
	} {
		start := time.Now()
		ans, err := c.Authenticate(ctx, dovecotauth.Request{Username: tc.user, Password: tc.pass, Secured: true})
		t.Logf("%s: %s in %v", tc.user, ans.Result, time.Since(start))
		if ans.Result != tc.want || (tc.want == dovecotauth.ResultOK && (err != nil || ans.User != tc.user)) {
			t.Fatalf("%s/%q: %+v, %v; want %s", tc.user, tc.pass, ans, err, tc.want)
		}
	}
	dv.Stop()
	if ans, err := c.Authenticate(ctx, dovecotauth.Request{Username: "alice@ug.example", Password: "x"}); ans.Result != dovecotauth.ResultTemp || err == nil {
		t.Fatalf("service down: %+v, %v", ans, err)
	}
}

// fakeAuth is a stand-in auth service for what a real Dovecot cannot be
// made to do on cue: hold an answer, fail temporarily, escape a user name.
// answer returns the reply to an AUTH line.
func fakeAuth(t *testing.T, answer func(id, req string) string) (string, *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	conns := &atomic.Int32{}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() {
				defer c.Close()
				fmt.Fprint(c, "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\nSPID\t1\nCUID\t1\nCOOKIE\tabc\nDONE\n")
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if f := strings.Split(strings.TrimSpace(line), "\t"); f[0] == "AUTH" {
						fmt.Fprint(c, answer(f[1], line))
					}
				}
			}()
		}
	}()
	return ln.Addr().String(), conns
}

// TestBoundedAndTemp: requests in flight are bounded (one more waits, then
// is busy), FAIL with "temp" is a temporary failure, a user name comes back
// unescaped, and the request carries service, secured and the client.
func TestBoundedAndTemp(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var reqs []string
	addr, _ := fakeAuth(t, func(id, req string) string {
		mu.Lock()
		reqs = append(reqs, req)
		mu.Unlock()
		switch {
		case strings.Contains(req, "resp="+base64.StdEncoding.EncodeToString([]byte("\x00slow@x.example\x00pw"))):
			<-release
			return "OK\t" + id + "\tuser=slow@x.example\n"
		case strings.Contains(req, "resp="+base64.StdEncoding.EncodeToString([]byte("\x00temp@x.example\x00pw"))):
			return "FAIL\t" + id + "\tuser=temp@x.example\treason=passdb down\ttemp\n"
		}
		return "OK\t" + id + "\tuser=odd\x01tname@x.example\n"
	})
	c := dovecotauth.New(dovecotauth.Options{Network: "tcp", Addr: addr, MaxConcurrent: 1, Wait: 100 * time.Millisecond, Timeout: 5 * time.Second})
	ctx := context.Background()
	done := make(chan dovecotauth.Answer)
	go func() {
		a, _ := c.Authenticate(ctx, dovecotauth.Request{Username: "slow@x.example", Password: "pw"})
		done <- a
	}()
	time.Sleep(50 * time.Millisecond)
	if a, err := c.Authenticate(ctx, dovecotauth.Request{Username: "other@x.example", Password: "pw"}); a.Result != dovecotauth.ResultBusy || err == nil {
		t.Fatalf("second request while one is in flight (max 1): %+v, %v", a, err)
	}
	close(release)
	if a := <-done; a.Result != dovecotauth.ResultOK {
		t.Fatalf("slow: %+v", a)
	}
	if a, err := c.Authenticate(ctx, dovecotauth.Request{Username: "temp@x.example", Password: "pw"}); a.Result != dovecotauth.ResultTemp || err == nil || a.Reason != "passdb down" {
		t.Fatalf("temp: %+v, %v", a, err)
	}
	a, err := c.Authenticate(ctx, dovecotauth.Request{Username: "odd@x.example", Password: "pw", Client: netip.MustParseAddr("192.0.2.7"), Secured: true})
	if err != nil || a.Result != dovecotauth.ResultOK || a.User != "odd\tname@x.example" {
		t.Fatalf("escaped user: %+v, %v", a, err)
	}
	mu.Lock()
	last := reqs[len(reqs)-1]
	mu.Unlock()
	for _, want := range []string{"\tPLAIN\t", "\tservice=smtp", "\tsecured", "\trip=192.0.2.7"} {
		if !strings.Contains(last, want) {
			t.Errorf("request %q lacks %q", last, want)
		}
	}
	if a, _ := c.Authenticate(ctx, dovecotauth.Request{Username: "nul\x00@x.example", Password: "pw"}); a.Result != dovecotauth.ResultFail {
		t.Fatalf("NUL in user name: %+v", a)
	}
}

// BenchmarkAuthDovecot measures one successful AUTH through a real
// Dovecot's auth-client socket (a connection, the handshake and PLAIN).
func BenchmarkAuthDovecot(b *testing.B) {
	dv := dovecottest.Start(b, dovecottest.User{Name: "alice@ug.example", Password: "pw"})
	c := dovecotauth.New(dovecotauth.Options{Network: "unix", Addr: dv.AuthSocket})
	ctx := context.Background()
	for b.Loop() {
		if a, err := c.Authenticate(ctx, dovecotauth.Request{Username: "alice@ug.example", Password: "pw", Secured: true}); a.Result != dovecotauth.ResultOK {
			b.Fatal(a, err)
		}
	}
}
