package reports

import (
	"bytes"
	"fmt"
	"strings"

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
	c := r.catalog()
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetMargins(pdfMargin, pdfMargin, pdfMargin)
	pdf.SetAutoPageBreak(true, 16)
	pdf.AddUTF8FontFromBytes("dejavu", "", fontRegular)
	pdf.AddUTF8FontFromBytes("dejavu", "B", fontBold)
	pdf.SetTitle(r.Title+" – "+c.reportPeriod(r), true)
	pdf.SetProducer("postvakt", true)
	pdf.SetCreationDate(r.GeneratedAt)
	pdf.SetModificationDate(r.GeneratedAt)
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-11)
		pdf.SetFont("dejavu", "", 7)
		pdf.SetTextColor(91, 100, 117)
		pdf.CellFormat(0, 5, fmt.Sprintf("%s · %s · %d / {nb}", r.Title, c.reportPeriod(r), pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	w := &pdfWriter{pdf: pdf, c: c}
	pdf.AddPage()

	pdf.SetFont("dejavu", "B", 18)
	pdf.SetTextColor(47, 93, 138)
	pdf.MultiCell(0, 8, r.Title+" – "+c.reportPeriod(r), "", "L", false)
	w.meta(r.Organisation)
	w.meta(fmt.Sprintf("%s: %s – %s · %s: %s · %s: %s", c.t("period"), c.longDate(r.Period.Start), c.longDate(r.Period.End.AddDate(0, 0, -1)),
		c.t("previous"), c.periodName(r.Previous), c.t("generated"), c.dateTime(r.GeneratedAt)))
	pdf.SetDrawColor(47, 93, 138)
	pdf.SetLineWidth(0.8)
	pdf.Line(pdfMargin, pdf.GetY()+1, pdfMargin+pdfWidth, pdf.GetY()+1)
	pdf.SetLineWidth(0.2)
	pdf.Ln(3)

	if len(r.Warnings) > 0 {
		w.heading(c.t("sec.warnings"))
		pdf.SetTextColor(155, 44, 44)
		for _, wn := range r.Warnings {
			pdf.SetFont("dejavu", "", 9.5)
			pdf.SetTextColor(155, 44, 44)
			pdf.MultiCell(0, 4.8, "• "+wn.Text, "", "L", false)
		}
		pdf.Ln(2)
	}
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

	for _, sec := range r.layout(c) {
		w.heading(sec.Title)
		if sec.Missing {
			w.para(c.t("sec.missing"))
			continue
		}
		for _, b := range sec.Blocks {
			if t := b.Table; t != nil {
				if t.Title != "" {
					w.subheading(t.Title)
				}
				w.table(t)
				w.footnotes(b.Footnotes)
			}
			if b.Chart != nil {
				if err := w.chart(*b.Chart, r.Lang); err != nil {
					return nil, err
				}
			}
			w.notes(b.Notes)
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
	w.ensure(40)
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

func (w *pdfWriter) footnotes(ns []string) {
	for _, n := range ns {
		w.pdf.SetFont("dejavu", "", 7.5)
		w.pdf.SetTextColor(91, 100, 117)
		w.pdf.MultiCell(0, 3.8, n, "", "L", false)
	}
	if len(ns) > 0 {
		w.pdf.Ln(1.5)
	}
}

func (w *pdfWriter) notes(ns []string) {
	for _, n := range ns {
		w.para(n)
	}
}

// table draws t with a header row, repeated after a page break; numeric
// columns are right-aligned, text that does not fit its column wraps.
func (w *pdfWriter) table(t *table) {
	pdf := w.pdf
	const lineH = 4.2
	const pad = 1.3
	// Columns without a width share what the others leave.
	widths := make([]float64, len(t.Columns))
	fixed, shared := 0.0, 0
	for _, col := range t.Columns {
		if col.Width == 0 {
			shared++
		}
		fixed += col.Width
	}
	for i, col := range t.Columns {
		widths[i] = col.Width
		if col.Width == 0 {
			widths[i] = (pdfWidth - fixed) / float64(shared)
		}
	}
	align := func(i int) string {
		if t.Columns[i].Num {
			return "R"
		}
		return "L"
	}
	// lines splits each cell's text to its column's width.
	lines := func(texts []string) ([][]string, float64) {
		out := make([][]string, len(texts))
		n := 1
		for i, tx := range texts {
			out[i] = w.split(tx, widths[i]-2)
			n = max(n, len(out[i]))
		}
		return out, float64(n)*lineH + 2*pad
	}
	row := func(texts []string, border string, fill bool) {
		ls, h := lines(texts)
		x0, y0 := pdf.GetX(), pdf.GetY()
		x := x0
		for i := range texts {
			if fill {
				pdf.Rect(x, y0, widths[i], h, "F")
			}
			for j, l := range ls[i] {
				pdf.SetXY(x, y0+pad+float64(j)*lineH)
				pdf.CellFormat(widths[i], lineH, l, "", 0, align(i), false, 0, "")
			}
			x += widths[i]
		}
		if border != "" {
			pdf.Line(x0, y0+h, x0+pdfWidth, y0+h)
		}
		pdf.SetXY(x0, y0+h)
	}
	heads := make([]string, len(t.Columns))
	for i, col := range t.Columns {
		heads[i] = col.Head
	}
	headRow := func() {
		pdf.SetFont("dejavu", "B", 8)
		pdf.SetFillColor(243, 245, 248)
		pdf.SetTextColor(29, 36, 51)
		pdf.SetDrawColor(213, 217, 224)
		row(heads, "B", true)
	}
	pdf.SetFont("dejavu", "B", 8)
	_, hh := lines(heads)
	w.ensure(hh + lineH*float64(min(len(t.Rows), 3)+1))
	headRow()
	pdf.SetFont("dejavu", "", 8.5)
	_, pageH := pdf.GetPageSize()
	for _, r := range t.Rows {
		texts := make([]string, len(r))
		for i, cl := range r {
			texts[i] = cl.Text
		}
		_, h := lines(texts)
		if pdf.GetY()+h > pageH-16 {
			pdf.AddPage()
			headRow()
			pdf.SetFont("dejavu", "", 8.5)
		}
		row(texts, "B", false)
	}
	pdf.Ln(2)
}

// split breaks s into lines no wider than width at the current font, at
// spaces where it can and inside a word where a word alone is wider.
func (w *pdfWriter) split(s string, width float64) []string {
	if s == "" {
		return []string{""}
	}
	if w.pdf.GetStringWidth(s) <= width {
		return []string{s}
	}
	var out []string
	line := ""
	for _, word := range strings.Fields(s) {
		cand := word
		if line != "" {
			cand = line + " " + word
		}
		if w.pdf.GetStringWidth(cand) <= width {
			line = cand
			continue
		}
		if line != "" {
			out = append(out, line)
		}
		// A word wider than the column is cut.
		r := []rune(word)
		for w.pdf.GetStringWidth(string(r)) > width && len(r) > 1 {
			k := len(r)
			for k > 1 && w.pdf.GetStringWidth(string(r[:k])) > width {
				k--
			}
			out = append(out, string(r[:k]))
			r = r[k:]
		}
		line = string(r)
	}
	if line != "" {
		out = append(out, line)
	}
	return out
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
