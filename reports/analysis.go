package reports

import (
	"math"
	"slices"
	"strings"
	"time"
)

// madScale makes the median absolute deviation a consistent estimator of
// the standard deviation for normally distributed data.
const madScale = 1.4826

// minDeviation is the smallest relative distance from the median (10 %)
// at which a day outside the robust bounds is named: on a very regular
// series the bounds are so tight that a 5 % dip would be flagged.
const minDeviation = 0.10

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

// WeekPattern returns the mean value of weekdays and of weekend days.
func WeekPattern(days []time.Time, values []float64) (weekday, weekend float64) {
	var ws, we, nd, ne float64
	for i, d := range days {
		if isWeekend(d) {
			we += values[i]
			ne++
		} else {
			ws += values[i]
			nd++
		}
	}
	if nd > 0 {
		weekday = ws / nd
	}
	if ne > 0 {
		weekend = we / ne
	}
	return weekday, weekend
}

// weekendDiffers reports whether weekends differ from weekdays by more than
// 15 %, and the difference in per cent.
func weekendDiffers(days []time.Time, values []float64) (bool, float64) {
	wd, we := WeekPattern(days, values)
	if wd == 0 {
		return false, 0
	}
	d := (we - wd) / wd * 100
	return math.Abs(d) > 15, d
}

// Outliers returns the days outside median ± k·MAD (MAD scaled to a
// standard deviation) of comparable days and at least 10 % from the median. Weekdays and weekend days are
// judged apart when their levels differ, so that a normal Sunday is not an
// outlier of a month of weekdays.
func Outliers(days []time.Time, values []float64, k float64) []Outlier {
	split, _ := weekendDiffers(days, values)
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

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// seriesNote writes the analysis of one daily series: the total and its
// trend per day against the previous period, the weekday/weekend pattern
// (and whether it is as usual) and the days outside the robust bounds.
func (b *builder) seriesNote(kind string, days []time.Time, cur, prev []float64, hasPrev bool) string {
	c := b.cat
	var parts []string
	isBytes := kind == "traffic"
	total := func(v float64) string {
		if isBytes {
			return c.bytes(v)
		}
		return c.int(v) + " " + c.t("unitword."+kind)
	}
	name := c.t("kind." + kind)
	if hasPrev && mean(prev) > 0 {
		ch := (mean(cur) - mean(prev)) / mean(prev) * 100
		switch {
		case ch >= 2:
			parts = append(parts, c.t("note.trend.up", name, total(sum(cur)), c.pct(ch, 1), c.shortPeriod(b.r.Previous)))
		case ch <= -2:
			parts = append(parts, c.t("note.trend.down", name, total(sum(cur)), c.pct(-ch, 1), c.shortPeriod(b.r.Previous)))
		default:
			parts = append(parts, c.t("note.trend.flat", name, total(sum(cur)), c.shortPeriod(b.r.Previous), c.change(ptr(round(ch, 1)))))
		}
	} else {
		parts = append(parts, c.t("note.trend.first", name, total(sum(cur))))
	}
	differs, d := weekendDiffers(days, cur)
	var prevDiffers bool
	var prevD float64
	if hasPrev {
		prevDiffers, prevD = weekendDiffers(b.r.Previous.Days(), prev)
	}
	pat := c.t("note.weekend.flat")
	if differs && d < 0 {
		pat = c.t("note.weekend.lower", c.signed(d))
	} else if differs {
		pat = c.t("note.weekend.higher", c.signed(d))
	}
	switch {
	case hasPrev && differs == prevDiffers && (!differs || (d < 0) == (prevD < 0)):
		pat += c.t("note.as_usual")
	case hasPrev:
		pat += c.t("note.unlike_before")
	default:
		pat += c.t("note.period")
	}
	parts = append(parts, pat)
	k := b.cfg.OutlierK
	if k == 0 {
		k = 3
	}
	outs := Outliers(days, cur, k)
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
	return strings.Join(parts, " ")
}

// summary collects the first sentence of the analysis of each section
// marked inSummary, and names the data that was missing.
func (b *builder) summary() {
	r := b.r
	for _, s := range sections {
		if !s.inSummary {
			continue
		}
		if notes, _ := notesOf(s.body(r, b.cat)); len(notes) > 0 && notes[0] != "" {
			first, _, _ := strings.Cut(notes[0], ". ")
			if !strings.HasSuffix(first, ".") {
				first += "."
			}
			r.Summary = append(r.Summary, first)
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
