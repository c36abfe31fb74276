package reports

import (
	"bytes"
	"encoding/csv"
	"strconv"
)

// CSV renders the numbers under the report as CSV (RFC 4180) in one long
// table: section, metric, unit, date (empty for a period figure), value,
// previous, change in per cent, the days with data and the days of the
// period (for a total over logs that cover some days only), and the
// reason a value, previous value or change is missing. Values are the
// exact numbers in the figure's unit (count, bytes, percent, seconds,
// days) so that a spreadsheet can compute with them; a missing value is
// empty, never 0. The rows are the records of each section's body in
// order; a section whose data was missing has none. Failed checks
// (Report.Warnings) come first, as section "warnings".
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
	rows := [][]string{{"section", "metric", "unit", "date", "value", "previous", "change_pct", "days_with_data", "days", "note"}}
	for _, w := range r.Warnings {
		rows = append(rows, []string{"warnings", w.Check, UnitCount, "", num(w.Difference), "", "", "", "", w.Text})
	}
	for _, s := range r.layout(r.catalog()) {
		if s.Missing {
			continue
		}
		for _, b := range s.Blocks {
			for _, rec := range b.Records {
				date := ""
				if !rec.Day.IsZero() {
					date = rec.Day.Format("2006-01-02")
				}
				value, note := num(rec.Current), ""
				if !rec.Known() {
					value, note = "", "missing: "+rec.Missing
				} else if rec.Previous == nil && rec.PrevMissing != "" {
					note = "previous: " + rec.PrevMissing
				} else if rec.Change == nil && rec.NoChange != "" {
					note = "change: " + rec.NoChange
				}
				days, with := "", ""
				if rec.Days > 0 {
					days, with = strconv.Itoa(rec.Days), strconv.Itoa(rec.DaysWithData)
				}
				rows = append(rows, []string{s.ID, rec.Key, rec.Unit, date, value, opt(rec.Previous), opt(rec.Change), with, days, note})
			}
		}
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
