package txlogstore

import (
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// The session log (mail_sessions): one row per ended IMAP or POP3 session
// with the messages it read, written with the other logs of a batch.

var sessionColumns = []string{"ts", "node", "source", "service", "username", "session", "remote_ip", "reads", "read_bytes"}

// appendSession appends s's values in the order of sessionColumns.
func appendSession(dst []any, s *txlog.Session) []any {
	return append(dst, storage.Micros(s.Time), s.Node, s.Source, s.Service, s.User, s.Session, s.RemoteIP, s.Reads, s.ReadBytes)
}

// sessionRow appends s in the order of sessionColumns (as appendSession).
func (c *copyBuf) sessionRow(s *txlog.Session) {
	c.tuple(len(sessionColumns))
	c.i64(storage.Micros(s.Time))
	c.text(s.Node)
	c.text(s.Source)
	c.text(s.Service)
	c.text(s.User)
	c.text(s.Session)
	c.text(s.RemoteIP)
	c.i64(s.Reads)
	c.i64(s.ReadBytes)
}
