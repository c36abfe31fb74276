package ingest

import (
	"fmt"
	"strings"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/engine/event"
)

// Engine adds one event of postvakt's own engine (engine/event). Engine
// events need no correlation: a Transaction is a message, a Recipient an
// outcome, an Auth a login. Queue IDs are unique per node, so the message
// key is node/queue ID.
func (p *Pipeline) Engine(ev event.Event) {
	p.m.LinesRead.WithLabelValues(SourceEngine).Inc()
	p.m.LinesParsed.WithLabelValues(SourceEngine).Inc()
	switch e := ev.(type) {
	case *event.Transaction:
		p.engineTransaction(e)
	case *event.Recipient:
		p.engineRecipient(e)
	case *event.Auth:
		svc := engineService(e.Session.Listener)
		p.login(txlog.Login{Time: e.At, Node: e.Session.Node, Source: txlog.SourceEngine, Service: svc, User: e.Username,
			RemoteIP: e.Session.ClientIP, Method: e.Mechanism, Session: e.Session.ID, TLS: e.Session.TLS,
			OK: e.Success, Reason: e.Reason})
	default:
		p.m.LinesUnknown.WithLabelValues(SourceEngine, "other").Inc()
	}
}

func engineService(listener string) string {
	if listener == "mx" {
		return "smtp"
	}
	return listener
}

func engineKey(s event.Session, queueID string) string {
	if queueID == "" {
		return ""
	}
	return s.Node + "/" + queueID
}

func (p *Pipeline) engineDirection(s event.Session) txlog.Direction {
	if s.AuthUser != "" || s.Listener == "submission" || s.Listener == "submissions" || p.local(s.ClientIP) {
		return txlog.Outbound
	}
	return txlog.Inbound
}

func (p *Pipeline) engineTransaction(e *event.Transaction) {
	s := e.Session
	dir := p.engineDirection(s)
	accepted := e.Code >= 200 && e.Code < 300
	key := engineKey(s, e.QueueID)
	if accepted && key != "" {
		var qids []string
		if e.QueueID != "" {
			qids = []string{e.QueueID}
		}
		p.message(txlog.MessageRow{FirstSeen: e.At, LastSeen: e.At, Node: s.Node,
			Source: txlog.SourceEngine, Direction: dir, MsgKey: key, Origin: "engine", Service: s.Listener,
			State: "accepted", QueueIDs: qids, MessageID: strings.Trim(e.MessageID, "<>"), MailFrom: e.MailFrom,
			HeaderFrom: e.HeaderFrom, Subject: e.Subject, Size: e.Size, NRcpt: len(e.Rcpts), ClientIP: s.ClientIP,
			Helo: s.HELO, AuthUser: s.AuthUser, Received: 1})
		p.m.Messages.WithLabelValues(string(dir)).Inc()
		p.m.ReceivedBytes.WithLabelValues(string(dir)).Add(float64(e.Size))
		return
	}
	if accepted {
		return
	}
	// Refused at DATA: one outcome per recipient accepted at RCPT.
	rcpts := e.Rcpts
	if len(rcpts) == 0 {
		rcpts = []string{""}
	}
	for _, rc := range rcpts {
		p.outcome(txlog.Row{Time: e.At, Node: s.Node, Source: txlog.SourceEngine, Direction: dir,
			QueueID: e.QueueID, MessageID: strings.Trim(e.MessageID, "<>"), MailFrom: e.MailFrom, Rcpt: rc,
			HeaderFrom: e.HeaderFrom, Subject: e.Subject, Size: e.Size, ClientIP: s.ClientIP, Helo: s.HELO,
			AuthUser: s.AuthUser, Status: txlog.StatusRejected, Stage: "DATA", Code: e.Code, DSN: e.Enhanced,
			Reply: e.Reason, Agent: "engine"})
		p.m.Recipients.WithLabelValues(string(dir), txlog.StatusRejected).Inc()
	}
}

func (p *Pipeline) engineRecipient(e *event.Recipient) {
	s := e.Session
	dir := p.engineDirection(s)
	row := txlog.Row{Time: e.At, Node: s.Node, Source: txlog.SourceEngine, MsgKey: engineKey(s, e.QueueID),
		QueueID: e.QueueID, MailFrom: e.MailFrom, Rcpt: e.Rcpt, ClientIP: s.ClientIP, Helo: s.HELO, AuthUser: s.AuthUser,
		Code: e.Code, DSN: e.Enhanced, Reply: e.Reason, Agent: "engine"}
	if e.Target != "" && !strings.EqualFold(e.Target, e.Rcpt) {
		row.Rcpt, row.OrigRcpt = e.Target, e.Rcpt
	}
	switch e.Outcome {
	case event.OutcomeRefused:
		row.Stage = "RCPT"
		row.Status = txlog.StatusRejected
		row.MsgKey = ""
		if e.Reason == "greylisted" {
			row.Status = txlog.StatusGreylisted
			p.m.Greylist.WithLabelValues("greylisted").Inc()
		}
		row.Direction = dir
	case event.OutcomeDelivered, event.OutcomeTruncated:
		row.Status, row.Agent = txlog.StatusSent, "local"
		if e.Outcome == event.OutcomeTruncated {
			row.Reply = strings.TrimSpace("stored From and Subject only (over quota) " + e.Reason)
		}
		row.Direction = txlog.Inbound
		if dir == txlog.Outbound {
			row.Direction = txlog.Internal
		}
	case event.OutcomeQueued:
		row.Status, row.Agent = txlog.StatusSent, "relay-queue"
		row.Direction = txlog.Outbound
		if dir == txlog.Inbound {
			row.Direction = txlog.Relayed
		}
	default:
		row.Status, row.Reply = txlog.StatusDeferred, fmt.Sprintf("unknown outcome %q", e.Outcome)
	}
	p.outcome(row)
	if row.Status != txlog.StatusGreylisted {
		p.m.Recipients.WithLabelValues(string(row.Direction), row.Status).Inc()
	}
}
