// Package smtpsink is a real SMTP server on a loopback port that stores
// every message it receives, for tests of code that sends mail (notice
// announcements, ticket acknowledgements) and of code that receives it
// (ticket intake). It is built on go-smtp's server, so the client side is
// exercised over a real TCP connection.
package smtpsink

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Message is one received message.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Sink is a running server; it stops when the test ends.
type Sink struct {
	Addr string

	mu     sync.Mutex
	msgs   []Message
	notify chan struct{}
	onData func(Message) error
}

// Start starts a sink on 127.0.0.1:0. onData, when not nil, is called on
// every DATA before the message is stored; its error is the SMTP reply.
func Start(t testing.TB, onData func(Message) error) *Sink {
	t.Helper()
	s := &Sink{notify: make(chan struct{}, 1), onData: onData}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return s
}

// Messages returns what has arrived so far.
func (s *Sink) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Wait waits until at least n messages have arrived or timeout passes.
func (s *Sink) Wait(n int, timeout time.Duration) ([]Message, error) {
	deadline := time.After(timeout)
	for {
		if m := s.Messages(); len(m) >= n {
			return m, nil
		}
		select {
		case <-s.notify:
		case <-deadline:
			return s.Messages(), fmt.Errorf("smtpsink: %d of %d messages after %s", len(s.Messages()), n, timeout)
		}
	}
}

type session struct {
	s    *Sink
	from string
	to   []string
}

func (ss *session) Reset()        { ss.from, ss.to = "", nil }
func (ss *session) Logout() error { return nil }
func (ss *session) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}
func (ss *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}
func (ss *session) Data(r io.Reader) error {
	var b bytes.Buffer
	if _, err := io.Copy(&b, r); err != nil {
		return err
	}
	m := Message{From: ss.from, To: append([]string(nil), ss.to...), Data: b.Bytes()}
	if ss.s.onData != nil {
		if err := ss.s.onData(m); err != nil {
			return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "not accepted"}
		}
	}
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, m)
	ss.s.mu.Unlock()
	select {
	case ss.s.notify <- struct{}{}:
	default:
	}
	return nil
}
