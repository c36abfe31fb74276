package loadgen_test

import (
	"bytes"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/uni-mail/postvakt/engine/loadgen"
)

type discard struct{ n *atomic.Int64 }

func (discard) Reset()                               {}
func (discard) Logout() error                        { return nil }
func (discard) Mail(string, *smtp.MailOptions) error { return nil }
func (d discard) Rcpt(to string, _ *smtp.RcptOptions) error {
	if strings.HasPrefix(to, "reject") {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no"}
	}
	return nil
}
func (d discard) Data(r io.Reader) error { d.n.Add(1); _, err := io.Copy(io.Discard, r); return err }

func TestRun(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return discard{&n}, nil }))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	for _, reuse := range []bool{false, true} {
		var out bytes.Buffer
		var acked atomic.Int64
		res, err := loadgen.Run(t.Context(), loadgen.Options{Addr: l.Addr().String(), Concurrency: 4, Count: 40, Sizes: []int{100, 5000},
			To: []string{"a@x.example", "reject@x.example"}, Reuse: reuse, OnAccepted: func(string) { acked.Add(1) }}, &out)
		if err != nil || res.Attempted != 40 || res.Accepted != 20 || res.Rejected != 20 || acked.Load() != 20 {
			t.Fatalf("reuse=%v: %+v, %v", reuse, res, err)
		}
		if !strings.Contains(out.String(), "msgs/s") || !strings.Contains(out.String(), "p99") {
			t.Fatalf("output %q", out.String())
		}
	}
	if _, err := loadgen.Run(t.Context(), loadgen.Options{Addr: "192.0.2.1:25", To: []string{"a@b"}}, nil); err == nil {
		t.Fatal("non-loopback target accepted")
	}
}
