package reports

import (
	"context"
	"errors"
)

// RegistrationsSection is the directory at the end of the period against
// the end of the previous one.
type RegistrationsSection struct {
	Figures []Figure `json:"figures"`
	Notes   []string `json:"notes"`
}

// registrationsSection is the directory at the end of the period: domains,
// mailboxes, capacity and active users.
var registrationsSection = section{
	id:        "registrations",
	build:     (*builder).registrations,
	body:      registrationsBody,
	inSummary: true,
}

func (b *builder) registrations(ctx context.Context) error {
	r := b.r
	cur, err := b.src.Registrations(ctx, r.Period.End)
	if err != nil {
		return err
	}
	var prev *Registrations
	if pr, err := b.src.Registrations(ctx, r.Previous.End); err == nil {
		prev = &pr
	} else if !errors.Is(err, ErrNoData) {
		return err
	}
	// Active users need the raw login log, which may not reach back to
	// the previous period (90 days' retention): then it is left out.
	activeKnown := true
	active, err := b.src.ActiveUsers(ctx, r.Period.Start, r.Period.End)
	if errors.Is(err, ErrNoData) {
		activeKnown = false
	} else if err != nil {
		return err
	}
	var pa *float64
	if prevActive, err := b.src.ActiveUsers(ctx, r.Previous.Start, r.Previous.End); err == nil && prevActive > 0 {
		pa = ptr(float64(prevActive))
	} else if err != nil && !errors.Is(err, ErrNoData) {
		return err
	}
	pv := func(f func(Registrations) int64) *float64 {
		if prev == nil {
			return nil
		}
		return ptr(float64(f(*prev)))
	}
	extra := func(x Registrations) int64 {
		if x.ExtraBytes >= 0 {
			return x.ExtraBytes
		}
		return max(0, x.AllottedBytes-x.Mailboxes*b.cfg.DefaultQuota)
	}
	s := &r.Registrations
	s.Figures = []Figure{
		figure("registrations.domains", UnitCount, float64(cur.Domains), pv(func(x Registrations) int64 { return x.Domains })),
		figure("registrations.mailboxes", UnitCount, float64(cur.Mailboxes), pv(func(x Registrations) int64 { return x.Mailboxes })),
		figure("registrations.allotted", UnitBytes, float64(cur.AllottedBytes), pv(func(x Registrations) int64 { return x.AllottedBytes })),
	}
	if cur.ExtraBytes >= 0 || b.cfg.DefaultQuota > 0 {
		s.Figures = append(s.Figures, figure("registrations.extra", UnitBytes, float64(extra(cur)), pv(extra)))
	}
	if activeKnown {
		s.Figures = append(s.Figures, figure("registrations.active_users", UnitCount, float64(active), pa))
	}
	s.Notes = append(s.Notes, b.registrationNote(s.Figures))
	return nil
}

func (b *builder) registrationNote(figs []Figure) string {
	c := b.cat
	note := c.t("note.registrations", c.int(figs[1].Current), c.int(figs[0].Current), c.change(figs[1].Change))
	for _, f := range figs {
		if f.Key == "registrations.active_users" {
			note += " " + c.t("note.active_users", c.int(f.Current))
			break
		}
	}
	return note
}

// registrationsBody shows the figures and the note.
func registrationsBody(r *Report, c *catalogT) []block {
	s := &r.Registrations
	return []block{figuresBlock(c, s.Figures), notesBlock(s.Notes)}
}
