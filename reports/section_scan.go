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
	Day     time.Time `json:"day"`
	Spam    int64     `json:"spam"`
	Virus   int64     `json:"virus"`
	Banned  int64     `json:"banned"`
	Total   int64     `json:"total"` // every scanned message, greylisting excluded
	HasData bool      `json:"has_data"`
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
	from, to := b.span()
	cur, err := b.src.ScanDays(ctx, b.loc, from, to)
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
	scanned := func(m map[string]int64) float64 {
		var t int64
		for v, n := range m {
			if v != VerdictGreylisted {
				t += n
			}
		}
		return float64(t)
	}
	filter, pfilter := b.hasData(CoverFilter, false), b.hasData(CoverFilter, true)
	grey, pgrey := b.hasData(CoverGreylist, false), b.hasData(CoverGreylist, true)
	// fig is a count of the content filter's (or greylisting's) logs:
	// missing without them, qualified by their days with data.
	fig := func(key string, group string, known, pknown bool, v, pv float64) Figure {
		if !known {
			reason := ReasonNoFilterLogs
			if group == CoverGreylist {
				reason = ReasonNoGreylistLogs
			}
			return missing(key, UnitCount, reason)
		}
		var pp *float64
		if pknown {
			pp = ptr(pv)
		}
		return b.total(figure(key, UnitCount, v, pp), group)
	}
	s := &r.Scan
	s.Figures = []Figure{
		fig("scan.scanned", CoverFilter, filter, pfilter, scanned(curV), scanned(prevV)),
		fig("scan.spam", CoverFilter, filter, pfilter, float64(curV[VerdictSpam]), float64(prevV[VerdictSpam])),
	}
	rate := missing("scan.spam_rate", UnitPercent, ReasonNoFilterLogs)
	if filter && scanned(curV) > 0 {
		var pp *float64
		if pfilter && scanned(prevV) > 0 {
			pp = ptr(float64(prevV[VerdictSpam]) / scanned(prevV) * 100)
		}
		rate = figure("scan.spam_rate", UnitPercent, float64(curV[VerdictSpam])/scanned(curV)*100, pp)
	} else if filter {
		rate = missing("scan.spam_rate", UnitPercent, ReasonNoData)
	}
	s.Figures = append(s.Figures, rate,
		fig("scan.virus", CoverFilter, filter, pfilter, float64(curV[VerdictVirus]), float64(prevV[VerdictVirus])),
		fig("scan.banned", CoverFilter, filter, pfilter, float64(curV[VerdictBanned]), float64(prevV[VerdictBanned])),
		fig("scan.greylisted", CoverGreylist, grey, pgrey, float64(curV[VerdictGreylisted]), float64(prevV[VerdictGreylisted])),
	)
	keys := map[va]bool{}
	for k := range curM {
		keys[k] = true
	}
	for k := range prevM {
		keys[k] = true
	}
	for k := range keys {
		group, known, pknown := CoverFilter, filter, pfilter
		if k.v == VerdictGreylisted {
			group, known, pknown = CoverGreylist, grey, pgrey
		}
		s.Matrix = append(s.Matrix, ScanRow{Verdict: k.v, Action: k.a,
			Count: fig("scan."+k.v+"."+k.a, group, known, pknown, float64(curM[k]), float64(prevM[k]))})
	}
	slices.SortFunc(s.Matrix, func(a, b ScanRow) int {
		return cmp.Or(cmp.Compare(verdictOrder(a.Verdict), verdictOrder(b.Verdict)), cmp.Compare(a.Verdict, b.Verdict), cmp.Compare(a.Action, b.Action))
	})
	byDay := map[time.Time]*ScanDayRow{}
	days := b.days()
	for _, d := range days {
		byDay[d] = &ScanDayRow{Day: d, HasData: b.cov[0][CoverFilter][d]}
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
	var cv, pv dayValues
	for _, d := range days {
		row := byDay[d]
		s.Days = append(s.Days, *row)
		if row.HasData && b.complete(d) {
			cv.days, cv.values = append(cv.days, d), append(cv.values, float64(row.Spam))
		}
	}
	prevByDay := map[time.Time]float64{}
	for _, c := range prev {
		if c.Verdict == VerdictSpam {
			prevByDay[localDay(c.Day, b.loc)] += float64(c.Count)
		}
	}
	for _, d := range b.covered(CoverFilter, true) {
		pv.days, pv.values = append(pv.days, d), append(pv.values, prevByDay[d])
	}
	if !filter {
		s.Notes = append(s.Notes, b.cat.reason(ReasonNoFilterLogs)+".")
		return nil
	}
	perDay := figure("scan.spam.per_day", UnitPerDay, mean(cv.values), nil)
	if len(pv.values) > 0 {
		perDay = figure("scan.spam.per_day", UnitPerDay, mean(cv.values), ptr(mean(pv.values)))
	}
	s.Notes = append(s.Notes, b.seriesNote("spam", figureOf(s.Figures, "scan.spam"), perDay, cv, pv))
	s.Notes = append(s.Notes, b.virusNote(curV, prevV, pfilter))
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
// and the notes; the CSV also gets the table's figures and each day's counts
// (days without content-filter logs are left out).
func scanBody(r *Report, c *catalogT) []block {
	s := &r.Scan
	matrix := table{Title: c.t("col.verdict") + " / " + c.t("col.action"), Columns: []column{
		{Head: c.t("col.verdict"), Width: 50},
		{Head: c.t("col.action"), Width: 42},
		{Head: c.t("col.current"), Num: true, Width: 32},
		{Head: c.t("col.previous"), Num: true, Width: 32},
		{Head: c.t("col.change"), Num: true, Width: 26},
	}}
	fn := &footnotes{c: c}
	var records []record
	for _, m := range s.Matrix {
		matrix.Rows = append(matrix.Rows, append(texts(c.label("verdict", m.Verdict), c.label("action", m.Action)),
			fn.value(m.Count), fn.prev(m.Count), fn.change(m.Count)))
		records = append(records, figureRecords(m.Count)...)
	}
	for _, d := range s.Days {
		if !d.HasData {
			continue
		}
		records = append(records,
			dayRecord("scan.spam", UnitCount, d.Day, float64(d.Spam)),
			dayRecord("scan.virus", UnitCount, d.Day, float64(d.Virus)),
			dayRecord("scan.banned", UnitCount, d.Day, float64(d.Banned)))
	}
	body := []block{figuresBlock(c, s.Figures)}
	if len(s.Matrix) > 0 {
		body = append(body, block{Table: &matrix, Footnotes: fn.notes()})
	}
	return append(body, chartBlock(scanChart(r, c)), notesBlock(s.Notes), recordsBlock(records...))
}

// scanChart is spam, viruses and banned attachments per day, stacked;
// days without data are gaps.
func scanChart(r *Report, c *catalogT) *Chart {
	n := len(r.Scan.Days)
	has := false
	for _, d := range r.Scan.Days {
		has = has || d.HasData
	}
	if n == 0 || !has {
		return nil
	}
	ch := &Chart{ID: "scan", Title: c.t("chart.scan"), Kind: "bar", Stacked: true,
		Labels: dayLabels(n, func(i int) int { return r.Scan.Days[i].Day.Day() })}
	sp, vi, ba := make([]float64, n), make([]float64, n), make([]float64, n)
	for i, d := range r.Scan.Days {
		sp[i], vi[i], ba[i] = float64(d.Spam), float64(d.Virus), float64(d.Banned)
		if !d.HasData {
			sp[i], vi[i], ba[i] = nullValue(), nullValue(), nullValue()
		}
	}
	ch.Series = []ChartSeries{{c.t("series.spam"), sp}, {c.t("series.virus"), vi}, {c.t("series.banned"), ba}}
	return ch
}
