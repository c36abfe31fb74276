package syslog

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
	"time"
)

// FuzzReadFrames checks that framing never panics, never yields an empty
// or oversized message, and that octet-counted messages round-trip.
func FuzzReadFrames(f *testing.F) {
	f.Add([]byte("12 <13>1 - h a\n"), "x y")
	f.Add([]byte("<22>Nov 22 10:53:10 mx postfix/smtpd[1]: hello\r\n\n5 abcde"), "line\nwith LF")
	f.Add([]byte("999999999 "), "")
	f.Fuzz(func(t *testing.T, raw []byte, msg string) {
		const max = 1024
		_ = ReadFrames(bufio.NewReaderSize(bytes.NewReader(raw), 16), max, func(m []byte) error {
			if len(m) == 0 || len(m) > max+2 {
				t.Fatalf("bad frame length %d", len(m))
			}
			return nil
		})
		if msg == "" || len(msg) > max || msg[len(msg)-1] == '\n' || msg[len(msg)-1] == '\r' {
			return
		}
		var in bytes.Buffer
		fmt.Fprintf(&in, "%d %s%d %s", len(msg), msg, len(msg), msg)
		var got []string
		if err := ReadFrames(bufio.NewReaderSize(&in, 16), max, func(m []byte) error { got = append(got, string(m)); return nil }); err != nil {
			t.Fatalf("round trip: %v", err)
		}
		if len(got) != 2 || got[0] != msg || got[1] != msg {
			t.Fatalf("round trip: got %q want 2× %q", got, msg)
		}
	})
}

// FuzzParseDatagram checks that datagram splitting and message parsing
// never panic and that a parsed frame has a host and a program.
func FuzzParseDatagram(f *testing.F) {
	f.Add([]byte("<22>1 2026-11-22T10:53:18.486012+00:00 mx postfix/smtpd 4242 - - connect from a[1.2.3.4]"))
	f.Add([]byte("<22>Nov 22 10:53:10 mx postfix/smtpd[1]: hello\nNov 22 10:53:11 mx dovecot: x\n"))
	f.Add([]byte("<1>1 - - - - - -"))
	now := func() time.Time { return time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC) }
	f.Fuzz(func(t *testing.T, d []byte) {
		p := NewParser(now, nil)
		for _, m := range SplitDatagram(d) {
			if len(m) == 0 {
				t.Fatal("empty message")
			}
			fr, err := p.Parse(m)
			if err == nil && (fr.Host == "" || fr.Program == "") {
				t.Fatalf("frame without host or program: %+v", fr)
			}
		}
	})
}
