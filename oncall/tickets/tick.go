package tickets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/oncall/sla"
)

// Tick is the thin loop over the pure clocks, run by a scheduler job every
// 30 seconds (single-flight across replicas): for every ticket that is not
// closed it refreshes the stored clocks, pages the pre-breach warning once
// a clock passes the policy's warn_percent, escalates a breach, and pages
// a reminder about the unclosed ticket every reminder_every while the
// policy's calendar is open. A page that fails is retried on the next tick.
func (s *Service) Tick(ctx context.Context, now time.Time) error {
	ids, err := s.o.Store.TicketActiveIDs(ctx)
	if err != nil {
		return fmt.Errorf("ticket tick: %w", err)
	}
	var errs []error
	for _, id := range ids {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := s.tickOne(ctx, id, now); err != nil {
			errs = append(errs, fmt.Errorf("ticket %d: %w", id, err))
		}
	}
	return errors.Join(errs...)
}

type mark struct {
	kind  string // EvWarning, EvBreach, EvReminder
	clock string
	start time.Time
	body  string
}

func (s *Service) tickOne(ctx context.Context, id int64, now time.Time) error {
	t, err := s.o.Store.TicketGet(ctx, id)
	if err != nil {
		return err
	}
	timeline, err := s.o.Store.TicketEvents(ctx, id)
	if err != nil {
		return err
	}
	c, err := s.policy(ctx, t.PolicyVersion)
	if err != nil {
		return err
	}
	if closed, err := s.closeQuiet(ctx, t, now); closed || err != nil {
		return err
	}
	if err := s.recompute(ctx, &t, timeline, now); err != nil {
		return err
	}
	var marks []mark
	warnAt := float64(c.Policy().WarnPercent)
	for _, ck := range t.Clocks {
		switch {
		case ck.Status == string(sla.Breached) && ck.BreachedAt.IsZero():
			body := fmt.Sprintf("%s SLA breached: due %s", ck.Kind, s.when(ck.Due, c))
			if ck.Stopped.IsZero() {
				if err := s.page(ctx, t, ck, PageBreach, body); err != nil {
					s.o.Logger.Warn("page SLA breach; retrying next tick", "ticket", t.ID, "clock", ck.Kind, "err", err)
					continue
				}
			}
			s.o.Metrics.breach(ck.Kind)
			marks = append(marks, mark{EvBreach, ck.Kind, ck.Start, body})
		case (ck.Status == string(sla.Running) || ck.Status == string(sla.Paused)) &&
			ck.WarnedAt.IsZero() && ck.Percent >= warnAt:
			body := fmt.Sprintf("%s SLA at %.0f %% of %s: due %s", ck.Kind, ck.Percent, ck.Target, s.when(ck.Due, c))
			if err := s.page(ctx, t, ck, PageWarning, body); err != nil {
				s.o.Logger.Warn("page SLA warning; retrying next tick", "ticket", t.ID, "clock", ck.Kind, "err", err)
				continue
			}
			s.o.Metrics.warn(ck.Kind)
			marks = append(marks, mark{EvWarning, ck.Kind, ck.Start, body})
		}
	}
	if every := s.o.Config.ReminderEvery; every > 0 && t.State != StateClosed && c.Calendar().IsOpen(now) {
		last := t.OpenedAt
		if t.LastReminderAt.After(last) {
			last = t.LastReminderAt
		}
		if now.Sub(last) >= every {
			body := fmt.Sprintf("ticket is still %s after %s; close it when done", t.State, now.Sub(t.OpenedAt).Round(time.Minute))
			if err := s.page(ctx, t, Clock{}, PageReminder, body); err != nil {
				s.o.Logger.Warn("page ticket reminder; retrying next tick", "ticket", t.ID, "err", err)
			} else {
				marks = append(marks, mark{kind: EvReminder, body: body})
			}
		}
	}
	_, err = s.o.Store.TicketChange(ctx, id, func(t *Ticket, timeline []Event) ([]Event, error) {
		if err := s.recompute(ctx, t, timeline, now); err != nil {
			return nil, err
		}
		var evs []Event
		for _, m := range marks {
			evs = append(evs, Event{At: now, Actor: "postvakt", Kind: m.kind, Body: m.body})
			if m.kind == EvReminder {
				t.LastReminderAt = now
				continue
			}
			for i := range t.Clocks {
				ck := &t.Clocks[i]
				if ck.Kind != m.clock || !ck.Start.Equal(m.start) {
					continue
				}
				if m.kind == EvBreach {
					ck.BreachedAt = now
				}
				ck.WarnedAt = orTime(ck.WarnedAt, now)
			}
		}
		return evs, nil
	})
	return err
}

// orTime returns a, or b when a is zero.
func orTime(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}

func (s *Service) page(ctx context.Context, t Ticket, ck Clock, kind, body string) error {
	if s.o.Pager == nil {
		s.o.Logger.Warn("ticket page (no pager wired)", "kind", kind, "ticket", t.ID, "assignee", t.Assignee, "msg", body)
		return nil
	}
	url := ""
	if s.o.BaseURL != "" {
		url = fmt.Sprintf("%s/api/v1/tickets/%d", s.o.BaseURL, t.ID)
	}
	return s.o.Pager.Page(ctx, PageRequest{
		Kind: kind, TicketID: ID(t.ID), Title: t.Title, Service: t.Service, Severity: t.Severity,
		Assignee: t.Assignee, Clock: ck.Kind, Due: ck.Due, Escalate: kind == PageBreach,
		DedupKey: dedupKey(t, ck, kind, s.o.Now()),
		Message:  fmt.Sprintf("[#%d] %s: %s", t.ID, t.Title, body), URL: url,
	})
}

// dedupKey is stable per ticket, kind, clock and clock start; reminders
// get one per day.
func dedupKey(t Ticket, ck Clock, kind string, now time.Time) string {
	if kind == PageReminder {
		return fmt.Sprintf("ticket-%d-reminder-%s", t.ID, now.UTC().Format(time.DateOnly))
	}
	return fmt.Sprintf("ticket-%d-%s-%s-%d", t.ID, kind, ck.Kind, ck.Start.Unix())
}
