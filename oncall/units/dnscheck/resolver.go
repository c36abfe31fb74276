// Package dnscheck checks a unit's MX records before and after it moves
// onto the central mail service: it looks up the MX of each domain, the
// TTL it is published with and the A/AAAA of each target through the
// configured resolver, verifies that the MX points to the central service,
// and explains a wrong MX — which record, what it points to, what it
// should be, and how to fix it (docs/units.md "DNS checks").
//
// The look-ups use github.com/miekg/dns rather than the standard library's
// resolver, which hides TTLs: a query over UDP with EDNS0 (RFC 6891), and
// the same query over TCP when the answer comes back truncated (RFC 1035
// §4.2.1, RFC 7766 §5).
package dnscheck

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// MX is one MX record as published.
type MX struct {
	Host       string `json:"host"` // lower case, without the final dot
	Preference uint16 `json:"preference"`
	TTL        uint32 `json:"ttl"`
}

// Addr is one A or AAAA record.
type Addr struct {
	IP  string `json:"ip"`
	TTL uint32 `json:"ttl"`
}

// Answer is the answer to one question.
type Answer struct {
	// NXDomain: the name does not exist (RCODE 3, RFC 1035 §4.1.1).
	NXDomain bool
	// CNAME is the alias target when the name is an alias (RFC 1034
	// §3.6.2); the records below are then the target's.
	CNAME string
	// Authoritative: the AA bit was set, so the TTLs are the published
	// ones and not a cache's remaining time.
	Authoritative bool
	MX            []MX
	Addrs         []Addr
}

// Resolver looks up records with their TTLs.
type Resolver interface {
	MX(ctx context.Context, domain string) (Answer, error)
	Addrs(ctx context.Context, host string) (Answer, error)
}

// Client is a Resolver over DNS to configured servers, tried in order.
type Client struct {
	// Servers are host:port; empty: the nameservers of /etc/resolv.conf.
	Servers []string
	// Timeout bounds one query to one server; default 5 s.
	Timeout time.Duration
	// Authoritative asks MX questions of the domain's own name servers
	// (found through Servers: NS of the zone, RFC 1034 §4.3.2), without
	// recursion, so that the TTL is the one published and not what is
	// left of it in a cache. When none of them answers, Servers' answer
	// is used, marked as not authoritative.
	Authoritative bool
	// NSPort is the port the zones' name servers are asked on; default
	// 53 (tests change it).
	NSPort string
}

var _ Resolver = (*Client)(nil)

// ErrLookup wraps a failed look-up (no server answered, SERVFAIL, REFUSED).
var ErrLookup = errors.New("DNS look-up failed")

func (c *Client) servers() ([]string, error) {
	if len(c.Servers) > 0 {
		return c.Servers, nil
	}
	cfg, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("%w: no resolver configured and /etc/resolv.conf unreadable: %v", ErrLookup, err)
	}
	var out []string
	for _, s := range cfg.Servers {
		out = append(out, net.JoinHostPort(s, cfg.Port))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no nameserver in /etc/resolv.conf", ErrLookup)
	}
	return out, nil
}

// exchange asks the servers in turn: UDP with EDNS0, then TCP when the
// answer is truncated.
func (c *Client) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	servers, err := c.servers()
	if err != nil {
		return nil, err
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	m.SetEdns0(1232, false)
	var errs []error
	for _, srv := range servers {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r, err := c.ask(ctx, m, srv, "udp", timeout)
		if err == nil && r.Truncated {
			r, err = c.ask(ctx, m, srv, "tcp", timeout)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", srv, err))
			continue
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			errs = append(errs, fmt.Errorf("%s answered %s", srv, dns.RcodeToString[r.Rcode]))
			continue
		}
		return r, nil
	}
	return nil, fmt.Errorf("%w: %s %s: %w", ErrLookup, dns.TypeToString[qtype], name, errors.Join(errs...))
}

func (c *Client) ask(ctx context.Context, m *dns.Msg, srv, network string, timeout time.Duration) (*dns.Msg, error) {
	cl := &dns.Client{Net: network, Timeout: timeout}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, _, err := cl.ExchangeContext(ctx, m, srv)
	if err != nil {
		return nil, err
	}
	if r.Id != m.Id {
		return nil, errors.New("answer ID does not match the query")
	}
	return r, nil
}

