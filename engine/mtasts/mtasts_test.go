package mtasts_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/mtasts"
)

// RFC 8461 §3.2 policy files and §4.1 MX matching.
func TestParseAndMatch(t *testing.T) {
	t.Parallel()
	p, err := mtasts.Parse(strings.NewReader("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmx: *.example.net\r\nmax_age: 604800\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p.Mode != mtasts.ModeEnforce || p.MaxAge != 7*24*time.Hour || len(p.MX) != 2 {
		t.Fatalf("%+v", p)
	}
	for host, want := range map[string]bool{
		"mail.example.com": true, "MAIL.example.com.": true, "mx1.example.net": true,
		"a.b.example.net": false, "example.net": false, "evil.example.com": false,
	} {
		if got := p.Match(host); got != want {
			t.Errorf("Match(%q) = %v", host, got)
		}
	}
	for name, body := range map[string]string{
		"no version":       "mode: enforce\nmx: a\nmax_age: 1\n",
		"bad mode":         "version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n",
		"enforce, no mx":   "version: STSv1\nmode: enforce\nmax_age: 1\n",
		"no max_age":       "version: STSv1\nmode: testing\nmx: a\n",
		"max_age not uint": "version: STSv1\nmode: testing\nmx: a\nmax_age: -3\n",
	} {
		if _, err := mtasts.Parse(strings.NewReader(body)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if p, err := mtasts.Parse(strings.NewReader("version: STSv1\nmode: testing\nmx: a\nmax_age: 99999999999\n")); err == nil {
		t.Errorf("max_age over 32 bits parsed: %+v", p)
	}
}

type txt map[string][]string

func (x txt) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := x[name]; ok {
		return v, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// No record, or two records, is no policy (RFC 8461 §3.1).
func TestNoPolicy(t *testing.T) {
	t.Parallel()
	f := &mtasts.Fetcher{Resolver: txt{"_mta-sts.two.example": {"v=STSv1; id=1", "v=STSv1; id=2"}, "_mta-sts.other.example": {"v=spf1 -all"}}}
	for _, d := range []string{"none.example", "two.example", "other.example"} {
		if _, err := f.Policy(context.Background(), d); err != mtasts.ErrNoPolicy {
			t.Errorf("%s: %v", d, err)
		}
	}
}
