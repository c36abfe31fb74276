// Package clamdtest starts a real clamd for tests: its own configuration,
// a unix socket in a temporary directory, and a one-signature database for
// EICAR (no signature download is possible here). It
// skips the test when clamd is not installed and fails it when
// POSTVAKT_REQUIRE_TOOLS=1 (CI).
package clamdtest

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/clamd"
)

// eicar is the standard antivirus test string (eicar.org), split so that
// no scanner flags this source file.
const eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// signatures is the database clamd loads: $POSTVAKT_CLAMAV_DB when set, else
// one ClamAV .ndb body signature for EICAR, the same as the shared samples'
// local-eicar.ndb (no signature download is possible offline).
func signatures() ([]byte, error) {
	if p := os.Getenv("POSTVAKT_CLAMAV_DB"); p != "" {
		return os.ReadFile(p)
	}
	return []byte("Eicar-Test-Signature:0:*:" + hex.EncodeToString([]byte(eicar)) + "\n"), nil
}

// Start starts a real clamd (ClamAV) with its own configuration and the
// one-signature database of the shared samples; it skips when clamd is not
// installed, and fails when POSTVAKT_REQUIRE_TOOLS=1.
func Start(t testing.TB) (c *clamd.Client, stop func()) {
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
	sig, err := signatures()
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
	var once sync.Once
	stop = func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(stop)
	c = &clamd.Client{Network: "unix", Addr: sock, Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx)
		cancel()
		if err == nil {
			return c, stop
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("clamd did not come up: %v\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
