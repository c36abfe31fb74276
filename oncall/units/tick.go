package units

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/uni-mail/postvakt/oncall/page"
)

// Tick does what is due at the service's now: each due step's reminder,
// once (Store.ClaimReminder), and the repeated MX checks of open MX check
// steps every units.recheck_every. A reminder that fails is released and
// tried again at the next tick. The scheduler runs it single-flight
// across replicas.
func (s *Service) Tick(ctx context.Context) error {
	now := s.o.Now()
	due, err := s.o.Store.DueSteps(ctx, DueQuery{Now: now, Recheck: []StepKind{StepMXCheck}, CheckedBefore: now.Add(-s.o.Config.RecheckEvery)})
	if err != nil {
		return err
	}
	var errs []error
	statuses := map[int64]Status{}
	for _, st := range due {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if st.Kind == StepSuccessNotice {
			continue // sent by the MX check when it passes (succeed)
		}
		status, ok := statuses[st.UnitID]
		if !ok {
			u, err := s.o.Store.GetUnit(ctx, st.UnitID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			status, statuses[st.UnitID] = u.Status, u.Status
		}
		if !st.Kind.dueIn(status) {
			continue
		}
		if st.RemindedAt.IsZero() {
			ok, err := s.o.Store.ClaimReminder(ctx, st.ID, now)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if ok {
				st.RemindedAt = now
				err := s.remind(ctx, st)
				s.o.Metrics.reminder(st.Kind, err == nil)
				if err != nil {
					errs = append(errs, fmt.Errorf("step %d (%s): %w", st.ID, st.Kind, err))
					if uerr := s.o.Store.UnclaimReminder(ctx, st.ID); uerr != nil {
						errs = append(errs, uerr)
					}
					continue
				}
				if st.Kind == StepMXCheck {
					continue // remind ran the first check
				}
			}
		}
		if st.Kind == StepMXCheck && (st.CheckedAt.IsZero() || now.Sub(st.CheckedAt) >= s.o.Config.RecheckEvery) {
			if _, err := s.CheckStep(ctx, st, SystemActor); err != nil {
				errs = append(errs, fmt.Errorf("MX check of unit %d: %w", st.UnitID, err))
			}
		}
	}
	return errors.Join(errs...)
}

// remind carries out a due step's reminder.
func (s *Service) remind(ctx context.Context, st Step) error {
	u, err := s.o.Store.GetUnit(ctx, st.UnitID)
	if err != nil {
		return err
	}
	switch st.Kind {
	case StepTTLReminder, StepTTLRestore:
		checks, err := s.check(ctx, u, st.ID, SystemActor)
		if err != nil {
			return err
		}
		tmpl := map[StepKind]string{StepTTLReminder: "ttl_reminder", StepTTLRestore: "ttl_restore"}[st.Kind]
		d := s.data(u)
		d.Checks = checks
		to := []string{u.NetAdmin.Address(), s.personAddress(st.Assignee)}
		if u.NetAdmin.Email == "" {
			return fmt.Errorf("unit %d has no network administrator's address", u.ID)
		}
		if err := s.mail(ctx, to, tmpl, d); err != nil {
			return err
		}
		_, err = s.finish(ctx, st, StepDone, SystemActor, "mailed to "+u.NetAdmin.Email+"; "+ttlSummary(checks))
		s.pageChannel(ctx, st, u, fmt.Sprintf("%s: %s (%s)", u.Name, st.Label, ttlSummary(checks)))
		return err
	case StepMXCheck:
		if u.Status == StatusPlanned {
			if _, err := s.SetStatus(ctx, u.ID, StatusMigrating, SystemActor); err != nil {
				return err
			}
		}
		s.pageChannel(ctx, st, u, fmt.Sprintf("%s: migration day — checking the MX every %s until it points to the central service", u.Name, s.o.Config.RecheckEvery))
		ev := s.event(u.ID, SystemActor, EventReminder, st.Label+": due, checks start")
		ev.StepID = st.ID
		if err := s.o.Store.AddEvents(ctx, ev); err != nil {
			return err
		}
		_, err := s.CheckStep(ctx, st, SystemActor)
		return err
	}
	// A step a person does: remind the assignee by mail and the team on
	// the on-call channels.
	d := s.data(u)
	d.Step = st
	var mailed string
	if to := s.personAddress(st.Assignee); to != "" {
		if err := s.mail(ctx, []string{to}, "reminder", d); err != nil {
			return err
		}
		mailed = "mailed to " + to
	}
	paged := s.pageChannel(ctx, st, u, fmt.Sprintf("%s: %s is due %s (assigned to %s)", u.Name, st.Label, s.when(st.DueAt), orNobody(st.Assignee)))
	if mailed == "" && !paged {
		return errors.New("no reminder channel: set units.team_address, an assignee with an address, or an on-call channel")
	}
	ev := s.event(u.ID, SystemActor, EventReminder, fmt.Sprintf("%s: reminder %s", st.Label, strings.Trim(mailed+"; on-call channels", "; ")))
	ev.StepID = st.ID
	return s.o.Store.AddEvents(ctx, ev)
}

// pageChannel posts to the team's on-call channels; it reports whether
// there are any. A failure is logged: the pipeline retries and records it.
func (s *Service) pageChannel(ctx context.Context, st Step, u Unit, text string) bool {
	if s.o.Page == nil {
		return false
	}
	m := page.Message{Key: fmt.Sprintf("unit/%d/step/%d/reminder", u.ID, st.ID), Kind: page.KindReminder, Channel: true,
		Subject: fmt.Sprintf("Unit %s: %s", u.Name, st.Label), Text: text}
	if err := s.o.Page(ctx, m); err != nil {
		s.o.Logger.Warn("units: on-call channel", "unit", u.ID, "step", st.ID, "err", err)
	}
	return true
}

func ttlSummary(checks []Check) string {
	var parts []string
	for _, c := range checks {
		if c.TTL == nil {
			parts = append(parts, c.Domain+": no MX published")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s: MX TTL %d s published", c.Domain, *c.TTL))
	}
	return strings.Join(parts, ", ")
}

// check runs the DNS check of each of the unit's domains and records the
// results.
func (s *Service) check(ctx context.Context, u Unit, stepID int64, actor string) ([]Check, error) {
	var out []Check
	for _, d := range u.Domains {
		res, err := s.o.Checker.Check(ctx, d)
		if err != nil {
			return out, err
		}
		c, err := s.o.Store.AddCheck(ctx, Check{UnitID: u.ID, StepID: stepID, At: res.At, Actor: actor, Domain: d, OK: res.OK, TTL: res.TTL, Result: res})
		if err != nil {
			return out, err
		}
		s.o.Metrics.check(c)
		out = append(out, c)
	}
	return out, nil
}

// CheckNow checks the unit's MX at once — the administrator has said the
// change is made. With an open MX check step this is that step's check.
func (s *Service) CheckNow(ctx context.Context, unitID int64, actor string) ([]Check, error) {
	steps, err := s.o.Store.Steps(ctx, unitID)
	if err != nil {
		return nil, err
	}
	for _, st := range steps {
		if st.Kind == StepMXCheck && st.State == StepOpen {
			return s.CheckStep(ctx, st, actor)
		}
	}
	u, err := s.o.Store.GetUnit(ctx, unitID)
	if err != nil {
		return nil, err
	}
	checks, err := s.check(ctx, u, 0, actor)
	if err == nil {
		err = s.o.Store.AddEvents(ctx, s.event(unitID, actor, EventCheck, checkSummary(checks)))
	}
	return checks, err
}

func checkSummary(checks []Check) string {
	var parts []string
	for _, c := range checks {
		if c.OK {
			parts = append(parts, c.Domain+" right")
		} else {
			parts = append(parts, c.Domain+" wrong ("+c.Result.Summary()+")")
		}
	}
	return "MX check: " + strings.Join(parts, ", ")
}

// CheckStep runs the MX check of an open MX check step. All domains right:
// the step is done, the success notice goes out (once) to the unit's
// administrator, leader and contacts, the unit is live. Something wrong
// after the step is due: the explanation goes to the administrator, once
// for each distinct wrong state; the checks go on.
func (s *Service) CheckStep(ctx context.Context, st Step, actor string) ([]Check, error) {
	u, err := s.o.Store.GetUnit(ctx, st.UnitID)
	if err != nil {
		return nil, err
	}
	checks, err := s.check(ctx, u, st.ID, actor)
	if err != nil {
		return checks, err
	}
	now := s.o.Now()
	allOK := len(checks) > 0
	for _, c := range checks {
		allOK = allOK && c.OK
	}
	summary := checkSummary(checks)
	if err := s.o.Store.SetStepChecked(ctx, st.ID, now, summary); err != nil {
		return checks, err
	}
	if allOK {
		return checks, s.succeed(ctx, u, st, checks, actor)
	}
	ev := s.event(u.ID, actor, EventCheck, summary)
	ev.StepID = st.ID
	if err := s.o.Store.AddEvents(ctx, ev); err != nil {
		return checks, err
	}
	if now.Before(st.DueAt) || u.NetAdmin.Email == "" {
		return checks, nil // before the day the old MX is expected
	}
	var wrong []Check
	for _, c := range checks {
		if c.OK || c.Result.OnlyLookupFailures() {
			continue
		}
		last, ok, err := s.o.Store.LastExplained(ctx, u.ID, c.Domain)
		if err != nil {
			return checks, err
		}
		if ok && last.Result.Summary() == c.Result.Summary() {
			continue
		}
		wrong = append(wrong, c)
	}
	if len(wrong) == 0 {
		return checks, nil
	}
	d := s.data(u)
	d.Checks = wrong
	if err := s.mail(ctx, []string{u.NetAdmin.Address(), s.personAddress(st.Assignee)}, "wrong_mx", d); err != nil {
		return checks, fmt.Errorf("mail the explanation: %w", err)
	}
	for _, c := range wrong {
		if err := s.o.Store.MarkExplained(ctx, c.ID); err != nil {
			return checks, err
		}
	}
	ev = s.event(u.ID, SystemActor, EventMail, "explanation of the wrong MX mailed to "+u.NetAdmin.Email)
	ev.StepID = st.ID
	return checks, s.o.Store.AddEvents(ctx, ev)
}

// succeed finishes the MX check, sends the success notice once and makes
// the unit live.
func (s *Service) succeed(ctx context.Context, u Unit, st Step, checks []Check, actor string) error {
	if _, err := s.finish(ctx, st, StepDone, actor, checkSummary(checks)+"; "+ttlSummary(checks)); err != nil {
		return err
	}
	steps, err := s.o.Store.Steps(ctx, u.ID)
	if err != nil {
		return err
	}
	for _, n := range steps {
		if n.Kind != StepSuccessNotice || n.State != StepOpen {
			continue
		}
		ok, err := s.o.Store.ClaimReminder(ctx, n.ID, s.o.Now())
		if err != nil || !ok {
			return err
		}
		d := s.data(u)
		d.Checks = checks
		to := u.Recipients()
		if err := s.mail(ctx, to, "success", d); err != nil {
			_ = s.o.Store.UnclaimReminder(ctx, n.ID)
			return fmt.Errorf("success notice: %w", err)
		}
		if _, err := s.finish(ctx, n, StepDone, SystemActor, "sent to "+strings.Join(to, ", ")); err != nil {
			return err
		}
		s.pageChannel(ctx, n, u, u.Name+": the MX points to the central service; migration succeeded")
	}
	if u.Status != StatusLive {
		_, err = s.SetStatus(ctx, u.ID, StatusLive, SystemActor)
	}
	return err
}
