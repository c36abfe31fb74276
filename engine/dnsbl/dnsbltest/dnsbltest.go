// Package dnsbltest runs a tiny authoritative DNS server on 127.0.0.1 for
// tests: it answers A queries for listed names with 127.0.0.2 and NXDOMAIN
// otherwise, and gives a *net.Resolver that asks only it.
package dnsbltest

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"sync"
)

// Server is a loopback DNS server.
type Server struct {
	pc     net.PacketConn
	mu     sync.Mutex
	listed map[string]bool
}

// Start listens on 127.0.0.1:0 (UDP). Close it when done.
func Start() (*Server, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{pc: pc, listed: map[string]bool{}}
	go s.serve()
	return s, nil
}

// Addr is the server's address.
func (s *Server) Addr() string { return s.pc.LocalAddr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.pc.Close() }

// List makes name (e.g. "2.0.0.127.zen.example.") resolve to 127.0.0.2.
func (s *Server) List(name string) {
	s.mu.Lock()
	s.listed[strings.ToLower(strings.TrimSuffix(name, "."))] = true
	s.mu.Unlock()
}

// Resolver returns a pure-Go resolver that sends every query to s.
func (s *Server) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", s.Addr())
	}}
}

func (s *Server) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := s.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := s.answer(buf[:n]); resp != nil {
			_, _ = s.pc.WriteTo(resp, from)
		}
	}
}

func (s *Server) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:6]) != 1 {
		return nil
	}
	// Question name.
	i := 12
	var labels []string
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if l&0xc0 != 0 || i+1+l > len(q) {
			return nil
		}
		labels = append(labels, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	i++ // zero label
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i : i+2])
	qend := i + 4
	name := strings.ToLower(strings.Join(labels, "."))
	s.mu.Lock()
	listed := s.listed[name]
	s.mu.Unlock()

	resp := make([]byte, 0, qend+16)
	resp = append(resp, q[0], q[1]) // ID
	flags := uint16(0x8400)         // QR, AA
	flags |= uint16(q[2]&0x01) << 8 // RD copied
	if !listed {
		flags |= 3 // NXDOMAIN
	}
	resp = binary.BigEndian.AppendUint16(resp, flags)
	resp = binary.BigEndian.AppendUint16(resp, 1) // QDCOUNT
	an := uint16(0)
	if listed && qtype == 1 {
		an = 1
	}
	resp = binary.BigEndian.AppendUint16(resp, an)
	resp = append(resp, 0, 0, 0, 0) // NS, AR
	resp = append(resp, q[12:qend]...)
	if an == 1 {
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 2)
	}
	return resp
}
