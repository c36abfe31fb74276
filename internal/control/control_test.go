package control

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

type echo struct {
	Text string `json:"text"`
	UID  int    `json:"uid"`
}

// serve starts s on a socket in a new directory and returns its path; the
// server stops at the end of the test.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), SocketName)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, path) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the socket is left after the server stopped: %v", err)
		}
	})
	waitSocket(t, path)
	return path
}

func waitSocket(t *testing.T, path string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("unix", path); err == nil {
			c.Close()
			return
		}
	}
	t.Fatalf("nobody listens on %s", path)
}

func echoServer(url string) *Server {
	s := NewServer(url, slog.New(slog.DiscardHandler))
	s.Handle("POST /v1/echo", func(w http.ResponseWriter, r *http.Request) {
		var in echo
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
			return
		}
		_ = json.NewEncoder(w).Encode(echo{Text: strings.ToUpper(in.Text), UID: Peer(r)})
	})
	return s
}

// TestDoRoundTripAndFallbacks: a request reaches the handler with the
// caller's uid; every case in which the caller must do the work itself
// is ErrUnavailable, and a refusal the service means is its text.
func TestDoRoundTripAndFallbacks(t *testing.T) {
	const db = "sqlite:/srv/postvakt/postvakt.db"
	path := serve(t, echoServer(db))
	ctx := t.Context()

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want a socket with 0600", fi.Mode())
	}

	var out echo
	if err := Do(ctx, path, db, "/v1/echo", echo{Text: "hello"}, &out); err != nil {
		t.Fatal(err)
	}
	if out.Text != "HELLO" || out.UID != os.Geteuid() {
		t.Errorf("answer %+v, want HELLO from uid %d", out, os.Geteuid())
	}

	for name, call := range map[string]func() error{
		"another database": func() error { return Do(ctx, path, "sqlite:/elsewhere.db", "/v1/echo", echo{}, &out) },
		"unknown route":    func() error { return Do(ctx, path, db, "/v1/nothing", echo{}, &out) },
		"no socket":        func() error { return Do(ctx, filepath.Join(t.TempDir(), SocketName), db, "/v1/echo", echo{}, &out) },
		"path too long": func() error {
			return Do(ctx, "/"+strings.Repeat("d", 120)+"/"+SocketName, db, "/v1/echo", echo{}, &out)
		},
	} {
		if err := call(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v, want ErrUnavailable", name, err)
		}
	}

	// a body over MaxBody is refused by the service, not taken as "no service"
	err = Do(ctx, path, db, "/v1/echo", echo{Text: strings.Repeat("x", MaxBody)}, &out)
	var refusal *Error
	if !errors.As(err, &refusal) || refusal.Status != http.StatusRequestEntityTooLarge || !strings.Contains(refusal.Text, "too large") {
		t.Errorf("oversized body: %v", err)
	}
}

// TestPeerRefused: a peer whose uid may not use the socket is closed
// before its request is read; the handler never runs.
func TestPeerRefused(t *testing.T) {
	s := echoServer("u")
	var ran atomic.Bool
	s.Handle("POST /v1/mark", func(http.ResponseWriter, *http.Request) { ran.Store(true) })
	s.allowed = func(uid uint32) bool { return uid != uint32(os.Geteuid()) }
	path := serve(t, s)
	var out echo
	if err := Do(t.Context(), path, "u", "/v1/mark", echo{}, &out); !errors.Is(err, ErrUnavailable) {
		t.Errorf("refused peer: %v", err)
	}
	if ran.Load() {
		t.Error("the handler ran for a refused peer")
	}
}

// TestServeReplacesStaleSocketOnly: a socket file nobody answers on (a
// killed service's) is replaced; one a live service answers on is not.
func TestServeReplacesStaleSocketOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), SocketName)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	// a live listener: a second service must leave it alone
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := echoServer("u").Serve(ctx, path); err == nil || !strings.Contains(err.Error(), "another service") {
		t.Errorf("Serve over a live socket: %v", err)
	}
	// closed without unlinking, as after kill -9
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the stale socket file should still be there: %v", err)
	}
	ctx2, cancel2 := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- echoServer("u").Serve(ctx2, path) }()
	waitSocket(t, path)
	var out echo
	if err := Do(t.Context(), path, "u", "/v1/echo", echo{Text: "a"}, &out); err != nil || out.Text != "A" {
		t.Errorf("after replacing the stale socket: %v %+v", err, out)
	}
	cancel2()
	if err := <-done; err != nil {
		t.Error(err)
	}
}
