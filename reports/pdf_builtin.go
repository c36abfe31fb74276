package reports

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"

	"codeberg.org/go-pdf/fpdf"
	"github.com/go-analyze/charts"
)

// A4 portrait layout of the built-in PDF, in millimetres.
const (
	pdfMargin = 14.0
	pdfWidth  = 210.0 - 2*pdfMargin
)

// BuiltinPDF renders r as PDF without a browser: the same sections,
// tables, charts (as PNG) and analysis as the HTML, set in the embedded
// DejaVu Sans so that Nordic and Czech letters print.
func (g *Renderer) BuiltinPDF(r *Report) ([]byte, error) {
	c := catalog(r.Lang)
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(true, 16)
	pdf.AddUTF8FontFromBytes("dejavu", "", fontRegular)
	pdf.AddUTF8FontFromBytes("dejavu", "B", fontBold)
	pdf.SetTitle(r.Title+" – "+c.periodName(r.Period), true)
	pdf.SetProducer("postvakt", true)
	pdf.SetCreationDate(r.GeneratedAt)
	pdf.SetModificationDate(r.GeneratedAt)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-11)
		pdf.SetFont("dejavu", "", 7)
		pdf.SetTextColor(91, 100, 117)
		pdf.CellFormat(0, 5, fmt.Sprintf("%s · %s · %d / {nb}", r.Title, c.periodName(r.Period), pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	w := &pdfWriter{pdf: pdf, c: c}
	pdf.AddPage()

	pdf.SetFont("dejavu", "B", 18)
	pdf.SetTextColor(47, 93, 138)
	pdf.MultiCell(0, 8, r.Title+" – "+c.periodName(r.Period), "", "L", false)
	w.meta(r.Organisation)
	w.meta(fmt.Sprintf("%s: %s – %s · %s: %s · %s: %s", c.t("period"), c.longDate(r.Period.Start), c.longDate(r.Period.End.AddDate(0, 0, -1)),
		c.t("previous"), c.periodName(r.Previous), c.t("generated"), c.dateTime(r.GeneratedAt)))
	pdf.SetDrawColor(47, 93, 138)
	pdf.SetLineWidth(0.8)
	pdf.Line(pdfMargin, pdf.GetY()+1, pdfMargin+pdfWidth, pdf.GetY()+1)
	pdf.SetLineWidth(0.2)
	pdf.Ln(3)

	if r.Comment != "" {
		w.heading(c.t("comment"))
		pdf.SetFillColor(255, 248, 225)
		pdf.SetFont("dejavu", "", 9.5)
		pdf.SetTextColor(29, 36, 51)
		pdf.MultiCell(0, 5, r.Comment, "L", "L", true)
		pdf.Ln(2)
	}
	w.heading(c.t("summary"))
	for _, s := range r.Summary {
		w.para("• " + s)
	}

	cs := r.charts()
	chartsOf := func(section string) error {
		for _, ch := range cs {
			if ch.Section == section {
				if err := w.chart(ch, r.Lang); err != nil {
					return err
				}
			}
		}
		return nil
	}
	missing := func(section string) bool {
		if slices.Contains(r.Missing, section) {
			w.para(c.t("sec.missing"))
			return true
		}
		return false
	}

	w.heading(c.t("sec.registrations"))
	if !missing("registrations") {
		w.figures(r.Registrations.Figures)
		w.notes(r.Registrations.Notes)
	}

	w.heading(c.t("sec.mail"))
	if !missing("mail") {
		w.figures(r.Mail.Figures)
		if err := chartsOf("mail"); err != nil {
			return nil, err
		}
		w.notes(r.Mail.Notes)
	}

	w.heading(c.t("sec.scan"))
	if !missing("scan") {
		w.figures(r.Scan.Figures)
		rows := [][]string{}
		for _, m := range r.Scan.Matrix {
			rows = append(rows, []string{c.label("verdict", m.Verdict), c.label("action", m.Action), c.value(m.Count.Unit, m.Count.Current), prevText(c, m.Count), c.change(m.Count.Change)})
		}
		w.table([]string{c.t("col.verdict"), c.t("col.action"), c.t("col.current"), c.t("col.previous"), c.t("col.change")},
			[]float64{50, 42, 32, 32, 26}, 2, rows)
		if err := chartsOf("scan"); err != nil {
			return nil, err
		}
		w.notes(r.Scan.Notes)
	}

	w.heading(c.t("sec.logins"))
	if !missing("logins") {
		rows := [][]string{}
		for _, p := range r.Logins.Protocols {
			rows = append(rows, []string{c.label("protocol", p.Protocol), c.value(UnitCount, p.OK.Current), prevText(c, p.OK), c.change(p.OK.Change),
				c.value(UnitCount, p.Failed.Current), prevText(c, p.Failed), c.pct(p.FailedPct, 1), usersText(c, p.UsersPerDay)})
		}
		w.table([]string{c.t("col.protocol"), c.t("col.logins"), c.t("col.previous"), c.t("col.change"), c.t("col.failed"), c.t("col.previous"), c.t("col.failed_pct"), c.t("col.users_per_day")},
			[]float64{32, 22, 22, 16, 18, 18, 26, 28}, 1, rows)
		w.figures(r.Logins.Figures)
		if err := chartsOf("logins"); err != nil {
			return nil, err
		}
		w.notes(r.Logins.Notes)
	}

	w.heading(c.t("sec.traffic"))
	if !missing("traffic") {
		w.figures(r.Traffic.Figures)
		if err := chartsOf("traffic"); err != nil {
			return nil, err
		}
		w.notes(r.Traffic.Notes)
	}

	w.heading(c.t("sec.availability"))
	if !missing("availability") {
		rows := [][]string{}
		for _, s := range r.Availability.Services {
			rows = append(rows, []string{s.Service, c.value(UnitPercent, s.Availability.Current), prevText(c, s.Availability),
				minutesText(c, s.Unplanned), strconv.Itoa(s.Outages), minutesText(c, s.Planned)})
		}
		w.table([]string{c.t("col.service"), c.t("col.availability"), c.t("col.previous"), c.t("col.unplanned"), c.t("col.outages"), c.t("col.planned")},
			[]float64{40, 28, 28, 32, 20, 34}, 1, rows)
		if len(r.Availability.Outages) > 0 {
			w.subheading(c.t("col.outages"))
			rows = nil
			for _, o := range r.Availability.Outages {
				d := minutesText(c, o.Minutes)
				if o.Ongoing {
					d += " (" + c.t("status.ongoing") + ")"
				}
				kind := c.t("kind.unplanned")
				if o.Planned {
					kind = c.t("kind.planned")
				}
				rows = append(rows, []string{o.Service, o.Ref, o.Title, c.dateTime(o.Start), d, kind})
			}
			w.table([]string{c.t("col.service"), c.t("col.ticket"), c.t("col.title"), c.t("col.start"), c.t("col.duration"), c.t("col.kind")},
				[]float64{24, 22, 62, 30, 22, 22}, 4, rows)
		}
		w.notes(r.Availability.Notes)
	}

	w.heading(c.t("sec.faults"))
	if !missing("faults") {
		f := r.Faults
		w.figures(f.Figures)
		if len(f.Matrix) > 0 {
			head := append([]string{c.t("col.service")}, f.Severity...)
			head = append(head, c.t("col.total"))
			widths := []float64{50}
			each := (pdfWidth - 50) / float64(len(f.Severity)+1)
			for range len(f.Severity) + 1 {
				widths = append(widths, each)
			}
			rows := [][]string{}
			for _, m := range f.Matrix {
				row := []string{m.Service}
				for _, s := range f.Severity {
					row = append(row, strconv.FormatInt(m.Counts[s], 10))
				}
				rows = append(rows, append(row, strconv.FormatInt(m.Total, 10)))
			}
			w.table(head, widths, 1, rows)
		}
		if len(f.Breaches) > 0 {
			w.subheading(c.t("sec.breaches"))
			rows := [][]string{}
			for _, t := range f.Breaches {
				resp := "–"
				if !t.RespondedAt.IsZero() {
					resp = c.dateTime(t.RespondedAt)
				}
				rows = append(rows, []string{t.ID, t.Service, t.Title, c.dateTime(t.OpenedAt), resp, c.duration(t.ResponseTarget.Seconds())})
			}
			w.table([]string{c.t("col.ticket"), c.t("col.service"), c.t("col.title"), c.t("col.opened"), c.t("col.responded"), c.t("col.target")},
				[]float64{22, 24, 56, 30, 30, 20}, 5, rows)
		}
		if len(f.Open) > 0 {
			w.subheading(c.t("fig.faults.open_at_end"))
			rows := [][]string{}
			for _, t := range f.Open {
				rows = append(rows, []string{t.ID, t.Service, t.Severity, t.Title, c.dateTime(t.OpenedAt)})
			}
			w.table([]string{c.t("col.ticket"), c.t("col.service"), c.t("col.severity"), c.t("col.title"), c.t("col.opened")},
				[]float64{22, 26, 24, 80, 30}, 5, rows)
		}
		w.notes(f.Notes)
	}

	w.heading(c.t("sec.oncall"))
	if !missing("oncall") {
		w.figures(r.OnCall.Figures)
		rows := [][]string{}
		for _, wk := range r.OnCall.Weeks {
			ack := "–"
			if wk.AckedPages > 0 {
				ack = c.duration(wk.MedianAck)
			}
			rows = append(rows, []string{c.date(wk.Start) + " – " + c.date(wk.End), wk.Member, strconv.Itoa(wk.InHours), strconv.Itoa(wk.OutOfHours), ack})
		}
		if len(rows) > 0 {
			w.table([]string{c.t("col.week"), c.t("col.member"), c.t("col.in_hours"), c.t("col.out_of_hours"), c.t("col.median_ack")},
				[]float64{46, 46, 28, 30, 32}, 2, rows)
		}
		w.notes(r.OnCall.Notes)
	}

	if td := r.TopDomains; td != nil {
		w.heading(c.t("sec.top_domains"))
		for _, part := range []struct {
			title string
			list  []DomainCount
		}{{c.t("top.senders"), td.Senders}, {c.t("top.recipients"), td.Recipients}} {
			w.subheading(part.title)
			rows := [][]string{}
			for _, d := range part.list {
				rows = append(rows, []string{d.Domain, c.int(float64(d.Count))})
			}
			w.table([]string{c.t("col.domain"), c.t("col.messages")}, []float64{130, 52}, 1, rows)
		}
	}

	if err := pdf.Error(); err != nil {
		return nil, fmt.Errorf("built-in pdf: %w", err)
	}
	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("built-in pdf: %w", err)
	}
	return buf.Bytes(), nil
}

