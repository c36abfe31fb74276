package policy_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/policy"
)

func TestNetworks(t *testing.T) {
	t.Parallel()
	allow, err := policy.ParseNetSet("local_networks", []string{"10.0.0.0/8", "2001:db8::/32", "192.0.2.7"})
	if err != nil {
		t.Fatal(err)
	}
	except, _ := policy.ParseNetSet("local_networks_except", []string{"10.99.0.0/16"})
	n := policy.Networks{Allow: allow, Except: except}
	for ip, want := range map[string]bool{
		"10.1.2.3": true, "10.99.1.1": false, "::ffff:10.1.2.3": true, "192.0.2.7": true, "192.0.2.8": false,
		"2001:db8::1": true, "2001:db9::1": false,
	} {
		if got := n.Contains(netip.MustParseAddr(ip)); got != want {
			t.Errorf("%s: %v, want %v", ip, got, want)
		}
	}
	if _, err := policy.ParseNetSet("whitelist.clients", []string{"10.0.0.0/8", "eduroam"}); err == nil || !strings.Contains(err.Error(), `whitelist.clients[1]: "eduroam"`) {
		t.Errorf("err = %v", err)
	}
}

func TestAddrSet(t *testing.T) {
	t.Parallel()
	s, err := policy.ParseAddrSet("trusted.senders", []string{"StudentSystem@uni.example", "@lms.uni.example", "hr.uni.example"})
	if err != nil {
		t.Fatal(err)
	}
	for a, want := range map[string]bool{
		"studentsystem@uni.example": true, "other@uni.example": false, "x@lms.uni.example": true, "y@HR.uni.example": true,
	} {
		p, _ := addr.Parse(a)
		if got := s.Contains(p); got != want {
			t.Errorf("%s: %v, want %v", a, got, want)
		}
	}
	if (policy.AddrSet{}).Contains(addr.Address{Local: "a", Domain: "b"}) {
		t.Error("empty set matched")
	}
}
