package app

import (
	"context"

	"github.com/uni-mail/postvakt/engine/smtpserver"
	"github.com/uni-mail/postvakt/oncall/integration"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// faultIntakeFilter adapts the tickets' fault-address intake rule
// (tickets.FaultIntake) to the engine's content-filter interface: it runs
// after the content filter (next) and answers 451 when the rule defers the
// message.
type faultIntakeFilter struct {
	intake tickets.FaultIntake
	next   smtpserver.ContentFilter // nil: accept
}

var _ smtpserver.ContentFilter = faultIntakeFilter{}

func (f faultIntakeFilter) Filter(ctx context.Context, env smtpserver.Envelope, msg smtpserver.Message) (smtpserver.Verdict, error) {
	v := smtpserver.Verdict{Action: smtpserver.Accept}
	if f.next != nil {
		var err error
		if v, err = f.next.Filter(ctx, env, msg); err != nil {
			return v, err
		}
	}
	body, err := smtpserver.StoredReader(env, v, msg)
	if err != nil {
		return smtpserver.Verdict{Action: smtpserver.Tempfail, Reason: "fault intake: " + err.Error()}, nil
	}
	r := f.intake.Take(ctx, tickets.FaultMail{Rcpts: env.Rcpts, Accepted: v.Action == smtpserver.Accept, Headers: v.Headers, Message: body})
	if r.Defer {
		return smtpserver.Verdict{Action: smtpserver.Tempfail, Reason: r.Reason}, nil
	}
	return v, nil
}

// incidentMailFilter adapts the on-call incident-address intake
// (integration.MailIntake) to the engine's content-filter interface, as
// faultIntakeFilter does for tickets.
type incidentMailFilter struct {
	intake *integration.MailIntake
	next   smtpserver.ContentFilter // nil: accept
}

var _ smtpserver.ContentFilter = incidentMailFilter{}

func (f incidentMailFilter) Filter(ctx context.Context, env smtpserver.Envelope, msg smtpserver.Message) (smtpserver.Verdict, error) {
	v := smtpserver.Verdict{Action: smtpserver.Accept}
	if f.next != nil {
		var err error
		if v, err = f.next.Filter(ctx, env, msg); err != nil {
			return v, err
		}
	}
	body, err := smtpserver.StoredReader(env, v, msg)
	if err != nil {
		return smtpserver.Verdict{Action: smtpserver.Tempfail, Reason: "incident intake: " + err.Error()}, nil
	}
	r := f.intake.Take(ctx, integration.Mail{Rcpts: env.Rcpts, Accepted: v.Action == smtpserver.Accept, Headers: v.Headers, Message: body})
	if r.Defer {
		return smtpserver.Verdict{Action: smtpserver.Tempfail, Reason: r.Reason}, nil
	}
	return v, nil
}
