package reports

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// TrafficSection is bytes moved per day and the mean profile of a day.
type TrafficSection struct {
	Figures []Figure     `json:"figures"`
	Days    []TrafficDay `json:"days"`
	// HourProfile is the mean bytes (in + out) per hour of day, local
	// time, over the complete days with data.
	HourProfile [24]float64 `json:"hour_profile"`
	PeakHour    time.Time   `json:"peak_hour"`
	PeakBytes   int64       `json:"peak_bytes"`
	Notes       []string    `json:"notes"`
}

// TrafficDay is the bytes in and out of one day.
type TrafficDay struct {
	Day      time.Time `json:"day"`
	InBytes  int64     `json:"in_bytes"`
	OutBytes int64     `json:"out_bytes"`
	HasData  bool      `json:"has_data"`
}

// trafficSection is bytes in and out per day and the mean profile of a day.
var trafficSection = section{
	id:    "traffic",
	build: (*builder).traffic,
	body:  trafficBody,
}

func (b *builder) traffic(ctx context.Context) error {
	r := b.r
	from, to := b.span()
	cur, err := b.src.TrafficHours(ctx, from, to)
	if err != nil {
		return err
	}
	prev, err := b.src.TrafficHours(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	s := &r.Traffic
	if !b.hasData(CoverMail, false) {
		s.Figures = []Figure{missing("traffic.in", UnitBytes, ReasonNoMailLogs), missing("traffic.out", UnitBytes, ReasonNoMailLogs),
			missing("traffic.total", UnitBytes, ReasonNoMailLogs)}
		s.Notes = append(s.Notes, b.cat.reason(ReasonNoMailLogs)+".")
		return nil
	}
	days := b.days()
	covered := b.cov[0][CoverMail]
	byDay := map[time.Time]*TrafficDay{}
	for _, d := range days {
		byDay[d] = &TrafficDay{Day: d, HasData: covered[d]}
	}
	var hourSum [24]float64
	var hourN [24]map[time.Time]bool
	var in, out float64
	for _, h := range cur {
		lt := h.Hour.In(b.loc)
		row := byDay[localDay(lt, b.loc)]
		if row != nil {
			row.InBytes += h.InBytes
			row.OutBytes += h.OutBytes
		}
		in += float64(h.InBytes)
		out += float64(h.OutBytes)
		if t := h.InBytes + h.OutBytes; t > s.PeakBytes {
			s.PeakBytes, s.PeakHour = t, lt
		}
	}
	// The mean day: each hour of the complete days with data, summed and
	// divided by those days.
	for _, d := range days {
		if !covered[d] || !b.complete(d) {
			continue
		}
		for h := range 24 {
			if hourN[h] == nil {
				hourN[h] = map[time.Time]bool{}
			}
			hourN[h][d] = true
		}
	}
	for _, h := range cur {
		lt := h.Hour.In(b.loc)
		d := localDay(lt, b.loc)
		if hourN[lt.Hour()][d] {
			hourSum[lt.Hour()] += float64(h.InBytes + h.OutBytes)
		}
	}
	for i := range hourSum {
		if n := len(hourN[i]); n > 0 {
			s.HourProfile[i] = hourSum[i] / float64(n)
		}
	}
	var pin, pout float64
	for _, h := range prev {
		pin += float64(h.InBytes)
		pout += float64(h.OutBytes)
	}
	pv := func(v float64) *float64 {
		if !b.hasData(CoverMail, true) {
			return nil
		}
		return ptr(v)
	}
	s.Figures = []Figure{
		b.total(figure("traffic.in", UnitBytes, in, pv(pin)), CoverMail),
		b.total(figure("traffic.out", UnitBytes, out, pv(pout)), CoverMail),
		b.total(figure("traffic.total", UnitBytes, in+out, pv(pin+pout)), CoverMail),
	}
	var cv, pvv dayValues
	for _, d := range days {
		row := byDay[d]
		s.Days = append(s.Days, *row)
		if row.HasData && b.complete(d) {
			cv.days, cv.values = append(cv.days, d), append(cv.values, float64(row.InBytes+row.OutBytes))
		}
	}
	prevByDay := map[time.Time]float64{}
	for _, h := range prev {
		prevByDay[localDay(h.Hour, b.loc)] += float64(h.InBytes + h.OutBytes)
	}
	for _, d := range b.covered(CoverMail, true) {
		pvv.days, pvv.values = append(pvv.days, d), append(pvv.values, prevByDay[d])
	}
	perDay := figure("traffic.per_day", UnitBytes, mean(cv.values), nil)
	if len(pvv.values) > 0 {
		perDay = figure("traffic.per_day", UnitBytes, mean(cv.values), ptr(mean(pvv.values)))
	}
	s.Notes = append(s.Notes, b.seriesNote("traffic", figureOf(s.Figures, "traffic.total"), perDay, cv, pvv))
	if s.PeakBytes > 0 {
		s.Notes = append(s.Notes, b.peakNote(s))
	}
	return nil
}

func (b *builder) peakNote(s *TrafficSection) string {
	peak := 0
	for h, v := range s.HourProfile {
		if v > s.HourProfile[peak] {
			peak = h
		}
	}
	return b.cat.t("note.peak", b.cat.dateTime(s.PeakHour), b.cat.bytes(float64(s.PeakBytes)), peak)
}

// trafficBody shows the figures, the two charts and the notes; the CSV also
// gets each day and the hour profile.
func trafficBody(r *Report, c *catalogT) []block {
	s := &r.Traffic
	var records []record
	for _, d := range s.Days {
		if !d.HasData {
			continue
		}
		records = append(records,
			dayRecord("traffic.in", UnitBytes, d.Day, float64(d.InBytes)),
			dayRecord("traffic.out", UnitBytes, d.Day, float64(d.OutBytes)))
	}
	for h, v := range s.HourProfile {
		records = append(records, periodRecord("traffic.hour_mean."+strconv.Itoa(h), UnitBytes, v))
	}
	days, hours := trafficCharts(r, c)
	return []block{figuresBlock(c, s.Figures), chartBlock(days), chartBlock(hours), notesBlock(s.Notes), recordsBlock(records...)}
}

// trafficCharts are the bytes in and out per day, stacked, and the mean
// bytes by hour of day.
func trafficCharts(r *Report, c *catalogT) (days, hours *Chart) {
	n := len(r.Traffic.Days)
	if n == 0 {
		return nil, nil
	}
	days = &Chart{ID: "traffic_days", Title: c.t("chart.traffic_days"), Kind: "bar", Stacked: true, Bytes: true,
		Labels: dayLabels(n, func(i int) int { return r.Traffic.Days[i].Day.Day() })}
	in, o := make([]float64, n), make([]float64, n)
	for i, d := range r.Traffic.Days {
		in[i], o[i] = float64(d.InBytes), float64(d.OutBytes)
		if !d.HasData {
			in[i], o[i] = nullValue(), nullValue()
		}
	}
	days.Series = []ChartSeries{{c.t("series.in"), in}, {c.t("series.out"), o}}
	hours = &Chart{ID: "traffic_hours", Title: c.t("chart.traffic_hours"), Kind: "bar", Bytes: true}
	for h := range 24 {
		hours.Labels = append(hours.Labels, fmt.Sprintf("%02d", h))
	}
	hours.Series = []ChartSeries{{c.t("series.in") + "+" + c.t("series.out"), r.Traffic.HourProfile[:]}}
	return days, hours
}
