package reports

import (
	"context"
	"slices"
	"strconv"
	"time"
)

// section is one part of the monthly report (registrations, mail, spam and
// virus handling …), declared once in its own file, section_<id>.go, with
// the model it fills and the step that fills it. Every rendering walks the
// declarations in the order of sections: the HTML (and through it
// Chromium's PDF), the built-in PDF, the CSV and the e-mail's plain text.
type section struct {
	// id names the section: the HTML element's id, the CSV's section
	// column, the name in Report.Missing and in Build's progress. The
	// heading is the catalogue's text "sec.<id>" (i18n.go).
	id string
	// build reads the section's data from the Source into the Report.
	// ErrNoData marks the section missing; the renderers then say so
	// instead of showing its (empty) body.
	build func(b *builder, ctx context.Context) error
	// body lays the section out from the model: its tables, charts, notes
	// and the numbers the CSV exports, in the order shown.
	body func(r *Report, c *catalogT) []block
	// shown, when set, says whether the report has the section at all (one
	// the configuration can switch off); nil means always.
	shown func(r *Report) bool
	// inSummary puts the first sentence of the section's first note in the
	// report's summary.
	inSummary bool
}

// sections are the report's sections in the order they appear. An array,
// so that BuildSteps counts them as a constant.
var sections = [...]section{
	registrationsSection,
	mailSection,
	scanSection,
	loginsSection,
	trafficSection,
	availabilitySection,
	faultsSection,
	oncallSection,
	unitsSection,
	tablesSection,
	coverageSection,
	tipsSection,
	definitionsSection,
}

// block is one piece of a section's body. HTML and the built-in PDF show
// its table (with the table's title as a subheading) and its footnotes,
// then its chart, then its notes; the CSV writes its records. A block may
// carry any of them.
type block struct {
	Table *table
	// Footnotes explain the table's marked cells ("(1) no probes
	// configured"); they are shown right under it.
	Footnotes []string
	Chart     *Chart
	Notes     []string // paragraphs of analysis; empty ones are left out
	Records   []record
}

// table is a table of a section as HTML and the built-in PDF show it.
type table struct {
	Title   string // subheading above the table; "" for none
	Class   string // class of the HTML table element
	Columns []column
	Rows    [][]cell
}

// column is one column of a table.
type column struct {
	Head string
	// Num right-aligns the column: it holds numbers.
	Num bool
	// Width is the column's width in the built-in PDF, in millimetres. The
	// columns with Width 0 share equally what the others leave of the
	// text width (pdfWidth, 182 mm).
	Width float64
}

// cell is one cell of a table. Trend is "up" or "down" on a change in per
// cent (an HTML class), "" elsewhere.
type cell struct {
	Text  string
	Trend string
}

// record is one row of the CSV: a number with its unit, for the whole
// period (Day zero) or for one day, and for a figure its previous value,
// change, days with data and the reason a value is missing.
type record struct {
	Figure // Key is the CSV's metric
	Day    time.Time
	// isFigure marks one of the report's figures (Report.AllFigures).
	isFigure bool
}

// figuresBlock is the table of figures (name, this period, previous,
// change) that most sections open with; a value that is missing shows
// "–" and a numbered note with the reason under the table, a total over
// some days only the days with data. The CSV exports each figure.
func figuresBlock(c *catalogT, fs []Figure) block {
	t := &table{Class: "figures", Columns: []column{
		{Head: c.t("col.figure"), Width: 92},
		{Head: c.t("col.current"), Num: true, Width: 34},
		{Head: c.t("col.previous"), Num: true, Width: 32},
		{Head: c.t("col.change"), Num: true, Width: 24},
	}}
	fn := &footnotes{c: c}
	for _, f := range fs {
		t.Rows = append(t.Rows, []cell{{Text: figureName(c, f.Key)}, fn.value(f), fn.prev(f), fn.change(f)})
	}
	return block{Table: t, Footnotes: fn.notes(), Records: figureRecords(fs...)}
}

// footnotes numbers the reasons shown in one table: each distinct text
// gets a number "(n)" in the cells and one note "(n) text." under the
// table.
type footnotes struct {
	c     *catalogT
	texts []string
}

func (f *footnotes) mark(text string) string {
	for i, t := range f.texts {
		if t == text {
			return "(" + strconv.Itoa(i+1) + ")"
		}
	}
	f.texts = append(f.texts, text)
	return "(" + strconv.Itoa(len(f.texts)) + ")"
}

// notes returns the table's notes, nil when it has none.
func (f *footnotes) notes() []string {
	var out []string
	for i, t := range f.texts {
		out = append(out, "("+strconv.Itoa(i+1)+") "+t)
	}
	return out
}