type pdfWriter struct {
	pdf    *fpdf.Fpdf
	c      *catalogT
	images int
}

func (w *pdfWriter) ensure(h float64) {
	_, pageH := w.pdf.GetPageSize()
	if w.pdf.GetY()+h > pageH-16 {
		w.pdf.AddPage()
	}
}

func (w *pdfWriter) meta(s string) {
	if s == "" {
		return
	}
	w.pdf.SetFont("dejavu", "", 9)
	w.pdf.SetTextColor(91, 100, 117)
	w.pdf.MultiCell(0, 4.5, s, "", "L", false)
}

func (w *pdfWriter) heading(s string) {
	w.ensure(30)
	w.pdf.Ln(3)
	w.pdf.Bookmark(s, 0, -1)
	w.pdf.SetFont("dejavu", "B", 13)
	w.pdf.SetTextColor(47, 93, 138)
	w.pdf.CellFormat(0, 7, s, "B", 1, "L", false, 0, "")
	w.pdf.Ln(2)
}

func (w *pdfWriter) subheading(s string) {
	w.ensure(20)
	w.pdf.SetFont("dejavu", "B", 10)
	w.pdf.SetTextColor(29, 36, 51)
	w.pdf.CellFormat(0, 6, s, "", 1, "L", false, 0, "")
}

