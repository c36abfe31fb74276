package engine_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

var replyLine = regexp.MustCompile(`^[2-5][0-9][0-9][ -]`)

// FuzzEngineSession feeds command sequences over a real connection to a
// real engine (SQLite store, greylisting, AUTH on loopback) and checks that
// every reply is well-formed, that no handler panicked (go-smtp answers a
// panic with "Internal server error"), that no internal error text leaks,
// and that the server still accepts connections afterwards.
func FuzzEngineSession(f *testing.F) {
	db := storagetest.Open(f, storage.SQLite)
	h := startEngine(f, db, func(c *engine.Config) {
		c.InsecureAuthLoopback = true
		c.Limits.CommandTimeout = 500 * time.Millisecond
		c.Limits.DataTimeout = time.Second
		c.Limits.MaxMessageBytes = 64 << 10
		c.Limits.MaxRecipients = 5
		c.Limits.MaxConnsPerIP = 1000
		c.Trusted.Senders = []string{"sys@uni.example"}
	}, nil)
	h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.Password = "pw"; n.QuotaBytes = 2000 })
	_ = h.dir.AddAlias(f.Context(), "list-a@uni.example", directory.KindList, []string{"anna@uni.example", "x@else.example"})
	plain := base64.StdEncoding.EncodeToString([]byte("\x00anna@uni.example\x00pw"))
	for _, s := range []string{
		"EHLO a\nMAIL FROM:<s@else.example>\nRCPT TO:<anna@uni.example>\nDATA\nSubject: x\n\nhi\n.\n",
		"HELO a\nMAIL FROM:<>\nRCPT TO:<list-a@uni.example>\nRCPT TO:<nobody@uni.example>\nRSET\nNOOP\n",
		"EHLO a\nAUTH PLAIN " + plain + "\nMAIL FROM:<anna@uni.example> SIZE=100\nRCPT TO:<x@else.example>\nDATA\n.\n",
		"EHLO a\nAUTH LOGIN\nYW5uYQ==\ncHc=\nAUTH PLAIN =\n",
		"EHLO a\nSTARTTLS\nEHLO b\n",
		"EHLO a\nMAIL FROM:<a@b> BODY=8BITMIME SMTPUTF8\nRCPT TO:<anna@uni.example> NOTIFY=NEVER\nBDAT 5 LAST\nhello\n",
		"MAIL FROM:<a@b.example>\nRCPT TO:<anna@uni.example>\nDATA\n",
		"EHLO a\nMAIL FROM:<sys@uni.example>\nRCPT TO:<anna@uni.example>\nDATA\nFrom: sys\nSubject: big\n\n" + strings.Repeat("y", 3000) + "\n.\n",
		"\x01EHLO a\nMAIL FROM:<s@else.example>\nRCPT TO:<x@else.example>\n",
		"EHLO " + strings.Repeat("a", 3000) + "\n",
		"VRFY anna\nEXPN list\nHELP\nTURN\nQUIT\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		addr := h.mx
		if len(in) > 0 && in[0] == 1 {
			addr, in = h.sub, in[1:]
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		var script bytes.Buffer
		for i, line := range strings.Split(string(in), "\n") {
			if i >= 64 {
				break
			}
			script.WriteString(strings.TrimSuffix(line, "\r"))
			script.WriteString("\r\n")
		}
		script.WriteString("\r\n.\r\nQUIT\r\n")
		go func() { _, _ = conn.Write(script.Bytes()) }()
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 4096), 1<<20)
		for sc.Scan() {
			l := sc.Text()
			if !replyLine.MatchString(l) {
				t.Fatalf("malformed reply %q", l)
			}
			if strings.Contains(l, "Internal server error") || strings.Contains(l, "sql") || strings.Contains(l, "database") {
				t.Fatalf("internal error reached the client: %q", l)
			}
		}
		// The server is still there.
		c2, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("server gone: %v", err)
		}
		_ = c2.SetDeadline(time.Now().Add(2 * time.Second))
		greet, err := bufio.NewReader(c2).ReadString('\n')
		c2.Close()
		if err != nil || !strings.HasPrefix(greet, "220 ") {
			t.Fatalf("greeting after fuzz input: %q, %v", greet, err)
		}
	})
}
