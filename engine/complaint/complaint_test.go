package complaint

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/spam"
)

func crlf(s string) *strings.Reader { return strings.NewReader(strings.ReplaceAll(s, "\n", "\r\n")) }

// nested is a complaint whose spam is enclosed depth message/rfc822
// levels deep.
func nested(depth int) string {
	inner := "From: deep@spam.example\nSubject: deep\n\nhttps://deep.spam.example/\n"
	for range depth {
		inner = "From: fwd@uni.example\nSubject: Fwd\nContent-Type: message/rfc822\n\n" + inner
	}
	return inner
}

func TestParseBounds(t *testing.T) {
	t.Parallel()
	// Too large: refused, nothing read.
	big := "From: a@uni.example\nSubject: x\nContent-Type: message/rfc822\n\nFrom: s@spam.example\n\n" + strings.Repeat("x", 5000)
	if _, err := Parse(crlf(big), Limits{MaxBytes: 1000}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too large: %v", err)
	}
	// Nesting within the limit is read; deeper is cut short, not an error
	// when something was read.
	p, err := Parse(crlf(nested(3)), Limits{})
	if err != nil || p.Spam[len(p.Spam)-1].From != "deep@spam.example" {
		t.Fatalf("nested 3: %v %+v", err, p)
	}
	// Deeper than the limit: the walk stops; with nothing read below it
	// the complaint carries no spam.
	p, err = Parse(crlf(nested(12)), Limits{MaxDepth: 4})
	if !errors.Is(err, ErrNoSpam) || !p.Truncated {
		t.Fatalf("nested 12: %v %+v", err, p)
	}
	for _, s := range p.Spam {
		if s.From == "deep@spam.example" {
			t.Fatal("read beyond the depth limit")
		}
	}
	// At most MaxMessages spam messages.
	var b strings.Builder
	b.WriteString("From: a@uni.example\nSubject: many\nContent-Type: multipart/mixed; boundary=\"b\"\n\n")
	for i := range 30 {
		fmt.Fprintf(&b, "--b\nContent-Type: message/rfc822\n\nFrom: s%d@spam.example\nSubject: s\n\nhi\n", i)
	}
	b.WriteString("--b--\n")
	p, err = Parse(crlf(b.String()), Limits{MaxMessages: 5})
	if err != nil || len(p.Spam) != 5 || !p.Truncated {
		t.Fatalf("many: %v %d %v", err, len(p.Spam), p.Truncated)
	}
	// Nothing forwarded: ErrNoSpam.
	if _, err := Parse(crlf("From: a@uni.example\nSubject: hi\n\nhello\n"), Limits{}); !errors.Is(err, ErrNoSpam) {
		t.Fatalf("no spam: %v", err)
	}
}

func TestLocalRulesMatch(t *testing.T) {
	t.Parallel()
	l := spam.CompileLocal([]spam.LocalRule{
		{ID: 1, Kind: spam.LocalSender, Value: "Sales@Pharma.Example", Score: 10},
		{ID: 2, Kind: spam.LocalDomain, Value: "pharma.example", Score: 10},
		{ID: 3, Kind: spam.LocalHeader, Header: "Subject", Value: "cheap pills", Score: 5},
		{ID: 4, Kind: spam.LocalBody, Value: "wire the fee", Score: 5},
	})
	names := func(in spam.Input) string {
		var out []string
		for _, r := range l.Match(in) {
			out = append(out, r.Name())
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		in   spam.Input
		want string
	}{
		{spam.Input{MailFrom: "sales@pharma.example"}, "LOCAL_1,LOCAL_2"},
		{spam.Input{MailFrom: "other@mail.pharma.example"}, "LOCAL_2"},
		{spam.Input{MailFrom: "a@notpharma.example"}, ""},
		{spam.Input{MailFrom: "a@x.example", Texts: [][]byte{[]byte("see https://shop.pharma.example/x")}}, "LOCAL_2"},
		{spam.Input{MailFrom: "a@x.example", Texts: [][]byte{[]byte("Please WIRE THE FEE now")}}, "LOCAL_4"},
	} {
		if got := names(c.in); got != c.want {
			t.Errorf("%+v: %q, want %q", c.in.MailFrom, got, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("From: a@uni.example\r\nContent-Type: message/rfc822\r\n\r\nFrom: s@spam.example\r\n\r\nhttps://x.example/\r\n"))
	f.Add([]byte(nested(3)))
	f.Add([]byte("From: a@b\r\n\r\n---- Forwarded message ----\r\nFrom: x@y.example\r\n\r\nbody\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(strings.NewReader(string(b)), Limits{MaxBytes: 1 << 16})
		if err == nil && len(p.Spam) == 0 {
			t.Fatal("no error and no spam")
		}
		if len(p.Spam) > 20 {
			t.Fatalf("%d spam messages past the bound", len(p.Spam))
		}
	})
}
