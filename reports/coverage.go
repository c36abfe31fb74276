package reports

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"time"
)

// Coverage: which days each log reached the database. A figure computed
// from a log is known only for the days the log covers; a day without
// any record of the log is a day without data, never a day with zero
// (docs/reports.md, "Missing data and coverage").

// Coverage groups: the logs a figure depends on.
const (
	CoverMail     = "mail"     // the MTA: Postfix or the engine
	CoverFilter   = "filter"   // the content filter: amavis, rspamd
	CoverGreylist = "greylist" // greylisting decisions: postgrey, the engine
	CoverDovecot  = "dovecot"  // IMAP/POP3 logins and sessions
	CoverWebmail  = "webmail"  // webmail sign-ins
)

// CoverageGroups is the order of the groups in the report.
var CoverageGroups = []string{CoverMail, CoverFilter, CoverGreylist, CoverDovecot, CoverWebmail}

// coverageGroupsOf returns the groups a record source counts for; a source
// of webmail sign-ins counts through the logins instead (readCoverage).
func coverageGroupsOf(source string) []string {
	switch source {
	case "postfix":
		return []string{CoverMail}
	case "engine":
		return []string{CoverMail, CoverGreylist}
	case "amavis", "rspamd":
		return []string{CoverFilter}
	case "postgrey":
		return []string{CoverGreylist}
	case "dovecot", "dovecot-auth":
		return []string{CoverDovecot}
	}
	return nil
}

// CoverageSection is the data coverage of the period: per group of logs
// and per source and host, the days with records.
type CoverageSection struct {
	Groups  []CoverageGroup  `json:"groups"`
	Sources []CoverageSource `json:"sources"`
	Notes   []string         `json:"notes"`
}

// CoverageGroup is the days with data of one group of logs.
type CoverageGroup struct {
	Group    string      `json:"group"`
	Days     int         `json:"days"`
	WithData int         `json:"with_data"`
	Without  []time.Time `json:"without"` // the days without data
}

// CoverageSource is the days with records of one source on one host.
type CoverageSource struct {
	Source   string    `json:"source"`
	Host     string    `json:"host"`
	WithData int       `json:"with_data"`
	First    time.Time `json:"first"`
	Last     time.Time `json:"last"`
	Records  int64     `json:"records"`
}

var coverageSection = section{
	id:    "coverage",
	build: (*builder).coverage,
	body:  coverageBody,
}

// readCoverage reads the days with data of both periods before the
// sections are built: they decide which figures are known.
func (b *builder) readCoverage(ctx context.Context) error {
	for i, span := range [2][2]time.Time{{b.r.Period.Start, b.r.DataEnd}, {b.r.Previous.Start, b.r.Previous.End}} {
		m := map[string]map[time.Time]bool{}
		for _, g := range CoverageGroups {
			m[g] = map[time.Time]bool{}
		}
		rows, err := b.src.Coverage(ctx, b.loc, span[0], span[1])
		if err != nil {
			return err
		}
		for _, c := range rows {
			if c.Records <= 0 {
				continue
			}
			for _, g := range coverageGroupsOf(c.Source) {
				m[g][localDay(c.Day, b.loc)] = true
			}
		}
		logins, err := b.src.LoginDays(ctx, b.loc, span[0], span[1])
		if err != nil {
			return err
		}
		for _, l := range logins {
			if l.Protocol == ProtocolWebmail && l.OK+l.Failed > 0 {
				m[CoverWebmail][localDay(l.Day, b.loc)] = true
			}
		}
		b.cov[i] = m
	}
	return nil
}

// covered returns the days of the period (prev: the previous period) with
// data of group.
func (b *builder) covered(group string, prev bool) []time.Time {
	days, m := b.days(), b.cov[0][group]
	if prev {
		days, m = b.r.Previous.Days(), b.cov[1][group]
	}
	var out []time.Time
	for _, d := range days {
		if m[d] {
			out = append(out, d)
		}
	}
	return out
}

// hasData reports whether group has data on any day of the period (prev:
// the previous one).
func (b *builder) hasData(group string, prev bool) bool { return len(b.covered(group, prev)) > 0 }

// total qualifies a total of the period computed from group's logs: with
// the days with data when some have none, and without a change when the
// two periods are not comparable (a running period, partial coverage in
// either). The previous value is dropped when the previous period has no
// data of group.
func (b *builder) total(f Figure, group string) Figure {
	days, with := len(b.days()), len(b.covered(group, false))
	pdays, pwith := len(b.r.Previous.Days()), len(b.covered(group, true))
	if pwith == 0 {
		f = f.withPrevMissing(ReasonPrevNoData)
	}
	f = f.covering(days, with)
	switch {
	case b.r.ToDate:
		f = f.noChange(ReasonRunning)
	case with < days || pwith < pdays:
		f = f.noChange(ReasonPartial)
	}
	return f
}

// perDay is the mean per complete day with data of group: values are the
// period's daily values by local day; prevValues the previous period's.
// Days without data are left out of both the sum and the count.
func (b *builder) perDay(key string, group string, values, prevValues map[time.Time]float64) Figure {
	mean := func(days []time.Time, v map[time.Time]float64, complete func(time.Time) bool) (float64, int) {
		var s float64
		n := 0
		for _, d := range days {
			if !complete(d) {
				continue
			}
			s += v[d]
			n++
		}
		if n == 0 {
			return 0, 0
		}
		return s / float64(n), n
	}
	cur, n := mean(b.covered(group, false), values, b.complete)
	prev, pn := mean(b.covered(group, true), prevValues, func(time.Time) bool { return true })
	if n == 0 {
		return missing(key, UnitPerDay, ReasonNoLogs)
	}
	var pp *float64
	if pn > 0 {
		pp = ptr(prev)
	}
	f := figure(key, UnitPerDay, cur, pp)
	days := 0
	for _, d := range b.days() {
		if b.complete(d) {
			days++
		}
	}
	return f.covering(days, n)
}

