package reports

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"
)

// AvailabilitySection is availability per service.
type AvailabilitySection struct {
	Services []ServiceRow `json:"services"`
	Outages  []OutageRow  `json:"outages"`
	Notes    []string     `json:"notes"`
}

// ServiceRow is one service's availability as the probes measured it:
// (measured − unplanned down) / measured, where measured is the period
// (to date) less planned maintenance and the time without probe results
// (docs/reports.md, "Definitions"). Without probes it is missing.
type ServiceRow struct {
	Service      string `json:"service"`
	Availability Figure `json:"availability"`
	// Unplanned and Planned are the measured unplanned downtime and the
	// announced maintenance, MeasuredMinutes the time measured, in
	// minutes; Measured is false when no probe measured the service.
	Unplanned       float64 `json:"unplanned_minutes"`
	Planned         float64 `json:"planned_minutes"`
	MeasuredMinutes float64 `json:"measured_minutes"`
	Measured        bool    `json:"measured"`
	// Outages is the number of outages recorded for the service (notices,
	// incidents, probe outages).
	Outages int `json:"outages"`
}

// OutageRow is one outage, clipped to the period.
type OutageRow struct {
	Outage
	Minutes float64 `json:"minutes"`
	Ongoing bool    `json:"ongoing"`
}

// availabilitySection is availability per service and the outages in the
// period.
var availabilitySection = section{
	id:        "availability",
	build:     (*builder).availability,
	body:      availabilityBody,
	inSummary: true,
}

// clip clips an outage to [start, end): an outage without an end (still
// open) and one that lasts until end or beyond stop at end — the period's
// end, or the build time of a period still running — and are ongoing
// there (the probes' down intervals end where the measurement does).
func clip(o Outage, start, end time.Time) (s, e time.Time, ongoing, ok bool) {
	s, e = o.Start, o.End
	if e.IsZero() || !e.Before(end) {
		ongoing = true
		e = end
	}
	if s.Before(start) {
		s = start
	}
	return s, e, ongoing, e.After(s)
}

func (b *builder) availability(ctx context.Context) error {
	r := b.r
	from, to := b.span()
	cur, err := b.src.Availability(ctx, from, to)
	if err != nil {
		return err
	}
	prev, err := b.src.Availability(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	outs, err := b.src.Outages(ctx, from, to)
	if err != nil {
		return err
	}
	s := &r.Availability
	count := map[string]int{}
	for _, o := range outs {
		st, e, ongoing, ok := clip(o, from, to)
		if !ok {
			continue
		}
		if !o.Planned {
			count[o.Service]++
		}
		s.Outages = append(s.Outages, OutageRow{Outage: o, Minutes: e.Sub(st).Minutes(), Ongoing: ongoing})
	}
	slices.SortFunc(s.Outages, func(a, b OutageRow) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Service, b.Service)) })
	byService := func(fs []ServiceAvailability) map[string]ServiceAvailability {
		m := map[string]ServiceAvailability{}
		for _, f := range fs {
			m[f.Service] = f
		}
		return m
	}
	cm, pm := byService(cur), byService(prev)
	svcs := slices.Clone(b.cfg.Services)
	var extra []string
	for svc := range cm {
		if !slices.Contains(svcs, svc) {
			extra = append(extra, svc)
		}
	}
	for svc := range count {
		if !slices.Contains(svcs, svc) && !slices.Contains(extra, svc) {
			extra = append(extra, svc)
		}
	}
	slices.Sort(extra)
	svcs = append(svcs, extra...)
	pct := func(f ServiceAvailability) float64 {
		return float64(f.Measured-f.Down) / float64(f.Measured) * 100
	}
	for _, svc := range svcs {
		row := ServiceRow{Service: svc, Outages: count[svc]}
		f, ok := cm[svc]
		key := "availability." + svc
		switch {
		case len(cur) == 0:
			row.Availability = missing(key, UnitPercent, ReasonNoProbes)
		case !ok:
			row.Availability = missing(key, UnitPercent, ReasonNoServiceProbe)
		case f.Measured <= 0:
			row.Availability = missing(key, UnitPercent, ReasonNotMeasured)
		default:
			var pp *float64
			if pf, ok := pm[svc]; ok && pf.Measured > 0 {
				pp = ptr(pct(pf))
			}
			row.Availability = figure(key, UnitPercent, pct(f), pp)
			if pp == nil {
				row.Availability.PrevMissing = ReasonNotMeasured
			}
			row.Measured = true
			row.Unplanned = f.Down.Minutes()
			row.Planned = f.Planned.Minutes()
			row.MeasuredMinutes = f.Measured.Minutes()
		}
		s.Services = append(s.Services, row)
	}
	s.Notes = append(s.Notes, b.availabilityNote(s))
	return nil
}

