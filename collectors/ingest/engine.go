package ingest

import (
	"net/netip"
	"strings"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/engine/event"
)

// EngineRecords turns the events of postvakt's own engine (engine/event)
// into transaction-log, message and login records. Engine events need no
// correlation: a Transaction is a message, a Recipient, a Relay or a
// Quarantine step an outcome of one recipient, an Auth a login. Queue IDs
// are unique per node, so the message key is node/queue ID, and every
// later step of a message (the relay queue's attempts, the quarantine's
// release) carries the same key.
//
// The same records are written either by the engine's own commits (the
// journal: internal/app connects Records to the engine's store, so they
// are in the mail's database transaction) or, without it, by the pipeline
// from the events it is sent.
type EngineRecords struct {
	local []netip.Prefix
}

// NewEngineRecords returns the mapping; local are the networks whose
// unauthenticated mail counts as sent by the organisation (Postfix
// mynetworks).
func NewEngineRecords(local []netip.Prefix) *EngineRecords {
	return &EngineRecords{local: local}
}

// Records returns the records of evs.
func (c *EngineRecords) Records(evs []event.Event) txlog.Batch {
	var b txlog.Batch
	for _, ev := range evs {
		c.Append(&b, ev)
	}
	return b
}

func (c *EngineRecords) isLocal(ip string) bool {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, n := range c.local {
		if n.Contains(a) {
			return true
		}
	}
	return false
}

// direction of mail that came in on listener from clientIP, authenticated
// as authUser: sent by the organisation (outbound) or from outside.
//
// The listener decides, not the client address: mail submitted
// (submission, submissions) or authenticated is the organisation's; mail
// received unauthenticated on the MX listener is from outside, whatever
// address it came from. The engine's local networks may use submission
// without AUTH (engine.Config.LocalNetworks) but have no privilege on the
// MX listener, so a client on 127.0.0.1 or a campus address that talks to
// the MX is delivering mail like any other MTA (RFC 6409 §1 keeps the two
// apart). Only when the listener is not known does a local client address
// count as the organisation's.
func (c *EngineRecords) direction(listener, authUser, clientIP string) txlog.Direction {
	switch {
	case authUser != "" || listener == "submission" || listener == "submissions":
		return txlog.Outbound
	case listener != "":
		return txlog.Inbound
	case c.isLocal(clientIP):
		return txlog.Outbound
	}
	return txlog.Inbound
}

func engineService(listener string) string {
	if listener == "mx" {
		return "smtp"
	}
	return listener
}

func engineKey(node, queueID string) string {
	if queueID == "" {
		return ""
	}
	return node + "/" + queueID
}

// Journaled reports whether the engine's journal writes ev's records (in
// the engine's own commit): accepted messages that were stored or
// quarantined, their recipients' outcomes, and every relay-queue and
// quarantine step. Refusals, discarded messages and AUTH attempts are
// written from the events.
func Journaled(ev event.Event) bool {
	switch e := ev.(type) {
	case *event.Transaction:
		return e.Code >= 200 && e.Code < 300 && e.QueueID != "" &&
			(e.Disposition == event.Stored || e.Disposition == event.Quarantined)
	case *event.Recipient:
		return e.Outcome != event.OutcomeRefused
	case *event.Relay, *event.Quarantine:
		return true
	}
	return false
}

// Append appends ev's records to b; it reports false for an event that
// has none (an abuse alarm).
func (c *EngineRecords) Append(b *txlog.Batch, ev event.Event) bool {
	switch e := ev.(type) {
	case *event.Transaction:
		c.transaction(b, e)
	case *event.Recipient:
		c.recipient(b, e)
	case *event.Relay:
		c.relay(b, e)
	case *event.Quarantine:
		c.quarantine(b, e)
	case *event.Auth:
		s := e.Session
		b.Logins = append(b.Logins, txlog.Login{Time: e.At, Node: s.Node, Source: txlog.SourceEngine, Service: engineService(s.Listener),
			User: e.Username, RemoteIP: s.ClientIP, Method: e.Mechanism, Session: s.ID, TLS: s.TLS, OK: e.Success, Reason: e.Reason})
	default:
		return false
	}
	return true
}

