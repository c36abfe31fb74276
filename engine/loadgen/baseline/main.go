// Command baseline is the yardstick of docs/performance.md: a bare go-smtp
// server with no policy, no directory and no metrics. By default it reads
// DATA and discards it (the bound of the SMTP layer alone); with -fsync DIR
// it writes each message to a file of its own in DIR and fsyncs it before
// the 250, as a server that makes each message durable before it
// acknowledges it must (the bound of one fsync per message on this disk).
// postvakt's MX is measured against both (engine/loadgen/bench.sh).
//
//	go run ./engine/loadgen/baseline -listen 127.0.0.1:2727
//	go run ./engine/loadgen/baseline -listen 127.0.0.1:2728 -fsync /tmp/fsync-spool
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/emersion/go-smtp"
)

type session struct{ dir string }

var seq atomic.Uint64

func (session) Reset()                               {}
func (session) Logout() error                        { return nil }
func (session) Mail(string, *smtp.MailOptions) error { return nil }
func (session) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (s session) Data(r io.Reader) error {
	if s.dir == "" {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	name := filepath.Join(s.dir, fmt.Sprintf("%d", seq.Add(1)))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

func main() {
	listen := flag.String("listen", "127.0.0.1:2727", "address to listen on")
	dir := flag.String("fsync", "", "write each message to a file in this directory and fsync it before 250 (default: discard)")
	flag.Parse()
	if *dir != "" {
		if err := os.MkdirAll(*dir, 0o700); err != nil {
			log.Fatal(err)
		}
	}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return session{dir: *dir}, nil }))
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
