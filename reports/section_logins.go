package reports

import (
	"context"
	"slices"
	"strings"
	"time"
)

// LoginsSection is logins, messages read and active users by protocol.
type LoginsSection struct {
	Figures   []Figure        `json:"figures"`
	Protocols []ProtocolRow   `json:"protocols"`
	Days      []LoginTotalDay `json:"days"`
	Notes     []string        `json:"notes"`
}

// ProtocolRow is one protocol's logins, failures, messages read and
// active users.
type ProtocolRow struct {
	Protocol string `json:"protocol"`
	OK       Figure `json:"ok"`
	Failed   Figure `json:"failed"`
	// FailedPct is failures as a share of all attempts, in per cent.
	FailedPct Figure `json:"failed_pct"`
	// Reads is the messages read (Dovecot's logout counters).
	Reads Figure `json:"reads"`
	// Users is the distinct accounts with a successful login in the period.
	Users Figure `json:"users"`
}

// LoginTotalDay is one day of logins by protocol (successful) and all
// failures; HasData is false on a day without any login log.
type LoginTotalDay struct {
	Day     time.Time        `json:"day"`
	OK      map[string]int64 `json:"ok"`
	Failed  int64            `json:"failed"`
	HasData bool             `json:"has_data"`
}

// Protocols is the order of protocols in the report.
var Protocols = []string{ProtocolWebmail, ProtocolIMAP, ProtocolPOP, ProtocolSMTPAuth}

// protocolCover is the coverage group whose logs carry a protocol's
// logins: a protocol without data there is missing, not zero.
func protocolCover(p string) string {
	switch p {
	case ProtocolWebmail:
		return CoverWebmail
	case ProtocolIMAP, ProtocolPOP:
		return CoverDovecot
	case ProtocolSMTPAuth:
		return CoverMail
	}
	return ""
}

// loginsSection is logins, reads and active users by protocol.
var loginsSection = section{
	id:    "logins",
	build: (*builder).logins,
	body:  loginsBody,
}