func (b *builder) coverage(ctx context.Context) error {
	s := &b.r.Coverage
	days := b.days()
	for _, g := range CoverageGroups {
		cg := CoverageGroup{Group: g, Days: len(days)}
		for _, d := range days {
			if b.cov[0][g][d] {
				cg.WithData++
			} else {
				cg.Without = append(cg.Without, d)
			}
		}
		s.Groups = append(s.Groups, cg)
	}
	if err := b.coverageSources(ctx); err != nil {
		return err
	}
	s.Notes = b.coverageNotes()
	return nil
}

// coverageSources fills the per-source table; it needs the rows, which
// readCoverage folds into groups, so the section reads them again.
func (b *builder) coverageSources(ctx context.Context) error {
	rows, err := b.src.Coverage(ctx, b.loc, b.r.Period.Start, b.r.DataEnd)
	if err != nil {
		return err
	}
	type key struct{ src, host string }
	acc := map[key]*CoverageSource{}
	seen := map[key]map[time.Time]bool{}
	for _, c := range rows {
		if c.Records <= 0 {
			continue
		}
		k := key{c.Source, c.Host}
		cs := acc[k]
		if cs == nil {
			cs = &CoverageSource{Source: c.Source, Host: c.Host}
			acc[k], seen[k] = cs, map[time.Time]bool{}
		}
		d := localDay(c.Day, b.loc)
		if !seen[k][d] {
			seen[k][d] = true
			cs.WithData++
		}
		if cs.First.IsZero() || d.Before(cs.First) {
			cs.First = d
		}
		if d.After(cs.Last) {
			cs.Last = d
		}
		cs.Records += c.Records
	}
	s := &b.r.Coverage
	for _, cs := range acc {
		s.Sources = append(s.Sources, *cs)
	}
	slices.SortFunc(s.Sources, func(a, b CoverageSource) int {
		return cmp.Or(cmp.Compare(a.Source, b.Source), cmp.Compare(a.Host, b.Host))
	})
	return nil
}

// coverageNote says, for each group with data on some days but not all,
// which days are missing; for a group without any data, that it has none.
func (b *builder) coverageNotes() []string {
	c := b.cat
	var notes []string
	for _, g := range b.r.Coverage.Groups {
		switch {
		case g.WithData == g.Days:
			notes = append(notes, c.t("note.coverage.full", c.t("cover."+g.Group), g.Days))
		case g.WithData == 0:
			notes = append(notes, c.t("note.coverage.none", c.t("cover."+g.Group)))
		default:
			notes = append(notes, c.t("note.coverage.partial", c.t("cover."+g.Group), g.WithData, g.Days, c.dayRanges(g.Without)))
		}
	}
	return notes
}

// dayRanges writes days as runs: "1–9 Nov, 22–30 Nov".
func (c *catalogT) dayRanges(days []time.Time) string {
	var parts []string
	for i := 0; i < len(days); {
		j := i
		for j+1 < len(days) && days[j+1].Sub(days[j]) <= 25*time.Hour {
			j++
		}
		if j == i {
			parts = append(parts, c.dayMonth(days[i]))
		} else {
			parts = append(parts, c.dayNum(days[i])+"–"+c.dayMonth(days[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ", ")
}

// coverageBody shows the groups' days with data, the sources and hosts,
// and the notes; the CSV gets each group's and source's days with data.
func coverageBody(r *Report, c *catalogT) []block {
	s := &r.Coverage
	groups := table{Columns: []column{
		{Head: c.t("col.logs"), Width: 92},
		{Head: c.t("col.days_with_data"), Num: true, Width: 45},
		{Head: c.t("col.days"), Num: true, Width: 45},
	}}
	var records []record
	for _, g := range s.Groups {
		groups.Rows = append(groups.Rows, texts(c.t("cover."+g.Group), c.int(float64(g.WithData)), c.int(float64(g.Days))))
		records = append(records, periodRecord("coverage."+g.Group+".days_with_data", UnitDays, float64(g.WithData)),
			periodRecord("coverage."+g.Group+".days", UnitDays, float64(g.Days)))
	}
	body := []block{tableBlock(groups)}
	if len(s.Sources) > 0 {
		src := table{Title: c.t("coverage.sources"), Columns: []column{
			{Head: c.t("col.source"), Width: 34},
			{Head: c.t("col.host"), Width: 48},
			{Head: c.t("col.days_with_data"), Num: true, Width: 30},
			{Head: c.t("col.first"), Width: 35},
			{Head: c.t("col.last"), Width: 35},
		}}
		for _, cs := range s.Sources {
			host := cs.Host
			if host == "" {
				host = "–"
			}
			src.Rows = append(src.Rows, texts(cs.Source, host, c.int(float64(cs.WithData)), c.date(cs.First), c.date(cs.Last)))
			records = append(records, periodRecord("coverage.source."+cs.Source+"."+cs.Host+".days_with_data", UnitDays, float64(cs.WithData)))
		}
		body = append(body, tableBlock(src))
	}
	return append(body, notesBlock(s.Notes), recordsBlock(records...))
}