func (b *builder) availabilityNote(s *AvailabilitySection) string {
	c := b.cat
	var worst *ServiceRow
	measured := 0
	for i := range s.Services {
		if !s.Services[i].Measured {
			continue
		}
		measured++
		if s.Services[i].Unplanned == 0 {
			continue
		}
		if worst == nil || s.Services[i].Availability.Current < worst.Availability.Current {
			worst = &s.Services[i]
		}
	}
	to := ""
	if b.r.ToDate {
		to = " " + c.t("note.to_date", c.dateTime(b.r.DataEnd))
	}
	switch {
	case measured == 0:
		return c.t("note.availability.none", len(s.Outages))
	case worst == nil:
		return c.t("note.availability.all", measured) + to + "."
	}
	return c.t("note.availability", c.label("service", worst.Service), c.value(UnitPercent, worst.Availability.Current),
		c.duration(worst.Unplanned*60), worst.Outages) + to + "."
}

// availabilityBody shows the services table, the outages (when any) and the
// note; the CSV gets each service's availability and its measured,
// unplanned and planned minutes.
func availabilityBody(r *Report, c *catalogT) []block {
	s := &r.Availability
	fn := &footnotes{c: c}
	services := table{Columns: []column{
		{Head: c.t("col.service"), Width: 32},
		{Head: c.t("col.availability"), Num: true, Width: 28},
		{Head: c.t("col.previous"), Num: true, Width: 26},
		{Head: c.t("col.unplanned"), Num: true, Width: 28},
		{Head: c.t("col.outages"), Num: true, Width: 18},
		{Head: c.t("col.planned"), Num: true, Width: 24},
		{Head: c.t("col.measured"), Num: true, Width: 26},
	}}
	var records []record
	for _, sv := range s.Services {
		un, pl, me := "–", "–", "–"
		if sv.Measured {
			un, pl, me = minutesText(c, sv.Unplanned), minutesText(c, sv.Planned), minutesText(c, sv.MeasuredMinutes)
			records = append(records,
				periodRecord("availability."+sv.Service+".unplanned_minutes", "minutes", sv.Unplanned),
				periodRecord("availability."+sv.Service+".planned_minutes", "minutes", sv.Planned),
				periodRecord("availability."+sv.Service+".measured_minutes", "minutes", sv.MeasuredMinutes))
		}
		services.Rows = append(services.Rows, []cell{{Text: sv.Service}, fn.value(sv.Availability), fn.prev(sv.Availability),
			{Text: un}, {Text: strconv.Itoa(sv.Outages)}, {Text: pl}, {Text: me}})
		records = append(records, figureRecords(sv.Availability)...)
		records = append(records, periodRecord("availability."+sv.Service+".outages", UnitCount, float64(sv.Outages)))
	}
	body := []block{{Table: &services, Footnotes: fn.notes()}}
	if len(s.Outages) > 0 {
		outages := table{Title: c.t("col.outages"), Columns: []column{
			{Head: c.t("col.service"), Width: 24},
			{Head: c.t("col.ticket"), Width: 22},
			{Head: c.t("col.title"), Width: 58},
			{Head: c.t("col.start"), Width: 30},
			{Head: c.t("col.duration"), Num: true, Width: 26},
			{Head: c.t("col.kind"), Width: 22},
		}}
		for _, o := range s.Outages {
			d := minutesText(c, o.Minutes)
			if o.Ongoing {
				d += " (" + c.t("status.ongoing") + ")"
			}
			kind := c.t("kind.unplanned")
			if o.Planned {
				kind = c.t("kind.planned")
			}
			outages.Rows = append(outages.Rows, texts(o.Service, o.Ref, o.Title, c.dateTime(o.Start), d, kind))
		}
		body = append(body, tableBlock(outages))
	}
	return append(body, notesBlock(s.Notes), recordsBlock(records...))
}
