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
	// HourProfile is the mean bytes (in + out) per hour of day, local time.
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
}

// trafficSection is bytes in and out per day and the mean profile of a day.
var trafficSection = section{
	id:    "traffic",
	build: (*builder).traffic,
	body:  trafficBody,
}

func (b *builder) traffic(ctx context.Context) error {
	r := b.r
	cur, err := b.src.TrafficHours(ctx, r.Period.Start, r.Period.End)
	if err != nil {
		return err
	}
	prev, err := b.src.TrafficHours(ctx, r.Previous.Start, r.Previous.End)
	if err != nil {
		return err
	}
	days := r.Period.Days()
	byDay := map[time.Time]*TrafficDay{}
	for _, d := range days {
		byDay[d] = &TrafficDay{Day: d}
	}
	s := &r.Traffic
	var hourSum [24]float64
	var hourN [24]map[time.Time]bool
	var in, out float64
	for _, h := range cur {
		lt := h.Hour.In(b.loc)
		if row := byDay[localDay(lt, b.loc)]; row != nil {
			row.InBytes += h.InBytes
			row.OutBytes += h.OutBytes
		}
		in += float64(h.InBytes)
		out += float64(h.OutBytes)
		hourSum[lt.Hour()] += float64(h.InBytes + h.OutBytes)
		if hourN[lt.Hour()] == nil {
			hourN[lt.Hour()] = map[time.Time]bool{}
		}
		hourN[lt.Hour()][localDay(lt, b.loc)] = true
		if t := h.InBytes + h.OutBytes; t > s.PeakBytes {
			s.PeakBytes, s.PeakHour = t, lt
		}
	}
	for i := range hourSum {
		if n := len(hourN[i]); n > 0 {
			s.HourProfile[i] = round(hourSum[i]/float64(n), 0)
		}
	}
	var pin, pout float64
	for _, h := range prev {
		pin += float64(h.InBytes)
		pout += float64(h.OutBytes)
	}
	pv := func(v float64) *float64 {
		if len(prev) == 0 {
			return nil
		}
		return ptr(v)
	}
	s.Figures = []Figure{
		figure("traffic.in", UnitBytes, in, pv(pin)),
		figure("traffic.out", UnitBytes, out, pv(pout)),
		figure("traffic.total", UnitBytes, in+out, pv(pin+pout)),
	}
	for _, d := range days {
		s.Days = append(s.Days, *byDay[d])
	}
	prevByDay := map[time.Time]float64{}
	for _, h := range prev {
		prevByDay[localDay(h.Hour, b.loc)] += float64(h.InBytes + h.OutBytes)
	}
	var prevSeries []float64
	for _, d := range r.Previous.Days() {
		prevSeries = append(prevSeries, prevByDay[d])
	}
	s.Notes = append(s.Notes, b.seriesNote("traffic", days, series(s.Days, func(d TrafficDay) int64 { return d.InBytes + d.OutBytes }), prevSeries, len(prev) > 0))
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
	}
	days.Series = []ChartSeries{{c.t("series.in"), in}, {c.t("series.out"), o}}
	hours = &Chart{ID: "traffic_hours", Title: c.t("chart.traffic_hours"), Kind: "bar", Bytes: true}
	for h := range 24 {
		hours.Labels = append(hours.Labels, fmt.Sprintf("%02d", h))
	}
	hours.Series = []ChartSeries{{c.t("series.in") + "+" + c.t("series.out"), r.Traffic.HourProfile[:]}}
	return days, hours
}
