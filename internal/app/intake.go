package app

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"strings"

	"github.com/uni-mail/postvakt/engine/complaint"
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
	v, err := nextVerdict(ctx, f.next, env, msg)
	if err != nil {
		return v, err
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
	v, err := nextVerdict(ctx, f.next, env, msg)
	if err != nil {
		return v, err
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

// complaintIntakeFilter hands a message for content.complaints.address,
// as the content filter (next) lets it through, to the complaints
// service. Every complaint is delivered to the address's mailbox as
// usual; one that carries no spam or cannot be stored is logged and
// proposes nothing (a complaint is never answered 451: its rules are a
// proposal, not a record the sender must not lose).
type complaintIntakeFilter struct {
	address    string
	complaints *complaint.Service
	next       smtpserver.ContentFilter // nil: accept
	logger     *slog.Logger
}

var _ smtpserver.ContentFilter = complaintIntakeFilter{}

func (f complaintIntakeFilter) Filter(ctx context.Context, env smtpserver.Envelope, msg smtpserver.Message) (smtpserver.Verdict, error) {
	v, err := nextVerdict(ctx, f.next, env, msg)
	if err != nil {
		return v, err
	}
	// Forwarded spam looks like spam: a complaint the filter quarantined
	// (it matched rules already accepted, say) is still a complaint.
	quarantined := v.Action == smtpserver.Discard && v.Quarantined
	if (v.Action != smtpserver.Accept && !quarantined) ||
		!slices.ContainsFunc(env.Rcpts, func(r string) bool { return strings.EqualFold(strings.Trim(r, "<>"), f.address) }) {
		return v, nil
	}
	var body io.Reader = io.NewSectionReader(msg, 0, msg.Size())
	if !quarantined {
		if body, err = smtpserver.StoredReader(env, v, msg); err != nil {
			f.logger.Warn("spam complaint not read", "err", err)
			return v, nil
		}
	}
	if c, err := f.complaints.Intake(ctx, body); err != nil {
		f.logger.Info("spam complaint proposes nothing", "reason", err)
	} else {
		f.logger.Info("spam complaint taken", "complaint", c.ID, "rules", len(c.Rules))
	}
	return v, nil
}

// nextVerdict is the verdict of the filter an intake wraps: next's, or
// Accept when there is none. Each intake acts on mail only after it.
func nextVerdict(ctx context.Context, next smtpserver.ContentFilter, env smtpserver.Envelope, msg smtpserver.Message) (smtpserver.Verdict, error) {
	if next == nil {
		return smtpserver.Verdict{Action: smtpserver.Accept}, nil
	}
	return next.Filter(ctx, env, msg)
}
