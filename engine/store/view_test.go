package store

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestParseHeader: fields in order, folded lines unfolded, encoded words
// decoded, the body never read, lines without a colon skipped, at most
// MaxHeaderFields fields.
func TestParseHeader(t *testing.T) {
	b := []byte("Received: from a\r\n\tby b; Mon, 7 Dec 2026 09:00:00 +0100\r\nSubject: =?utf-8?q?Eksamen_i_l=C3=B8nn?=\r\n" +
		"not a field\r\nFrom: Kari <kari@ext.example>\r\n\r\nSubject: in the body\r\n")
	h := ParseHeader(b)
	var got []string
	for _, f := range h {
		got = append(got, f.Name+"="+f.Value)
	}
	want := "Received=from a by b; Mon, 7 Dec 2026 09:00:00 +0100|Subject=Eksamen i lønn|From=Kari <kari@ext.example>"
	if strings.Join(got, "|") != want {
		t.Errorf("ParseHeader = %q, want %q", strings.Join(got, "|"), want)
	}
	if Get(h, "subject") != "Eksamen i lønn" || Get(h, "To") != "" {
		t.Errorf("Get: %q %q", Get(h, "subject"), Get(h, "To"))
	}
	if hb := HeaderBlock([]byte("A: 1\nB: 2\n\nbody")); string(hb) != "A: 1\nB: 2\n" {
		t.Errorf("HeaderBlock with LF: %q", hb)
	}
	many := bytes.Repeat([]byte("X: y\r\n"), MaxHeaderFields+10)
	if n := len(ParseHeader(many)); n != MaxHeaderFields {
		t.Errorf("%d fields, want at most %d", n, MaxHeaderFields)
	}
}

// TestMboxWriter: From_ lines in asctime UTC, ">*From " lines quoted with
// one more '>', "From" alone and " From " not, CRLF made LF, a final
// newline added, an empty line after each message.
func TestMboxWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewMboxWriter(&b)
	at := time.Date(2026, 12, 7, 9, 5, 0, 0, time.FixedZone("CET", 3600))
	if err := w.Write("a@ext.example", at, []byte("Subject: x\r\n\r\nFrom me\r\n>From you\r\nFrom\r\n From x\r\nend")); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("", at, []byte("Subject: y\n\nbody\n")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "From a@ext.example Mon Dec  7 08:05:00 2026\nSubject: x\n\n>From me\n>>From you\nFrom\n From x\nend\n\n" +
		"From MAILER-DAEMON Mon Dec  7 08:05:00 2026\nSubject: y\n\nbody\n\n"
	if b.String() != want {
		t.Errorf("mbox\n%q\nwant\n%q", b.String(), want)
	}
}
