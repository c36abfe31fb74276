package reports

import (
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// The written analysis states only what the data supports
// (docs/reports.md, "The written analysis"):
//
//   - days without data are left out, never counted as zero;
//   - a difference (weekdays against weekend days, this period's days
//     against the previous period's) is called a difference only when the
//     two-sided Mann–Whitney U test finds it at the 5 % level (Alpha),
//     with at least MinGroupDays days with data in each group; the
//     sentence gives the means, the change in per cent and p;
//   - the change per day is the per-day figure's change, the same number
//     as the table's.

// Alpha is the significance level of the analysis' tests.
const Alpha = 0.05

// MinGroupDays is the fewest days with data in each group for a test.
const MinGroupDays = 3

// exactLimit: the U test is exact when m·n is at most this and the values
// have no ties, else the normal approximation is used.
const exactLimit = 400

// madScale makes the median absolute deviation a consistent estimator of
// the standard deviation for normally distributed data.
const madScale = 1.4826

// minDeviation is the smallest relative distance from the median (10 %)
// at which a day outside the robust bounds is named: on a very regular
// series the bounds are so tight that a 5 % dip would be flagged.
const minDeviation = 0.10

// dayValues is a daily series with data: the days and their values.
type dayValues struct {
	days   []time.Time
	values []float64
}

// Outlier is a day whose value lies outside the robust bounds
// median ± k·MAD of comparable days (weekdays with weekdays and weekend
// days with weekend days when the two differ).
type Outlier struct {
	Day     time.Time
	Value   float64
	Median  float64 // of the comparable days
	Weekend bool
}

// Deviation is (Value − Median) / Median in per cent.
func (o Outlier) Deviation() float64 {
	if o.Median == 0 {
		return 0
	}
	return (o.Value - o.Median) / o.Median * 100
}

func isWeekend(d time.Time) bool { return d.Weekday() == time.Saturday || d.Weekday() == time.Sunday }

// Comparison is the test of two groups of days.
type Comparison struct {
	N1, N2       int     // days in each group
	Mean1, Mean2 float64 // their means
	Change       float64 // (Mean1 − Mean2) / Mean2 × 100; 0 when Mean2 is 0
	P            float64 // two-sided p of the Mann–Whitney U test
	Tested       bool    // both groups have MinGroupDays days
	Significant  bool    // Tested and P < Alpha
}

// Compare tests whether the values a differ from the values b
// (two-sided Mann–Whitney U test; see the package's analysis rules).
func Compare(a, b []float64) Comparison {
	c := Comparison{N1: len(a), N2: len(b), Mean1: mean(a), Mean2: mean(b)}
	if c.Mean2 != 0 {
		c.Change = (c.Mean1 - c.Mean2) / math.Abs(c.Mean2) * 100
	}
	if c.N1 < MinGroupDays || c.N2 < MinGroupDays {
		return c
	}
	c.Tested = true
	c.P = MannWhitneyP(a, b)
	c.Significant = c.P < Alpha
	return c
}

// MannWhitneyP returns the two-sided p-value of the Mann–Whitney U test
// of a against b: exact (the distribution of U over every assignment of
// the ranks) when there are no ties and len(a)·len(b) ≤ 400, otherwise
// the normal approximation with the tie correction of the variance and a
// continuity correction of 0.5.
func MannWhitneyP(a, b []float64) float64 {
	m, n := len(a), len(b)
	if m == 0 || n == 0 {
		return 1
	}
	type obs struct {
		v     float64
		first bool
	}
	all := make([]obs, 0, m+n)
	for _, v := range a {
		all = append(all, obs{v, true})
	}
	for _, v := range b {
		all = append(all, obs{v, false})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].v < all[j].v })
	ranks := make([]float64, len(all))
	var tieSum float64
	ties := false
	for i := 0; i < len(all); {
		j := i
		for j+1 < len(all) && all[j+1].v == all[i].v {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			ranks[k] = r
		}
		if t := float64(j - i + 1); t > 1 {
			ties = true
			tieSum += t*t*t - t
		}
		i = j + 1
	}
	var r1 float64
	for i, o := range all {
		if o.first {
			r1 += ranks[i]
		}
	}
	u := r1 - float64(m*(m+1))/2
	mu := float64(m*n) / 2
	if !ties && m*n <= exactLimit {
		return exactUP(m, n, u)
	}
	nn := float64(m + n)
	variance := float64(m*n) / 12 * ((nn + 1) - tieSum/(nn*(nn-1)))
	if variance <= 0 {
		return 1
	}
	d := math.Abs(u-mu) - 0.5
	if d < 0 {
		d = 0
	}
	z := d / math.Sqrt(variance)
	return math.Min(1, math.Erfc(z/math.Sqrt2))
}

