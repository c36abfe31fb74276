package clamd_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/clamd"
	"github.com/uni-mail/postvakt/engine/clamd/clamdtest"
)

// eicar is the EICAR anti-virus test file (https://www.eicar.org), built
// from two halves so this source is not itself flagged.
var eicar = `X5O!P%@AP[4\PZX54(P^)7CC)7}$` + `EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

func TestRealClamd(t *testing.T) {
	t.Parallel()
	c, _ := clamdtest.Start(t)
	ctx := context.Background()
	v, err := c.Version(ctx)
	if err != nil || !strings.HasPrefix(v, "ClamAV") {
		t.Fatalf("VERSION = %q, %v", v, err)
	}
	res, err := c.ScanBytes(ctx, []byte("Subject: hi\r\n\r\n"+eicar+"\r\n"))
	if err != nil || !res.Infected || !strings.Contains(res.Signature, "Eicar") {
		t.Fatalf("scan EICAR = %+v, %v", res, err)
	}
	// A clean stream larger than one chunk.
	clean := []byte(strings.Repeat("clean line of text\r\n", 10000))
	c.ChunkSize = 4096
	res, err = c.ScanBytes(ctx, clean)
	if err != nil || res.Infected {
		t.Fatalf("scan clean = %+v, %v", res, err)
	}
}

func TestClamdDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := &clamd.Client{Network: "tcp", Addr: addr, Timeout: time.Second}
	if err := c.Ping(context.Background()); err == nil {
		t.Fatal("Ping to a closed port succeeded")
	}
	if _, err := c.ScanBytes(context.Background(), []byte("x")); err == nil {
		t.Fatal("Scan to a closed port succeeded")
	}
}

// TestProtocol checks the INSTREAM framing and reply parsing against a
// scripted TCP server (the wire format clamd(8) documents).
func TestProtocol(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 1<<20)
				var got []byte
				for {
					n, err := conn.Read(buf)
					got = append(got, buf[:n]...)
					if err != nil || strings.HasSuffix(string(got), "\x00\x00\x00\x00") || string(got) == "zPING\x00" {
						break
					}
				}
				switch {
				case string(got) == "zPING\x00":
					conn.Write([]byte("PONG\x00"))
				case strings.Contains(string(got), "EICAR"):
					conn.Write([]byte("stream: Eicar-Test-Signature FOUND\x00"))
				case strings.Contains(string(got), "big"):
					conn.Write([]byte("INSTREAM size limit exceeded. ERROR\x00"))
				default:
					conn.Write([]byte("stream: OK\x00"))
				}
			}()
		}
	}()
	c := &clamd.Client{Addr: ln.Addr().String(), Timeout: 5 * time.Second}
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if r, err := c.ScanBytes(ctx, []byte(eicar)); err != nil || !r.Infected || r.Signature != "Eicar-Test-Signature" {
		t.Fatalf("%+v %v", r, err)
	}
	if r, err := c.ScanBytes(ctx, []byte("hello")); err != nil || r.Infected {
		t.Fatalf("%+v %v", r, err)
	}
	if _, err := c.ScanBytes(ctx, []byte("big")); err == nil {
		t.Fatal("ERROR reply not an error")
	}
}
