package engine_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/loadgen"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

const (
	envCrashDB     = "POSTVAKT_ENGINE_CRASH_DB"
	envCrashAddr   = "POSTVAKT_ENGINE_CRASH_ADDR"
	envCrashListen = "POSTVAKT_ENGINE_LISTEN"
)

// TestEngineServeHelper is the server half of TestEngineKill9, and the
// server measured in docs/performance.md: the test binary re-executes
// itself with this test selected, serves the MX listener on the database
// named in the environment (greylisting on, 127.0.0.1 whitelisted,
// recipient lookup, durable local delivery, metrics), writes the bound
// address to the file named by POSTVAKT_ENGINE_CRASH_ADDR, and runs until
// it is killed.
func TestEngineServeHelper(t *testing.T) {
	url := os.Getenv(envCrashDB)
	if url == "" {
		t.Skip("helper process for TestEngineKill9")
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, url, storage.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrateUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig()
	cfg.Whitelist.Clients = []string{"127.0.0.1"}
	cfg.TLS.Disabled = true
	if d, err := time.ParseDuration(os.Getenv("POSTVAKT_ENGINE_COMMIT_DELAY")); err == nil {
		cfg.Commit.MaxDelay = d
	}
	if l := os.Getenv(envCrashListen); l != "" {
		cfg.MX.Listen = l
	}
	cfg.Submission.Listen = ""
	cfg.Limits.MaxConnsPerIP = 200
	if db.Dialect() == storage.SQLite {
		cfg.Commit.Workers = 1
	} else {
		cfg.Commit.Workers = 4
	}
	eng, err := engine.New(engine.Options{Config: cfg, Store: enginestore.New(db), Metrics: metrics.NewSet()})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Directory().AddDomain(ctx, "uni.example"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"anna@uni.example", "bert@uni.example"} {
		if _, err := eng.Directory().AddMailbox(ctx, directory.NewMailbox{Address: a, QuotaBytes: 1 << 50}); err != nil {
			t.Fatal(err)
		}
	}
	go func() {
		<-eng.Ready()
		p := os.Getenv(envCrashAddr)
		_ = os.WriteFile(p+".tmp", []byte(eng.Addrs()["mx"].String()), 0o600)
		_ = os.Rename(p+".tmp", p)
	}()
	if d, err := time.ParseDuration(os.Getenv("POSTVAKT_ENGINE_SERVE_FOR")); err == nil {
		// For profiling: serve for a while, then shut down cleanly.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		defer cancel()
	}
	_ = eng.Serve(ctx) // until SIGKILL
}

// Durability (docs/performance.md, "Durability under kill -9"; RFC 5321
// §6.1: a 250 reply takes responsibility for the message): kill -9 the
// server during a loadgen run; after restart every message that got 250 is
// in the store.
func TestEngineKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		kill9(t, "sqlite:"+filepath.Join(t.TempDir(), "crash.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		kill9(t, pgtest.NewDatabase(t))
	})
}

func kill9(t *testing.T, url string) {
	addrFile := filepath.Join(t.TempDir(), "addr")
	cmd := exec.Command(os.Args[0], "-test.run=^TestEngineServeHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashDB+"="+url, envCrashAddr+"="+addrFile)
	out, _ := os.CreateTemp(t.TempDir(), "helper-out")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var addr string
	for deadline := time.Now().Add(60 * time.Second); ; {
		if b, err := os.ReadFile(addrFile); err == nil {
			addr = string(b)
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("helper did not start:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}

	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan loadgen.Result, 1)
	go func() {
		res, _ := loadgen.Run(ctx, loadgen.Options{
			Addr: addr, Concurrency: 20, Count: 1_000_000, Sizes: []int{1024, 4096, 16384},
			To: []string{"anna@uni.example", "bert@uni.example"}, RcptsPerMessage: 2, Timeout: 5 * time.Second,
			OnAccepted: func(id string) { mu.Lock(); acked = append(acked, id); mu.Unlock() },
		}, nil)
		done <- res
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 300 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("only %d messages acknowledged in 30 s:\n%s", n, b)
		}
	}
	if err := cmd.Process.Signal(os.Kill); err != nil { // SIGKILL: no shutdown, no flush
		t.Fatal(err)
	}
	_ = cmd.Wait()
	mu.Lock()
	snapshot := append([]string(nil), acked...)
	mu.Unlock()
	cancel()
	res := <-done

	// "Restart": open the database afresh, as the next process would.
	db, err := storage.Open(context.Background(), url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := enginestore.New(db)
	mu.Lock()
	all := append([]string(nil), acked...)
	mu.Unlock()
	missing := 0
	for _, id := range all {
		q, err := st.MailQueueIDsByMessageID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if len(q) == 0 {
			missing++
			t.Errorf("acknowledged %s missing after kill -9", id)
		}
	}
	stats, _ := st.MailStats(context.Background())
	t.Logf("%s: %d acknowledged before the kill (%d by the end), %d missing; store has %d copies (loadgen: %+v)",
		db.Dialect(), len(snapshot), len(all), missing, stats.Messages, res)
	if stats.Messages < int64(2*len(all)) {
		t.Errorf("store has %d copies, want at least %d", stats.Messages, 2*len(all))
	}
}
