package reports

import (
	"context"
	"errors"
	"time"
)

// MailSection is the messages accepted, received and sent, and the mail
// flow: how the accepted messages ended.
type MailSection struct {
	Figures  []Figure     `json:"figures"`
	Flow     FlowTable    `json:"flow"`
	Days     []MailDayRow `json:"days"`
	PrevDays []MailDayRow `json:"prev_days"`
	Notes    []string     `json:"notes"`
}

// MailDayRow is one day of the period with its messages; HasData is false
// on a day without MTA logs, whose zeros are no data.
type MailDayRow struct {
	MailDay
	HasData bool `json:"has_data"`
}

// Outcomes of an accepted message (docs/reports.md, "Definitions"), in the
// order the flow table shows them. A message's outcome is decided from its
// recipients' final log lines and its content-filter verdict, in this
// order: some delivered and some bounced (partly_bounced); delivered to
// local mailboxes and remote hosts (delivered_both), to local mailboxes
// only (delivered_local), to remote hosts only (delivered_remote); blocked
// by the content filter (quarantined, discarded or bounced by it:
// blocked); bounced or expired (bounced); discarded by a rule (discarded);
// deferred with no final outcome when the log ended (queued); removed
// from the queue without a delivery line (removed); nothing after
// acceptance (no_outcome: the log was cut off).
var FlowOutcomes = []string{
	"delivered_local", "delivered_remote", "delivered_both", "partly_bounced",
	"bounced", "blocked", "discarded", "queued", "removed", "no_outcome",
}

// FlowSides are the columns of the flow table.
var FlowSides = []string{SideOutside, SideLocal, SideUnknown}

// FlowTable is the mail flow of the period: the refusals before
// acceptance, then every accepted message in exactly one outcome, by the
// side it came from. Sum is the sum of the outcomes and Accepted the
// messages accepted as the daily figures count them; the report checks
// that they agree (Balanced) and warns when they do not.
type FlowTable struct {
	Refused  []FlowRow `json:"refused"`
	Outcomes []FlowRow `json:"outcomes"`
	Sum      FlowRow   `json:"sum"`
	Accepted FlowRow   `json:"accepted"`
	Balanced bool      `json:"balanced"`
	// Known is false when the period has no MTA logs.
	Known bool `json:"known"`
}

// FlowRow is one line of the flow table: a count per side and the total.
type FlowRow struct {
	Key     string `json:"key"`
	Outside int64  `json:"outside"`
	Local   int64  `json:"local"`
	Unknown int64  `json:"unknown"`
	Total   int64  `json:"total"`
}

func (r *FlowRow) add(side string, n int64) {
	switch side {
	case SideOutside:
		r.Outside += n
	case SideLocal:
		r.Local += n
	default:
		r.Unknown += n
	}
	r.Total += n
}

// Refusal classes of the flow table: refused during the SMTP dialogue
// permanently (5xx) or temporarily (4xx, greylisting among them), and by
// header or body checks after the data.
var FlowRefusals = []string{"smtp_permanent", "smtp_temporary", "checks"}

func refusalClass(r RejectCount) string {
	switch {
	case r.Stage == "header" || r.Stage == "body":
		return "checks"
	case r.Code >= 400 && r.Code < 500:
		return "smtp_temporary"
	}
	return "smtp_permanent"
}

// mailSection is the messages accepted, received and sent, per period and
// per day, and the mail flow.
var mailSection = section{
	id:        "mail",
	build:     (*builder).mail,
	body:      mailBody,
	inSummary: true,
}

