package reports

import (
	"context"
	"slices"
	"strings"
	"time"
)

// LoginsSection is logins and reads by protocol.
type LoginsSection struct {
	Figures   []Figure        `json:"figures"`
	Protocols []ProtocolRow   `json:"protocols"`
	Days      []LoginTotalDay `json:"days"`
	Notes     []string        `json:"notes"`
}

// ProtocolRow is one protocol's logins and failures.
type ProtocolRow struct {
	Protocol string `json:"protocol"`
	OK       Figure `json:"ok"`
	Failed   Figure `json:"failed"`
	// FailedPct is failures as a share of all attempts, in per cent.
	FailedPct float64 `json:"failed_pct"`
	// UsersPerDay is the mean of the distinct users per day.
	UsersPerDay float64 `json:"users_per_day"`
}

// LoginTotalDay is one day of logins by protocol (successful) and all
// failures.
type LoginTotalDay struct {
	Day    time.Time        `json:"day"`
	OK     map[string]int64 `json:"ok"`
	Failed int64            `json:"failed"`
}

// Protocols is the order of protocols in the report.
var Protocols = []string{ProtocolWebmail, ProtocolIMAP, ProtocolPOP, ProtocolSMTPAuth}

// loginsSection is logins and reads by protocol.
var loginsSection = section{
	id:    "logins",
	build: (*builder).logins,
	body:  loginsBody,
}