// exactUP is the two-sided p of U = u for groups of m and n without ties:
// twice the smaller tail of the exact distribution, at most 1.
func exactUP(m, n int, u float64) float64 {
	// counts[i][j][k]: arrangements of i firsts and j seconds with U = k.
	maxU := m * n
	prev := make([][]float64, n+1)
	for j := range prev {
		prev[j] = make([]float64, maxU+1)
		prev[j][0] = 1 // no firsts: U = 0
	}
	for i := 1; i <= m; i++ {
		cur := make([][]float64, n+1)
		for j := 0; j <= n; j++ {
			cur[j] = make([]float64, maxU+1)
			for k := 0; k <= i*j; k++ {
				// the largest value is a first (it beats all j seconds) or a second
				var v float64
				if k-j >= 0 {
					v += prev[j][k-j]
				}
				if j > 0 {
					v += cur[j-1][k]
				}
				cur[j][k] = v
			}
		}
		prev = cur
	}
	dist := prev[n]
	var total, low, high float64
	k := int(math.Round(u))
	for i, v := range dist {
		total += v
		if i <= k {
			low += v
		}
		if i >= k {
			high += v
		}
	}
	return math.Min(1, 2*math.Min(low, high)/total)
}

// Outliers returns the days outside median ± k·MAD (MAD scaled to a
// standard deviation) of comparable days and at least 10 % from the
// median. Weekdays and weekend days are judged apart when their levels
// differ significantly, so that a normal Sunday is not an outlier of a
// month of weekdays. Only days with data are given.
func Outliers(days []time.Time, values []float64, k float64) []Outlier {
	var wd, we []float64
	for i, d := range days {
		if isWeekend(d) {
			we = append(we, values[i])
		} else {
			wd = append(wd, values[i])
		}
	}
	split := Compare(we, wd).Significant
	groups := map[bool][]int{}
	for i, d := range days {
		key := split && isWeekend(d)
		groups[key] = append(groups[key], i)
	}
	var out []Outlier
	for weekend, idx := range groups {
		if len(idx) < 4 {
			continue
		}
		vals := make([]float64, len(idx))
		for j, i := range idx {
			vals[j] = values[i]
		}
		med := median(vals)
		dev := make([]float64, len(vals))
		for j, v := range vals {
			dev[j] = math.Abs(v - med)
		}
		mad := median(dev) * madScale
		if mad == 0 {
			mad = math.Abs(med) * 0.05
		}
		if mad == 0 {
			continue
		}
		for j, i := range idx {
			// Outside the robust bounds, and far enough from the median to
			// matter to a reader.
			if math.Abs(vals[j]-med) > k*mad && math.Abs(vals[j]-med) >= minDeviation*math.Abs(med) {
				out = append(out, Outlier{Day: days[i], Value: vals[j], Median: med, Weekend: weekend && split})
			}
		}
	}
	slices.SortFunc(out, func(a, b Outlier) int { return a.Day.Compare(b.Day) })
	return out
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// weekSplit splits a series into its weekend and weekday values.
func weekSplit(dv dayValues) (weekend, weekday []float64) {
	for i, d := range dv.days {
		if isWeekend(d) {
			weekend = append(weekend, dv.values[i])
		} else {
			weekday = append(weekday, dv.values[i])
		}
	}
	return weekend, weekday
}

// seriesNote writes the analysis of one daily series from its figures:
// the total (with the days with data when some have none), the change per
// day against the previous period with its test, the weekday/weekend
// pattern with its test, and the days outside the robust bounds. cur and
// prev are the days with data (cur: only days complete at the build).
func (b *builder) seriesNote(kind string, total, perDay Figure, cur, prev dayValues) string {
	c := b.cat
	isBytes := kind == "traffic"
	amount := func(v float64) string {
		if isBytes {
			return c.bytes(v)
		}
		return c.int(v) + " " + c.t("unitword."+kind)
	}
	name := c.t("kind." + kind)
	var parts []string
	// The total, and what the days with data are.
	head := name + ": " + amount(total.Current)
	if total.DaysWithData > 0 || total.Days > 0 {
		head += " (" + c.t("note.days_with_data", total.DaysWithData, total.Days) + ")"
	}
	if b.r.ToDate {
		head += " " + c.t("note.to_date", c.dateTime(b.r.DataEnd))
	}
	nonzero := 0
	var only time.Time
	for i, v := range cur.values {
		if v != 0 {
			nonzero++
			only = cur.days[i]
		}
	}
	switch {
	case len(cur.days) == 1:
		parts = append(parts, head+". "+c.t("note.one_day", c.date(cur.days[0])))
		return strings.Join(parts, " ")
	case nonzero == 1 && len(cur.days) > 1:
		parts = append(parts, head+". "+c.t("note.all_on_one_day", c.date(only), len(cur.days)-1))
		return strings.Join(parts, " ")
	case total.Current == 0:
		parts = append(parts, head+".")
		return strings.Join(parts, " ")
	}
	// The change per day against the previous period.
	switch {
	case perDay.Previous == nil:
		parts = append(parts, head+"; "+c.t("note.trend.first"))
	case perDay.Change == nil:
		parts = append(parts, head+".")
	default:
		cmp := Compare(cur.values, prev.values)
		stat := c.t("note.test", c.pval(cmp.P), cmp.N1, cmp.N2)
		switch {
		case !cmp.Tested:
			parts = append(parts, head+"; "+c.t("note.trend.untested", c.value(perDay.Unit, perDay.Current), c.value(perDay.Unit, *perDay.Previous),
				c.change(perDay.Change), c.shortPeriod(b.r.Previous), MinGroupDays))
		case cmp.Significant && *perDay.Change > 0:
			parts = append(parts, head+"; "+c.t("note.trend.up", c.pct(*perDay.Change, 1), c.shortPeriod(b.r.Previous),
				c.value(perDay.Unit, perDay.Current), c.value(perDay.Unit, *perDay.Previous), stat))
		case cmp.Significant:
			parts = append(parts, head+"; "+c.t("note.trend.down", c.pct(-*perDay.Change, 1), c.shortPeriod(b.r.Previous),
				c.value(perDay.Unit, perDay.Current), c.value(perDay.Unit, *perDay.Previous), stat))
		default:
			parts = append(parts, head+"; "+c.t("note.trend.flat", c.shortPeriod(b.r.Previous), c.change(perDay.Change), stat))
		}
	}
	// Weekdays against weekend days.
	we, wd := weekSplit(cur)
	wk := Compare(we, wd)
	switch {
	case !wk.Tested:
		parts = append(parts, c.t("note.weekend.untested", wk.N2, wk.N1, MinGroupDays))
	case wk.Significant:
		key := "note.weekend.higher"
		if wk.Change < 0 {
			key = "note.weekend.lower"
		}
		s := c.t(key, valueText(c, wk.Mean1, isBytes), valueText(c, wk.Mean2, isBytes), c.signed(wk.Change), c.t("note.test", c.pval(wk.P), wk.N1, wk.N2))
		pwe, pwd := weekSplit(prev)
		if pk := Compare(pwe, pwd); pk.Significant && (pk.Change < 0) == (wk.Change < 0) {
			s += c.t("note.as_before", c.shortPeriod(b.r.Previous))
		}
		parts = append(parts, s+".")
	default:
		parts = append(parts, c.t("note.weekend.flat", c.signed(wk.Change), c.t("note.test", c.pval(wk.P), wk.N1, wk.N2))+".")
	}
	// Unusual days.
	k := b.cfg.OutlierK
	if k == 0 {
		k = 3
	}
	if len(cur.days) >= 4 {
		outs := Outliers(cur.days, cur.values, k)
		if len(outs) == 0 {
			parts = append(parts, c.t("note.no_outliers", c.dec(k, 0)))
		} else {
			var items []string
			for _, o := range outs {
				kindOfDay := c.t("note.weekday")
				if o.Weekend {
					kindOfDay = c.t("note.weekend")
				}
				v := c.int(o.Value)
				if isBytes {
					v = c.bytes(o.Value)
				}
				items = append(items, c.t("note.outlier", c.date(o.Day), v, c.signed(o.Deviation()), kindOfDay))
			}
			parts = append(parts, c.t("note.outliers", strings.Join(items, "; ")))
		}
	}
	return strings.Join(parts, " ")
}

func valueText(c *catalogT, v float64, isBytes bool) string {
	if isBytes {
		return c.bytes(v)
	}
	return c.dec(v, 1)
}

// summary collects the first sentence of the analysis of each section
// marked inSummary, the failed checks and the data that was missing.
func (b *builder) summary() {
	r := b.r
	for _, w := range r.Warnings {
		r.Summary = append(r.Summary, b.cat.t("summary.warning", w.Text))
	}
	for _, s := range sections {
		if !s.inSummary {
			continue
		}
		if notes, _ := notesOf(s.body(r, b.cat)); len(notes) > 0 && notes[0] != "" {
			first := firstSentence(notes[0])
			r.Summary = append(r.Summary, first)
		}
	}
	for _, g := range r.Coverage.Groups {
		if g.Group == CoverMail && g.WithData < g.Days {
			r.Summary = append(r.Summary, b.cat.t("summary.coverage", g.WithData, g.Days))
		}
	}
	if len(r.Missing) > 0 {
		var names []string
		for _, m := range r.Missing {
			names = append(names, b.cat.t("sec."+m))
		}
		r.Summary = append(r.Summary, b.cat.t("note.missing", strings.Join(names, ", ")))
	}
}

// firstSentence returns s up to the end of its first sentence: a ". "
// that is not inside parentheses.
func firstSentence(s string) string {
	depth := 0
	for i := 0; i+1 < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case '.':
			if depth == 0 && s[i+1] == ' ' {
				return s[:i] + "."
			}
		}
	}
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}
