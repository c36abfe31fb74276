// Package policy owns the engine's list matching: sets of client networks
// (whitelisted servers, local networks allowed to submit without AUTH minus
// excluded ranges such as guest Wi-Fi, trusted systems) and sets of
// addresses or domains (whitelisted senders and recipients, trusted
// senders). The order the checks run in is the session's (smtpserver).
package policy

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/engine/addr"
)

// badEntry is the error for entry i of the list at key: a *validate.Error
// whose key is relative to the smtp section, e.g. "whitelist.clients[2]".
func badEntry(key string, i int, value, msg string) error {
	return validate.Field(fmt.Sprintf("%s[%d]", key, i), value, msg)
}

// NetSet is a set of IP prefixes.
type NetSet []netip.Prefix

// ParseNetSet parses CIDRs or single addresses; key names the config key in
// errors (e.g. "local_networks").
func ParseNetSet(key string, items []string) (NetSet, error) {
	var s NetSet
	for i, it := range items {
		it = strings.TrimSpace(it)
		if !strings.Contains(it, "/") {
			a, err := netip.ParseAddr(it)
			if err != nil {
				return nil, badEntry(key, i, it, "is not an IP address or CIDR")
			}
			s = append(s, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(it)
		if err != nil {
			return nil, badEntry(key, i, it, "is not an IP address or CIDR")
		}
		s = append(s, p.Masked())
	}
	return s, nil
}

// Contains reports whether ip is in the set.
func (s NetSet) Contains(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range s {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Networks is an allow set minus an exclude set: "local networks except
// guest Wi-Fi".
type Networks struct {
	Allow, Except NetSet
}

// Contains reports whether ip is allowed and not excluded.
func (n Networks) Contains(ip netip.Addr) bool {
	return n.Allow.Contains(ip) && !n.Except.Contains(ip)
}

// AddrSet matches addresses: an entry is a full address ("it@uni.example")
// or a domain ("@uni.example" or "uni.example"), case-insensitive.
type AddrSet struct {
	addrs   map[string]bool
	domains map[string]bool
}

// ParseAddrSet parses entries; key names the config key in errors.
func ParseAddrSet(key string, items []string) (AddrSet, error) {
	s := AddrSet{addrs: map[string]bool{}, domains: map[string]bool{}}
	for i, it := range items {
		it = strings.TrimSpace(it)
		if d, ok := strings.CutPrefix(it, "@"); ok || !strings.Contains(it, "@") {
			if !ok {
				d = it
			}
			nd, err := addr.ParseDomain(d)
			if err != nil {
				return AddrSet{}, badEntry(key, i, it, "is not an address or domain")
			}
			s.domains[nd] = true
			continue
		}
		a, err := addr.Parse(it)
		if err != nil {
			return AddrSet{}, badEntry(key, i, it, "is not an address or domain")
		}
		s.addrs[a.Key()] = true
	}
	return s, nil
}

// Contains reports whether a matches an address or domain entry.
func (s AddrSet) Contains(a addr.Address) bool {
	if len(s.addrs) == 0 && len(s.domains) == 0 {
		return false
	}
	return s.addrs[a.Key()] || s.domains[a.Domain]
}

// Len is the number of entries.
func (s AddrSet) Len() int { return len(s.addrs) + len(s.domains) }
