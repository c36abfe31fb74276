package probeapi_test

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/probeapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestAvailability: per service over the period with the announced
// maintenance left out, per service and day with by=day, the last 30
// days by default; an unknown by is refused.
func TestAvailability(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var none probeapi.AvailabilityList
	f.do(t, "GET", "/api/v1/availability", auth.RoleViewer).ok(t, http.StatusOK, &none)
	if none.Services == nil || len(none.Services) != 0 {
		t.Fatalf("nothing probed: %+v", none)
	}
	f.seed(t)
	var av probeapi.AvailabilityList
	f.do(t, "GET", "/api/v1/availability?from=2026-10-14T00:00:00Z&to=2026-10-15T00:00:00Z", auth.RoleViewer).ok(t, http.StatusOK, &av)
	if len(av.Services) != 1 {
		t.Fatalf("services = %+v", av.Services)
	}
	imap := av.Services[0]
	for name, c := range map[string][2]time.Duration{
		"total": {time.Duration(imap.Total), 24 * time.Hour}, "planned": {time.Duration(imap.Planned), time.Hour},
		"down": {time.Duration(imap.Down), 30 * time.Minute}, "down in maintenance": {time.Duration(imap.DownPlanned), 40 * time.Minute},
		"measured": {time.Duration(imap.Measured), 23 * time.Hour},
	} {
		if c[0] != c[1] {
			t.Errorf("%s = %v, want %v", name, c[0], c[1])
		}
	}
	if want := 100 * (1380.0 - 30) / 1380; imap.Service != "imap" || !imap.Known || math.Abs(imap.Availability-want) > 1e-9 ||
		len(imap.Outages) != 1 || len(imap.Maintenance) != 1 {
		t.Errorf("imap = %+v, want %.4f%%", imap, want)
	}
	var daily probeapi.AvailabilityList
	f.do(t, "GET", "/api/v1/availability?by=day&from=2026-10-13T00:00:00Z&to=2026-10-15T00:00:00Z", auth.RoleViewer).ok(t, http.StatusOK, &daily)
	if len(daily.Services) != 2 || !daily.Services[1].From.Equal(day) || daily.Services[1].Availability != imap.Availability ||
		time.Duration(daily.Services[0].NoData) != 22*time.Hour {
		t.Fatalf("daily = %+v", daily.Services)
	}
	var month probeapi.AvailabilityList
	f.do(t, "GET", "/api/v1/availability?by=period", auth.RoleViewer).ok(t, http.StatusOK, &month)
	if len(month.Services) != 1 || !month.Services[0].From.Equal(now.Add(-30*24*time.Hour)) || !month.Services[0].To.Equal(now) {
		t.Fatalf("default period: %+v", month.Services)
	}
	for _, q := range []string{"by=week", "from=2026-10-14", "from=2026-10-15T00:00:00Z&to=2026-10-14T00:00:00Z"} {
		f.do(t, "GET", "/api/v1/availability?"+q, auth.RoleViewer).refused(t, http.StatusBadRequest, "bad_request")
	}
}
