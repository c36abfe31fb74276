package reports

import (
	"context"
	"errors"
	"strings"
)

// RegistrationsSection is the directory at the end of the period against
// the end of the previous one, and what changed in between.
type RegistrationsSection struct {
	Figures []Figure `json:"figures"`
	// Changes are the domains and mailboxes added and removed in the
	// period; nil when the record of names does not reach back.
	Changes *DirectoryChanges `json:"changes,omitempty"`
	Notes   []string          `json:"notes"`
}

// registrationsSection is the directory at the end of the period: domains,
// mailboxes, new and removed ones, capacity allotted, used and extra.
var registrationsSection = section{
	id:        "registrations",
	build:     (*builder).registrations,
	body:      registrationsBody,
	inSummary: true,
}

func (b *builder) registrations(ctx context.Context) error {
	r := b.r
	// The directory as it stood at the end of the period (to date: now),
	// and at the end of the previous one.
	cur, err := b.src.Registrations(ctx, r.DataEnd)
	if err != nil {
		return err
	}
	var prev *Registrations
	if pr, err := b.src.Registrations(ctx, r.Previous.End); err == nil {
		prev = &pr
	} else if !errors.Is(err, ErrNoData) {
		return err
	}
	pv := func(f func(Registrations) int64) *float64 {
		if prev == nil {
			return nil
		}
		return ptr(float64(f(*prev)))
	}
	s := &r.Registrations
	s.Figures = []Figure{
		figure("registrations.domains", UnitCount, float64(cur.Domains), pv(func(x Registrations) int64 { return x.Domains })),
		figure("registrations.mailboxes", UnitCount, float64(cur.Mailboxes), pv(func(x Registrations) int64 { return x.Mailboxes })),
	}
	ch, err := b.src.DirectoryChanges(ctx, r.Previous.End, r.DataEnd)
	switch {
	case err == nil && prev != nil:
		s.Changes = &ch
		// The previous period's changes, for the increments.
		var pch *DirectoryChanges
		if x, err := b.src.DirectoryChanges(ctx, r.Previous.Previous(b.cfg.StartDay).End, r.Previous.End); err == nil {
			pch = &x
		} else if !errors.Is(err, ErrNoData) {
			return err
		}
		count := func(key string, names func(DirectoryChanges) []string) Figure {
			if pch == nil {
				return Figure{Key: key, Unit: UnitCount, Current: float64(len(names(ch))), PrevMissing: ReasonNoCensus}
			}
			return figure(key, UnitCount, float64(len(names(ch))), ptr(float64(len(names(*pch)))))
		}
		s.Figures = append(s.Figures,
			count("registrations.mailboxes.added", func(x DirectoryChanges) []string { return x.AddedMailboxes }),
			count("registrations.mailboxes.removed", func(x DirectoryChanges) []string { return x.RemovedMailboxes }),
			count("registrations.domains.added", func(x DirectoryChanges) []string { return x.AddedDomains }),
			count("registrations.domains.removed", func(x DirectoryChanges) []string { return x.RemovedDomains }))
		// The snapshots' counts and the names must tell the same story.
		for _, c := range []struct {
			check          string
			before, after  int64
			added, removed int
		}{
			{"directory_mailboxes", prev.Mailboxes, cur.Mailboxes, len(ch.AddedMailboxes), len(ch.RemovedMailboxes)},
			{"directory_domains", prev.Domains, cur.Domains, len(ch.AddedDomains), len(ch.RemovedDomains)},
		} {
			if want := c.before + int64(c.added-c.removed); want != c.after {
				b.warn(c.check, float64(c.after-want), b.cat.t("warn."+c.check, b.cat.int(float64(c.before)), c.added, c.removed,
					b.cat.int(float64(want)), b.cat.int(float64(c.after))))
			}
		}
	case err == nil || errors.Is(err, ErrNoData):
		for _, k := range []string{"registrations.mailboxes.added", "registrations.mailboxes.removed",
			"registrations.domains.added", "registrations.domains.removed"} {
			s.Figures = append(s.Figures, missing(k, UnitCount, ReasonNoCensus))
		}
	default:
		return err
	}
	s.Figures = append(s.Figures,
		figure("registrations.allotted", UnitBytes, float64(cur.AllottedBytes), pv(func(x Registrations) int64 { return x.AllottedBytes })),
		figure("registrations.used", UnitBytes, float64(cur.UsedBytes), pv(func(x Registrations) int64 { return x.UsedBytes })),
	)
	extra := missing("registrations.extra", UnitBytes, ReasonNoExtra)
	if cur.ExtraBytes >= 0 {
		var pe *float64
		if prev != nil && prev.ExtraBytes >= 0 {
			pe = ptr(float64(prev.ExtraBytes))
		}
		extra = figure("registrations.extra", UnitBytes, float64(cur.ExtraBytes), pe)
		if pe == nil {
			extra.PrevMissing = ReasonNoExtra
		}
	}
	s.Figures = append(s.Figures, extra)
	if prev == nil {
		for i := range s.Figures {
			if s.Figures[i].Previous == nil && s.Figures[i].PrevMissing == ReasonPrevNoData {
				s.Figures[i].PrevMissing = ReasonNoSnapshot
			}
		}
	}
	s.Notes = append(s.Notes, b.registrationNote(s))
	return nil
}

func (b *builder) registrationNote(s *RegistrationsSection) string {
	c := b.cat
	mb, dom := figureOf(s.Figures, "registrations.mailboxes"), figureOf(s.Figures, "registrations.domains")
	note := c.t("note.registrations", c.int(mb.Current), c.int(dom.Current))
	if mb.Previous != nil {
		note = c.t("note.registrations.change", c.int(mb.Current), c.int(dom.Current), c.signedInt(mb.Current-*mb.Previous), c.shortPeriod(b.r.Previous))
	}
	if s.Changes != nil {
		note += " " + c.t("note.registrations.names", len(s.Changes.AddedMailboxes), len(s.Changes.RemovedMailboxes))
		if len(s.Changes.AddedDomains) > 0 {
			note += " " + c.t("note.domains.added", strings.Join(s.Changes.AddedDomains, ", "))
		}
		if len(s.Changes.RemovedDomains) > 0 {
			note += " " + c.t("note.domains.removed", strings.Join(s.Changes.RemovedDomains, ", "))
		}
	}
	return note
}

// registrationsBody shows the figures and the note.
func registrationsBody(r *Report, c *catalogT) []block {
	s := &r.Registrations
	return []block{figuresBlock(c, s.Figures), notesBlock(s.Notes)}
}
