package reports

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FaultsSection is fault tickets and SLA compliance.
type FaultsSection struct {
	Figures  []Figure        `json:"figures"`
	Matrix   []SeverityCount `json:"matrix"`     // service × severity, tickets opened in the period
	Severity []string        `json:"severities"` // column order of Matrix
	Breaches []Ticket        `json:"breaches"`
	Open     []Ticket        `json:"open"` // still open at the end of the period
	Notes    []string        `json:"notes"`
}

// SeverityCount is the tickets of one service by severity.
type SeverityCount struct {
	Service string           `json:"service"`
	Counts  map[string]int64 `json:"counts"`
	Total   int64            `json:"total"`
}

// faultsSection is fault tickets and SLA compliance.
var faultsSection = section{
	id:        "faults",
	build:     (*builder).faults,
	body:      faultsBody,
	inSummary: true,
}

type ticketStats struct {
	opened, resolved, inHours, met float64
	ack, res                       []float64
}

func statsOf(ts []Ticket, p Period) ticketStats {
	var st ticketStats
	for _, t := range ts {
		if p.Contains(t.OpenedAt) {
			st.opened++
			if t.InHours && t.ResponseTarget > 0 {
				st.inHours++
				if !t.ResponseBreached {
					st.met++
				}
			}
			if !t.RespondedAt.IsZero() {
				st.ack = append(st.ack, t.RespondedAt.Sub(t.OpenedAt).Seconds())
			}
		}
		if !t.ResolvedAt.IsZero() && p.Contains(t.ResolvedAt) {
			st.resolved++
			st.res = append(st.res, t.ResolvedAt.Sub(t.OpenedAt).Seconds())
		}
	}
	return st
}

