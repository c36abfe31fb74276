package probe

import (
	"bytes"
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzIMAPReply feeds arbitrary server output to the IMAP reply reader
// (literals included): it must not panic or read past a literal's bound.
func FuzzIMAPReply(f *testing.F) {
	f.Add("* OK ready\r\nP1 OK done\r\n")
	f.Add("* 1 FETCH (UID 7 BODY[HEADER.FIELDS (X-POSTVAKT-PROBE)] {28}\r\nX-Postvakt-Probe: pv-1-ab\r\n\r\n)\r\nP1 OK\r\n")
	f.Add("* SEARCH 1 2 3\r\nP1 NO [AUTHENTICATIONFAILED] no\r\n")
	f.Add("{99999999999}\r\n")
	f.Fuzz(func(t *testing.T, server string) {
		client, srv := net.Pipe()
		defer client.Close()
		go func() {
			_, _ = io.Copy(io.Discard, srv)
		}()
		go func() {
			_, _ = srv.Write([]byte(server))
			srv.Close()
		}()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		s := &imapSession{c: newTextConn(ctx, client)}
		r, err := s.command("NOOP")
		if err == nil && r.status == "" {
			t.Fatalf("no status without error: %+v", r)
		}
		for _, l := range r.untagged {
			_ = searchUIDs(imapReply{untagged: []string{l}})
			if first, head, ok := strings.Cut(l, "\r\n"); ok {
				_ = fetchUIDRe.FindStringSubmatch(first)
				_ = headerValue(strings.Split(head, "\r\n"), TokenHeader)
			}
		}
	})
}

// FuzzTokenTime: tokenTime accepts what newToken makes and never panics.
func FuzzTokenTime(f *testing.F) {
	f.Add(newToken(time.Unix(1700000000, 0)))
	f.Add("pv--")
	f.Add("pv-99999999999999999999-x")
	f.Fuzz(func(t *testing.T, tok string) {
		_, _ = tokenTime(tok)
		_, _ = literalSize(tok)
	})
}

func TestTokenRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 0)
	a, b := newToken(now), newToken(now)
	if a == b {
		t.Fatal("tokens repeat")
	}
	if at, ok := tokenTime(a); !ok || !at.Equal(now) {
		t.Fatalf("tokenTime(%q) = %v %v", a, at, ok)
	}
	msg := loopMessage(Target{Name: "loop", From: "a@example.edu", Recipient: "b@example.edu"}, a, now)
	if !bytes.Contains(msg, []byte("\r\nX-Postvakt-Probe: "+a+"\r\n")) || !bytes.Contains(msg, []byte("Subject: postvakt probe loop "+a)) {
		t.Fatalf("message:\n%s", msg)
	}
	if got := imapString(`a"b\c`); got != `"a\"b\\c"` {
		t.Errorf("quoted %v", got)
	}
	if _, ok := imapString("pässword").(literal); !ok {
		t.Error("8-bit string not sent as a literal")
	}
}