func (w *pdfWriter) para(s string) {
	if s == "" {
		return
	}
	w.pdf.SetFont("dejavu", "", 9.5)
	w.pdf.SetTextColor(29, 36, 51)
	w.pdf.MultiCell(0, 4.8, s, "", "L", false)
	w.pdf.Ln(1)
}

func (w *pdfWriter) notes(ns []string) {
	for _, n := range ns {
		w.para(n)
	}
}

func (w *pdfWriter) figures(fs []Figure) {
	rows := make([][]string, 0, len(fs))
	for _, f := range fs {
		rows = append(rows, []string{figureName(w.c, f.Key), w.c.value(f.Unit, f.Current), prevText(w.c, f), w.c.change(f.Change)})
	}
	w.table([]string{w.c.t("col.figure"), w.c.t("col.current"), w.c.t("col.previous"), w.c.t("col.change")},
		[]float64{98, 30, 30, 24}, 1, rows)
}

// fit shortens s with an ellipsis until it fits width w at the current font.
func (w *pdfWriter) fit(s string, width float64) string {
	if w.pdf.GetStringWidth(s) <= width-2 {
		return s
	}
	r := []rune(s)
	for len(r) > 1 && w.pdf.GetStringWidth(string(r)+"…") > width-2 {
		r = r[:len(r)-1]
	}
	return string(r) + "…"
}

