package smtpserver

import (
	"bufio"
	"bytes"
	"net/textproto"
	"reflect"
	"strings"
	"testing"
)

// parseHeader reads only the header section; what it returns must be what
// reading the whole message gives.
func TestParseHeaderReadsOnlyTheHeader(t *testing.T) {
	long := strings.Repeat("x", 5000)
	for _, msg := range []string{
		"From: a@b.example\r\nSubject: hi\r\n\r\nbody\r\nX-Not: header\r\n",
		"From: a@b.example\nSubject: folded\n  over two lines\n\nbody\n",
		"Subject: " + long + "\r\nFrom: c@d.example\r\n\r\n" + long,
		"Subject: no body, no blank line\r\n",
		"\r\nbody only",
		"",
		"Message-ID: <1@x>\r\nTo: e@f.example\r\n\r\n\r\n\r\n",
	} {
		want, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader([]byte(msg)))).ReadMIMEHeader()
		if want == nil {
			want = textproto.MIMEHeader{}
		}
		if got := parseHeader([]byte(msg)); !reflect.DeepEqual(got, want) {
			t.Errorf("parseHeader(%.40q) = %v, want %v", msg, got, want)
		}
	}
}
