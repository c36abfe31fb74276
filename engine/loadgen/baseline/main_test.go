package main

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// TestSQLiteBaselineStoresEveryAcknowledgedMessage sends messages from
// concurrent sessions over loopback to the -sqlite baseline and checks
// that each one answered 250 is a row of its own, envelope and body intact.
func TestSQLiteBaselineStoresEveryAcknowledgedMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.db")
	gc, err := openGroupCommitter(path)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(ln.Addr().String(), "", gc)
	go s.Serve(ln)

	const sessions, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	for i := range sessions {
		wg.Go(func() {
			for j := range each {
				rcpt := fmt.Sprintf("r%d-%d@uni.example", i, j)
				body := fmt.Sprintf("Subject: %d/%d\r\n\r\n%s\r\n", i, j, strings.Repeat("x", 100*j))
				if err := send(ln.Addr().String(), rcpt, body); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	s.Close()
	gc.close()

	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT mail_from, rcpt, body FROM messages`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var from, rcpt string
		var body []byte
		if err := rows.Scan(&from, &rcpt, &body); err != nil {
			t.Fatal(err)
		}
		var i, j int
		if _, err := fmt.Sscanf(rcpt, "r%d-%d@uni.example", &i, &j); err != nil {
			t.Fatalf("rcpt %q: %v", rcpt, err)
		}
		want := fmt.Sprintf("Subject: %d/%d\r\n\r\n%s\r\n", i, j, strings.Repeat("x", 100*j))
		if from != "s@else.example" || !bytes.Equal(body, []byte(want)) {
			t.Errorf("%s: from %q, body %q; want %q", rcpt, from, body, want)
		}
		if seen[rcpt] {
			t.Errorf("%s stored twice", rcpt)
		}
		seen[rcpt] = true
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != sessions*each {
		t.Errorf("%d messages stored, want %d", len(seen), sessions*each)
	}

	if err := gc.commit(&row{}); err != errClosed {
		t.Errorf("commit after close: %v, want errClosed", err)
	}
}

// send delivers one message in a session of its own (no STARTTLS: the
// baseline offers none).
func send(addr, rcpt, body string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SendMail("s@else.example", []string{rcpt}, strings.NewReader(body)); err != nil {
		return err
	}
	return c.Quit()
}