func host(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// answer reads the answer section: the CNAME chain's last target and the
// records of qtype at the end of it.
func answer(r *dns.Msg, name string) Answer {
	a := Answer{NXDomain: r.Rcode == dns.RcodeNameError, Authoritative: r.Authoritative}
	owner := host(name)
	for range 8 { // follow at most 8 aliases in the answer
		moved := false
		for _, rr := range r.Answer {
			if cn, ok := rr.(*dns.CNAME); ok && host(cn.Hdr.Name) == owner {
				owner = host(cn.Target)
				a.CNAME = owner
				moved = true
			}
		}
		if !moved {
			break
		}
	}
	for _, rr := range r.Answer {
		if host(rr.Header().Name) != owner {
			continue
		}
		switch v := rr.(type) {
		case *dns.MX:
			a.MX = append(a.MX, MX{Host: host(v.Mx), Preference: v.Preference, TTL: v.Hdr.Ttl})
		case *dns.A:
			a.Addrs = append(a.Addrs, Addr{IP: v.A.String(), TTL: v.Hdr.Ttl})
		case *dns.AAAA:
			a.Addrs = append(a.Addrs, Addr{IP: v.AAAA.String(), TTL: v.Hdr.Ttl})
		}
	}
	return a
}

// MX implements Resolver.
func (c *Client) MX(ctx context.Context, domain string) (Answer, error) {
	if c.Authoritative {
		if a, ok := c.authoritativeMX(ctx, domain); ok {
			return a, nil
		}
	}
	r, err := c.exchange(ctx, domain, dns.TypeMX)
	if err != nil {
		return Answer{}, err
	}
	return answer(r, domain), nil
}

// Addrs implements Resolver: the A and then the AAAA records.
func (c *Client) Addrs(ctx context.Context, h string) (Answer, error) {
	var out Answer
	for _, t := range []uint16{dns.TypeA, dns.TypeAAAA} {
		r, err := c.exchange(ctx, h, t)
		if err != nil {
			return Answer{}, err
		}
		a := answer(r, h)
		out.NXDomain = out.NXDomain || a.NXDomain
		out.Authoritative = a.Authoritative
		if a.CNAME != "" {
			out.CNAME = a.CNAME
		}
		out.Addrs = append(out.Addrs, a.Addrs...)
		if a.NXDomain {
			break
		}
	}
	return out, nil
}

// zone finds the zone that holds name and its name servers: NS at the
// name, else the zone named by the SOA in the authority section of the
// answer (RFC 2308 §2), asked again.
func (c *Client) zone(ctx context.Context, name string) ([]string, error) {
	for range 4 {
		r, err := c.exchange(ctx, name, dns.TypeNS)
		if err != nil {
			return nil, err
		}
		var hosts []string
		for _, rr := range r.Answer {
			if ns, ok := rr.(*dns.NS); ok && host(ns.Hdr.Name) == host(name) {
				hosts = append(hosts, host(ns.Ns))
			}
		}
		if len(hosts) > 0 {
			return hosts, nil
		}
		next := ""
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				next = host(soa.Hdr.Name)
			}
		}
		if next == "" || next == host(name) {
			return nil, fmt.Errorf("%w: no name servers found for %s", ErrLookup, name)
		}
		name = next
	}
	return nil, fmt.Errorf("%w: zone of %s not found", ErrLookup, name)
}

// authoritativeMX asks the domain's name servers (at most four
// addresses) for its MX without recursion; ok is false when none gave an
// authoritative answer.
func (c *Client) authoritativeMX(ctx context.Context, domain string) (Answer, bool) {
	hosts, err := c.zone(ctx, domain)
	if err != nil {
		return Answer{}, false
	}
	port := c.NSPort
	if port == "" {
		port = "53"
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	tried := 0
	for _, h := range hosts {
		a, err := c.Addrs(ctx, h)
		if err != nil {
			continue
		}
		for _, ip := range a.Addrs {
			if tried == 4 || ctx.Err() != nil {
				return Answer{}, false
			}
			tried++
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(domain), dns.TypeMX)
			m.SetEdns0(1232, false)
			srv := net.JoinHostPort(ip.IP, port)
			r, err := c.ask(ctx, m, srv, "udp", timeout)
			if err == nil && r.Truncated {
				r, err = c.ask(ctx, m, srv, "tcp", timeout)
			}
			if err != nil || !r.Authoritative || (r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError) {
				continue
			}
			return answer(r, domain), true
		}
	}
	return Answer{}, false
}
