package dnscheck_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/units/dnscheck"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck/dnstest"
)

var central = []string{"mx1.uni.test", "mx2.uni.test"}

var centralZone = []string{
	"mx1.uni.test. 300 IN A 192.0.2.1",
	"mx1.uni.test. 300 IN AAAA 2001:db8::1",
	"mx2.uni.test. 300 IN A 192.0.2.2",
}

func checker(srv *dnstest.Server) *dnscheck.Checker {
	return &dnscheck.Checker{Resolver: &dnscheck.Client{Servers: []string{srv.Addr}, Timeout: 2 * time.Second}, Central: central}
}

func zone(extra ...string) []string { return append(append([]string{}, centralZone...), extra...) }

func TestCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		zone     []string
		ok       bool
		ttl      int // -1: none
		problems []string
		explain  []string // substrings of Explain
	}{
		{"central", zone("chem.test. 1800 IN MX 10 mx1.uni.test.", "chem.test. 1800 IN MX 20 MX2.uni.test."), true, 1800, nil,
			[]string{"TTL 1800 s", "10 mx1.uni.test (central) → 192.0.2.1, 2001:db8::1", "points to the central service"}},
		{"old server", zone("chem.test. 3600 IN MX 10 mail.chem.test.", "mail.chem.test. 3600 IN A 198.51.100.7"), false, 3600,
			[]string{dnscheck.ProblemNotCentral},
			[]string{"Record: chem.test. 3600 IN MX 10 mail.chem.test.", "points to mail.chem.test, which is not a central mail server",
				"chem.test. IN MX 10 mx1.uni.test.", "chem.test. IN MX 20 mx2.uni.test.", "Remove the record"}},
		{"mixed, smallest TTL", zone("chem.test. 600 IN MX 10 mx1.uni.test.", "chem.test. 7200 IN MX 5 old.chem.test.", "old.chem.test. 60 IN A 198.51.100.8"),
			false, 600, []string{dnscheck.ProblemNotCentral}, []string{"5 old.chem.test (NOT central) → 198.51.100.8"}},
		{"no mx", zone("chem.test. 300 IN A 198.51.100.9"), false, -1, []string{dnscheck.ProblemNoMX}, []string{"no MX record"}},
		{"nxdomain", zone(), false, -1, []string{dnscheck.ProblemNoDomain}, []string{"NXDOMAIN"}},
		{"null mx", zone("chem.test. 300 IN MX 0 ."), false, 300, []string{dnscheck.ProblemNullMX}, []string{"RFC 7505"}},
		{"alias target", zone("chem.test. 300 IN MX 10 mail.chem.test.", "mail.chem.test. 300 IN CNAME mx1.uni.test."), false, 300,
			[]string{dnscheck.ProblemNotCentral, dnscheck.ProblemAlias}, []string{"RFC 2181 §10.3"}},
		{"target without address", zone("chem.test. 300 IN MX 10 mx3.uni.test.", "mx3.uni.test. 300 IN TXT \"x\""), false, 300,
			[]string{dnscheck.ProblemNotCentral, dnscheck.ProblemNoAddress}, []string{"has no A or AAAA record"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			srv := dnstest.Start(t, c.zone...)
			res, err := checker(srv).Check(context.Background(), "Chem.Test.")
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != c.ok {
				t.Errorf("OK = %v, want %v: %+v", res.OK, c.ok, res.Problems)
			}
			if !res.Authoritative {
				t.Error("answer from the authoritative test server not marked authoritative")
			}
			switch {
			case c.ttl < 0 && res.TTL != nil:
				t.Errorf("TTL = %d, want none", *res.TTL)
			case c.ttl >= 0 && (res.TTL == nil || int(*res.TTL) != c.ttl):
				t.Errorf("TTL = %v, want %d", res.TTL, c.ttl)
			}
			var codes []string
			for _, p := range res.Problems {
				codes = append(codes, p.Code)
			}
			if fmt.Sprint(codes) != fmt.Sprint(c.problems) && !(len(codes) == 0 && len(c.problems) == 0) {
				t.Errorf("problems %v, want %v", codes, c.problems)
			}
			ex := res.Explain()
			for _, s := range c.explain {
				if !strings.Contains(ex, s) {
					t.Errorf("explanation lacks %q:\n%s", s, ex)
				}
			}
		})
	}
}

