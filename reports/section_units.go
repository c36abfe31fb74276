package reports

import (
	"context"
	"errors"
	"strings"
	"time"
)

// UnitsSource is the part of a Source that reads the units capability
// (docs/units.md): a Source without it, or whose Units says ErrNoData,
// makes the units section missing, never zeros.
type UnitsSource interface {
	// Units is what happened to the units in [from, to), as their history
	// records it; now bounds what is overdue while the period runs.
	Units(ctx context.Context, from, to, now time.Time) (UnitsActivity, error)
}

// UnitsActivity is the units' record of a period.
type UnitsActivity struct {
	// Joined names the units whose status became live in the period.
	Joined []string `json:"joined"`
	// Migrating names the units migrating at the end of the period.
	Migrating []string `json:"migrating"`
	// FollowUpsDone counts follow-up contacts done in the period.
	FollowUpsDone int `json:"follow_ups_done"`
	// FollowUpsOverdue are the follow-ups due and not done by the end of
	// the period (or now).
	FollowUpsOverdue []OverdueFollowUp `json:"follow_ups_overdue"`
	// RequirementsOpened and RequirementsAnswered count the units'
	// requirements and complaints recorded, and answered, in the period.
	RequirementsOpened   int `json:"requirements_opened"`
	RequirementsAnswered int `json:"requirements_answered"`
}

// OverdueFollowUp is one follow-up contact past its due time.
type OverdueFollowUp struct {
	Unit  string    `json:"unit"`
	Label string    `json:"label"`
	Due   time.Time `json:"due"`
}

// UnitsSection is the units joining the central service: who joined,
// who is migrating, follow-ups and requirements.
type UnitsSection struct {
	Figures  []Figure          `json:"figures"`
	Joined   []string          `json:"joined"`
	Overdue  []OverdueFollowUp `json:"overdue"`
	Notes    []string          `json:"notes"`
	Measured bool              `json:"measured"`
}

// unitsSection is the units' onboarding in the period.
var unitsSection = section{
	id:    "units",
	build: (*builder).units,
	body:  unitsBody,
}

func (b *builder) units(ctx context.Context) error {
	us, ok := b.src.(UnitsSource)
	if !ok {
		return ErrNoData
	}
	r := b.r
	cur, err := us.Units(ctx, r.Period.Start, r.Period.End, r.DataEnd)
	if err != nil {
		return err
	}
	var prev *UnitsActivity
	if p, err := us.Units(ctx, r.Previous.Start, r.Previous.End, r.Previous.End); err == nil {
		prev = &p
	} else if !errors.Is(err, ErrNoData) {
		return err
	}
	pv := func(f func(UnitsActivity) int) *float64 {
		if prev == nil {
			return nil
		}
		return ptr(float64(f(*prev)))
	}
	s := &r.Units
	s.Measured = true
	add := func(key string, f func(UnitsActivity) int) {
		s.Figures = append(s.Figures, figure(key, UnitCount, float64(f(cur)), pv(f)))
	}
	add("units.joined", func(a UnitsActivity) int { return len(a.Joined) })
	add("units.migrating", func(a UnitsActivity) int { return len(a.Migrating) })
	add("units.follow_ups_done", func(a UnitsActivity) int { return a.FollowUpsDone })
	add("units.follow_ups_overdue", func(a UnitsActivity) int { return len(a.FollowUpsOverdue) })
	add("units.reqs_recorded", func(a UnitsActivity) int { return a.RequirementsOpened })
	add("units.reqs_answered", func(a UnitsActivity) int { return a.RequirementsAnswered })
	s.Joined, s.Overdue = cur.Joined, cur.FollowUpsOverdue
	c := b.cat
	note := c.t("note.units", len(cur.Joined), len(cur.Migrating), cur.FollowUpsDone, len(cur.FollowUpsOverdue),
		cur.RequirementsOpened, cur.RequirementsAnswered)
	if len(cur.Joined) > 0 {
		note += " " + c.t("note.units.joined", strings.Join(cur.Joined, ", "))
	}
	s.Notes = append(s.Notes, note)
	return nil
}

// unitsBody shows the figures, the follow-ups overdue and the note; a
// missing section shows only that it is missing.
func unitsBody(r *Report, c *catalogT) []block {
	s := &r.Units
	out := []block{figuresBlock(c, s.Figures)}
	if len(s.Overdue) > 0 {
		t := table{Title: c.t("units.overdue"), Class: "units-overdue", Columns: []column{
			{Head: c.t("col.unit"), Width: 70}, {Head: c.t("col.follow_up"), Width: 62}, {Head: c.t("col.due"), Width: 50}}}
		for _, o := range s.Overdue {
			t.Rows = append(t.Rows, texts(o.Unit, o.Label, c.dateTime(o.Due)))
		}
		out = append(out, tableBlock(t))
	}
	return append(out, notesBlock(s.Notes))
}
