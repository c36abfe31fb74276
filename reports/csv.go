package reports

import (
	"bytes"
	"encoding/csv"
	"strconv"
	"time"
)

// CSV renders the numbers under the report as CSV (RFC 4180) in one long
// table: section, metric, date (empty for a period figure), value,
// previous and change in per cent. Values are plain numbers in the
// figure's unit (count, bytes, percent, seconds) so that a spreadsheet can
// compute with them.
func (g *Renderer) CSV(r *Report) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	opt := func(v *float64) string {
		if v == nil {
			return ""
		}
		return num(*v)
	}
	day := func(t time.Time) string { return t.Format("2006-01-02") }
	rows := [][]string{{"section", "metric", "unit", "date", "value", "previous", "change_pct"}}
	fig := func(section string, f Figure) {
		rows = append(rows, []string{section, f.Key, f.Unit, "", num(f.Current), opt(f.Previous), opt(f.Change)})
	}
	point := func(section, metric, unit string, d time.Time, v float64) {
		rows = append(rows, []string{section, metric, unit, day(d), num(v), "", ""})
	}
	for _, f := range r.Registrations.Figures {
		fig("registrations", f)
	}
	for _, f := range r.Mail.Figures {
		fig("mail", f)
	}
	for _, d := range r.Mail.Days {
		point("mail", "mail.received.count", UnitCount, d.Day, float64(d.ReceivedCount))
		point("mail", "mail.received.bytes", UnitBytes, d.Day, float64(d.ReceivedBytes))
		point("mail", "mail.sent.count", UnitCount, d.Day, float64(d.SentCount))
		point("mail", "mail.sent.bytes", UnitBytes, d.Day, float64(d.SentBytes))
	}
	for _, f := range r.Scan.Figures {
		fig("scan", f)
	}
	for _, m := range r.Scan.Matrix {
		fig("scan", m.Count)
	}
	for _, d := range r.Scan.Days {
		point("scan", "scan.spam", UnitCount, d.Day, float64(d.Spam))
		point("scan", "scan.virus", UnitCount, d.Day, float64(d.Virus))
		point("scan", "scan.banned", UnitCount, d.Day, float64(d.Banned))
	}
	for _, f := range r.Logins.Figures {
		fig("logins", f)
	}
	for _, p := range r.Logins.Protocols {
		fig("logins", p.OK)
		fig("logins", p.Failed)
	}
	for _, d := range r.Logins.Days {
		for _, p := range r.Logins.Protocols {
			point("logins", "logins."+p.Protocol+".ok", UnitCount, d.Day, float64(d.OK[p.Protocol]))
		}
		point("logins", "logins.failed", UnitCount, d.Day, float64(d.Failed))
	}
	for _, f := range r.Traffic.Figures {
		fig("traffic", f)
	}
	for _, d := range r.Traffic.Days {
		point("traffic", "traffic.in", UnitBytes, d.Day, float64(d.InBytes))
		point("traffic", "traffic.out", UnitBytes, d.Day, float64(d.OutBytes))
	}
	for h, v := range r.Traffic.HourProfile {
		rows = append(rows, []string{"traffic", "traffic.hour_mean." + strconv.Itoa(h), UnitBytes, "", num(v), "", ""})
	}
	for _, s := range r.Availability.Services {
		fig("availability", s.Availability)
		rows = append(rows, []string{"availability", "availability." + s.Service + ".unplanned_minutes", "minutes", "", num(s.Unplanned), "", ""})
		rows = append(rows, []string{"availability", "availability." + s.Service + ".planned_minutes", "minutes", "", num(s.Planned), "", ""})
	}
	for _, f := range r.Faults.Figures {
		fig("faults", f)
	}
	for _, m := range r.Faults.Matrix {
		for _, s := range r.Faults.Severity {
			rows = append(rows, []string{"faults", "faults." + m.Service + "." + s, UnitCount, "", strconv.FormatInt(m.Counts[s], 10), "", ""})
		}
	}
	for _, t := range r.Faults.Breaches {
		rows = append(rows, []string{"faults", "faults.sla_breach." + t.ID, UnitCount, day(t.OpenedAt), "1", "", ""})
	}
	for _, f := range r.OnCall.Figures {
		fig("oncall", f)
	}
	for _, wk := range r.OnCall.Weeks {
		rows = append(rows, []string{"oncall", "oncall.week.pages." + wk.Member, UnitCount, day(wk.Start), strconv.Itoa(wk.TotalPages), "", ""})
	}
	if td := r.TopDomains; td != nil {
		for _, d := range td.Senders {
			rows = append(rows, []string{"top_domains", "senders." + d.Domain, UnitCount, "", strconv.FormatInt(d.Count, 10), "", ""})
		}
		for _, d := range td.Recipients {
			rows = append(rows, []string{"top_domains", "recipients." + d.Domain, UnitCount, "", strconv.FormatInt(d.Count, 10), "", ""})
		}
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
