package reports

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// ScanSection is spam and virus handling.
type ScanSection struct {
	Figures []Figure     `json:"figures"`
	Matrix  []ScanRow    `json:"matrix"` // verdict × action
	Days    []ScanDayRow `json:"days"`
	Notes   []string     `json:"notes"`
}

// ScanRow is the count of one verdict handled by one action.
type ScanRow struct {
	Verdict string `json:"verdict"`
	Action  string `json:"action"`
	Count   Figure `json:"count"`
}

// ScanDayRow is the spam, virus and banned-attachment counts of a day.
type ScanDayRow struct {
	Day    time.Time `json:"day"`
	Spam   int64     `json:"spam"`
	Virus  int64     `json:"virus"`
	Banned int64     `json:"banned"`
	Total  int64     `json:"total"` // every scanned message, greylisting excluded
}

// scanSection is spam and virus handling: verdicts, actions and days.
var scanSection = section{
	id:        "scan",
	build:     (*builder).scan,
	body:      scanBody,
	inSummary: true,
}

func (b *builder) scan(ctx context.Context) error {
	r := b.r
	cur, err := b.src.ScanDays(ctx, b.loc, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.ScanDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	type va struct{ v, a string }
	curM, prevM := map[va]int64{}, map[va]int64{}
	curV, prevV := map[string]int64{}, map[string]int64{}
	for _, c := range cur {
		curM[va{c.Verdict, c.Action}] += c.Count
		curV[c.Verdict] += c.Count
	}
	for _, c := range prev {
		prevM[va{c.Verdict, c.Action}] += c.Count
		prevV[c.Verdict] += c.Count
	}
	hasPrev := len(prev) > 0
	pv := func(v float64) *float64 {
		if !hasPrev {
			return nil
		}
		return ptr(v)
	}
	scanned := func(m map[string]int64) float64 {
		var t int64
		for v, n := range m {
			if v != VerdictGreylisted {
				t += n
			}
		}
		return float64(t)
	}
	rate := func(m map[string]int64, verdict string) float64 {
		t := scanned(m)
		if t == 0 {
			return 0
		}
		return round(float64(m[verdict])/t*100, 2)
	}
	s := &r.Scan
	s.Figures = []Figure{
		figure("scan.scanned", UnitCount, scanned(curV), pv(scanned(prevV))),
		figure("scan.spam", UnitCount, float64(curV[VerdictSpam]), pv(float64(prevV[VerdictSpam]))),
		figure("scan.spam_rate", UnitPercent, rate(curV, VerdictSpam), pv(rate(prevV, VerdictSpam))),
		figure("scan.virus", UnitCount, float64(curV[VerdictVirus]), pv(float64(prevV[VerdictVirus]))),
		figure("scan.banned", UnitCount, float64(curV[VerdictBanned]), pv(float64(prevV[VerdictBanned]))),
		figure("scan.greylisted", UnitCount, float64(curV[VerdictGreylisted]), pv(float64(prevV[VerdictGreylisted]))),
	}
	keys := map[va]bool{}
	for k := range curM {
		keys[k] = true
	}
	for k := range prevM {
		keys[k] = true
	}
	for k := range keys {
		s.Matrix = append(s.Matrix, ScanRow{Verdict: k.v, Action: k.a,
			Count: figure("scan."+k.v+"."+k.a, UnitCount, float64(curM[k]), pv(float64(prevM[k])))})
	}
	slices.SortFunc(s.Matrix, func(a, b ScanRow) int {
		return cmp.Or(cmp.Compare(verdictOrder(a.Verdict), verdictOrder(b.Verdict)), cmp.Compare(a.Verdict, b.Verdict), cmp.Compare(a.Action, b.Action))
	})
	byDay := map[time.Time]*ScanDayRow{}
	days := r.Period.Days()
	for _, d := range days {
		byDay[d] = &ScanDayRow{Day: d}
	}
	for _, c := range cur {
		row := byDay[localDay(c.Day, b.loc)]
		if row == nil {
			continue
		}
		switch c.Verdict {
		case VerdictSpam:
			row.Spam += c.Count
		case VerdictVirus:
			row.Virus += c.Count
		case VerdictBanned:
			row.Banned += c.Count
		}
		if c.Verdict != VerdictGreylisted {
			row.Total += c.Count
		}
	}
	prevSpam := make([]float64, 0)
	prevByDay := map[time.Time]float64{}
	for _, c := range prev {
		if c.Verdict == VerdictSpam {
			prevByDay[localDay(c.Day, b.loc)] += float64(c.Count)
		}
	}
	for _, d := range r.Previous.Days() {
		prevSpam = append(prevSpam, prevByDay[d])
	}
	for _, d := range days {
		s.Days = append(s.Days, *byDay[d])
	}
	s.Notes = append(s.Notes, b.seriesNote("spam", days, series(s.Days, func(d ScanDayRow) int64 { return d.Spam }), prevSpam, hasPrev))
	s.Notes = append(s.Notes, b.virusNote(curV, prevV, hasPrev))
	return nil
}

func verdictOrder(v string) int {
	switch v {
	case VerdictClean:
		return 0
	case VerdictSpam:
		return 1
	case VerdictVirus:
		return 2
	case VerdictBanned:
		return 3
	case VerdictGreylisted:
		return 4
	}
	return 5
}

func (b *builder) virusNote(cur, prev map[string]int64, hasPrev bool) string {
	c := b.cat
	if !hasPrev {
		return c.t("note.virus.first", c.int(float64(cur[VerdictVirus])), c.int(float64(cur[VerdictBanned])))
	}
	return c.t("note.virus", c.int(float64(cur[VerdictVirus])), c.int(float64(cur[VerdictBanned])),
		c.int(float64(prev[VerdictVirus])), c.shortPeriod(b.r.Previous))
}

// scanBody shows the figures, the verdict × action table, the chart per day
// and the notes; the CSV also gets the table's figures and each day's counts.
func scanBody(r *Report, c *catalogT) []block {
	s := &r.Scan
	matrix := table{Title: c.t("col.verdict") + " / " + c.t("col.action"), Columns: []column{
		{Head: c.t("col.verdict"), Width: 50},
		{Head: c.t("col.action"), Width: 42},
		{Head: c.t("col.current"), Num: true, Width: 32},
		{Head: c.t("col.previous"), Num: true, Width: 32},
		{Head: c.t("col.change"), Num: true, Width: 26},
	}}
	var records []record
	for _, m := range s.Matrix {
		matrix.Rows = append(matrix.Rows, append(texts(c.label("verdict", m.Verdict), c.label("action", m.Action),
			c.value(m.Count.Unit, m.Count.Current), prevText(c, m.Count)), changeCell(c, m.Count)))
		records = append(records, figureRecords(m.Count)...)
	}
	for _, d := range s.Days {
		records = append(records,
			dayRecord("scan.spam", UnitCount, d.Day, float64(d.Spam)),
			dayRecord("scan.virus", UnitCount, d.Day, float64(d.Virus)),
			dayRecord("scan.banned", UnitCount, d.Day, float64(d.Banned)))
	}
	return []block{figuresBlock(c, s.Figures), tableBlock(matrix), chartBlock(scanChart(r, c)), notesBlock(s.Notes), recordsBlock(records...)}
}

// scanChart is spam, viruses and banned attachments per day, stacked.
func scanChart(r *Report, c *catalogT) *Chart {
	n := len(r.Scan.Days)
	if n == 0 {
		return nil
	}
	ch := &Chart{ID: "scan", Title: c.t("chart.scan"), Kind: "bar", Stacked: true,
		Labels: dayLabels(n, func(i int) int { return r.Scan.Days[i].Day.Day() })}
	sp, vi, ba := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, d := range r.Scan.Days {
		sp[i], vi[i], ba[i] = float64(d.Spam), float64(d.Virus), float64(d.Banned)
	}
	ch.Series = []ChartSeries{{c.t("series.spam"), sp}, {c.t("series.virus"), vi}, {c.t("series.banned"), ba}}
	return ch
}
