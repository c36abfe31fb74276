package abusedetect

import (
	"context"

	"github.com/uni-mail/postvakt/collectors/logparse"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// Stream is the Detector as the collectors' pipeline drives it: it
// implements ingest.Detector (collectors/ingest/detect.go states the
// contract: every line's event in merged time order, then every login,
// message and transaction-log record, each once, in import and serve
// alike). It turns the records into the Detector's Login and Message
// observations; Line and Outcome are where single-line signals (policy and
// rate-limit rejects, warnings) enter the rules.
type Stream struct{ D *Detector }

// Line observes one parsed log line.
func (s Stream) Line(context.Context, logparse.Event) {}

// Login observes one login record.
func (s Stream) Login(ctx context.Context, l *txlog.Login) {
	if l.Source == txlog.SourceDovecotAuth {
		return // Postfix logs the outcome of the same attempt itself
	}
	s.D.Login(ctx, Login{At: l.Time, Node: l.Node, User: l.User, IP: l.RemoteIP, OK: l.OK})
}

// Message observes one message record: messages that entered from a
// client, sent by an account or to recipients.
func (s Stream) Message(ctx context.Context, m *txlog.MessageRow) {
	if m.Received > 0 && (m.AuthUser != "" || m.NRcpt > 0) {
		s.D.Message(ctx, Message{At: m.FirstSeen, Node: m.Node, User: m.AuthUser, MessageID: m.MessageID, Recipients: m.NRcpt})
	}
}

// Outcome observes one transaction-log row.
func (s Stream) Outcome(context.Context, *txlog.Row) {}
