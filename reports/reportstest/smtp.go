package reportstest

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Message is one message the test SMTP server accepted.
type Message struct {
	From string
	To   []string
	Data []byte
}

// SMTPServer is a real SMTP server (go-smtp) on 127.0.0.1 that stores
// every message it accepts. Fail, when set, is the reply to DATA.
type SMTPServer struct {
	Addr string

	mu   sync.Mutex
	msgs []Message
	fail []error
}

// StartSMTP starts an SMTPServer for the life of t.
func StartSMTP(t testing.TB) *SMTPServer {
	t.Helper()
	s := &SMTPServer{}
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{srv: s}, nil }))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			t.Errorf("smtp server: %v", err)
		}
	}()
	t.Cleanup(func() { srv.Close(); <-done })
	return s
}

// FailNext makes the next DATA commands fail with errs, in order.
func (s *SMTPServer) FailNext(errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, errs...)
}

// Messages returns the accepted messages.
func (s *SMTPServer) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

type session struct {
	srv  *SMTPServer
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }
func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}
func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}
func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if len(s.srv.fail) > 0 {
		err := s.srv.fail[0]
		s.srv.fail = s.srv.fail[1:]
		return err
	}
	s.srv.msgs = append(s.srv.msgs, Message{From: s.from, To: append([]string(nil), s.to...), Data: b})
	return nil
}
