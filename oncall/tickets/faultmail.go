package tickets

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
)

// FaultMail is one message for the fault-address intake, as the engine's
// content filter leaves it.
type FaultMail struct {
	// Rcpts are the envelope recipients (RFC 5321 forward-paths, with or
	// without the angle brackets).
	Rcpts []string
	// Accepted is true when the content filter lets the message through
	// to the mailboxes, clean or tagged; refused, discarded and deferred
	// mail is not.
	Accepted bool
	// Headers are the header lines the content filter adds, such as
	// "X-Spam-Flag: YES" on tagged spam.
	Headers []string
	// Message is the RFC 5322 message as it is delivered, read at most
	// once (the engine streams it from its spool).
	Message io.Reader
}

// IntakeResult is what becomes of the message at the engine.
type IntakeResult struct {
	// Defer is true when the message must be answered 451 so that the
	// sender retries: the intake could not store it.
	Defer bool
	// Reason says why, for the engine's log.
	Reason string
}

// FaultIntake is the rule for mail to tickets.fault_address
// (docs/tickets.md, "Intake"). A message for the address that the content
// filter accepted goes to the ticket intake (Service.Intake: a new report
// opens a ticket, a reply becomes a comment on its ticket), unless the
// filter tagged it as spam (X-Spam-Flag: YES, as SpamAssassin and the
// engine's content scanner mark it): spam, viruses and refused attachments
// open no ticket. A message the intake ignores on purpose (ErrIgnored:
// an automatic reply per RFC 3834 §5 — Auto-Submitted other than "no",
// Precedence bulk, junk or list, a bounce — that matches no ticket, or
// mail from the fault address itself, a loop) or cannot read
// (ErrUnreadable: no From, not a message) is accepted and dropped from the intake: it is
// logged and counted, delivered to the fault address's mailbox as usual,
// and never answered 451, which would have its sender retry for days and
// hold back its other recipients. Any other error (the ticket could not be
// stored) defers the message, so that the sender retries and no report is
// lost.
//
// The engine's content-filter interface is adapted to it in the wiring
// (internal/app), so that neither this package nor the engine imports the
// other.
type FaultIntake struct {
	// Address is tickets.fault_address; empty takes nothing.
	Address string
	// Intake takes one message: Service.Intake.
	Intake func(ctx context.Context, msg io.Reader) (ticketID string, created bool, err error)
	// Logger logs each report taken and each deferral; nil discards.
	Logger *slog.Logger
}

// Take applies the rule to m.
func (f FaultIntake) Take(ctx context.Context, m FaultMail) IntakeResult {
	if !m.Accepted || !f.forUs(m.Rcpts) || taggedSpam(m.Headers) {
		return IntakeResult{}
	}
	log := f.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id, created, err := f.Intake(ctx, m.Message)
	switch {
	case errors.Is(err, ErrIgnored):
		log.Info("fault intake: message ignored, accepted without a ticket", "reason", err)
		return IntakeResult{}
	case errors.Is(err, ErrUnreadable):
		log.Warn("fault intake: message unreadable, accepted without a ticket", "reason", err)
		return IntakeResult{}
	case err != nil:
		log.Error("fault intake: ticket not stored, message deferred", "err", err)
		return IntakeResult{Defer: true, Reason: "fault intake: " + err.Error()}
	}
	log.Info("fault report by e-mail", "ticket", id, "new", created)
	return IntakeResult{}
}

// forUs reports whether the fault address is among the recipients.
func (f FaultIntake) forUs(rcpts []string) bool {
	if f.Address == "" {
		return false
	}
	for _, r := range rcpts {
		if strings.EqualFold(strings.Trim(r, "<>"), f.Address) {
			return true
		}
	}
	return false
}

// taggedSpam reports whether the content filter marked the message as spam.
func taggedSpam(headers []string) bool {
	for _, h := range headers {
		if strings.EqualFold(strings.TrimSpace(h), "X-Spam-Flag: YES") {
			return true
		}
	}
	return false
}