func (b *builder) mail(ctx context.Context) error {
	r := b.r
	from, to := b.span()
	cur, err := b.src.MailDays(ctx, b.loc, from, to)
	if err != nil {
		return err
	}
	prev, err := b.src.MailDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	s := &r.Mail
	s.Days = b.mailRows(b.days(), cur, b.cov[0][CoverMail])
	s.PrevDays = b.mailRows(r.Previous.Days(), prev, b.cov[1][CoverMail])
	if !b.hasData(CoverMail, false) {
		for _, k := range []struct{ key, unit string }{
			{"mail.accepted.count", UnitCount}, {"mail.received.count", UnitCount}, {"mail.received.bytes", UnitBytes},
			{"mail.sent.count", UnitCount}, {"mail.sent.bytes", UnitBytes}, {"mail.unknown.count", UnitCount},
			{"mail.received.per_day", UnitPerDay}, {"mail.sent.per_day", UnitPerDay},
		} {
			s.Figures = append(s.Figures, missing(k.key, k.unit, ReasonNoMailLogs))
		}
		s.Notes = append(s.Notes, b.cat.t("note.mail.none"))
		return nil
	}
	sum := func(ds []MailDayRow, f func(MailDay) int64) float64 {
		var t int64
		for _, d := range ds {
			t += f(d.MailDay)
		}
		return float64(t)
	}
	hasPrev := b.hasData(CoverMail, true)
	pf := func(f func(MailDay) int64) *float64 {
		if !hasPrev {
			return nil
		}
		return ptr(sum(s.PrevDays, f))
	}
	acc := func(d MailDay) int64 { return d.ReceivedCount + d.SentCount + d.UnknownCount }
	rc := func(d MailDay) int64 { return d.ReceivedCount }
	rb := func(d MailDay) int64 { return d.ReceivedBytes }
	sc := func(d MailDay) int64 { return d.SentCount }
	sb := func(d MailDay) int64 { return d.SentBytes }
	uc := func(d MailDay) int64 { return d.UnknownCount }
	byDay := func(ds []MailDayRow, f func(MailDay) int64) map[time.Time]float64 {
		m := map[time.Time]float64{}
		for _, d := range ds {
			m[d.Day] = float64(f(d.MailDay))
		}
		return m
	}
	tot := func(key, unit string, f func(MailDay) int64) Figure {
		return b.total(figure(key, unit, sum(s.Days, f), pf(f)), CoverMail)
	}
	s.Figures = []Figure{
		tot("mail.accepted.count", UnitCount, acc),
		tot("mail.received.count", UnitCount, rc),
		tot("mail.received.bytes", UnitBytes, rb),
		tot("mail.sent.count", UnitCount, sc),
		tot("mail.sent.bytes", UnitBytes, sb),
		tot("mail.unknown.count", UnitCount, uc),
		b.perDay("mail.received.per_day", CoverMail, byDay(s.Days, rc), byDay(s.PrevDays, rc)),
		b.perDay("mail.sent.per_day", CoverMail, byDay(s.Days, sc), byDay(s.PrevDays, sc)),
	}
	if err := b.flow(ctx); err != nil {
		return err
	}
	recv, _ := figureIn(s.Figures, "mail.received.per_day")
	sent, _ := figureIn(s.Figures, "mail.sent.per_day")
	s.Notes = append(s.Notes,
		b.seriesNote("received", figureOf(s.Figures, "mail.received.count"), recv, b.dayValues(s.Days, rc, true), b.dayValues(s.PrevDays, rc, false)),
		b.seriesNote("sent", figureOf(s.Figures, "mail.sent.count"), sent, b.dayValues(s.Days, sc, true), b.dayValues(s.PrevDays, sc, false)),
	)
	s.Notes = append(s.Notes, b.flowNote(&s.Flow))
	return nil
}

// dayValues returns the values of the days with data, for the analysis;
// with complete, only days that had ended at the build.
func (b *builder) dayValues(ds []MailDayRow, f func(MailDay) int64, complete bool) dayValues {
	var out dayValues
	for _, d := range ds {
		if !d.HasData || (complete && !b.complete(d.Day)) {
			continue
		}
		out.days = append(out.days, d.Day)
		out.values = append(out.values, float64(f(d.MailDay)))
	}
	return out
}

// mailRows returns one row for each of days, marking those with MTA data.
func (b *builder) mailRows(days []time.Time, in []MailDay, covered map[time.Time]bool) []MailDayRow {
	byDay := map[time.Time]MailDay{}
	for _, d := range in {
		k := localDay(d.Day, b.loc)
		e := byDay[k]
		e.ReceivedCount += d.ReceivedCount
		e.ReceivedBytes += d.ReceivedBytes
		e.SentCount += d.SentCount
		e.SentBytes += d.SentBytes
		e.UnknownCount += d.UnknownCount
		e.UnknownBytes += d.UnknownBytes
		byDay[k] = e
	}
	out := make([]MailDayRow, len(days))
	for i, d := range days {
		e := byDay[d]
		e.Day = d
		out[i] = MailDayRow{MailDay: e, HasData: covered[d]}
	}
	return out
}

