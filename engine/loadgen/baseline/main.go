// Command baseline is the yardstick of docs/performance.md: a bare go-smtp
// server that accepts every message and discards it, with no policy, no
// storage and no metrics. postvakt's MX is measured against it.
//
//	go run ./engine/loadgen/baseline -listen 127.0.0.1:2727
package main

import (
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"

	"github.com/emersion/go-smtp"
)

type session struct{}

func (session) Reset()                               {}
func (session) Logout() error                        { return nil }
func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (session) Data(r io.Reader) error               { _, err := io.Copy(io.Discard, r); return err }

func main() {
	listen := flag.String("listen", "127.0.0.1:2727", "address to listen on")
	flag.Parse()
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return session{}, nil }))
	s.Addr = *listen
	s.Domain = "baseline.invalid"
	s.MaxMessageBytes = 25 << 20
	s.AllowInsecureAuth = true
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM)
		<-ch
		s.Close()
	}()
	if err := s.ListenAndServe(); err != nil && err != smtp.ErrServerClosed {
		log.Fatal(err)
	}
}
