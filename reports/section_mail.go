package reports

import (
	"context"
	"time"

	"github.com/go-analyze/charts"
)

// MailSection is mail received and sent.
type MailSection struct {
	Figures  []Figure  `json:"figures"`
	Days     []MailDay `json:"days"`
	PrevDays []MailDay `json:"prev_days"`
	Notes    []string  `json:"notes"`
}

// mailSection is mail received and sent, per period and per day.
var mailSection = section{
	id:        "mail",
	build:     (*builder).mail,
	body:      mailBody,
	inSummary: true,
}

func (b *builder) mail(ctx context.Context) error {
	r := b.r
	cur, err := b.src.MailDays(ctx, b.loc, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.MailDays(ctx, b.loc, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	cur, prev = fillMailDays(r.Period, cur), fillMailDays(r.Previous, prev)
	sum := func(ds []MailDay, f func(MailDay) int64) float64 {
		var t int64
		for _, d := range ds {
			t += f(d)
		}
		return float64(t)
	}
	hasPrev := len(prev) > 0 && sum(prev, func(d MailDay) int64 { return d.ReceivedCount + d.SentCount }) > 0
	pf := func(f func(MailDay) int64) *float64 {
		if !hasPrev {
			return nil
		}
		return ptr(sum(prev, f))
	}
	rc := func(d MailDay) int64 { return d.ReceivedCount }
	rb := func(d MailDay) int64 { return d.ReceivedBytes }
	sc := func(d MailDay) int64 { return d.SentCount }
	sb := func(d MailDay) int64 { return d.SentBytes }
	s := &r.Mail
	s.Days, s.PrevDays = cur, prev
	s.Figures = []Figure{
		figure("mail.received.count", UnitCount, sum(cur, rc), pf(rc)),
		figure("mail.received.bytes", UnitBytes, sum(cur, rb), pf(rb)),
		figure("mail.sent.count", UnitCount, sum(cur, sc), pf(sc)),
		figure("mail.sent.bytes", UnitBytes, sum(cur, sb), pf(sb)),
		figure("mail.received.per_day", UnitCount, round(sum(cur, rc)/float64(len(cur)), 0), perDay(pf(rc), len(prev))),
		figure("mail.sent.per_day", UnitCount, round(sum(cur, sc)/float64(len(cur)), 0), perDay(pf(sc), len(prev))),
	}
	days := r.Period.Days()
	s.Notes = append(s.Notes,
		b.seriesNote("received", days, series(cur, rc), series(prev, rc), hasPrev),
		b.seriesNote("sent", days, series(cur, sc), series(prev, sc), hasPrev),
	)
	return nil
}

func perDay(total *float64, n int) *float64 {
	if total == nil || n == 0 {
		return nil
	}
	return ptr(round(*total/float64(n), 0))
}

// fillMailDays returns one row for every day of p, zero where src had none.
func fillMailDays(p Period, in []MailDay) []MailDay {
	byDay := map[time.Time]MailDay{}
	for _, d := range in {
		k := localDay(d.Day, p.Start.Location())
		e := byDay[k]
		e.ReceivedCount += d.ReceivedCount
		e.ReceivedBytes += d.ReceivedBytes
		e.SentCount += d.SentCount
		e.SentBytes += d.SentBytes
		byDay[k] = e
	}
	days := p.Days()
	out := make([]MailDay, len(days))
	for i, d := range days {
		e := byDay[d]
		e.Day = d
		out[i] = e
	}
	return out
}

// mailBody shows the figures, the chart of messages per day and the notes;
// the CSV also gets each day's counts and bytes.
func mailBody(r *Report, c *catalogT) []block {
	s := &r.Mail
	var days []record
	for _, d := range s.Days {
		days = append(days,
			dayRecord("mail.received.count", UnitCount, d.Day, float64(d.ReceivedCount)),
			dayRecord("mail.received.bytes", UnitBytes, d.Day, float64(d.ReceivedBytes)),
			dayRecord("mail.sent.count", UnitCount, d.Day, float64(d.SentCount)),
			dayRecord("mail.sent.bytes", UnitBytes, d.Day, float64(d.SentBytes)))
	}
	return []block{figuresBlock(c, s.Figures), chartBlock(mailChart(r, c)), notesBlock(s.Notes), recordsBlock(days...)}
}

// mailChart is messages received and sent per day, with the previous
// period's received messages beside them.
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
	}
	ch.Series = []ChartSeries{{c.t("series.received"), rec}, {c.t("series.sent"), snt}}
	if len(r.Mail.PrevDays) > 0 {
		prev := make([]float64, n)
		for i := range prev {
			if i < len(r.Mail.PrevDays) {
				prev[i] = float64(r.Mail.PrevDays[i].ReceivedCount)
			} else {
				prev[i] = charts.GetNullValue()
			}
		}
		ch.Series = append(ch.Series, ChartSeries{c.t("series.previous"), prev})
	}
	return ch
}
