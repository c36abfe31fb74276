package app

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/loadgen"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
)

const (
	envJournalDB   = "POSTVAKT_JOURNAL_CRASH_DB"
	envJournalMX   = "POSTVAKT_JOURNAL_CRASH_MX"
	envJournalData = "POSTVAKT_JOURNAL_CRASH_DATA"
)

// journalCrashConfig is the service of TestJournalKill9: the engine's MX
// listener with durable local delivery, the collectors with the engine's
// records in its own commits (collectors.engine_events, the default).
func journalCrashConfig(dataDir, dbURL, mx string) *config.Config {
	cfg := config.Default()
	cfg.DataDir, cfg.Database.URL = dataDir, dbURL
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	cfg.SMTP.Enabled = true
	cfg.SMTP.Hostname = "mx.uni.example"
	cfg.SMTP.MX.Listen, cfg.SMTP.Submission.Listen = mx, ""
	cfg.SMTP.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	cfg.SMTP.TLS.Disabled = true
	cfg.SMTP.Greylist.Enabled = false
	cfg.SMTP.Whitelist.Clients = []string{"127.0.0.1"}
	cfg.SMTP.Limits.MaxConnsPerIP = 200
	cfg.SMTP.Directory.Domains = []string{"uni.example"}
	cfg.SMTP.Directory.Mailboxes = []engine.MailboxConfig{{Address: "anna@uni.example", QuotaBytes: 1 << 50}, {Address: "bert@uni.example", QuotaBytes: 1 << 50}}
	cfg.Collectors.Timezone = "UTC"
	return cfg
}

// TestJournalServeHelper is the server half of TestJournalKill9: the test
// binary runs itself with this test selected and serves until killed.
func TestJournalServeHelper(t *testing.T) {
	url := os.Getenv(envJournalDB)
	if url == "" {
		t.Skip("helper process for TestJournalKill9")
	}
	cfg := journalCrashConfig(os.Getenv(envJournalData), url, os.Getenv(envJournalMX))
	if url != "" && strings.HasPrefix(url, "sqlite:") {
		cfg.SMTP.Commit.Workers = 1
	} else {
		cfg.SMTP.Commit.Workers = 4
	}
	_ = Run(context.Background(), Options{Config: cfg, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

// TestJournalKill9 (docs/collectors.md, "The engine"; RFC 5321 §6.1): the
// whole service under SMTP load, killed with SIGKILL; after it every
// message that was answered 250 is in the transaction log — its message
// record and a delivery for each recipient — not only in the mail store.
func TestJournalKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("subprocess test")
	}
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		journalKill9(t, "sqlite:"+filepath.Join(t.TempDir(), "crash.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		journalKill9(t, pgtest.NewDatabase(t))
	})
}

func journalKill9(t *testing.T, url string) {
	mx := freeAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestJournalServeHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), envJournalDB+"="+url, envJournalMX+"="+mx, envJournalData+"="+filepath.Join(t.TempDir(), "data"))
	out, _ := os.CreateTemp(t.TempDir(), "helper-out")
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", mx); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("the service did not start:\n%s", b)
		}
	}

	var mu sync.Mutex
	var acked []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan loadgen.Result, 1)
	go func() {
		res, _ := loadgen.Run(ctx, loadgen.Options{
			Addr: mx, Concurrency: 20, Count: 1_000_000, Sizes: []int{1024, 4096},
			To: []string{"anna@uni.example", "bert@uni.example"}, RcptsPerMessage: 2, Timeout: 5 * time.Second,
			OnAccepted: func(id string) { mu.Lock(); acked = append(acked, id); mu.Unlock() },
		}, nil)
		done <- res
	}()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 500 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(out.Name())
			t.Fatalf("only %d messages acknowledged in 60 s:\n%s", n, b)
		}
	}
	if err := cmd.Process.Signal(os.Kill); err != nil { // no shutdown, no flush
		t.Fatal(err)
	}
	_ = cmd.Wait()
	cancel()
	res := <-done
	mu.Lock()
	all := append([]string(nil), acked...)
	mu.Unlock()

	// as the next start would: open the database afresh
	db, err := storage.Open(context.Background(), url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Dialect() == storage.Postgres {
		// A group commit is sent to PostgreSQL whole (one pipelined
		// batch), so one the killed process had sent still commits after
		// its death: count once the dead service's sessions are gone.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var n int
			if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions of the killed service still open after 30 s", n)
			}
		}
	}
	logged := map[string]int{} // Message-ID → deliveries in the log
	rows, err := db.Query(context.Background(), `SELECT m.message_id, COUNT(t.msg_key) FROM mail_messages m
		LEFT JOIN mail_tx t ON t.msg_key = m.msg_key AND t.status = 'sent'
		WHERE m.source = 'engine' GROUP BY m.message_id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		logged[id] = n
	}
	rows.Close()
	var stored int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM engine_transactions`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range all {
		n, ok := logged[strings.Trim(id, "<>")]
		if !ok || n != 2 {
			missing++
			if missing <= 10 {
				t.Errorf("acknowledged %s: in the log %v, deliveries %d (want 2)", id, ok, n)
			}
		}
	}
	t.Logf("%s: %d acknowledged, %d in the mail store, %d in the transaction log, %d missing from it (loadgen: %+v)",
		db.Dialect(), len(all), stored, len(logged), missing, res)
	if missing > 0 {
		t.Errorf("%d of %d acknowledged messages missing from the transaction log", missing, len(all))
	}
	if len(logged) != stored {
		t.Errorf("the log has %d engine messages, the mail store %d transactions", len(logged), stored)
	}
}
