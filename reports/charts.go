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
// in the built-in PDF and in e-mail, from the same data.
type Chart struct {
	ID      string
	Section string
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

// charts returns the report's charts in the order they appear.
func (r *Report) charts() []Chart {
	c := catalog(r.Lang)
	dayLabels := func(n int, day func(i int) int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = strconv.Itoa(day(i))
		}
		return out
	}
	var out []Chart
	if n := len(r.Mail.Days); n > 0 {
		ch := Chart{ID: "mail", Section: "mail", Title: c.t("chart.mail"), Kind: "line",
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
		out = append(out, ch)
	}
	if n := len(r.Scan.Days); n > 0 {
		ch := Chart{ID: "scan", Section: "scan", Title: c.t("chart.scan"), Kind: "bar", Stacked: true,
			Labels: dayLabels(n, func(i int) int { return r.Scan.Days[i].Day.Day() })}
		sp, vi, ba := make([]float64, n), make([]float64, n), make([]float64, n)
		for i, d := range r.Scan.Days {
			sp[i], vi[i], ba[i] = float64(d.Spam), float64(d.Virus), float64(d.Banned)
		}
		ch.Series = []ChartSeries{{c.t("series.spam"), sp}, {c.t("series.virus"), vi}, {c.t("series.banned"), ba}}
		out = append(out, ch)
	}
	if n := len(r.Logins.Days); n > 0 {
		ch := Chart{ID: "logins", Section: "logins", Title: c.t("chart.logins"), Kind: "line",
			Labels: dayLabels(n, func(i int) int { return r.Logins.Days[i].Day.Day() })}
		for _, p := range r.Logins.Protocols {
			v := make([]float64, n)
			for i, d := range r.Logins.Days {
				v[i] = float64(d.OK[p.Protocol])
			}
			ch.Series = append(ch.Series, ChartSeries{c.label("protocol", p.Protocol), v})
		}
		out = append(out, ch)
	}
	if n := len(r.Traffic.Days); n > 0 {
		ch := Chart{ID: "traffic_days", Section: "traffic", Title: c.t("chart.traffic_days"), Kind: "bar", Stacked: true, Bytes: true,
			Labels: dayLabels(n, func(i int) int { return r.Traffic.Days[i].Day.Day() })}
		in, o := make([]float64, n), make([]float64, n)
		for i, d := range r.Traffic.Days {
			in[i], o[i] = float64(d.InBytes), float64(d.OutBytes)
		}
		ch.Series = []ChartSeries{{c.t("series.in"), in}, {c.t("series.out"), o}}
		out = append(out, ch)
		hours := Chart{ID: "traffic_hours", Section: "traffic", Title: c.t("chart.traffic_hours"), Kind: "bar", Bytes: true}
		for h := range 24 {
			hours.Labels = append(hours.Labels, fmt.Sprintf("%02d", h))
		}
		hours.Series = []ChartSeries{{c.t("series.in") + "+" + c.t("series.out"), r.Traffic.HourProfile[:]}}
		out = append(out, hours)
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
