package app

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// BenchmarkWebIncidentPage measures an incident's page (docs/performance.md,
// "Web") with a realistic timeline of at least 50 entries: the Alertmanager
// incident with its ticket and first e-mail page, then pages by hand (an
// event and an e-mail each, to a loopback SMTP sink) and notes, the paging
// banner's check included, fetched over HTTP on 127.0.0.1 as on-call:
//
//	go test ./internal/app/ -run '^$' -bench BenchmarkWebIncidentPage -benchtime 200x
func BenchmarkWebIncidentPage(b *testing.B) {
	sink := newSMTPSink(b)
	cfg := incidentWebConfig(b, sink, true)
	app := startApp(b, cfg, time.Now).base
	webUsers(b, cfg, auth.RoleOncall)
	tok := apiToken(b, cfg, auth.RoleOncall)
	inc := raiseAlert(b, app, tok, "BenchProbeFailed").ID
	for i := range 16 {
		if code := call(b, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/page", app, inc), tok, oncallapi.PageRequest{Member: testMembers[i%3].ID,
			Note: fmt.Sprintf("round %d: still refusing on mx1", i)}, nil); code != http.StatusOK {
			b.Fatalf("page by hand: %d", code)
		}
		if code := call(b, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/notes", app, inc), tok, oncallapi.NoteRequest{
			Text: fmt.Sprintf("Checked the queue on mx%d: %d messages deferred.", i%3+1, 100*i)}, nil); code != http.StatusCreated {
			b.Fatalf("note: %d", code)
		}
	}
	var got oncallapi.IncidentResponse
	call(b, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", app, inc), tok, nil, &got)
	if n := len(got.Timeline) + len(got.Pages); n < 50 {
		b.Fatalf("%d timeline entries, want at least 50", n)
	}
	c := newClient(b, app)
	if resp, _ := c.login("oncall", testPassword); resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %d", resp.StatusCode)
	}
	path := fmt.Sprintf("/incidents/%d", inc)
	b.Logf("%d events and %d messages on the timeline", len(got.Timeline), len(got.Pages))
	var worst time.Duration
	for b.Loop() {
		t0 := time.Now()
		if resp, body := c.do("GET", path, nil, nil); resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %.300s", path, resp.StatusCode, body)
		}
		worst = max(worst, time.Since(t0))
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}