// flow builds the flow table and checks it against the daily figures and
// the raw logs (Report.Warnings).
func (b *builder) flow(ctx context.Context) error {
	from, to := b.span()
	fs, err := b.src.Flow(ctx, from, to)
	if err != nil {
		return err
	}
	rej, err := b.src.Rejects(ctx, from, to)
	if err != nil {
		return err
	}
	ft := &b.r.Mail.Flow
	ft.Known = true
	refused := map[string]*FlowRow{}
	for _, k := range FlowRefusals {
		refused[k] = &FlowRow{Key: k}
	}
	var smtpRejects, checkRejects int64
	for _, r := range rej {
		c := refusalClass(r)
		refused[c].add(SideUnknown, r.Count)
		if c == "checks" {
			checkRejects += r.Count
		} else {
			smtpRejects += r.Count
		}
	}
	for _, k := range FlowRefusals {
		row := refused[k]
		// A refused message has not been accepted from any side: the
		// count is in the total only.
		row.Unknown = 0
		ft.Refused = append(ft.Refused, *row)
	}
	outcomes := map[string]*FlowRow{}
	for _, k := range FlowOutcomes {
		outcomes[k] = &FlowRow{Key: k}
	}
	ft.Sum = FlowRow{Key: "sum"}
	for _, f := range fs {
		row := outcomes[f.Outcome]
		if row == nil {
			row = &FlowRow{Key: f.Outcome}
			outcomes[f.Outcome] = row
		}
		row.add(f.Side, f.Count)
		ft.Sum.add(f.Side, f.Count)
	}
	for _, k := range FlowOutcomes {
		ft.Outcomes = append(ft.Outcomes, *outcomes[k])
		delete(outcomes, k)
	}
	for k, row := range outcomes { // an outcome this version does not know
		_ = k
		ft.Outcomes = append(ft.Outcomes, *row)
	}
	ft.Accepted = FlowRow{Key: "accepted"}
	for _, d := range b.r.Mail.Days {
		ft.Accepted.add(SideOutside, d.ReceivedCount)
		ft.Accepted.add(SideLocal, d.SentCount)
		ft.Accepted.add(SideUnknown, d.UnknownCount)
	}
	ft.Balanced = ft.Sum == (FlowRow{Key: "sum", Outside: ft.Accepted.Outside, Local: ft.Accepted.Local, Unknown: ft.Accepted.Unknown, Total: ft.Accepted.Total})
	if !ft.Balanced {
		for _, side := range []struct {
			key       string
			sum, want int64
		}{{SideOutside, ft.Sum.Outside, ft.Accepted.Outside}, {SideLocal, ft.Sum.Local, ft.Accepted.Local},
			{SideUnknown, ft.Sum.Unknown, ft.Accepted.Unknown}, {"total", ft.Sum.Total, ft.Accepted.Total}} {
			if side.sum != side.want {
				b.warn("flow_sum."+side.key, float64(side.sum-side.want),
					b.cat.t("warn.flow_sum", b.cat.t("flow.side."+side.key), b.cat.int(float64(side.sum)), b.cat.int(float64(side.want)), b.cat.signedInt(float64(side.sum-side.want))))
			}
		}
	}
	// The rollups against the raw logs' own totals, where the raw logs
	// still reach back to the period (collectors.retention_days).
	tot, err := b.src.Totals(ctx, from, to)
	switch {
	case err == nil:
		for _, c := range []struct {
			check     string
			got, want int64
			nameKey   string
		}{
			{"raw_received", ft.Accepted.Total, tot.Received, "fig.mail.accepted.count"},
			{"raw_rejected", smtpRejects, tot.Rejected, "flow.refused.smtp"},
			{"raw_checks", checkRejects, tot.CleanupRejected, "flow.refused.checks"},
		} {
			if c.got != c.want {
				b.warn(c.check, float64(c.got-c.want), b.cat.t("warn.raw", b.cat.t(c.nameKey), b.cat.int(float64(c.got)),
					b.cat.int(float64(c.want)), b.cat.signedInt(float64(c.got-c.want))))
			}
		}
	case !errors.Is(err, ErrNoData):
		return err
	}
	return nil
}

// warn adds a failed check to the report.
func (b *builder) warn(check string, diff float64, text string) {
	b.r.Warnings = append(b.r.Warnings, Warning{Check: check, Text: text, Difference: diff})
}

// flowNote sums the flow up in one sentence: the accepted messages, the
// share delivered and the refusals, or that it does not reconcile.
func (b *builder) flowNote(ft *FlowTable) string {
	c := b.cat
	if !ft.Balanced {
		return c.t("note.flow.unbalanced", c.int(float64(ft.Sum.Total)), c.int(float64(ft.Accepted.Total)))
	}
	var delivered, refused int64
	for _, o := range ft.Outcomes {
		switch o.Key {
		case "delivered_local", "delivered_remote", "delivered_both":
			delivered += o.Total
		}
	}
	for _, r := range ft.Refused {
		refused += r.Total
	}
	share := "–"
	if ft.Accepted.Total > 0 {
		share = c.pct(float64(delivered)/float64(ft.Accepted.Total)*100, 1)
	}
	return c.t("note.flow", c.int(float64(ft.Accepted.Total)), c.int(float64(delivered)), share, c.int(float64(refused)))
}