func (b *builder) logins(ctx context.Context) error {
	r := b.r
	cur, err := b.src.LoginDays(ctx, b.loc, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.LoginDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	type agg struct{ ok, failed, users int64 }
	sumBy := func(ds []LoginDay) map[string]*agg {
		m := map[string]*agg{}
		for _, d := range ds {
			a := m[d.Protocol]
			if a == nil {
				a = &agg{}
				m[d.Protocol] = a
			}
			a.ok += d.OK
			a.failed += d.Failed
			a.users += d.Users
		}
		return m
	}
	cm, pm := sumBy(cur), sumBy(prev)
	protos := slices.Clone(Protocols)
	for p := range cm {
		if p != AllProtocols && !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	slices.Sort(protos[len(Protocols):])
	hasPrev := len(prev) > 0
	s := &r.Logins
	var totOK, totFail, pOK, pFail float64
	ndays := float64(len(r.Period.Days()))
	for _, p := range protos {
		c, pr := cm[p], pm[p]
		if c == nil {
			c = &agg{}
		}
		var pok, pfail *float64
		if hasPrev {
			if pr == nil {
				pr = &agg{}
			}
			pok, pfail = ptr(float64(pr.ok)), ptr(float64(pr.failed))
			pOK += float64(pr.ok)
			pFail += float64(pr.failed)
		}
		row := ProtocolRow{
			Protocol: p,
			OK:       figure("logins."+p+".ok", UnitCount, float64(c.ok), pok),
			Failed:   figure("logins."+p+".failed", UnitCount, float64(c.failed), pfail),
		}
		if c.ok+c.failed > 0 {
			row.FailedPct = round(float64(c.failed)/float64(c.ok+c.failed)*100, 2)
		}
		row.UsersPerDay = round(float64(c.users)/ndays, 0)
		s.Protocols = append(s.Protocols, row)
		totOK += float64(c.ok)
		totFail += float64(c.failed)
	}
	pv := func(v float64) *float64 {
		if !hasPrev {
			return nil
		}
		return ptr(v)
	}
	s.Figures = []Figure{
		figure("logins.ok", UnitCount, totOK, pv(pOK)),
		figure("logins.failed", UnitCount, totFail, pv(pFail)),
	}
	if all := cm[AllProtocols]; all != nil && all.users > 0 {
		var pu *float64
		if p := pm[AllProtocols]; p != nil && p.users > 0 {
			pu = ptr(round(float64(p.users)/float64(len(r.Previous.Days())), 0))
		}
		s.Figures = append(s.Figures, figure("logins.users_per_day", UnitCount, round(float64(all.users)/ndays, 0), pu))
	}
	byDay := map[time.Time]*LoginTotalDay{}
	days := r.Period.Days()
	for _, d := range days {
		byDay[d] = &LoginTotalDay{Day: d, OK: map[string]int64{}}
	}
	for _, d := range cur {
		row := byDay[localDay(d.Day, b.loc)]
		if row == nil || d.Protocol == AllProtocols {
			continue
		}
		row.OK[d.Protocol] += d.OK
		row.Failed += d.Failed
	}
	for _, d := range days {
		s.Days = append(s.Days, *byDay[d])
	}
	totalOK := func(d LoginTotalDay) int64 {
		var t int64
		for _, v := range d.OK {
			t += v
		}
		return t
	}
	prevDays := map[time.Time]float64{}
	for _, d := range prev {
		prevDays[localDay(d.Day, b.loc)] += float64(d.OK)
	}
	var prevSeries []float64
	for _, d := range r.Previous.Days() {
		prevSeries = append(prevSeries, prevDays[d])
	}
	s.Notes = append(s.Notes, b.seriesNote("logins", days, series(s.Days, totalOK), prevSeries, hasPrev))
	s.Notes = append(s.Notes, b.failedLoginNote(s.Protocols))
	if n := b.failedOutlierNote(s.Days); n != "" {
		s.Notes = append(s.Notes, n)
	}
	return nil
}

// failedOutlierNote names the days with unusually many failed logins (a
// password-guessing attack shows up here), or returns "".
func (b *builder) failedOutlierNote(days []LoginTotalDay) string {
	c := b.cat
	ds := make([]time.Time, len(days))
	vs := make([]float64, len(days))
	for i, d := range days {
		ds[i], vs[i] = d.Day, float64(d.Failed)
	}
	k := b.cfg.OutlierK
	if k == 0 {
		k = 3
	}
	var items []string
	for _, o := range Outliers(ds, vs, k) {
		if o.Value < o.Median {
			continue
		}
		items = append(items, c.date(o.Day)+" ("+c.int(o.Value)+", "+c.signed(o.Deviation())+")")
	}
	if len(items) == 0 {
		return ""
	}
	return c.t("note.failed_outliers", strings.Join(items, "; "))
}

func (b *builder) failedLoginNote(rows []ProtocolRow) string {
	var worst *ProtocolRow
	for i := range rows {
		if rows[i].OK.Current+rows[i].Failed.Current == 0 {
			continue
		}
		if worst == nil || rows[i].FailedPct > worst.FailedPct {
			worst = &rows[i]
		}
	}
	if worst == nil {
		return ""
	}
	return b.cat.t("note.failed_logins", b.cat.label("protocol", worst.Protocol), b.cat.pct(worst.FailedPct, 1))
}

// loginsBody shows the protocols table first, then the figures, the chart and
// the notes; the CSV gets the figures, the protocols' figures and each day's
// logins.
func loginsBody(r *Report, c *catalogT) []block {
	s := &r.Logins
	protocols := table{Columns: []column{
		{Head: c.t("col.protocol"), Width: 32},
		{Head: c.t("col.logins"), Num: true, Width: 22},
		{Head: c.t("col.previous"), Num: true, Width: 22},
		{Head: c.t("col.change"), Num: true, Width: 16},
		{Head: c.t("col.failed"), Num: true, Width: 18},
		{Head: c.t("col.previous"), Num: true, Width: 18},
		{Head: c.t("col.failed_pct"), Num: true, Width: 26},
		{Head: c.t("col.users_per_day"), Num: true, Width: 28},
	}}
	var records []record
	for _, p := range s.Protocols {
		row := append(texts(c.label("protocol", p.Protocol), c.value(p.OK.Unit, p.OK.Current), prevText(c, p.OK)), changeCell(c, p.OK))
		row = append(row, texts(c.value(p.Failed.Unit, p.Failed.Current), prevText(c, p.Failed), c.pct(p.FailedPct, 1), usersText(c, p.UsersPerDay))...)
		protocols.Rows = append(protocols.Rows, row)
		records = append(records, figureRecords(p.OK, p.Failed)...)
	}
	for _, d := range s.Days {
		for _, p := range s.Protocols {
			records = append(records, dayRecord("logins."+p.Protocol+".ok", UnitCount, d.Day, float64(d.OK[p.Protocol])))
		}
		records = append(records, dayRecord("logins.failed", UnitCount, d.Day, float64(d.Failed)))
	}
	return []block{tableBlock(protocols), figuresBlock(c, s.Figures), chartBlock(loginsChart(r, c)), notesBlock(s.Notes), recordsBlock(records...)}
}

func usersText(c *catalogT, v float64) string {
	if v == 0 {
		return "–"
	}
	return c.int(v)
}

// loginsChart is the successful logins per day, one line per protocol.
func loginsChart(r *Report, c *catalogT) *Chart {
	n := len(r.Logins.Days)
	if n == 0 {
		return nil
	}
	ch := &Chart{ID: "logins", Title: c.t("chart.logins"), Kind: "line",
		Labels: dayLabels(n, func(i int) int { return r.Logins.Days[i].Day.Day() })}
	for _, p := range r.Logins.Protocols {
		v := make([]float64, n)
		for i, d := range r.Logins.Days {
			v[i] = float64(d.OK[p.Protocol])
		}
		ch.Series = append(ch.Series, ChartSeries{c.label("protocol", p.Protocol), v})
	}
	return ch
}
