package team

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/oncall/rota"
)

// BackfillLimit bounds how far back the record of a rota's shifts begins
// when it is first written: the shifts of the turn in progress this long
// ago, or the rota's first turn if later.
const BackfillLimit = 400 * 24 * time.Hour

// RecordShifts is one step of the record of shifts as they are held
// (docs/oncall.md, "The record of shifts"), run by the on-call loop: for
// each stored rota it closes the recorded shift in progress when it has
// ended, records the shifts since, and opens the one in progress at now,
// each as the stored rota versions and changes give it at that moment.
// Shifts recorded only after they ended (the first time, back to
// BackfillLimit, and after postvakt did not run) are marked Late. If the
// shift in progress is no longer what was recorded when it opened (an
// override starting now cuts it), the recorded one ends at now. Several
// replicas may run it: a step that finds the record moved on meanwhile
// changes nothing. Configured rotas not stored yet are stored first
// (Seed).
func (t *Team) RecordShifts(ctx context.Context, now time.Time) error {
	if t.rs == nil {
		return nil
	}
	sn, err := t.refresh(ctx)
	if err != nil {
		return err
	}
	for _, name := range sn.names {
		if !sn.rotas[name].stored {
			if _, err := t.ApplyConfig(ctx, ApplyOptions{SeedOnly: true, By: "postvakt", Now: now}); err != nil {
				return fmt.Errorf("store the configured rotas: %w", err)
			}
			if sn, err = t.refresh(ctx); err != nil {
				return err
			}
			break
		}
	}
	var errs []error
	for _, name := range sn.names {
		st := sn.rotas[name]
		if !st.stored {
			continue
		}
		w, err := t.recordStep(ctx, st, now)
		if err != nil {
			errs = append(errs, fmt.Errorf("record shifts of %s: %w", name, err))
			continue
		}
		if w.Close == "" && len(w.Add) == 0 {
			continue
		}
		if err := t.rs.RecordShifts(ctx, w); err != nil && !errors.Is(err, ErrConflict) {
			errs = append(errs, fmt.Errorf("record shifts of %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// recordStep plans one step of a rota's record.
func (t *Team) recordStep(ctx context.Context, st *rotaState, now time.Time) (RecordWrite, error) {
	w := RecordWrite{Rota: st.name}
	last, ok, err := t.rs.LastShift(ctx, st.name)
	if err != nil {
		return w, err
	}
	c, err := t.Changes(ctx, st.name)
	if err != nil {
		return w, err
	}
	var from time.Time
	switch {
	case !ok:
		from = st.r.TurnAt(now.Add(-BackfillLimit)).Start
		if first := st.r.Turn(0).Start; first.After(from) {
			from = first
		}
	case last.End.IsZero():
		from = last.Start
	default:
		from = last.End
	}
	if !from.Before(now) {
		return w, nil
	}
	w.Add = planRecord(last, ok, st.r.Schedule(c, from, now), now)
	if ok && last.End.IsZero() {
		switch {
		case len(w.Add) > 0 && w.Add[0].ID == "close":
			w.Close, w.CloseAt = last.ID, w.Add[0].End
			w.Add = w.Add[1:]
		case len(w.Add) > 0:
			w.Close, w.CloseAt = last.ID, now
		}
	}
	return w, nil
}

// planRecord turns the computed shifts of [from, now) into what to record:
// with an open recorded shift (last, open) at from, a first element with
// ID "close" says it ended as computed; the rest are the shifts to insert,
// closed ones Late, the one reaching now open. Pure.
func planRecord(last RecordedShift, ok bool, sched []rota.Shift, now time.Time) []RecordedShift {
	var out []RecordedShift
	add := func(s rota.Shift) {
		rs := RecordedShift{Rota: last.Rota, Shift: s, RecordedAt: now, Late: true}
		if !s.End.Before(now) {
			rs.End, rs.Late = time.Time{}, false // in progress
		}
		out = append(out, rs)
	}
	if ok && last.End.IsZero() && len(sched) > 0 {
		first := sched[0]
		same := first.Member == last.Member && first.Source == last.Source && first.Ref == last.Ref && first.Turn == last.Turn &&
			first.Start.Equal(last.Start)
		switch {
		case same && first.End.Before(now):
			out = append(out, RecordedShift{ID: "close", Shift: rota.Shift{End: first.End}})
			sched = sched[1:]
		case same:
			return nil // still in progress as recorded
		default:
			// The shift in progress is no longer what was recorded when
			// it opened: the recorded one ends now, and the record goes
			// on from now with the holder the rota gives now.
			s := sched[len(sched)-1]
			s.Start, s.End = now, time.Time{}
			return []RecordedShift{{Rota: last.Rota, Shift: s, RecordedAt: now}}
		}
	}
	for _, s := range sched {
		add(s)
	}
	return out
}

// History returns the recorded shifts of a rota that overlap [from, to),
// by start, unclipped; the one in progress has a zero End.
func (t *Team) History(ctx context.Context, rotaName string, from, to time.Time) ([]RecordedShift, error) {
	if _, err := t.rota(ctx, rotaName); err != nil {
		return nil, err
	}
	if t.rs == nil {
		return nil, nil
	}
	return t.rs.RecordedShifts(ctx, rotaName, from, to)
}
