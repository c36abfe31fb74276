package reports

import (
	"bytes"
	"encoding/csv"
	"strconv"
)

// CSV renders the numbers under the report as CSV (RFC 4180) in one long
// table: section, metric, date (empty for a period figure), value,
// previous and change in per cent. Values are plain numbers in the
// figure's unit (count, bytes, percent, seconds) so that a spreadsheet can
// compute with them. The rows are the records of each section's body in
// order; a section whose data was missing has none.
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
	rows := [][]string{{"section", "metric", "unit", "date", "value", "previous", "change_pct"}}
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
				rows = append(rows, []string{s.ID, rec.Key, rec.Unit, date, num(rec.Current), opt(rec.Previous), opt(rec.Change)})
			}
		}
	}
	if err := w.WriteAll(rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
