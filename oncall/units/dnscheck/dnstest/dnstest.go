// Package dnstest is a tiny authoritative DNS server on 127.0.0.1 for
// tests: it answers from a zone the test sets and changes (MX, A, AAAA,
// CNAME records with their TTLs), over UDP and TCP on the same port, with
// the AA bit set and NXDOMAIN for names it has no record of. Answers
// larger than 512 octets over UDP without EDNS0 come back truncated, so
// a client's TCP fallback is exercised.
package dnstest

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// Server is a running authoritative server.
type Server struct {
	// Addr is host:port, the same for UDP and TCP.
	Addr string

	mu      sync.Mutex
	records []dns.RR
	queries map[string]int
	cache   bool
}

// AsCache makes the server answer like a recursive resolver's cache: the
// AA bit clear and every TTL lowered by the seconds given, as if that long
// had passed since the record was cached.
func (s *Server) AsCache(elapsed uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache = true
	for _, rr := range s.records {
		h := rr.Header()
		h.Ttl -= min(h.Ttl, elapsed)
	}
}

// Start starts a server on 127.0.0.1 with the zone in records (zone-file
// lines such as "unit.test. 3600 IN MX 10 mail.unit.test."); it stops when
// the test ends.
func Start(t testing.TB, records ...string) *Server {
	t.Helper()
	s := &Server{queries: map[string]int{}}
	s.Set(t, records...)
	// A free UDP port whose TCP twin is free too: other tests hold TCP
	// ports, so try a few.
	var (
		pc  net.PacketConn
		l   net.Listener
		err error
	)
	for range 50 {
		if pc, err = net.ListenPacket("udp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if l, err = net.Listen("tcp", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = pc.LocalAddr().String()
	udp := &dns.Server{PacketConn: pc, Handler: s}
	tcp := &dns.Server{Listener: l, Handler: s}
	go func() { _ = udp.ActivateAndServe() }()
	go func() { _ = tcp.ActivateAndServe() }()
	t.Cleanup(func() { _ = udp.Shutdown(); _ = tcp.Shutdown() })
	return s
}

// Set replaces the zone.
func (s *Server) Set(t testing.TB, records ...string) {
	t.Helper()
	var rrs []dns.RR
	for _, line := range records {
		rr, err := dns.NewRR(line)
		if err != nil {
			t.Fatalf("dnstest: record %q: %v", line, err)
		}
		rrs = append(rrs, rr)
	}
	s.mu.Lock()
	s.records = rrs
	s.mu.Unlock()
}

// Queries returns how many questions of type qtype ("MX", "A") for name
// were asked, over either transport.
func (s *Server) Queries(qtype, name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queries[qtype+" "+dns.Fqdn(strings.ToLower(name))]
}

// ServeDNS answers from the zone.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	s.mu.Lock()
	m.Authoritative = !s.cache
	s.mu.Unlock()
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	s.mu.Lock()
	s.queries[dns.TypeToString[q.Qtype]+" "+name]++
	exists := false
	for range 8 {
		var next string
		for _, rr := range s.records {
			h := rr.Header()
			if strings.ToLower(h.Name) != name {
				continue
			}
			exists = true
			if h.Rrtype == q.Qtype {
				m.Answer = append(m.Answer, dns.Copy(rr))
			} else if cn, ok := rr.(*dns.CNAME); ok {
				m.Answer = append(m.Answer, dns.Copy(rr))
				next = strings.ToLower(cn.Target)
			}
		}
		if next == "" {
			break
		}
		name = next
	}
	if len(m.Answer) == 0 {
		// NODATA or NXDOMAIN: the SOA of the enclosing zone in the
		// authority section (RFC 2308 §2).
		for _, rr := range s.records {
			if soa, ok := rr.(*dns.SOA); ok && dns.IsSubDomain(strings.ToLower(soa.Hdr.Name), strings.ToLower(q.Name)) {
				m.Ns = append(m.Ns, dns.Copy(rr))
			}
		}
	}
	s.mu.Unlock()
	if !exists {
		m.Rcode = dns.RcodeNameError
	}
	size := 512
	if o := req.IsEdns0(); o != nil {
		size = int(o.UDPSize())
		m.SetEdns0(o.UDPSize(), false)
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		m.Truncate(size)
	}
	_ = w.WriteMsg(m)
}
