package engine_test

import (
	"bufio"
	"crypto/tls"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// readLine reads one reply line from a raw connection.
func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	l, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v (got %q)", err, l)
	}
	return strings.TrimSpace(l)
}

// Limits: connections per IP, idle clients, slow DATA, whole-session cap;
// implicit TLS on the submissions listener.
func TestEngineLimits(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	h := startEngine(t, db, func(c *engine.Config) {
		c.Limits.MaxConnsPerIP = 2
		c.Limits.CommandTimeout = 300 * time.Millisecond
		c.Limits.DataTimeout = 500 * time.Millisecond
		c.Whitelist.Clients = []string{"127.0.0.1"}
		c.Submissions.Listen = "127.0.0.1:0"
	}, nil)
	h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "pw" })

	t.Run("connections per IP", func(t *testing.T) {
		var conns []net.Conn
		for range 2 {
			c, err := net.Dial("tcp", h.mx)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if l := readLine(t, c); !strings.HasPrefix(l, "220 ") {
				t.Fatalf("greeting %q", l)
			}
			conns = append(conns, c)
		}
		c, err := net.Dial("tcp", h.mx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if l := readLine(t, c); !strings.HasPrefix(l, "421 4.7.0 ") {
			t.Fatalf("third connection got %q, want 421 4.7.0", l)
		}
		if got := h.metric(`postvakt_smtp_connections_total{listener="mx",result="limit_per_ip"}`); got != "1" {
			t.Fatalf("limit_per_ip = %q", got)
		}
		for _, c := range conns {
			c.Close()
		}
	})
	t.Run("idle client is cut", func(t *testing.T) {
		time.Sleep(100 * time.Millisecond) // the previous subtest's slots are released
		c, err := net.Dial("tcp", h.mx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r.ReadString('\n') // greeting
		start := time.Now()
		l, _ := r.ReadString('\n')
		if !strings.HasPrefix(l, "421 4.4.2") || time.Since(start) > 3*time.Second {
			t.Fatalf("after idling got %q in %s", l, time.Since(start))
		}
	})
	t.Run("slow DATA is cut", func(t *testing.T) {
		c, err := net.Dial("tcp", h.mx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		r.ReadString('\n')
		for _, cmd := range []string{"HELO a", "MAIL FROM:<s@else.example>", "RCPT TO:<anna@uni.example>", "DATA"} {
			c.Write([]byte(cmd + "\r\n"))
			r.ReadString('\n')
		}
		// Trickle a line every 200 ms: each read is within the command
		// timeout, but DATA as a whole is not.
		start := time.Now()
		for i := 0; i < 10; i++ {
			if _, err := c.Write([]byte("Subject: slow\r\n")); err != nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		l, _ := r.ReadString('\n')
		if !strings.HasPrefix(l, "451 4.3.0") && !strings.HasPrefix(l, "421") {
			t.Fatalf("slow DATA got %q after %s", l, time.Since(start))
		}
		stats, _ := h.st.MailStats(t.Context())
		if stats.Messages != 0 {
			t.Fatalf("slow message stored: %+v", stats)
		}
	})
	t.Run("implicit TLS", func(t *testing.T) {
		c, err := smtp.DialTLS(h.eng.Addrs()["submissions"].String(), &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Auth(plainAuth("anna@uni.example", "pw")); err != nil {
			t.Fatal(err)
		}
		wantCode(t, send(c, "anna@uni.example", []string{"x@else.example"}, msg("tls")), 250, "")
	})
}

// Directory entries declared in the configuration are applied at start.
func TestEngineDirectoryFromConfig(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	hash, _ := directory.HashPassword("pw", directory.HashParams{MemoryKiB: 1024, Time: 1, Threads: 1})
	h := startEngine(t, db, func(c *engine.Config) { c.Whitelist.Clients = []string{"127.0.0.1"} }, nil)
	cfg := testConfig()
	cfg.Directory.Domains = []string{"uni.example", "lists.uni.example"}
	cfg.Directory.Mailboxes = []engine.MailboxConfig{{Address: "hostmaster@uni.example", PasswordHash: hash}}
	cfg.Directory.Aliases = []engine.AliasConfig{{Address: "abuse@uni.example", Kind: "function", Targets: []string{"hostmaster@uni.example"}}}
	for range 2 { // idempotent
		if err := engine.ApplyDirectoryConfig(t.Context(), cfg, h.dir); err != nil {
			t.Fatal(err)
		}
	}
	wantCode(t, send(h.dial(h.mx), "s@else.example", []string{"abuse@uni.example"}, msg("report")), 250, "")
	if _, res, _ := h.dir.Authenticate(t.Context(), "hostmaster@uni.example", "pw"); res != directory.AuthOK {
		t.Fatalf("auth = %s", res)
	}
}