// value shows a figure's value: "–" and the reason when missing, the
// value and the days with data when it covers some days only.
func (f *footnotes) value(x Figure) cell {
	if !x.Known() {
		return cell{Text: "– " + f.mark(f.c.reason(x.Missing))}
	}
	v := f.c.value(x.Unit, x.Current)
	if x.Days > 0 {
		v += " " + f.mark(f.c.t("reason.coverage", x.DaysWithData, x.Days))
	}
	return cell{Text: v}
}

// prev shows a figure's previous value, "–" with the reason when unknown.
func (f *footnotes) prev(x Figure) cell {
	if x.Previous != nil {
		return cell{Text: f.c.value(x.Unit, *x.Previous)}
	}
	if !x.Known() || x.PrevMissing == "" {
		return cell{Text: "–"}
	}
	return cell{Text: "– " + f.mark(f.c.reason(x.PrevMissing))}
}

// change shows a figure's change in per cent with its direction, "–" with
// the reason when not given.
func (f *footnotes) change(x Figure) cell {
	if x.Change == nil {
		if x.Known() && x.Previous != nil && x.NoChange != "" {
			return cell{Text: "– " + f.mark(f.c.reason(x.NoChange))}
		}
		return cell{Text: "–"}
	}
	return changeCell(f.c, x)
}

// tableBlock shows t.
func tableBlock(t table) block { return block{Table: &t} }

// chartBlock shows ch; nil shows nothing.
func chartBlock(ch *Chart) block { return block{Chart: ch} }

// notesBlock shows the section's analysis. It is a notes block even when
// there are no notes (a missing section's), so that the plain text still
// shows the section's heading.
func notesBlock(notes []string) block {
	if notes == nil {
		notes = []string{}
	}
	return block{Notes: notes}
}

// recordsBlock exports numbers to the CSV that are not a figures table.
func recordsBlock(rs ...record) block { return block{Records: rs} }

// figureRecords exports figures.
func figureRecords(fs ...Figure) []record {
	out := make([]record, len(fs))
	for i, f := range fs {
		out[i] = record{Figure: f, isFigure: true}
	}
	return out
}

// dayRecord exports the value of one day.
func dayRecord(metric, unit string, day time.Time, v float64) record {
	return record{Figure: Figure{Key: metric, Unit: unit, Current: v}, Day: day}
}

// periodRecord exports a number of the whole period that is not a figure
// (no previous value).
func periodRecord(metric, unit string, v float64) record {
	return record{Figure: Figure{Key: metric, Unit: unit, Current: v}}
}

// texts returns cells of plain text.
func texts(ss ...string) []cell {
	out := make([]cell, len(ss))
	for i, s := range ss {
		out[i] = cell{Text: s}
	}
	return out
}

// changeCell shows a figure's change in per cent with its direction.
func changeCell(c *catalogT, f Figure) cell {
	cl := cell{Text: c.change(f.Change)}
	if f.Change != nil && *f.Change > 0 {
		cl.Trend = "up"
	} else if f.Change != nil && *f.Change < 0 {
		cl.Trend = "down"
	}
	return cl
}

// laidOut is a section of one report, ready for a renderer.
type laidOut struct {
	ID      string
	Title   string
	Missing bool // the Source had no data (Report.Missing): show that instead of Blocks
	Blocks  []block
}

// layout lays out the sections r has, in order.
func (r *Report) layout(c *catalogT) []laidOut {
	out := make([]laidOut, 0, len(sections))
	for _, s := range sections {
		if s.shown != nil && !s.shown(r) {
			continue
		}
		l := laidOut{ID: s.id, Title: c.t("sec." + s.id), Missing: slices.Contains(r.Missing, s.id), Blocks: s.body(r, c)}
		for _, b := range l.Blocks {
			if b.Chart != nil {
				b.Chart.Section = s.id
			}
		}
		out = append(out, l)
	}
	return out
}

// notesOf returns the notes of a section's body, and whether it has a
// notes block at all.
func notesOf(body []block) ([]string, bool) {
	var out []string
	found := false
	for _, b := range body {
		if b.Notes != nil {
			found = true
			out = append(out, b.Notes...)
		}
	}
	return out, found
}

// minutesText shows a duration given in minutes.
func minutesText(c *catalogT, m float64) string {
	if m == 0 {
		return "0"
	}
	return c.duration(m * 60)
}

// figureName is the display name of a figure key.
func figureName(c *catalogT, key string) string {
	if c.has("fig." + key) {
		return c.t("fig." + key)
	}
	return key
}
