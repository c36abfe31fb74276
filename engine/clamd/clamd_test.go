package clamd_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/clamd"
)

// eicar is the EICAR anti-virus test file (https://www.eicar.org), built
// from two halves so this source is not itself flagged.
var eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// startClamd starts a real clamd with its own configuration and the
// one-signature database of the shared samples; it skips when clamd is not
// installed, and fails when POSTVAKT_REQUIRE_TOOLS=1.
func startClamd(t *testing.T) *clamd.Client {
	t.Helper()
	bin, err := exec.LookPath("clamd")
	if err != nil {
		for _, p := range []string{"/usr/sbin/clamd", "/usr/local/sbin/clamd"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("clamd is required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (apt-get install clamav-daemon): %v", err)
		}
		t.Skip("clamd not installed (apt-get install clamav-daemon)")
	}
	sig, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "samples", "real-logs", "config", "clamav", "local-eicar.ndb"))
	if err != nil {
		sig, err = os.ReadFile("/work/shared/samples/real-logs/config/clamav/local-eicar.ndb")
	}
	if err != nil {
		t.Fatalf("signature database: %v", err)
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(db, "local-eicar.ndb"), sig, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "clamd.sock")
	user := ""
	if os.Geteuid() == 0 {
		// clamd drops to User when root; keep root so it can read the
		// temporary directory.
		user = "User root\n"
		_ = os.Chmod(dir, 0o755)
	}
	conf := filepath.Join(dir, "clamd.conf")
	cfg := fmt.Sprintf("LocalSocket %s\nFixStaleSocket true\nDatabaseDirectory %s\nForeground true\nLogFile %s\n%sBytecode false\nMaxThreads 2\nSelfCheck 0\nOfficialDatabaseOnly false\n",
		sock, db, filepath.Join(dir, "clamd.log"), user)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config-file="+conf)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start clamd: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &clamd.Client{Network: "unix", Addr: sock, Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx)
		cancel()
		if err == nil {
			return c
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("clamd did not come up: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRealClamd(t *testing.T) {
	t.Parallel()
	c := startClamd(t)
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil || !strings.HasPrefix(v, "ClamAV") {
		t.Fatalf("VERSION = %q, %v", v, err)
	}
	res, err := c.ScanBytes(ctx, []byte("Subject: hi\r\n\r\n"+eicar+"\r\n"))
	if err != nil || !res.Infected || !strings.Contains(res.Signature, "Eicar") {
		t.Fatalf("scan EICAR = %+v, %v", res, err)
	}
	// A clean stream larger than one chunk.
	clean := []byte(strings.Repeat("clean line of text\r\n", 10000))
	c.ChunkSize = 4096
	res, err = c.ScanBytes(ctx, clean)
	if err != nil || res.Infected {
		t.Fatalf("scan clean = %+v, %v", res, err)
	}
}

func TestClamdDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &clamd.Client{Network: "tcp", Addr: addr, Timeout: time.Second}
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("Ping to a closed port succeeded")
	}
	if _, err := c.ScanBytes(context.Background(), []byte("x")); err == nil {
		t.Fatal("Scan to a closed port succeeded")
	}
}

// TestProtocol checks the INSTREAM framing and reply parsing against a
// scripted TCP server (the wire format clamd(8) documents).
func TestProtocol(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 1<<20)
				var got []byte
				for {
					n, err := conn.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil || strings.HasSuffix(string(got), "\x00\x00\x00\x00") || string(got) == "zPING\x00" {
						break
					}
				}
				switch {
				case string(got) == "zPING\x00":
					conn.Write([]byte("PONG\x00"))
				case strings.Contains(string(got), "EICAR"):
					conn.Write([]byte("stream: Eicar-Test-Signature FOUND\x00"))
				case strings.Contains(string(got), "big"):
					conn.Write([]byte("INSTREAM size limit exceeded. ERROR\x00"))
				default:
					conn.Write([]byte("stream: OK\x00"))
				}
			}()
		}
	}()
	c := &clamd.Client{Addr: ln.Addr().String(), Timeout: 5 * time.Second}
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := c.ScanBytes(ctx, []byte(eicar)); err != nil || !r.Infected || r.Signature != "Eicar-Test-Signature" {
		t.Fatalf("%+v %v", r, err)
	}
	if r, err := c.ScanBytes(ctx, []byte("hello")); err != nil || r.Infected {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := c.ScanBytes(ctx, []byte("big")); err == nil {
		t.Fatal("ERROR reply not an error")
	}
}
