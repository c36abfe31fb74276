package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveConfig is the smallest `postvakt serve`: SQLite in dir, HTTP on
// listen, no SMTP engine.
func serveConfig(t *testing.T, dir, listen string) string {
	t.Helper()
	p := filepath.Join(dir, "postvakt.yaml")
	body := fmt.Sprintf("data_dir: %s\nhttp:\n  listen: %q\nsmtp:\n  enabled: false\n", filepath.Join(dir, "data"), listen)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServeNotifiesSystemd (packaging/postvakt.service, Type=notify):
// `postvakt serve` sends READY=1 once listening, WATCHDOG=1 at half of
// $WATCHDOG_USEC, and STOPPING=1 on SIGTERM, as datagrams to $NOTIFY_SOCKET.
func TestServeNotifiesSystemd(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 64)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	cfg := serveConfig(t, dir, "127.0.0.1:0")
	if code, _, errOut := runMain(t, dir, nil, "migrate", "up", "--config", cfg); code != 0 {
		t.Fatalf("migrate: %s", errOut)
	}
	cmd := exec.Command(os.Args[0], "serve", "--config", cfg)
	cmd.Env = append(withoutEnv(os.Environ(), "POSTVAKT_CONFIG"), "POSTVAKT_TEST_AS_MAIN=1",
		"NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=400000")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	want := func(what string, d time.Duration) string {
		t.Helper()
		deadline := time.After(d)
		for {
			select {
			case m := <-msgs:
				if strings.Contains("\n"+m+"\n", "\n"+what+"\n") {
					return m
				}
			case <-deadline:
				t.Fatalf("no %s within %s; log:\n%s", what, d, log.String())
			}
		}
	}
	ready := want("READY=1", 30*time.Second)
	if !strings.Contains(ready, "MAINPID="+strconv.Itoa(cmd.Process.Pid)) || !strings.Contains(ready, "STATUS=listening on 127.0.0.1:") {
		t.Errorf("READY message %q", ready)
	}
	start := time.Now()
	want("WATCHDOG=1", 5*time.Second)
	want("WATCHDOG=1", 5*time.Second)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("two watchdog pings took %s with WATCHDOG_USEC=400000", el)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	want("STOPPING=1", 30*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve after SIGTERM: %v\n%s", err, log.String())
	}
}

// TestBindPrivilegedPortWithAmbientCapability (packaging/postvakt.service,
// AmbientCapabilities=CAP_NET_BIND_SERVICE): as an unprivileged user postvakt
// binds a port below 1024 when given the ambient capability, and is refused
// without it. Needs root (to switch user) and setpriv (util-linux).
func TestBindPrivilegedPortWithAmbientCapability(t *testing.T) {
	setpriv, err := exec.LookPath("setpriv")
	if err != nil || os.Geteuid() != 0 {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("needs root and setpriv (util-linux) under POSTVAKT_REQUIRE_TOOLS=1 (euid %d, %v)", os.Geteuid(), err)
		}
		t.Skip("needs root and setpriv (util-linux)")
	}
	// A directory the unprivileged user can enter, with a copy of this
	// binary it can execute.
	dir, err := os.MkdirTemp("", "postvakt-cap-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "postvakt")
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	port := 0
	for p := 1023; p > 600; p-- {
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err == nil {
			l.Close()
			port = p
			break
		}
	}
	if port == 0 {
		t.Fatal("no free port below 1024")
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cfg := serveConfig(t, dir, addr)
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(filepath.Join(dir, "data"), 65534, 65534); err != nil {
		t.Fatal(err)
	}
	serve := func(caps ...string) (*exec.Cmd, *strings.Builder) {
		args := append([]string{"--reuid=65534", "--regid=65534", "--clear-groups"}, caps...)
		args = append(args, bin, "serve", "--config", cfg)
		cmd := exec.Command(setpriv, args...)
		cmd.Env = []string{"POSTVAKT_TEST_AS_MAIN=1", "PATH=/usr/bin:/bin", "HOME=" + dir}
		var log strings.Builder
		cmd.Stdout, cmd.Stderr = &log, &log
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &log
	}
	// Without the capability: refused.
	cmd, log := serve()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(log.String(), "permission denied") {
			t.Errorf("without the capability: %v\n%s", err, log.String())
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("without the capability serve kept running on %s:\n%s", addr, log.String())
	}
	// With it: serves /healthz on the port.
	cmd, log = serve("--inh-caps=+net_bind_service", "--ambient-caps=+net_bind_service")
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("/healthz: %d %s", resp.StatusCode, b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve with the ambient capability did not answer on %s:\n%s", addr, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// It runs as the unprivileged user.
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(st), "Uid:\t65534\t65534") {
		t.Errorf("not running as uid 65534:\n%s", st)
	}
}