// A failing server is a look-up problem of the result, and the next
// configured server is asked.
func TestCheckLookupFailure(t *testing.T) {
	t.Parallel()
	c := &dnscheck.Checker{Resolver: &dnscheck.Client{Servers: []string{"127.0.0.1:1"}, Timeout: 300 * time.Millisecond}, Central: central}
	res, err := c.Check(context.Background(), "chem.test")
	if err != nil {
		t.Fatal(err)
	}
	if res.OK || !res.OnlyLookupFailures() || res.Problems[0].Code != dnscheck.ProblemLookup {
		t.Fatalf("want a lookup failure, got %+v", res)
	}
	srv := dnstest.Start(t, zone("chem.test. 300 IN MX 10 mx1.uni.test.")...)
	c.Resolver = &dnscheck.Client{Servers: []string{"127.0.0.1:1", srv.Addr}, Timeout: 300 * time.Millisecond}
	if res, err = c.Check(context.Background(), "chem.test"); err != nil || !res.OK {
		t.Fatalf("second server not asked: %v %+v", err, res)
	}
}

// An answer too large for UDP comes back truncated and is asked again
// over TCP (RFC 7766 §5).
func TestTCPFallback(t *testing.T) {
	t.Parallel()
	z := zone()
	for i := range 80 {
		h := fmt.Sprintf("backup-mail-exchanger-number-%02d.very-long-subdomain-name.chem.test.", i)
		z = append(z, fmt.Sprintf("chem.test. 900 IN MX %d %s", 100+i, h))
	}
	srv := dnstest.Start(t, z...)
	ans, err := (&dnscheck.Client{Servers: []string{srv.Addr}}).MX(context.Background(), "chem.test")
	if err != nil {
		t.Fatal(err)
	}
	if len(ans.MX) != 80 {
		t.Fatalf("got %d MX records over the fallback, want 80", len(ans.MX))
	}
	if srv.Queries("MX", "chem.test") != 2 {
		t.Errorf("asked %d times, want UDP then TCP", srv.Queries("MX", "chem.test"))
	}
	// A check looks up the addresses of the first MaxTargets only.
	res, err := (&dnscheck.Checker{Resolver: &dnscheck.Client{Servers: []string{srv.Addr}}, Central: central}).Check(context.Background(), "chem.test")
	if err != nil || len(res.Targets) != dnscheck.MaxTargets || res.OK || res.Problems[0].Code != dnscheck.ProblemTooMany {
		t.Fatalf("%v %d targets %+v", err, len(res.Targets), res.Problems[:1])
	}
}

// A recursive resolver's cache hands out what is left of a TTL; with
// Authoritative the MX is asked of the zone's own name server, found
// through the resolver (NS of the zone, or the SOA's zone for a name
// below it), and the published TTL is reported.
func TestPublishedTTL(t *testing.T) {
	t.Parallel()
	published := zone("chem.test. 3600 IN MX 10 mx1.uni.test.", "lab.chem.test. 7200 IN MX 10 mx2.uni.test.",
		"chem.test. 3600 IN SOA ns.chem.test. hostmaster.chem.test. 1 3600 600 86400 300")
	auth := dnstest.Start(t, published...)
	_, port, _ := strings.Cut(auth.Addr, ":")
	cache := dnstest.Start(t, append(published, "chem.test. 3600 IN NS ns.chem.test.", "ns.chem.test. 3600 IN A 127.0.0.1")...)
	cache.AsCache(1000)

	plain := &dnscheck.Checker{Resolver: &dnscheck.Client{Servers: []string{cache.Addr}}, Central: central}
	res, err := plain.Check(context.Background(), "chem.test")
	if err != nil || res.TTL == nil || *res.TTL != 2600 || res.Authoritative || !strings.Contains(res.Explain(), "as the resolver's cache holds it") {
		t.Fatalf("through the cache: %v %+v", err, res)
	}
	c := &dnscheck.Checker{Resolver: &dnscheck.Client{Servers: []string{cache.Addr}, Authoritative: true, NSPort: port}, Central: central}
	for domain, want := range map[string]uint32{"chem.test": 3600, "lab.chem.test": 7200} {
		res, err := c.Check(context.Background(), domain)
		if err != nil || res.TTL == nil || *res.TTL != want || !res.Authoritative || !res.OK {
			t.Fatalf("%s from the zone's server: %v %+v", domain, err, res)
		}
	}
	if auth.Queries("MX", "lab.chem.test") != 1 {
		t.Errorf("the zone's server was asked %d times for lab.chem.test", auth.Queries("MX", "lab.chem.test"))
	}
	// The zone's server down: the resolver's answer, marked as a cache's.
	c.Resolver = &dnscheck.Client{Servers: []string{cache.Addr}, Authoritative: true, NSPort: "1", Timeout: 300 * time.Millisecond}
	if res, err := c.Check(context.Background(), "chem.test"); err != nil || *res.TTL != 2600 || res.Authoritative {
		t.Fatalf("fallback: %v %+v", err, res)
	}
}
