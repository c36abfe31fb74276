package reports

import (
	"bytes"
	"fmt"

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

// table draws t with a header row, repeated after a page break; numeric
// columns are right-aligned.
func (w *pdfWriter) table(t *table) {
	pdf := w.pdf
	const rowH = 5.5
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
	headRow := func() {
		pdf.SetFont("dejavu", "B", 8)
		pdf.SetFillColor(243, 245, 248)
		pdf.SetTextColor(29, 36, 51)
		pdf.SetDrawColor(213, 217, 224)
		for i, col := range t.Columns {
			pdf.CellFormat(widths[i], rowH+1, w.fit(col.Head, widths[i]), "B", 0, align(i), true, 0, "")
		}
		pdf.Ln(-1)
	}
	w.ensure(rowH * float64(min(len(t.Rows), 3)+2))
	headRow()
	pdf.SetFont("dejavu", "", 8.5)
	_, pageH := pdf.GetPageSize()
	for _, row := range t.Rows {
		if pdf.GetY()+rowH > pageH-16 {
			pdf.AddPage()
			headRow()
			pdf.SetFont("dejavu", "", 8.5)
		}
		for i, cl := range row {
			pdf.CellFormat(widths[i], rowH, w.fit(cl.Text, widths[i]), "B", 0, align(i), false, 0, "")
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
