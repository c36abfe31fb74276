package probeapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/api/probeapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestResults: a probe's runs in the period, newest first and at most
// limit; the last 24 hours by default; bad bounds and limits refused.
func TestResults(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.seed(t)
	var page probeapi.ResultList
	f.do(t, "GET", "/api/v1/probes/imap-lb/results?from=2026-10-14T08:00:00Z&to=2026-10-14T10:00:00Z&limit=5", auth.RoleViewer).
		ok(t, http.StatusOK, &page)
	if len(page.Results) != 5 || !page.Results[0].At.Equal(day.Add(9*time.Hour+50*time.Minute)) {
		t.Fatalf("results = %+v", page.Results)
	}
	if r := page.Results[3]; r.OK || r.Attempts != 3 || r.Error == "" || len(r.Steps) != 1 || r.Kind != probe.KindIMAP {
		t.Errorf("a failed run = %+v", r)
	}
	var all probeapi.ResultList
	f.do(t, "GET", "/api/v1/probes/imap-lb/results", auth.RoleViewer).ok(t, http.StatusOK, &all)
	// now − 24 h is noon on day; the runs stop at 02:00 the day after.
	if len(all.Results) != 14*6 || !slices.IsSortedFunc(all.Results, func(a, b probe.Result) int { return b.At.Compare(a.At) }) ||
		!all.Results[len(all.Results)-1].At.Equal(day.Add(12*time.Hour)) {
		t.Fatalf("default period: %d results from %v", len(all.Results), all.Results[len(all.Results)-1].At)
	}
	var none probeapi.ResultList
	f.do(t, "GET", "/api/v1/probes/nope/results", auth.RoleViewer).ok(t, http.StatusOK, &none)
	if none.Results == nil || len(none.Results) != 0 {
		t.Fatalf("unknown probe: %+v", none)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "from=yesterday", "to=2026-10-14",
		"from=2026-10-14T10:00:00Z&to=2026-10-14T08:00:00Z"} {
		f.do(t, "GET", "/api/v1/probes/imap-lb/results?"+q, auth.RoleViewer).refused(t, http.StatusBadRequest, "bad_request")
	}
}