func (b *builder) faults(ctx context.Context) error {
	r := b.r
	cur, err := b.src.Tickets(ctx, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.Tickets(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	cs, ps := statsOf(cur, r.Period), statsOf(prev, r.Previous)
	compliance := func(st ticketStats) *float64 {
		if st.inHours == 0 {
			return nil
		}
		return ptr(st.met / st.inHours * 100)
	}
	openAt := func(ts []Ticket, end time.Time) float64 {
		var n float64
		for _, t := range ts {
			if t.OpenedAt.Before(end) && (t.ResolvedAt.IsZero() || !t.ResolvedAt.Before(end)) {
				n++
			}
		}
		return n
	}
	// medianFig is a median of durations: missing without any.
	medianFig := func(key string, cur, prev []float64, reason string) Figure {
		if len(cur) == 0 {
			return missing(key, UnitSeconds, reason)
		}
		var pp *float64
		if len(prev) > 0 {
			pp = ptr(median(prev))
		}
		f := figure(key, UnitSeconds, median(cur), pp)
		if pp == nil {
			f.PrevMissing = reason
		}
		return f
	}
	s := &r.Faults
	cc := compliance(cs)
	s.Figures = []Figure{
		figure("faults.opened", UnitCount, cs.opened, ptr(ps.opened)),
		figure("faults.resolved", UnitCount, cs.resolved, ptr(ps.resolved)),
		figure("faults.in_hours", UnitCount, cs.inHours, ptr(ps.inHours)),
	}
	if cc != nil {
		f := figure("faults.sla_compliance", UnitPercent, *cc, compliance(ps))
		if f.Previous == nil {
			f.PrevMissing = ReasonNoInHours
		}
		s.Figures = append(s.Figures, f)
	} else {
		s.Figures = append(s.Figures, missing("faults.sla_compliance", UnitPercent, ReasonNoInHours))
	}
	s.Figures = append(s.Figures,
		medianFig("faults.median_ack", cs.ack, ps.ack, ReasonNoTicketsAcked),
		medianFig("faults.median_resolve", cs.res, ps.res, ReasonNoTicketsClosed),
		figure("faults.open_at_end", UnitCount, openAt(cur, r.DataEnd), ptr(openAt(prev, r.Previous.End))),
	)
	if r.ToDate {
		for i := range s.Figures {
			if s.Figures[i].Unit == UnitCount && s.Figures[i].Key != "faults.open_at_end" {
				s.Figures[i] = s.Figures[i].noChange(ReasonRunning)
			}
		}
	}
	sev := map[string]bool{}
	bySvc := map[string]*SeverityCount{}
	for _, t := range cur {
		if !r.Period.Contains(t.OpenedAt) {
			continue
		}
		sev[t.Severity] = true
		row := bySvc[t.Service]
		if row == nil {
			row = &SeverityCount{Service: t.Service, Counts: map[string]int64{}}
			bySvc[t.Service] = row
		}
		row.Counts[t.Severity]++
		row.Total++
		if t.InHours && t.ResponseTarget > 0 && t.ResponseBreached {
			s.Breaches = append(s.Breaches, t)
		}
	}
	for k := range sev {
		s.Severity = append(s.Severity, k)
	}
	slices.Sort(s.Severity)
	for _, row := range bySvc {
		s.Matrix = append(s.Matrix, *row)
	}
	slices.SortFunc(s.Matrix, func(a, b SeverityCount) int { return cmp.Compare(a.Service, b.Service) })
	for _, t := range cur {
		if t.OpenedAt.Before(r.DataEnd) && (t.ResolvedAt.IsZero() || !t.ResolvedAt.Before(r.DataEnd)) {
			s.Open = append(s.Open, t)
		}
	}
	byOpened := func(a, b Ticket) int { return cmp.Or(a.OpenedAt.Compare(b.OpenedAt), cmp.Compare(a.ID, b.ID)) }
	slices.SortFunc(s.Breaches, byOpened)
	slices.SortFunc(s.Open, byOpened)
	s.Notes = append(s.Notes, b.faultNotes(s, cs, cc)...)
	return nil
}

func (b *builder) faultNotes(s *FaultsSection, st ticketStats, compliance *float64) []string {
	c := b.cat
	var notes []string
	switch {
	case st.inHours == 0:
		notes = append(notes, c.t("note.sla.none"))
	case len(s.Breaches) == 0:
		notes = append(notes, c.t("note.sla.ok", int(st.inHours), c.pct(*compliance, 1)))
	default:
		var ids []string
		for _, t := range s.Breaches {
			ids = append(ids, t.ID)
		}
		notes = append(notes, c.t("note.sla.breach", len(s.Breaches), int(st.inHours), strings.Join(ids, ", ")))
	}
	if len(s.Open) == 0 {
		notes = append(notes, c.t("note.open.none"))
	} else {
		var ids []string
		for _, t := range s.Open {
			ids = append(ids, t.ID)
		}
		notes = append(notes, c.t("note.open", len(s.Open), strings.Join(ids, ", ")))
	}
	return notes
}

// faultsBody shows the figures, the service × severity table, the SLA
// breaches and the tickets still open (each when any) and the notes; the CSV
// also gets the table's counts and one row per breach.
func faultsBody(r *Report, c *catalogT) []block {
	s := &r.Faults
	body := []block{figuresBlock(c, s.Figures)}
	var records []record
	if len(s.Matrix) > 0 {
		// Service, then one column per severity and the total, sharing the rest.
		matrix := table{Columns: []column{{Head: c.t("col.service"), Width: 50}}}
		for _, sev := range s.Severity {
			matrix.Columns = append(matrix.Columns, column{Head: sev, Num: true})
		}
		matrix.Columns = append(matrix.Columns, column{Head: c.t("col.total"), Num: true})
		for _, m := range s.Matrix {
			row := texts(m.Service)
			for _, sev := range s.Severity {
				row = append(row, cell{Text: strconv.FormatInt(m.Counts[sev], 10)})
				records = append(records, periodRecord("faults."+m.Service+"."+sev, UnitCount, float64(m.Counts[sev])))
			}
			matrix.Rows = append(matrix.Rows, append(row, cell{Text: strconv.FormatInt(m.Total, 10)}))
		}
		body = append(body, tableBlock(matrix))
	}
	if len(s.Breaches) > 0 {
		breaches := table{Title: c.t("sec.breaches"), Columns: []column{
			{Head: c.t("col.ticket"), Width: 22},
			{Head: c.t("col.service"), Width: 24},
			{Head: c.t("col.title"), Width: 56},
			{Head: c.t("col.opened"), Width: 30},
			{Head: c.t("col.responded"), Width: 30},
			{Head: c.t("col.target"), Num: true, Width: 20},
		}}
		for _, t := range s.Breaches {
			resp := "–"
			if !t.RespondedAt.IsZero() {
				resp = c.dateTime(t.RespondedAt)
			}
			breaches.Rows = append(breaches.Rows, texts(t.ID, t.Service, t.Title, c.dateTime(t.OpenedAt), resp, c.duration(t.ResponseTarget.Seconds())))
			records = append(records, dayRecord("faults.sla_breach."+t.ID, UnitCount, t.OpenedAt, 1))
		}
		body = append(body, tableBlock(breaches))
	}
	if len(s.Open) > 0 {
		open := table{Title: c.t("fig.faults.open_at_end"), Columns: []column{
			{Head: c.t("col.ticket"), Width: 22},
			{Head: c.t("col.service"), Width: 26},
			{Head: c.t("col.severity"), Width: 24},
			{Head: c.t("col.title"), Width: 80},
			{Head: c.t("col.opened"), Width: 30},
		}}
		for _, t := range s.Open {
			open.Rows = append(open.Rows, texts(t.ID, t.Service, t.Severity, t.Title, c.dateTime(t.OpenedAt)))
		}
		body = append(body, tableBlock(open))
	}
	return append(body, notesBlock(s.Notes), recordsBlock(records...))
}
