package reports

import (
	"cmp"
	"context"
	"slices"
	"strconv"
	"time"
)

// OnCallSection is the on-call load.
type OnCallSection struct {
	Figures []Figure  `json:"figures"`
	Weeks   []WeekRow `json:"weeks"`
	Notes   []string  `json:"notes"`
}

// WeekRow is one shift and the pages in it.
type WeekRow struct {
	Member     string    `json:"member"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	InHours    int       `json:"pages_in_hours"`
	OutOfHours int       `json:"pages_out_of_hours"`
	MedianAck  float64   `json:"median_ack_seconds"` // 0 when no page was acknowledged
	Unacked    int       `json:"unacked"`
	TotalPages int       `json:"pages"`
	AckedPages int       `json:"acked"`
}

// oncallSection is the on-call load: pages per shift, in and out of operator
// hours.
var oncallSection = section{
	id:        "oncall",
	build:     (*builder).oncall,
	body:      oncallBody,
	inSummary: true,
}

func (b *builder) inOperatorHours(t time.Time) bool {
	from, to, err := parseHours(b.cfg.OperatorHours)
	if err != nil {
		return false
	}
	lt := t.In(b.loc)
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday {
		return false
	}
	off := lt.Sub(localDay(lt, b.loc))
	return off >= from && off < to
}

func (b *builder) oncall(ctx context.Context) error {
	r := b.r
	cur, err := b.src.OnCall(ctx, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.OnCall(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	s := &r.OnCall
	shifts := slices.Clone(cur.Shifts)
	if len(shifts) == 0 {
		shifts = weeksOfPages(cur.Pages, r.Period, b.loc)
	}
	slices.SortFunc(shifts, func(a, b Shift) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.Member, b.Member)) })
	type pstat struct {
		in, out, acked, total int
		ack                   []float64
	}
	count := func(pages []Page, p Period) pstat {
		var st pstat
		for _, pg := range pages {
			if !p.Contains(pg.At) {
				continue
			}
			st.total++
			if b.inOperatorHours(pg.At) {
				st.in++
			} else {
				st.out++
			}
			if !pg.AckedAt.IsZero() {
				st.acked++
				st.ack = append(st.ack, pg.AckedAt.Sub(pg.At).Seconds())
			}
		}
		return st
	}
	for _, sh := range shifts {
		row := WeekRow{Member: sh.Member, Start: sh.Start.In(b.loc), End: sh.End.In(b.loc)}
		var acks []float64
		for _, pg := range cur.Pages {
			if pg.At.Before(sh.Start) || !pg.At.Before(sh.End) || !r.Period.Contains(pg.At) {
				continue
			}
			row.TotalPages++
			if b.inOperatorHours(pg.At) {
				row.InHours++
			} else {
				row.OutOfHours++
			}
			if pg.AckedAt.IsZero() {
				row.Unacked++
			} else {
				row.AckedPages++
				acks = append(acks, pg.AckedAt.Sub(pg.At).Seconds())
			}
		}
		row.MedianAck = median(acks)
		s.Weeks = append(s.Weeks, row)
	}
	cst, pst := count(cur.Pages, r.Period), count(prev.Pages, r.Previous)
	s.Figures = []Figure{
		figure("oncall.pages", UnitCount, float64(cst.total), ptr(float64(pst.total))),
		figure("oncall.pages_in_hours", UnitCount, float64(cst.in), ptr(float64(pst.in))),
		figure("oncall.pages_out_of_hours", UnitCount, float64(cst.out), ptr(float64(pst.out))),
	}
	if len(cst.ack) == 0 {
		s.Figures = append(s.Figures, missing("oncall.median_ack", UnitSeconds, ReasonNoPagesAcked))
	} else {
		var pp *float64
		if len(pst.ack) > 0 {
			pp = ptr(median(pst.ack))
		}
		f := figure("oncall.median_ack", UnitSeconds, median(cst.ack), pp)
		if pp == nil {
			f.PrevMissing = ReasonNoPagesAcked
		}
		s.Figures = append(s.Figures, f)
	}
	if r.ToDate {
		for i := range s.Figures[:3] {
			s.Figures[i] = s.Figures[i].noChange(ReasonRunning)
		}
	}
	s.Notes = append(s.Notes, b.oncallNote(s, cst.total, cst.out))
	return nil
}

// weeksOfPages stands in for the rota when the source has no shifts: one
// row per member paged in a week (Monday to Monday), clipped to p.
func weeksOfPages(pages []Page, p Period, loc *time.Location) []Shift {
	seen := map[Shift]bool{}
	var out []Shift
	for _, pg := range pages {
		d := localDay(pg.At, loc)
		monday := d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
		s := Shift{Member: pg.Member, Start: monday, End: monday.AddDate(0, 0, 7)}
		if s.Start.Before(p.Start) {
			s.Start = p.Start
		}
		if s.End.After(p.End) {
			s.End = p.End
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func (b *builder) oncallNote(s *OnCallSection, total, out int) string {
	if total == 0 || len(s.Weeks) == 0 {
		return b.cat.t("note.oncall.none")
	}
	busiest := slices.MaxFunc(s.Weeks, func(a, b WeekRow) int {
		return cmp.Or(cmp.Compare(a.TotalPages, b.TotalPages), b.Start.Compare(a.Start))
	})
	return b.cat.t("note.oncall", total, len(s.Weeks), out, busiest.Member, busiest.TotalPages)
}

// oncallBody shows the figures, the shifts (when any) and the note; the CSV
// also gets the pages of each shift.
func oncallBody(r *Report, c *catalogT) []block {
	s := &r.OnCall
	body := []block{figuresBlock(c, s.Figures)}
	var records []record
	if len(s.Weeks) > 0 {
		weeks := table{Columns: []column{
			{Head: c.t("col.week"), Width: 46},
			{Head: c.t("col.member"), Width: 46},
			{Head: c.t("col.in_hours"), Num: true, Width: 28},
			{Head: c.t("col.out_of_hours"), Num: true, Width: 30},
			{Head: c.t("col.median_ack"), Num: true, Width: 32},
		}}
		for _, wk := range s.Weeks {
			ack := "–"
			if wk.AckedPages > 0 {
				ack = c.duration(wk.MedianAck)
			}
			weeks.Rows = append(weeks.Rows, texts(c.span(wk.Start, wk.End), wk.Member, strconv.Itoa(wk.InHours), strconv.Itoa(wk.OutOfHours), ack))
			records = append(records, dayRecord("oncall.week.pages."+wk.Member, UnitCount, wk.Start, float64(wk.TotalPages)))
		}
		body = append(body, tableBlock(weeks))
	}
	return append(body, notesBlock(s.Notes), recordsBlock(records...))
}
