package web

import (
	"testing"

	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
)

func TestSpark(t *testing.T) {
	t.Parallel()
	received := func(h collectorsapi.TrafficHour) int64 { return h.Received }
	if spark(nil, received, "x") != nil {
		t.Fatal("a sparkline of no hours")
	}
	s := spark([]collectorsapi.TrafficHour{{Received: 0}, {Received: 4}, {Received: 2}}, received, "Messages received")
	if s.Points != "1.0,26.0 60.0,1.0 119.0,13.5" || s.Last != "119.0,13.5" || s.Total != 6 || s.Max != 4 {
		t.Errorf("sparkline %+v", s)
	}
	if want := "Messages received per hour, last 3 hours, oldest first: 0, 4, 2 (total 6, peak 4)"; s.Label != want {
		t.Errorf("label %q", s.Label)
	}
	if z := spark([]collectorsapi.TrafficHour{{}, {}}, received, "x"); z.Points != "1.0,26.0 119.0,26.0" {
		t.Errorf("all-zero sparkline %q", z.Points)
	}
}
