package app

import (
	"bytes"
	"context"
	"log/slog"
	"strings"

	"github.com/uni-mail/postvakt/engine/smtpserver"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// faultIntakeFilter hands every message for tickets.fault_address to the
// ticket intake (a new report opens a ticket, a reply threads into it) after
// the content filter has passed it: spam, viruses and refused mail open no
// ticket. The message is then delivered as usual, so the fault address
// (a mailbox or an alias in the directory) keeps a copy. If the ticket
// cannot be stored, the message is deferred (451) so that the sender
// retries and no report is lost.
type faultIntakeFilter struct {
	addr   string
	svc    *tickets.Service
	next   smtpserver.ContentFilter // nil: accept
	logger *slog.Logger
}

var _ smtpserver.ContentFilter = faultIntakeFilter{}

func (f faultIntakeFilter) Filter(ctx context.Context, env smtpserver.Envelope, msg []byte) (smtpserver.Verdict, error) {
	v := smtpserver.Verdict{Action: smtpserver.Accept}
	if f.next != nil {
		var err error
		if v, err = f.next.Filter(ctx, env, msg); err != nil {
			return v, err
		}
	}
	if v.Action != smtpserver.Accept || !f.forUs(env.Rcpts) {
		return v, nil
	}
	for _, h := range v.Headers {
		if strings.EqualFold(strings.TrimSpace(h), "X-Spam-Flag: YES") {
			return v, nil // tagged spam goes to the mailbox, not into a ticket
		}
	}
	body := msg
	if v.Body != nil {
		body = v.Body
	}
	id, created, err := f.svc.Intake(ctx, bytes.NewReader(body))
	if err != nil {
		f.logger.Error("fault intake: ticket not stored, message deferred", "err", err)
		return smtpserver.Verdict{Action: smtpserver.Tempfail, Reason: "fault intake: " + err.Error()}, nil
	}
	f.logger.Info("fault report by e-mail", "ticket", id, "new", created)
	return v, nil
}

func (f faultIntakeFilter) forUs(rcpts []string) bool {
	for _, r := range rcpts {
		if strings.EqualFold(strings.Trim(r, "<>"), f.addr) {
			return true
		}
	}
	return false
}