func (c *EngineRecords) transaction(b *txlog.Batch, e *event.Transaction) {
	s := e.Session
	dir := c.direction(s.Listener, s.AuthUser, s.ClientIP)
	accepted := e.Code >= 200 && e.Code < 300
	key := engineKey(s.Node, e.QueueID)
	msgID := strings.Trim(e.MessageID, "<>")
	if accepted {
		if key == "" {
			return
		}
		state := "accepted"
		switch e.Disposition {
		case event.Quarantined:
			state = "quarantined"
		case event.Discarded:
			state = "discarded"
		}
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: e.At, LastSeen: e.At, Node: s.Node,
			Source: txlog.SourceEngine, Direction: dir, MsgKey: key, Origin: "engine", Service: s.Listener,
			State: state, QueueIDs: []string{e.QueueID}, MessageID: msgID, MailFrom: e.MailFrom,
			HeaderFrom: e.HeaderFrom, Subject: e.Subject, Size: e.Size, NRcpt: len(e.Rcpts), ClientIP: s.ClientIP,
			Helo: s.HELO, AuthUser: s.AuthUser, Received: 1, AuthResults: e.AuthResults, OriginalFrom: e.OriginalFrom})
		if e.Disposition == event.Discarded || e.Disposition == event.Quarantined {
			// no Recipient events follow: one outcome per recipient
			status, reply := txlog.StatusDiscarded, "accepted and discarded by the content filter"
			if e.Disposition == event.Quarantined {
				status, reply = txlog.StatusQuarantined, "kept in the quarantine"
			}
			for _, rc := range e.Rcpts {
				b.Rows = append(b.Rows, txlog.Row{Time: e.At, Node: s.Node, Source: txlog.SourceEngine, Direction: dir,
					MsgKey: key, QueueID: e.QueueID, MessageID: msgID, MailFrom: e.MailFrom, Rcpt: rc, HeaderFrom: e.HeaderFrom,
					Subject: e.Subject, Size: e.Size, ClientIP: s.ClientIP, Helo: s.HELO, AuthUser: s.AuthUser,
					Status: status, Code: e.Code, DSN: e.Enhanced, Reply: reply, Agent: "content-filter"})
			}
		}
		return
	}
	// Refused at DATA: one outcome per recipient accepted at RCPT; the
	// MX's SPF/DKIM/DMARC results beside the reason when it checked them.
	reply := e.Reason
	if e.AuthResults != "" {
		reply += " (" + e.AuthResults + ")"
	}
	rcpts := e.Rcpts
	if len(rcpts) == 0 {
		rcpts = []string{""}
	}
	for _, rc := range rcpts {
		b.Rows = append(b.Rows, txlog.Row{Time: e.At, Node: s.Node, Source: txlog.SourceEngine, Direction: dir,
			QueueID: e.QueueID, MessageID: msgID, MailFrom: e.MailFrom, Rcpt: rc,
			HeaderFrom: e.HeaderFrom, Subject: e.Subject, Size: e.Size, ClientIP: s.ClientIP, Helo: s.HELO,
			AuthUser: s.AuthUser, Status: txlog.StatusRejected, Stage: "DATA", Code: e.Code, DSN: e.Enhanced,
			Reply: reply, Agent: "engine"})
	}
}

