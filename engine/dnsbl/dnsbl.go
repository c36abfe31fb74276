// Package dnsbl owns DNS blocklist lookups (RFC 5782): a client IP is
// listed on a zone when its reversed address under the zone has an A record
// in 127.0.0.0/8. The resolver is injected, so tests point it at a DNS
// server on loopback (dnsbltest) and production at the site's DNS cache.
package dnsbl

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Resolver is the part of *net.Resolver the checker needs.
type Resolver interface {
	LookupHost(ctx context.Context, host string) ([]string, error)
}

// Checker looks a client up on DNSBL zones.
type Checker struct {
	Zones    []string
	Resolver Resolver
	Timeout  time.Duration // per lookup; default 2 s
}

// Result says on which zone, if any, a client is listed.
type Result struct {
	Listed bool
	Zone   string
}

// Query is the RFC 5782 §2.1/§2.4 query name of ip under zone.
func Query(ip netip.Addr, zone string) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.", a[3], a[2], a[1], a[0])
	} else {
		a := ip.As16()
		const hex = "0123456789abcdef"
		for i := 15; i >= 0; i-- {
			b.WriteByte(hex[a[i]&0xf])
			b.WriteByte('.')
			b.WriteByte(hex[a[i]>>4])
			b.WriteByte('.')
		}
	}
	b.WriteString(strings.TrimSuffix(zone, "."))
	b.WriteByte('.')
	return b.String()
}

// Check queries every zone concurrently. A zone that answers NXDOMAIN (or no
// 127/8 address) does not list the client; lookup failures are returned
// joined, beside any listing found, so the caller can fail open and count.
func (c *Checker) Check(ctx context.Context, ip netip.Addr) (Result, error) {
	if len(c.Zones) == 0 || c.Resolver == nil || !ip.IsValid() {
		return Result{}, nil
	}
	to := c.Timeout
	if to <= 0 {
		to = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, to)
	defer cancel()
	type answer struct {
		zone   string
		listed bool
		err    error
	}
	out := make([]answer, len(c.Zones))
	var wg sync.WaitGroup
	for i, z := range c.Zones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addrs, err := c.Resolver.LookupHost(ctx, Query(ip, z))
			var dnsErr *net.DNSError
			if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
				err = nil
			}
			out[i] = answer{zone: z, err: err}
			for _, a := range addrs {
				if p, perr := netip.ParseAddr(a); perr == nil && p.Is4() && p.As4()[0] == 127 {
					out[i].listed = true
				}
			}
		}()
	}
	wg.Wait()
	var res Result
	var errs []error
	for _, a := range out {
		if a.listed && !res.Listed {
			res = Result{Listed: true, Zone: a.zone}
		}
		if a.err != nil {
			errs = append(errs, fmt.Errorf("dnsbl %s: %w", a.zone, a.err))
		}
	}
	return res, errors.Join(errs...)
}
