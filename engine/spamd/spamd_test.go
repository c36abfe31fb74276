package spamd_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine/spamd"
)

// serve runs a spamd speaking SPAMC/1.5 on 127.0.0.1:0 that scores GTUBE
// 1000 and everything else 0.5.
func serve(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				first, _ := r.ReadString('\n')
				n := 0
				for {
					l, _ := r.ReadString('\n')
					l = strings.TrimSpace(l)
					if l == "" {
						break
					}
					if v, ok := strings.CutPrefix(l, "Content-length: "); ok {
						n, _ = strconv.Atoi(v)
					}
				}
				body := make([]byte, n)
				io.ReadFull(r, body)
				switch {
				case strings.HasPrefix(first, "PING"):
					io.WriteString(conn, "SPAMD/1.5 0 PONG\r\n")
				case strings.Contains(string(body), "GTUBE"):
					io.WriteString(conn, "SPAMD/1.1 0 EX_OK\r\nSpam: True ; 1000.0 / 5.0\r\n\r\n")
				default:
					io.WriteString(conn, "SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.5 / 5.0\r\n\r\n")
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func TestSpamd(t *testing.T) {
	t.Parallel()
	c := &spamd.Client{Addr: serve(t), Timeout: 5 * time.Second}
	ctx := context.Background()
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := c.Check(ctx, []byte("Subject: x\r\n\r\nXJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n"))
	if err != nil || !r.Spam || r.Score != 1000 || r.Threshold != 5 {
		t.Fatalf("%+v %v", r, err)
	}
	r, err = c.Check(ctx, []byte("Subject: x\r\n\r\nhello\r\n"))
	if err != nil || r.Spam || r.Score != 0.5 {
		t.Fatalf("%+v %v", r, err)
	}
	down := &spamd.Client{Addr: "127.0.0.1:1", Timeout: time.Second}
	if _, err := down.Check(ctx, []byte("x")); err == nil {
		t.Fatal("no error from a closed port")
	}
}
