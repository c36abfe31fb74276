package reports

import (
	"bytes"
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"sync"

	"github.com/go-analyze/charts"
	"github.com/golang/freetype/truetype"
)

//go:embed fonts/DejaVuSans.ttf
var fontRegular []byte

//go:embed fonts/DejaVuSans-Bold.ttf
var fontBold []byte

var chartFont = sync.OnceValues(func() (*truetype.Font, error) { return truetype.Parse(fontRegular) })

// Chart is one figure of the report, drawn as inline SVG in HTML and as PNG
// in the built-in PDF and in e-mail, from the same data. A section's body
// declares its charts (section.go).
type Chart struct {
	ID      string
	Section string // the id of the section that shows it
	Title   string
	Kind    string // line or bar
	Labels  []string
	Series  []ChartSeries
	Stacked bool
	Bytes   bool // values are bytes (axis labels in kB/MB/GB)
}

// ChartSeries is one named series of a chart.
type ChartSeries struct {
	Name   string
	Values []float64
}

// Chart sizes in pixels (SVG user units): wide enough for 31 days.
const (
	chartWidth  = 900
	chartHeight = 300
)

// dayLabels labels n days on a chart's axis with their day of the month.
func dayLabels(n int, day func(i int) int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(day(i))
	}
	return out
}

// compact formats an axis value: 1.2k, 3.4M, or 1.2 GB for bytes.
func compact(c *catalogT, v float64, isBytes bool) string {
	if isBytes {
		return c.bytes(v)
	}
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return c.dec(v/1e9, 1) + "G"
	case a >= 1e6:
		return c.dec(v/1e6, 1) + "M"
	case a >= 1e3:
		return c.dec(v/1e3, 1) + "k"
	}
	return c.int(v)
}

// render draws ch as "svg" or "png".
func (ch Chart) render(lang, format string, scale float64) ([]byte, error) {
	font, err := chartFont()
	if err != nil {
		return nil, fmt.Errorf("chart font: %w", err)
	}
	c := catalog(lang)
	values := make([][]float64, len(ch.Series))
	names := make([]string, len(ch.Series))
	for i, s := range ch.Series {
		values[i], names[i] = s.Values, s.Name
	}
	w, h := int(chartWidth*scale), int(chartHeight*scale)
	p := charts.NewPainter(charts.PainterOptions{OutputFormat: format, Width: w, Height: h, Font: font})
	fmtv := func(v float64) string { return compact(c, v, ch.Bytes) }
	fs := charts.FontStyle{FontSize: 10 * scale, Font: font}
	legend := charts.LegendOption{SeriesNames: names, FontStyle: fs}
	pad := charts.NewBox(int(10*scale), int(10*scale), int(20*scale), int(10*scale))
	theme := charts.GetTheme(charts.ThemeLight)
	switch ch.Kind {
	case "bar":
		opt := charts.NewBarChartOptionWithData(values)
		opt.Theme, opt.Padding, opt.Legend, opt.ValueFormatter = theme, pad, legend, fmtv
		opt.CategoryAxis.Labels = ch.Labels
		opt.CategoryAxis.LabelFontStyle = fs
		if len(ch.Labels) > 24 {
			// 31 day numbers collide at print width: every other one.
			opt.CategoryAxis.LabelCount = (len(ch.Labels) + 1) / 2
		}
		opt.ValueAxis[0].LabelFontStyle = fs
		if ch.Stacked {
			opt.StackSeries = charts.Ptr(true)
		}
		if len(values) == 1 {
			opt.Legend.Show = charts.Ptr(false)
		}
		err = p.BarChart(opt)
	default:
		opt := charts.NewLineChartOptionWithData(values)
		opt.Theme, opt.Padding, opt.Legend, opt.ValueFormatter = theme, pad, legend, fmtv
		opt.XAxis.Labels = ch.Labels
		opt.XAxis.LabelFontStyle = fs
		opt.XAxis.BoundaryGap = charts.Ptr(false)
		opt.YAxis[0].LabelFontStyle = fs
		opt.LineStrokeWidth = 1.6 * scale
		opt.Symbol.Shape = charts.SymbolNone
		err = p.LineChart(opt)
	}
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ch.ID, err)
	}
	out, err := p.Bytes()
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", ch.ID, err)
	}
	if format == charts.ChartOutputSVG {
		// Let the SVG scale with the page (print CSS sets the width).
		out = bytes.Replace(out, []byte(fmt.Sprintf(`width="%d" height="%d"`, w, h)),
			[]byte(fmt.Sprintf(`viewBox="0 0 %d %d" width="100%%" preserveAspectRatio="xMidYMid meet" role="img"`, w, h)), 1)
	}
	return out, nil
}

// nullValue marks a day without data on a chart: a gap, not a zero.
func nullValue() float64 { return charts.GetNullValue() }
