package probe

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// probeOnce runs one target (no retries) with the default configuration.
func probeOnce(t *testing.T, tg Target) Result {
	t.Helper()
	if tg.Name == "" {
		tg.Name = "p"
	}
	if tg.Service == "" {
		tg.Service = "svc"
	}
	tg.Retries = intp(0)
	cfg := DefaultConfig()
	cfg.Timeout = 3 * time.Second
	cfg.Targets = []Target{tg}
	r := &Runner{Config: cfg, Getenv: env()}
	res, err := r.Probe(context.Background(), tg.Name)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestTCPProbe(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := l.Addr().String()
	if res := probeOnce(t, Target{Kind: KindTCP, Address: addr}); !res.OK || !slices.Equal(stepNames(res), []string{"connect"}) {
		t.Fatalf("open port: %+v", res)
	}
	l.Close()
	res := probeOnce(t, Target{Kind: KindTCP, Address: addr})
	if res.OK || !strings.Contains(res.Error, "connection refused") {
		t.Fatalf("closed port: ok=%v error=%q", res.OK, res.Error)
	}
}

func TestHTTPProbe(t *testing.T) {
	t.Parallel()
	pki := newPKI(t, t.TempDir(), time.Now().Add(30*24*time.Hour))
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<title>Webmail login</title>") })
	mux.HandleFunc("/old", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/", http.StatusFound) })
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = pki.serverConfig()
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	plain := httptest.NewServer(mux)
	defer plain.Close()

	for _, tc := range []struct {
		name    string
		target  Target
		wantErr string
		steps   []string
	}{
		{name: "https", target: Target{Address: srv.URL + "/", TLSCAFile: pki.caFile, ExpectBody: "Webmail login"},
			steps: []string{"connect", "tls", "response", "body"}},
		{name: "http", target: Target{Address: plain.URL + "/", ExpectBody: "Webmail"},
			steps: []string{"connect", "response", "body"}},
		{name: "redirect-not-followed", target: Target{Address: plain.URL + "/old", ExpectStatus: 302}},
		{name: "status", target: Target{Address: plain.URL + "/old"}, wantErr: "http: status 302, want 200"},
		{name: "body", target: Target{Address: plain.URL + "/", ExpectBody: "Roundcube"},
			wantErr: `http: the body does not contain "Roundcube"`},
		{name: "untrusted", target: Target{Address: srv.URL + "/"}, wantErr: "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tg := tc.target
			tg.Kind = KindHTTP
			res := probeOnce(t, tg)
			if tc.wantErr != "" {
				if res.OK || !strings.Contains(res.Error, tc.wantErr) {
					t.Fatalf("ok=%v error=%q, want %q", res.OK, res.Error, tc.wantErr)
				}
				return
			}
			if !res.OK {
				t.Fatalf("failed: %s %+v", res.Error, res.Steps)
			}
			if tc.steps != nil && !slices.Equal(stepNames(res), tc.steps) {
				t.Errorf("steps %v, want %v", stepNames(res), tc.steps)
			}
			if strings.HasPrefix(tg.Address, "https") && !res.CertExpiry.Equal(pki.notAfter) {
				t.Errorf("cert expiry %v, want %v", res.CertExpiry, pki.notAfter)
			}
		})
	}
}

// dnsServer is a tiny DNS responder on loopback UDP (RFC 1035 §4): it
// answers A queries for mail.example.edu with 192.0.2.25 after delay and
// NXDOMAIN for anything else.
type dnsServer struct {
	addr    string
	delay   atomic.Int64
	queries atomic.Int64
}

func startDNS(t *testing.T) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s := &dnsServer{addr: pc.LocalAddr().String()}
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := append([]byte(nil), buf[:n]...)
			go func() {
				s.queries.Add(1)
				time.Sleep(time.Duration(s.delay.Load()))
				if resp := dnsAnswer(q); resp != nil {
					_, _ = pc.WriteTo(resp, from)
				}
			}()
		}
	}()
	return s
}

func dnsAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels, then type and class.
	i, name := 12, []string{}
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		name = append(name, string(q[i+1:i+1+l]))
		i += 1 + l
	}
	i++
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]
	resp := make([]byte, 12, 64)
	copy(resp, q[:2])                                                                // ID
	flags := uint16(0x8000) | uint16(0x0100)&binary.BigEndian.Uint16(q[2:]) | 0x0080 // QR, RD copied, RA
	known := strings.EqualFold(strings.Join(name, "."), "mail.example.edu")
	if !known {
		flags |= 3 // NXDOMAIN
	}
	binary.BigEndian.PutUint16(resp[2:], flags)
	binary.BigEndian.PutUint16(resp[4:], 1) // QDCOUNT
	resp = append(resp, question...)
	if known && qtype == 1 {
		binary.BigEndian.PutUint16(resp[6:], 1) // ANCOUNT
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 25)
	}
	return resp
}

func TestDNSProbe(t *testing.T) {
	t.Parallel()
	s := startDNS(t)
	res := probeOnce(t, Target{Kind: KindDNS, Address: s.addr, Query: "mail.example.edu", MaxLatency: time.Second})
	if !res.OK || !strings.Contains(res.Steps[0].Detail, "192.0.2.25") {
		t.Fatalf("ok=%v error=%q steps=%+v", res.OK, res.Error, res.Steps)
	}
	res = probeOnce(t, Target{Kind: KindDNS, Address: s.addr, Query: "nowhere.example.edu"})
	if res.OK || !strings.Contains(res.Error, "dns: A nowhere.example.edu via "+s.addr) {
		t.Fatalf("unknown name: ok=%v error=%q", res.OK, res.Error)
	}
	s.delay.Store(int64(300 * time.Millisecond))
	res = probeOnce(t, Target{Kind: KindDNS, Address: s.addr, Query: "mail.example.edu", MaxLatency: 100 * time.Millisecond})
	if res.OK || !strings.Contains(res.Error, "more than max_latency 100ms") {
		t.Fatalf("slow: ok=%v error=%q", res.OK, res.Error)
	}
}
