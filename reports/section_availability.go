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

// ServiceRow is one service's availability: the share of the period not
// covered by unplanned outages, in per cent.
type ServiceRow struct {
	Service      string  `json:"service"`
	Availability Figure  `json:"availability"`
	Unplanned    float64 `json:"unplanned_minutes"`
	Planned      float64 `json:"planned_minutes"`
	Outages      int     `json:"outages"`
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

// unionMinutes returns the minutes covered by the union of the intervals
// [start, end). It sorts iv in place.
func unionMinutes(iv [][2]time.Time) float64 {
	slices.SortFunc(iv, func(a, b [2]time.Time) int { return a[0].Compare(b[0]) })
	var total time.Duration
	var cs, ce time.Time
	for i, x := range iv {
		if i == 0 || x[0].After(ce) {
			total += ce.Sub(cs)
			cs, ce = x[0], x[1]
			continue
		}
		if x[1].After(ce) {
			ce = x[1]
		}
	}
	total += ce.Sub(cs)
	return total.Minutes()
}

func clip(o Outage, p Period, now time.Time) (start, end time.Time, ongoing, ok bool) {
	start, end = o.Start, o.End
	if end.IsZero() {
		end, ongoing = now, true
	}
	if start.Before(p.Start) {
		start = p.Start
	}
	if end.After(p.End) {
		end = p.End
	}
	return start, end, ongoing, end.After(start)
}

func (b *builder) availabilityOf(ctx context.Context, p Period) (map[string][2]float64, map[string]int, []OutageRow, error) {
	outs, err := b.src.Outages(ctx, p.Start, p.End)
	if err != nil {
		return nil, nil, nil, err
	}
	now := b.r.GeneratedAt
	unplanned := map[string][][2]time.Time{}
	planned := map[string][][2]time.Time{}
	count := map[string]int{}
	var rows []OutageRow
	for _, o := range outs {
		s, e, ongoing, ok := clip(o, p, now)
		if !ok {
			continue
		}
		if o.Planned {
			planned[o.Service] = append(planned[o.Service], [2]time.Time{s, e})
		} else {
			unplanned[o.Service] = append(unplanned[o.Service], [2]time.Time{s, e})
			count[o.Service]++
		}
		rows = append(rows, OutageRow{Outage: o, Minutes: round(e.Sub(s).Minutes(), 1), Ongoing: ongoing && e.Equal(now)})
	}
	// Unplanned downtime inside an announced maintenance window is
	// planned: only the minutes outside every window count against the
	// service (the same rule as the probes' availability).
	// mins[svc] is {unplanned, planned}; each service's maintenance
	// windows are united once and serve both.
	mins := map[string][2]float64{}
	for svc, iv := range planned {
		mins[svc] = [2]float64{1: unionMinutes(iv)}
	}
	for svc, iv := range unplanned {
		m := mins[svc]
		m[0] = unionMinutes(slices.Concat(iv, planned[svc])) - m[1]
		mins[svc] = m
	}
	slices.SortFunc(rows, func(a, b OutageRow) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Service, b.Service)) })
	return mins, count, rows, nil
}

func (b *builder) availability(ctx context.Context) error {
	r := b.r
	cur, count, rows, err := b.availabilityOf(ctx, r.Period)
	if err != nil {
		return err
	}
	prev, _, _, err := b.availabilityOf(ctx, r.Previous)
	if err != nil {
		return err
	}
	svcs := slices.Clone(b.cfg.Services)
	for s := range cur {
		if !slices.Contains(svcs, s) {
			svcs = append(svcs, s)
		}
	}
	slices.Sort(svcs[len(b.cfg.Services):])
	// Availability leaves announced maintenance out of the measured time.
	pct := func(p Period, m [2]float64) float64 {
		measured := p.Duration().Minutes() - m[1]
		if measured <= 0 {
			return 100
		}
		return round((1-m[0]/measured)*100, 3)
	}
	s := &r.Availability
	for _, svc := range svcs {
		s.Services = append(s.Services, ServiceRow{
			Service:      svc,
			Availability: figure("availability."+svc, UnitPercent, pct(r.Period, cur[svc]), ptr(pct(r.Previous, prev[svc]))),
			Unplanned:    round(cur[svc][0], 1),
			Planned:      round(cur[svc][1], 1),
			Outages:      count[svc],
		})
	}
	s.Outages = rows
	s.Notes = append(s.Notes, b.availabilityNote(s))
	return nil
}

func (b *builder) availabilityNote(s *AvailabilitySection) string {
	c := b.cat
	var worst *ServiceRow
	for i := range s.Services {
		if s.Services[i].Unplanned == 0 {
			continue
		}
		if worst == nil || s.Services[i].Availability.Current < worst.Availability.Current {
			worst = &s.Services[i]
		}
	}
	if worst == nil {
		return c.t("note.availability.all")
	}
	return c.t("note.availability", c.label("service", worst.Service), c.value(UnitPercent, worst.Availability.Current),
		c.duration(worst.Unplanned*60), worst.Outages)
}

// availabilityBody shows the services table, the outages (when any) and the
// note; the CSV gets each service's availability and its unplanned and
// planned minutes.
func availabilityBody(r *Report, c *catalogT) []block {
	s := &r.Availability
	services := table{Columns: []column{
		{Head: c.t("col.service"), Width: 40},
		{Head: c.t("col.availability"), Num: true, Width: 28},
		{Head: c.t("col.previous"), Num: true, Width: 28},
		{Head: c.t("col.unplanned"), Num: true, Width: 32},
		{Head: c.t("col.outages"), Num: true, Width: 20},
		{Head: c.t("col.planned"), Num: true, Width: 34},
	}}
	var records []record
	for _, sv := range s.Services {
		services.Rows = append(services.Rows, texts(sv.Service, c.value(sv.Availability.Unit, sv.Availability.Current), prevText(c, sv.Availability),
			minutesText(c, sv.Unplanned), strconv.Itoa(sv.Outages), minutesText(c, sv.Planned)))
		records = append(records, figureRecords(sv.Availability)...)
		records = append(records,
			periodRecord("availability."+sv.Service+".unplanned_minutes", "minutes", sv.Unplanned),
			periodRecord("availability."+sv.Service+".planned_minutes", "minutes", sv.Planned))
	}
	body := []block{tableBlock(services)}
	if len(s.Outages) > 0 {
		outages := table{Title: c.t("col.outages"), Columns: []column{
			{Head: c.t("col.service"), Width: 24},
			{Head: c.t("col.ticket"), Width: 22},
			{Head: c.t("col.title"), Width: 62},
			{Head: c.t("col.start"), Width: 30},
			{Head: c.t("col.duration"), Num: true, Width: 22},
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
