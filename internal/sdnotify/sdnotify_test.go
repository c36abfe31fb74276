package sdnotify

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func recv(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 4096)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

func TestPathAndAbstractSockets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notify")
	c := listen(t, p)
	if err := (&Notifier{socket: p}).Ready("listening on x\ny"); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, c); !strings.HasPrefix(m, "READY=1\nSTATUS=listening on x y\nMAINPID=") {
		t.Errorf("got %q", m)
	}
	abs := fmt.Sprintf("postvakt-test-%d", os.Getpid())
	ca := listen(t, "\x00"+abs)
	if err := (&Notifier{socket: "@" + abs}).Stopping(); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, ca); m != "STOPPING=1\nSTATUS=stopping" {
		t.Errorf("got %q", m)
	}
	if err := (&Notifier{socket: "relative"}).Stopping(); err == nil {
		t.Error("a relative socket name was accepted")
	}
}

func TestWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	n := FromEnv()
	if n != nil || n.Ready("x") != nil || n.Stopping() != nil {
		t.Fatal("without NOTIFY_SOCKET notifying must do nothing")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n.Watchdog(ctx, nil) // returns at once
}

func TestWatchdog(t *testing.T) {
	p := filepath.Join(t.TempDir(), "notify")
	c := listen(t, p)
	t.Setenv("WATCHDOG_USEC", "100000")
	t.Setenv("WATCHDOG_PID", fmt.Sprint(os.Getpid()))
	if WatchdogInterval() != 100*time.Millisecond {
		t.Fatalf("interval %s", WatchdogInterval())
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go (&Notifier{socket: p}).Watchdog(ctx, nil)
	start := time.Now()
	for range 3 {
		if m := recv(t, c); m != "WATCHDOG=1" {
			t.Fatalf("got %q", m)
		}
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("three pings took %s at a 100 ms watchdog", el)
	}
	t.Setenv("WATCHDOG_PID", "1")
	if WatchdogInterval() != 0 {
		t.Error("a watchdog meant for another process was taken")
	}
}