func (b *builder) logins(ctx context.Context) error {
	r := b.r
	from, to := b.span()
	cur, err := b.src.LoginDays(ctx, b.loc, from, to)
	if err != nil {
		return err
	}
	prev, err := b.src.LoginDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	reads, err := b.src.ReadDays(ctx, b.loc, from, to)
	if err != nil {
		return err
	}
	prevReads, err := b.src.ReadDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	users, err := b.src.ActiveUsers(ctx, from, to)
	if err != nil {
		return err
	}
	prevUsers, err := b.src.ActiveUsers(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	type agg struct{ ok, failed, reads int64 }
	sumBy := func(ds []LoginDay, rs []ReadDay) map[string]*agg {
		m := map[string]*agg{}
		get := func(p string) *agg {
			if m[p] == nil {
				m[p] = &agg{}
			}
			return m[p]
		}
		for _, d := range ds {
			if d.Protocol == AllProtocols {
				continue
			}
			a := get(d.Protocol)
			a.ok += d.OK
			a.failed += d.Failed
		}
		for _, d := range rs {
			get(d.Protocol).reads += d.Reads
		}
		return m
	}
	cm, pm := sumBy(cur, reads), sumBy(prev, prevReads)
	protos := slices.Clone(Protocols)
	for p := range cm {
		if !slices.Contains(protos, p) {
			protos = append(protos, p)
		}
	}
	slices.Sort(protos[len(Protocols):])
	hasReads := func(rs []ReadDay, p string) bool {
		for _, d := range rs {
			if d.Protocol == p {
				return true
			}
		}
		return false
	}
	s := &r.Logins
	var totOK, totFail, pOK, pFail, totReads, pReads float64
	anyCur, anyPrev := false, false
	for _, p := range protos {
		c, pr := cm[p], pm[p]
		if c == nil {
			c = &agg{}
		}
		if pr == nil {
			pr = &agg{}
		}
		group := protocolCover(p)
		known, pknown := group == "" || b.hasData(group, false), group == "" || b.hasData(group, true)
		row := ProtocolRow{Protocol: p}
		fig := func(key, unit string, v, pv float64) Figure {
			if !known {
				return missing(key, unit, missingReason(group))
			}
			var pp *float64
			if pknown {
				pp = ptr(pv)
			}
			f := figure(key, unit, v, pp)
			if group != "" {
				f = b.total(f, group)
			}
			return f
		}
		row.OK = fig("logins."+p+".ok", UnitCount, float64(c.ok), float64(pr.ok))
		row.Failed = fig("logins."+p+".failed", UnitCount, float64(c.failed), float64(pr.failed))
		row.FailedPct = missing("logins."+p+".failed_pct", UnitPercent, missingReason(group))
		if known && c.ok+c.failed > 0 {
			var pp *float64
			if pknown && pr.ok+pr.failed > 0 {
				pp = ptr(float64(pr.failed) / float64(pr.ok+pr.failed) * 100)
			}
			row.FailedPct = figure("logins."+p+".failed_pct", UnitPercent, float64(c.failed)/float64(c.ok+c.failed)*100, pp)
		} else if known {
			row.FailedPct = missing("logins."+p+".failed_pct", UnitPercent, ReasonNoData)
		}
		// Reads: IMAP and POP3 from Dovecot's logout counters, webmail
		// from the IMAP sessions of the webmail hosts; SMTP AUTH reads
		// nothing.
		switch {
		case p == ProtocolSMTPAuth:
		case p == ProtocolWebmail && !hasReads(reads, p):
			row.Reads = missing("reads."+p, UnitCount, ReasonNoWebmailReads)
		case p != ProtocolWebmail && !b.hasData(CoverDovecot, false):
			row.Reads = missing("reads."+p, UnitCount, ReasonNoDovecotLogs)
		case p != ProtocolWebmail && len(reads) == 0:
			row.Reads = missing("reads."+p, UnitCount, ReasonNoReadCounters)
		default:
			var pp *float64
			if len(prevReads) > 0 && (p != ProtocolWebmail || hasReads(prevReads, p)) {
				pp = ptr(float64(pr.reads))
			}
			row.Reads = b.total(figure("reads."+p, UnitCount, float64(c.reads), pp), CoverDovecot)
			if pp == nil {
				row.Reads = row.Reads.withPrevMissing(ReasonPrevNoData)
			}
			totReads += float64(c.reads)
			pReads += float64(pr.reads)
		}
		row.Users = b.users("users."+p, p, group, users, prevUsers)
		s.Protocols = append(s.Protocols, row)
		if known {
			anyCur = true
			totOK += float64(c.ok)
			totFail += float64(c.failed)
		}
		if pknown {
			anyPrev = true
			pOK += float64(pr.ok)
			pFail += float64(pr.failed)
		}
	}
	pv := func(v float64) *float64 {
		if !anyPrev {
			return nil
		}
		return ptr(v)
	}
	if anyCur {
		s.Figures = []Figure{
			figure("logins.ok", UnitCount, totOK, pv(pOK)),
			figure("logins.failed", UnitCount, totFail, pv(pFail)),
		}
	} else {
		s.Figures = []Figure{missing("logins.ok", UnitCount, ReasonNoLogs), missing("logins.failed", UnitCount, ReasonNoLogs)}
	}
	s.Figures = append(s.Figures, b.users("users.all", AllProtocols, "", users, prevUsers))
	if b.hasData(CoverDovecot, false) && len(reads) > 0 {
		var pp *float64
		if len(prevReads) > 0 {
			pp = ptr(pReads)
		}
		s.Figures = append(s.Figures, b.total(figure("reads.all", UnitCount, totReads, pp), CoverDovecot))
	} else {
		reason := ReasonNoDovecotLogs
		if b.hasData(CoverDovecot, false) {
			reason = ReasonNoReadCounters
		}
		s.Figures = append(s.Figures, missing("reads.all", UnitCount, reason))
	}
	byDay := map[time.Time]*LoginTotalDay{}
	days := b.days()
	for _, d := range days {
		row := &LoginTotalDay{Day: d, OK: map[string]int64{}}
		for _, g := range []string{CoverDovecot, CoverWebmail, CoverMail} {
			if b.cov[0][g][d] {
				row.HasData = true
			}
		}
		byDay[d] = row
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
	totalOK := func(d LoginTotalDay) float64 {
		var t int64
		for _, v := range d.OK {
			t += v
		}
		return float64(t)
	}
	var cv, pvv dayValues
	for _, d := range s.Days {
		if d.HasData && b.complete(d.Day) {
			cv.days, cv.values = append(cv.days, d.Day), append(cv.values, totalOK(d))
		}
	}
	prevDays := map[time.Time]float64{}
	for _, d := range prev {
		if d.Protocol != AllProtocols {
			prevDays[localDay(d.Day, b.loc)] += float64(d.OK)
		}
	}
	for _, d := range r.Previous.Days() {
		if b.cov[1][CoverDovecot][d] || b.cov[1][CoverWebmail][d] || b.cov[1][CoverMail][d] {
			pvv.days, pvv.values = append(pvv.days, d), append(pvv.values, prevDays[d])
		}
	}
	if anyCur {
		okFig := figureOf(s.Figures, "logins.ok")
		perDay := figure("logins.per_day", UnitPerDay, mean(cv.values), nil)
		if len(pvv.values) > 0 {
			perDay = figure("logins.per_day", UnitPerDay, mean(cv.values), ptr(mean(pvv.values)))
		}
		okFig = okFig.covering(len(b.days()), len(cv.days))
		s.Notes = append(s.Notes, b.seriesNote("logins", okFig, perDay, cv, pvv))
	}
	if n := b.failedLoginNote(s.Protocols); n != "" {
		s.Notes = append(s.Notes, n)
	}
	if n := b.failedOutlierNote(s.Days); n != "" {
		s.Notes = append(s.Notes, n)
	}
	if n := b.readsNote(s); n != "" {
		s.Notes = append(s.Notes, n)
	}
	return nil
}

// users is the active users of a protocol (AllProtocols: over all): the
// distinct accounts with a successful login on the days of the period,
// missing when the protocol's logs are.
func (b *builder) users(key, protocol, group string, cur, prev ActiveUsers) Figure {
	known := cur.Days > 0 && (group == "" || b.hasData(group, false))
	if !known {
		reason := missingReason(group)
		if group == "" {
			reason = ReasonNoLogs
		}
		return missing(key, UnitCount, reason)
	}
	var pp *float64
	if prev.Days > 0 && (group == "" || b.hasData(group, true)) {
		pp = ptr(float64(prev.ByProtocol[protocol]))
	}
	f := figure(key, UnitCount, float64(cur.ByProtocol[protocol]), pp)
	if group == "" {
		group = CoverMail
	}
	f = f.covering(len(b.days()), cur.Days)
	if b.r.ToDate {
		f = f.noChange(ReasonRunning)
	}
	return f
}

// missingReason is why a protocol's figures are missing when its logs are.
func missingReason(group string) string {
	switch group {
	case CoverWebmail:
		return ReasonNoWebmailLogs
	case CoverDovecot:
		return ReasonNoDovecotLogs
	case CoverMail:
		return ReasonNoMailLogs
	}
	return ReasonNoLogs
}

// failedOutlierNote names the days with unusually many failed logins (a
// password-guessing attack shows up here), or returns "".
func (b *builder) failedOutlierNote(days []LoginTotalDay) string {
	c := b.cat
	var ds []time.Time
	var vs []float64
	for _, d := range days {
		if d.HasData && b.complete(d.Day) {
			ds, vs = append(ds, d.Day), append(vs, float64(d.Failed))
		}
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
		if !rows[i].FailedPct.Known() {
			continue
		}
		if worst == nil || rows[i].FailedPct.Current > worst.FailedPct.Current {
			worst = &rows[i]
		}
	}
	if worst == nil {
		return ""
	}
	return b.cat.t("note.failed_logins", b.cat.label("protocol", worst.Protocol), b.cat.pct(worst.FailedPct.Current, 1))
}

// readsNote says how many messages were read and by which protocol.
func (b *builder) readsNote(s *LoginsSection) string {
	c := b.cat
	all := figureOf(s.Figures, "reads.all")
	if !all.Known() {
		return ""
	}
	var parts []string
	for _, p := range s.Protocols {
		if p.Protocol == ProtocolSMTPAuth || !p.Reads.Known() {
			continue
		}
		parts = append(parts, c.label("protocol", p.Protocol)+" "+c.int(p.Reads.Current))
	}
	users := figureOf(s.Figures, "users.all")
	note := c.t("note.reads", c.int(all.Current), strings.Join(parts, ", "))
	if users.Known() {
		note += " " + c.t("note.active_users", c.int(users.Current))
	}
	return note
}

// loginsBody shows the protocols tables, the figures, the chart and the
// notes; the CSV gets the figures, the protocols' figures and each day's
// logins (days without data are left out).
func loginsBody(r *Report, c *catalogT) []block {
	s := &r.Logins
	fn, fu := &footnotes{c: c}, &footnotes{c: c}
	protocols := table{Columns: []column{
		{Head: c.t("col.protocol"), Width: 30},
		{Head: c.t("col.logins"), Num: true, Width: 26},
		{Head: c.t("col.previous"), Num: true, Width: 26},
		{Head: c.t("col.change"), Num: true, Width: 20},
		{Head: c.t("col.failed"), Num: true, Width: 26},
		{Head: c.t("col.previous"), Num: true, Width: 26},
		{Head: c.t("col.failed_pct"), Num: true, Width: 28},
	}}
	usage := table{Title: c.t("logins.usage"), Columns: []column{
		{Head: c.t("col.protocol"), Width: 30},
		{Head: c.t("col.reads"), Num: true, Width: 26},
		{Head: c.t("col.previous"), Num: true, Width: 26},
		{Head: c.t("col.change"), Num: true, Width: 20},
		{Head: c.t("col.active_users"), Num: true, Width: 30},
		{Head: c.t("col.previous"), Num: true, Width: 28},
		{Head: c.t("col.change"), Num: true, Width: 22},
	}}
	var records []record
	for _, p := range s.Protocols {
		name := c.label("protocol", p.Protocol)
		protocols.Rows = append(protocols.Rows, []cell{{Text: name}, fn.value(p.OK), fn.prev(p.OK), fn.change(p.OK),
			fn.value(p.Failed), fn.prev(p.Failed), fn.value(p.FailedPct)})
		records = append(records, figureRecords(p.OK, p.Failed, p.FailedPct)...)
		if p.Protocol == ProtocolSMTPAuth {
			// SMTP AUTH reads nothing: not applicable, not missing.
			usage.Rows = append(usage.Rows, []cell{{Text: name}, {Text: ""}, {Text: ""}, {Text: ""}, fu.value(p.Users), fu.prev(p.Users), fu.change(p.Users)})
			records = append(records, figureRecords(p.Users)...)
			continue
		}
		usage.Rows = append(usage.Rows, []cell{{Text: name}, fu.value(p.Reads), fu.prev(p.Reads), fu.change(p.Reads),
			fu.value(p.Users), fu.prev(p.Users), fu.change(p.Users)})
		records = append(records, figureRecords(p.Reads, p.Users)...)
	}
	for _, d := range s.Days {
		if !d.HasData {
			continue
		}
		for _, p := range s.Protocols {
			if p.OK.Known() {
				records = append(records, dayRecord("logins."+p.Protocol+".ok", UnitCount, d.Day, float64(d.OK[p.Protocol])))
			}
		}
		records = append(records, dayRecord("logins.failed", UnitCount, d.Day, float64(d.Failed)))
	}
	return []block{{Table: &protocols, Footnotes: fn.notes()}, {Table: &usage, Footnotes: fu.notes()}, figuresBlock(c, s.Figures),
		chartBlock(loginsChart(r, c)), notesBlock(s.Notes), recordsBlock(records...)}
}

// loginsChart is the successful logins per day, one line per protocol
// with data; days without data are gaps.
func loginsChart(r *Report, c *catalogT) *Chart {
	n := len(r.Logins.Days)
	if n == 0 {
		return nil
	}
	ch := &Chart{ID: "logins", Title: c.t("chart.logins"), Kind: "line",
		Labels: dayLabels(n, func(i int) int { return r.Logins.Days[i].Day.Day() })}
	for _, p := range r.Logins.Protocols {
		if !p.OK.Known() {
			continue
		}
		v := make([]float64, n)
		for i, d := range r.Logins.Days {
			v[i] = float64(d.OK[p.Protocol])
			if !d.HasData {
				v[i] = nullValue()
			}
		}
		ch.Series = append(ch.Series, ChartSeries{c.label("protocol", p.Protocol), v})
	}
	if len(ch.Series) == 0 {
		return nil
	}
	return ch
}