// mailBody shows the figures, the flow table, the chart of messages per
// day and the notes; the CSV also gets the flow and each day's counts and
// bytes (days without data are left out).
func mailBody(r *Report, c *catalogT) []block {
	s := &r.Mail
	var days []record
	for _, d := range s.Days {
		if !d.HasData {
			continue
		}
		days = append(days,
			dayRecord("mail.received.count", UnitCount, d.Day, float64(d.ReceivedCount)),
			dayRecord("mail.received.bytes", UnitBytes, d.Day, float64(d.ReceivedBytes)),
			dayRecord("mail.sent.count", UnitCount, d.Day, float64(d.SentCount)),
			dayRecord("mail.sent.bytes", UnitBytes, d.Day, float64(d.SentBytes)),
			dayRecord("mail.unknown.count", UnitCount, d.Day, float64(d.UnknownCount)))
	}
	body := []block{figuresBlock(c, s.Figures)}
	if s.Flow.Known {
		body = append(body, flowBlock(c, &s.Flow))
	}
	return append(body, chartBlock(mailChart(r, c)), notesBlock(s.Notes), recordsBlock(days...))
}

// flowBlock is the flow table: the refusals, the accepted messages by
// outcome and side, their sum and the check against the messages
// accepted; the CSV gets every cell.
func flowBlock(c *catalogT, ft *FlowTable) block {
	t := &table{Title: c.t("flow.title"), Class: "flow", Columns: []column{
		{Head: c.t("col.outcome"), Width: 74},
		{Head: c.t("flow.side.outside"), Num: true, Width: 27},
		{Head: c.t("flow.side.local"), Num: true, Width: 27},
		{Head: c.t("flow.side.unknown"), Num: true, Width: 27},
		{Head: c.t("flow.side.total"), Num: true, Width: 27},
	}}
	var recs []record
	num := func(v int64) string { return c.int(float64(v)) }
	for _, r := range ft.Refused {
		t.Rows = append(t.Rows, texts(c.t("flow.refused."+r.Key), "", "", "", num(r.Total)))
		recs = append(recs, periodRecord("mail.flow.refused."+r.Key, UnitCount, float64(r.Total)))
	}
	t.Rows = append(t.Rows, texts(c.t("flow.accepted"), num(ft.Accepted.Outside), num(ft.Accepted.Local), num(ft.Accepted.Unknown), num(ft.Accepted.Total)))
	for _, r := range ft.Outcomes {
		t.Rows = append(t.Rows, texts("  "+c.label("flow.outcome", r.Key), num(r.Outside), num(r.Local), num(r.Unknown), num(r.Total)))
		for _, side := range []struct {
			key string
			v   int64
		}{{SideOutside, r.Outside}, {SideLocal, r.Local}, {SideUnknown, r.Unknown}, {"total", r.Total}} {
			recs = append(recs, periodRecord("mail.flow."+r.Key+"."+side.key, UnitCount, float64(side.v)))
		}
	}
	check := c.t("flow.balanced")
	if !ft.Balanced {
		check = c.t("flow.unbalanced", c.signedInt(float64(ft.Sum.Total-ft.Accepted.Total)))
	}
	t.Rows = append(t.Rows, texts(c.t("flow.sum")+" "+check, num(ft.Sum.Outside), num(ft.Sum.Local), num(ft.Sum.Unknown), num(ft.Sum.Total)))
	recs = append(recs, periodRecord("mail.flow.sum", UnitCount, float64(ft.Sum.Total)),
		periodRecord("mail.flow.accepted", UnitCount, float64(ft.Accepted.Total)))
	return block{Table: t, Records: recs}
}

// mailChart is messages received and sent per day, with the previous
// period's received messages beside them; days without data are gaps.
func mailChart(r *Report, c *catalogT) *Chart {
	n := len(r.Mail.Days)
	if n == 0 {
		return nil
	}
	ch := &Chart{ID: "mail", Title: c.t("chart.mail"), Kind: "line",
		Labels: dayLabels(n, func(i int) int { return r.Mail.Days[i].Day.Day() })}
	rec, snt := make([]float64, n), make([]float64, n)
	for i, d := range r.Mail.Days {
		rec[i], snt[i] = float64(d.ReceivedCount), float64(d.SentCount)
		if !d.HasData {
			rec[i], snt[i] = nullValue(), nullValue()
		}
	}
	ch.Series = []ChartSeries{{c.t("series.received"), rec}, {c.t("series.sent"), snt}}
	if len(r.Mail.PrevDays) > 0 {
		prev := make([]float64, n)
		for i := range prev {
			if i < len(r.Mail.PrevDays) && r.Mail.PrevDays[i].HasData {
				prev[i] = float64(r.Mail.PrevDays[i].ReceivedCount)
			} else {
				prev[i] = nullValue()
			}
		}
		ch.Series = append(ch.Series, ChartSeries{c.t("series.previous"), prev})
	}
	return ch
}

// figureOf returns the figure with key from fs (the zero Figure if none).
func figureOf(fs []Figure, key string) Figure {
	f, _ := figureIn(fs, key)
	return f
}

func figureIn(fs []Figure, key string) (Figure, bool) {
	for _, f := range fs {
		if f.Key == key {
			return f, true
		}
	}
	return Figure{}, false
}
