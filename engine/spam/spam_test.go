package spam_test

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message/textproto"

	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/spam"
)

// dns is an injected resolver for SPF (spf.DNSResolver) and DNSBL
// (dnsbl.Resolver): the remote DNS that cannot be queried here.
type dns struct {
	txt   map[string][]string
	hosts map[string][]string
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func (d dns) LookupTXT(_ context.Context, name string) ([]string, error) {
	if v, ok := d.txt[strings.TrimSuffix(name, ".")]; ok {
		return v, nil
	}
	return nil, notFound(name)
}
func (d dns) LookupMX(_ context.Context, name string) ([]*net.MX, error) { return nil, notFound(name) }
func (d dns) LookupIPAddr(_ context.Context, name string) ([]net.IPAddr, error) {
	return nil, notFound(name)
}
func (d dns) LookupAddr(_ context.Context, addr string) ([]string, error) { return nil, notFound(addr) }
func (d dns) LookupHost(_ context.Context, name string) ([]string, error) {
	if v, ok := d.hosts[strings.TrimSuffix(name, ".")]; ok {
		return v, nil
	}
	return nil, notFound(name)
}

func header(t *testing.T, s string) textproto.Header {
	t.Helper()
	h, err := textproto.ReadHeader(bufio.NewReader(strings.NewReader(s + "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestScore(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
	res := dns{
		txt: map[string][]string{
			"ext.example":  {"v=spf1 ip4:192.0.2.0/24 -all"},
			"soft.example": {"v=spf1 ip4:198.51.100.1 ~all"},
		},
		hosts: map[string][]string{"10.2.0.192.zen.example": {"127.0.0.2"}},
	}
	s := spam.New(spam.Options{SPFResolver: res, DNSBL: &dnsbl.Checker{Zones: []string{"zen.example"}, Resolver: res}, Clock: func() time.Time { return now },
		Weights: map[string]float64{spam.RuleSubjectAllCaps: 0}})
	good := "From: A <a@ext.example>\r\nSubject: hi\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\nMessage-ID: <x.1@ext.example>\r\n"
	for _, c := range []struct {
		name   string
		ip     string
		from   string
		hdr    string
		text   string
		auth   bool
		want   []string
		isSpam bool
	}{
		{"clean, SPF pass", "192.0.2.20", "a@ext.example", good, "hello", false, []string{spam.RuleSPFPass}, false},
		{"GTUBE", "192.0.2.20", "a@ext.example", good, "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X", false, []string{spam.RuleGTUBE, spam.RuleSPFPass}, true},
		{"SPF fail", "203.0.113.5", "a@ext.example", good, "x", false, []string{spam.RuleSPFFail}, false},
		{"SPF softfail", "203.0.113.5", "b@soft.example", good, "x", false, []string{spam.RuleSPFSoftFail}, false},
		{"DNSBL", "192.0.2.10", "a@ext.example", good, "x", false, []string{spam.RuleDNSBL, spam.RuleSPFPass}, false},
		{"missing everything", "192.0.2.20", "a@ext.example", "X-Foo: bar\r\n", "x", false,
			[]string{spam.RuleMissingDate, spam.RuleMissingFrom, spam.RuleMissingMessageID, spam.RuleMissingSubject, spam.RuleSPFPass}, false},
		{"invalid date and id, forged name", "203.0.113.5", "a@ext.example",
			"From: \"support@bank.example\" <x@ext.example>\r\nSubject: URGENT ACCOUNT NOTICE\r\nDate: yesterday\r\nMessage-ID: not-an-id\r\n", "x", false,
			[]string{spam.RuleFromNameAddr, spam.RuleInvalidDate, spam.RuleInvalidMessageID, spam.RuleSPFFail}, true},
		{"authenticated: no network rules", "203.0.113.5", "a@ext.example", good, "x", true, nil, false},
		{"future date", "192.0.2.20", "a@ext.example", strings.Replace(good, "2026", "2027", 1), "x", false, []string{spam.RuleFutureDate, spam.RuleSPFPass}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := s.Score(context.Background(), spam.Input{ClientIP: netip.MustParseAddr(c.ip), HELO: "mail.ext.example", MailFrom: c.from,
				Header: header(t, c.hdr), Texts: [][]byte{[]byte(c.text)}, Authenticated: c.auth})
			if !slices.Equal(r.Rules, c.want) || r.Spam() != c.isSpam {
				t.Fatalf("rules = %v (score %.1f, spam %v), want %v spam %v; %v", r.Rules, r.Score, r.Spam(), c.want, c.isSpam, r.Extra)
			}
			h := r.Headers()
			if len(h) != 3 || !strings.HasPrefix(h[0], "X-Spam-Flag: ") || !strings.HasPrefix(h[1], "X-Spam-Score: ") || !strings.Contains(h[2], "required=5.0") {
				t.Fatalf("headers = %v", h)
			}
		})
	}
}

func TestForgedLocalSender(t *testing.T) {
	t.Parallel()
	s := spam.New(spam.Options{})
	local := func(_ context.Context, d string) bool { return d == "uni.example" }
	r := s.Score(context.Background(), spam.Input{ClientIP: netip.MustParseAddr("203.0.113.9"), MailFrom: "x@uni.example",
		Header: header(t, "From: rektor@uni.example\r\nSubject: s\r\nDate: Mon, 23 Nov 2026 09:00:00 +0100\r\nMessage-ID: <a@b>\r\n"), LocalDomain: local})
	if !slices.Contains(r.Rules, spam.RuleForgedLocalSender) {
		t.Fatalf("rules = %v", r.Rules)
	}
}
