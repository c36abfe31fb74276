// Command baseline is the yardstick of docs/performance.md: a bare go-smtp
// server with no policy, no directory and no metrics. By default it reads
// DATA and discards it (the bound of the SMTP layer alone); with -fsync DIR
// it writes each message to a file of its own in DIR and fsyncs it before
// the 250, as a server that makes each message durable before it
// acknowledges it must (the bound of one fsync per message on this disk);
// with -sqlite FILE it stores each message as one row of one table in an
// SQLite database (the driver postvakt uses, WAL, synchronous=FULL) and
// commits concurrent sessions' messages together, one transaction and one
// fsync per group, before their 250 (the bound of any server that keeps
// its mail in SQLite on this machine: no index but the row ID, no
// transaction log, no policy). postvakt's MX is measured against all three
// (engine/loadgen/bench.sh).
//
//	go run ./engine/loadgen/baseline -listen 127.0.0.1:2727
//	go run ./engine/loadgen/baseline -listen 127.0.0.1:2728 -fsync /tmp/fsync-spool
//	go run ./engine/loadgen/baseline -listen 127.0.0.1:2729 -sqlite /tmp/baseline.db
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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
)

type session struct {
	dir   string
	db    *groupCommitter
	from  string
	rcpts []string
}

var seq atomic.Uint64

func (s *session) Reset()        { s.from, s.rcpts = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.rcpts = append(s.rcpts, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	if s.db != nil {
		body, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		return s.db.commit(&row{at: time.Now().UnixMicro(), from: s.from, rcpt: strings.Join(s.rcpts, "\n"), body: body})
	}
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

// newServer is the baseline server: it discards DATA, or fsyncs it into a
// file in dir, or commits it through gc.
func newServer(addr, dir string, gc *groupCommitter) *smtp.Server {
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{dir: dir, db: gc}, nil }))
	s.Addr = addr
	s.Domain = "baseline.invalid"
	s.MaxMessageBytes = 25 << 20
	s.AllowInsecureAuth = true
	return s
}

func main() {
	listen := flag.String("listen", "127.0.0.1:2727", "address to listen on")
	dir := flag.String("fsync", "", "write each message to a file in this directory and fsync it before 250 (default: discard)")
	dbPath := flag.String("sqlite", "", "store each message as a row in this SQLite database, group-committed before 250 (default: discard)")
	flag.Parse()
	if *dir != "" && *dbPath != "" {
		log.Fatal("baseline: -fsync and -sqlite exclude each other")
	}
	if *dir != "" {
		if err := os.MkdirAll(*dir, 0o700); err != nil {
			log.Fatal(err)
		}
	}
	var gc *groupCommitter
	if *dbPath != "" {
		var err error
		if gc, err = openGroupCommitter(*dbPath); err != nil {
			log.Fatal(err)
		}
		defer gc.close()
	}
	s := newServer(*listen, *dir, gc)
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
