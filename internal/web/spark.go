package web

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
)

// sparkline is a small server-rendered SVG line of an hourly series.
type sparkline struct {
	Points string // the polyline's points, in a 0 0 Width Height box
	Last   string // the last point, for a dot marking now
	Width  int
	Height int
	Label  string // the numbers, for screen readers and the tooltip
	Total  int64
	Max    int64
}

const sparkW, sparkH = 120, 28

// spark builds the sparkline of one value of hours (oldest first), as the
// traffic API answers them. name names the series in the label.
func spark(hours []collectorsapi.TrafficHour, value func(collectorsapi.TrafficHour) int64, name string) *sparkline {
	if len(hours) == 0 {
		return nil
	}
	vals := make([]int64, len(hours))
	s := &sparkline{Width: sparkW, Height: sparkH}
	for i, h := range hours {
		vals[i] = value(h)
		s.Total += vals[i]
		s.Max = max(s.Max, vals[i])
	}
	step := float64(sparkW-2) / float64(max(len(vals)-1, 1))
	pts := make([]string, len(vals))
	nums := make([]string, len(vals))
	for i, n := range vals {
		y := float64(sparkH - 2)
		if s.Max > 0 {
			y = 1 + float64(sparkH-3)*(1-float64(n)/float64(s.Max))
		}
		pts[i] = fmt.Sprintf("%.1f,%.1f", 1+step*float64(i), y)
		nums[i] = strconv.FormatInt(n, 10)
	}
	s.Points, s.Last = strings.Join(pts, " "), pts[len(pts)-1]
	s.Label = fmt.Sprintf("%s per hour, last %d hours, oldest first: %s (total %d, peak %d)",
		name, len(vals), strings.Join(nums, ", "), s.Total, s.Max)
	return s
}
