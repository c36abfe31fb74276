package dnsbl_test

import (
	"context"
	"net/netip"
	"testing"

	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/dnsbl/dnsbltest"
)

func TestQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ip, want string }{
		{"192.0.2.99", "99.2.0.192.zen.example."},
		{"::ffff:192.0.2.99", "99.2.0.192.zen.example."},
		{"2001:db8:1:2::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2.zen.example."},
	} {
		if got := dnsbl.Query(netip.MustParseAddr(tc.ip), "zen.example"); got != tc.want {
			t.Errorf("Query(%s) = %s, want %s", tc.ip, got, tc.want)
		}
	}
}

func TestCheckAgainstLoopbackDNS(t *testing.T) {
	t.Parallel()
	srv, err := dnsbltest.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.List("2.0.0.127.bl.example")
	c := &dnsbl.Checker{Zones: []string{"clean.example", "bl.example"}, Resolver: srv.Resolver()}
	res, err := c.Check(context.Background(), netip.MustParseAddr("127.0.0.2"))
	if err != nil || !res.Listed || res.Zone != "bl.example" {
		t.Fatalf("listed: %+v, %v", res, err)
	}
	res, err = c.Check(context.Background(), netip.MustParseAddr("127.0.0.3"))
	if err != nil || res.Listed {
		t.Fatalf("clean: %+v, %v", res, err)
	}
}