// table draws a table; columns from firstNum on are right-aligned numbers.
func (w *pdfWriter) table(head []string, widths []float64, firstNum int, rows [][]string) {
	pdf := w.pdf
	const rowH = 5.5
	headRow := func() {
		pdf.SetFont("dejavu", "B", 8)
		pdf.SetFillColor(243, 245, 248)
		pdf.SetTextColor(29, 36, 51)
		pdf.SetDrawColor(213, 217, 224)
		for i, h := range head {
			align := "L"
			if i >= firstNum {
				align = "R"
			}
			pdf.CellFormat(widths[i], rowH+1, w.fit(h, widths[i]), "B", 0, align, true, 0, "")
		}
		pdf.Ln(-1)
	}
	w.ensure(rowH * float64(min(len(rows), 3)+2))
	headRow()
	pdf.SetFont("dejavu", "", 8.5)
	_, pageH := pdf.GetPageSize()
	for _, row := range rows {
		if pdf.GetY()+rowH > pageH-16 {
			pdf.AddPage()
			headRow()
			pdf.SetFont("dejavu", "", 8.5)
		}
		for i, cell := range row {
			align := "L"
			if i >= firstNum {
				align = "R"
			}
			pdf.CellFormat(widths[i], rowH, w.fit(cell, widths[i]), "B", 0, align, false, 0, "")
		}
		pdf.Ln(-1)
	}
	pdf.Ln(2)
}

func (w *pdfWriter) chart(ch Chart, lang string) error {
	png, err := ch.render(lang, charts.ChartOutputPNG, 1.5)
	if err != nil {
		return err
	}
	w.images++
	name := fmt.Sprintf("chart-%d-%s", w.images, ch.ID)
	opts := fpdf.ImageOptions{ImageType: "PNG", ReadDpi: false}
	w.pdf.RegisterImageOptionsReader(name, opts, bytes.NewReader(png))
	h := pdfWidth * chartHeight / chartWidth
	w.ensure(h + 8)
	w.pdf.SetFont("dejavu", "B", 8.5)
	w.pdf.SetTextColor(91, 100, 117)
	w.pdf.CellFormat(0, 5, ch.Title, "", 1, "L", false, 0, "")
	w.pdf.ImageOptions(name, pdfMargin, w.pdf.GetY(), pdfWidth, h, true, opts, 0, "")
	w.pdf.Ln(2)
	return nil
}

func usersText(c *catalogT, v float64) string {
	if v == 0 {
		return "–"
	}
	return c.int(v)
}
