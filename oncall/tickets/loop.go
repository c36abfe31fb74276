package tickets

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/notice"
)

// The closed loop (docs/tickets.md, "Closed loop"): every fault is a
// ticket until the reporter says it is solved. When a ticket is resolved
// its reporter gets a mail saying so; a reply to that mail (it is threaded
// by its Message-ID, which only the recipient knows) that says "not
// solved" reopens the ticket. A resolved ticket nobody reopens closes by
// itself tickets.close_after later, and the reporter gets a closing mail.

// notSolved finds the reporter's "not solved" in the new text of a reply
// (English or Norwegian; "ikke løst", "ikkje løyst").
var notSolved = regexp.MustCompile(`(?i)\b(not\s+(yet\s+)?(solved|fixed|resolved)|ikke\s+løst|ikkje\s+løyst)`)

// SaysNotSolved reports whether the new text of a reply says the fault is
// not solved.
func SaysNotSolved(text string) bool { return notSolved.MatchString(text) }

// reopenByReply reopens ticket id when the reply's new text says "not
// solved" and the ticket is resolved or closed; it reports whether it did.
func (s *Service) reopenByReply(ctx context.Context, id int64, from, text string) (bool, error) {
	if !SaysNotSolved(text) {
		return false, nil
	}
	t, err := s.o.Store.TicketGet(ctx, id)
	if err != nil {
		return false, err
	}
	if t.State != StateResolved && t.State != StateClosed {
		return false, nil
	}
	if _, err := s.Act(ctx, id, ActReopen, ActRequest{Actor: from, Note: "reopened: the reporter says it is not solved"}); err != nil {
		return false, err
	}
	return true, nil
}

// mailResolved tells the reporter that the ticket is resolved, with how to
// say "not solved" and when it closes by itself.
func (s *Service) mailResolved(ctx context.Context, t Ticket, note string) error {
	d := s.mailData(t)
	d.Body = strings.TrimSpace(note)
	if s.o.Config.CloseAfter > 0 {
		c, _ := s.policy(ctx, t.PolicyVersion) // nil: the service zone only
		d.Due = s.when(t.ResolvedAt.Add(s.o.Config.CloseAfter), c)
	} else {
		d.Due = "when we close it"
	}
	return s.mailReporter(ctx, t, "resolved", d)
}

// mailClosed tells the reporter that the ticket is closed.
func (s *Service) mailClosed(ctx context.Context, t Ticket) error {
	return s.mailReporter(ctx, t, "closed", s.mailData(t))
}

func (s *Service) mailReporter(ctx context.Context, t Ticket, tmpl string, d mailData) error {
	if s.o.Mailer == nil || s.o.Config.FaultAddress == "" || t.ReporterEmail == "" {
		return nil
	}
	subject, text, err := s.mails.render(t.Language, tmpl, d)
	if err != nil {
		return err
	}
	return s.sendToReporter(ctx, t, notice.Mail{
		From: s.o.Config.FaultAddress, To: []string{t.ReporterEmail}, Subject: subject, Date: s.o.Now(),
		MessageID: notice.NewMessageID(fmt.Sprintf("ticket-%d", t.ID), notice.DomainOf(s.o.Config.FaultAddress)),
		Text:      text, AutoSubmitted: true,
	})
}

// closeQuiet closes a resolved ticket whose quiet period has passed and
// mails the reporter; it reports whether it closed the ticket.
func (s *Service) closeQuiet(ctx context.Context, t Ticket, now time.Time) (bool, error) {
	after := s.o.Config.CloseAfter
	if after <= 0 || t.State != StateResolved || t.ResolvedAt.IsZero() || now.Sub(t.ResolvedAt) < after {
		return false, nil
	}
	ct, err := s.act(ctx, t.ID, ActClose, ActRequest{Actor: "postvakt",
		Note: fmt.Sprintf("closed automatically: no \"not solved\" from the reporter within %s of the resolution", after)})
	if err != nil {
		return false, err
	}
	if err := s.mailClosed(ctx, ct); err != nil {
		s.o.Logger.Warn("closing mail not sent to the reporter", "ticket", t.ID, "err", err)
	}
	return true, nil
}

// MarkDuplicate links ticket id as a duplicate of parent, a ticket of the
// same fault that is being handled (not resolved or closed, and not a
// duplicate itself). From then on the duplicate runs no SLA clocks of its
// own: its clocks are the parent's (the UK submission SLA exempts a fault
// that is already being handled).
func (s *Service) MarkDuplicate(ctx context.Context, id, parent int64, actor_ string) (Ticket, error) {
	if id == parent {
		return Ticket{}, invalid("a ticket cannot duplicate itself")
	}
	p, err := s.o.Store.TicketGet(ctx, parent)
	if err != nil {
		return Ticket{}, err
	}
	if p.State == StateResolved || p.State == StateClosed {
		return Ticket{}, fmt.Errorf("ticket #%d is %s, not being handled: %w", parent, p.State, ErrTransition)
	}
	if p.DuplicateOf() != 0 {
		return Ticket{}, invalid("ticket #%d is itself a duplicate of #%d; name that one", parent, p.DuplicateOf())
	}
	now := s.o.Now()
	t, err := s.o.Store.TicketChange(ctx, id, func(t *Ticket, timeline []Event) ([]Event, error) {
		if d := t.DuplicateOf(); d != 0 {
			return nil, invalid("ticket #%d is already a duplicate of #%d", t.ID, d)
		}
		if t.State == StateClosed {
			return nil, fmt.Errorf("ticket #%d is closed: %w", t.ID, ErrTransition)
		}
		t.Links = append(t.Links, Link{Kind: LinkDuplicateOf, Ref: ID(parent), Title: p.Title})
		t.UpdatedAt = now
		ev := Event{At: now, Actor: actor(actor_), Kind: EvLink,
			Body: fmt.Sprintf("%s %d: a duplicate of #%d, which is being handled; its SLA clocks are #%d's", LinkDuplicateOf, parent, parent, parent)}
		if err := s.recompute(ctx, t, append(timeline, ev), now); err != nil {
			return nil, err
		}
		return []Event{ev}, nil
	})
	if err != nil {
		return t, err
	}
	// The parent records its duplicate (ErrInvalid: it does already).
	if _, err := s.edit(ctx, parent, EditRequest{AddLinks: []Link{{Kind: LinkDuplicatedBy, Ref: ID(id), Title: t.Title}}, Actor: actor_}, now); err != nil &&
		!errors.Is(err, ErrInvalid) {
		return t, fmt.Errorf("link ticket %d back to %d: %w", parent, id, err)
	}
	return t, nil
}