func (c *EngineRecords) recipient(b *txlog.Batch, e *event.Recipient) {
	s := e.Session
	dir := c.direction(s.Listener, s.AuthUser, s.ClientIP)
	row := txlog.Row{Time: e.At, Node: s.Node, Source: txlog.SourceEngine, MsgKey: engineKey(s.Node, e.QueueID),
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
		// accepted into the relay queue: not delivered yet; the queue's
		// steps follow (Relay)
		row.Status, row.Agent = txlog.StatusQueued, "relay-queue"
		row.Reply = "queued for delivery to " + e.Target
		row.Direction = txlog.Outbound
		if dir == txlog.Inbound {
			row.Direction = txlog.Relayed
		}
	default:
		row.Status, row.Reply = txlog.StatusDeferred, "unknown outcome "+string(e.Outcome)
	}
	b.Rows = append(b.Rows, row)
}

func (c *EngineRecords) relay(b *txlog.Batch, e *event.Relay) {
	key := engineKey(e.Node, e.QueueID)
	dir := txlog.Relayed
	if e.DSNFor != "" || (e.Listener == "" && e.AuthUser == "" && e.ClientIP == "") {
		dir = txlog.Outbound // the mail system's own (a notification, or origin unknown)
	}
	if c.direction(e.Listener, e.AuthUser, e.ClientIP) == txlog.Outbound {
		dir = txlog.Outbound
	}
	if e.Step == event.RelayQueued && e.DSNFor != "" {
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: e.At, LastSeen: e.At, Node: e.Node, Source: txlog.SourceEngine,
			Direction: txlog.Outbound, MsgKey: key, Origin: "bounce", Service: "relay-queue", State: "accepted",
			QueueIDs: []string{e.QueueID}, MailFrom: e.MailFrom, Size: e.Size, NRcpt: 1})
	}
	row := txlog.Row{Time: e.At, Node: e.Node, Source: txlog.SourceEngine, Direction: dir, MsgKey: key, QueueID: e.QueueID,
		MailFrom: e.MailFrom, Rcpt: e.Target, Size: e.Size, ClientIP: e.ClientIP, AuthUser: e.AuthUser, Code: e.Code,
		DSN: e.Enhanced, Reply: e.Reply, Relay: e.Remote, Agent: "relay-queue"}
	if e.Rcpt != "" && !strings.EqualFold(e.Rcpt, e.Target) {
		row.OrigRcpt = e.Rcpt
	}
	switch e.Step {
	case event.RelayQueued:
		row.Status = txlog.StatusQueued
		if e.DSNFor != "" {
			row.Reply = "delivery status notification for " + e.DSNFor
		}
	case event.RelayHeld:
		row.Status = txlog.StatusHeld
	case event.RelayReleased:
		row.Status = txlog.StatusReleased
	case event.RelayDeleted:
		row.Status = txlog.StatusDeleted
	case event.RelayDeferred:
		row.Status, row.Agent = txlog.StatusDeferred, e.Agent
	case event.RelayDelivered:
		row.Status, row.Agent = txlog.StatusSent, e.Agent
	case event.RelayBounced:
		row.Status, row.Agent = txlog.StatusBounced, e.Agent
	case event.RelayExpired:
		row.Status, row.Agent = txlog.StatusExpired, e.Agent
	default:
		return
	}
	b.Rows = append(b.Rows, row)
}

func (c *EngineRecords) quarantine(b *txlog.Batch, e *event.Quarantine) {
	key := engineKey(e.Node, e.QueueID)
	msgID := strings.Trim(e.MessageID, "<>")
	dir := c.direction(e.Listener, e.AuthUser, e.ClientIP)
	row := func(rcpt, status, agent, reply string) txlog.Row {
		return txlog.Row{Time: e.At, Node: e.Node, Source: txlog.SourceEngine, Direction: dir, MsgKey: key, QueueID: e.QueueID,
			MessageID: msgID, MailFrom: e.MailFrom, Rcpt: rcpt, HeaderFrom: e.HeaderFrom, Subject: e.Subject, Size: e.Size,
			ClientIP: e.ClientIP, AuthUser: e.AuthUser, Status: status, Reply: reply, Agent: agent}
	}
	switch e.Step {
	case event.QuarantineAdded:
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: e.At, LastSeen: e.At, Node: e.Node, Source: txlog.SourceEngine,
			Direction: dir, MsgKey: key, Origin: "engine", Service: e.Listener, State: "quarantined", QueueIDs: []string{e.QueueID},
			MessageID: msgID, MailFrom: e.MailFrom, HeaderFrom: e.HeaderFrom, Subject: e.Subject, Size: e.Size,
			NRcpt: len(e.Rcpts), ClientIP: e.ClientIP, AuthUser: e.AuthUser, AVVerdict: "Quarantined " + strings.ToUpper(e.Reason),
			Received: 1})
		for _, rc := range e.Rcpts {
			b.Rows = append(b.Rows, row(rc, txlog.StatusQuarantined, "quarantine", strings.TrimSpace(e.Reason+": "+e.Detail)))
		}
	case event.QuarantineReleased:
		for _, rc := range e.Rcpts {
			b.Rows = append(b.Rows, row(rc, txlog.StatusReleased, "quarantine", "released from the quarantine"))
		}
		for _, mb := range e.Mailboxes {
			r := row(mb, txlog.StatusSent, "local", "released from the quarantine")
			r.Direction = txlog.Inbound
			if dir == txlog.Outbound {
				r.Direction = txlog.Internal
			}
			b.Rows = append(b.Rows, r)
		}
	case event.QuarantineDeleted, event.QuarantineExpired:
		reply := "deleted from the quarantine"
		if e.Step == event.QuarantineExpired {
			reply = "deleted from the quarantine at the end of its retention"
		}
		for _, rc := range e.Rcpts {
			b.Rows = append(b.Rows, row(rc, txlog.StatusDeleted, "quarantine", reply))
		}
	}
}

// Engine adds one event of postvakt's own engine: its records count in the
// metrics and go to the detector; they are written unless the engine's
// journal writes them (Options.EngineJournal and Journaled).
func (p *Pipeline) Engine(ev event.Event) {
	p.m.LinesRead.WithLabelValues(SourceEngine).Inc()
	r0, m0, l0 := len(p.batch.Rows), len(p.batch.Messages), len(p.batch.Logins)
	if !p.engine.Append(&p.batch, ev) {
		p.m.LinesUnknown.WithLabelValues(SourceEngine, "other").Inc()
		return
	}
	p.m.LinesParsed.WithLabelValues(SourceEngine).Inc()
	for i := m0; i < len(p.batch.Messages); i++ {
		m := &p.batch.Messages[i]
		if m.Received > 0 {
			dm := p.dirMetrics(m.Direction)
			dm.messages.Inc()
			dm.received.Add(float64(m.Size))
		}
		if p.o.Detector != nil {
			p.o.Detector.Message(p.ctx, m)
		}
	}
	for i := r0; i < len(p.batch.Rows); i++ {
		r := &p.batch.Rows[i]
		switch r.Status {
		case txlog.StatusGreylisted:
			p.m.Greylist.WithLabelValues("greylisted").Inc()
		case txlog.StatusSent, txlog.StatusDeferred, txlog.StatusBounced, txlog.StatusExpired, txlog.StatusRejected, txlog.StatusDiscarded:
			p.recipient(r.Direction, r.Status)
		}
		if p.o.Detector != nil {
			p.o.Detector.Outcome(p.ctx, r)
		}
	}
	for i := l0; i < len(p.batch.Logins); i++ {
		l := &p.batch.Logins[i]
		p.countLogin(l)
		if p.o.Detector != nil {
			p.o.Detector.Login(p.ctx, l)
		}
	}
	if p.o.EngineJournal && Journaled(ev) {
		clear(p.batch.Rows[r0:])
		clear(p.batch.Messages[m0:])
		clear(p.batch.Logins[l0:])
		p.batch.Rows, p.batch.Messages, p.batch.Logins = p.batch.Rows[:r0], p.batch.Messages[:m0], p.batch.Logins[:l0]
	}
}
