package app

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/oncall/calendar"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

func get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTicketsWiring runs the tickets capability in a whole in-process
// postvakt: the default assignee from the rota, the public status page
// and feed, and the metrics. The API's own cases (roles, refusals, the
// JSON) are internal/api/ticketapi's tests.
func TestTicketsWiring(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.SMTP.Enabled = false // tests of the engine start it on free ports
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	cfg.Oncall.Members = testMembers
	cfg.Oncall.Rotas = []rota.Spec{testRota}
	cfg.Oncall.Policies = []incident.PolicySpec{{Name: "mail", Rota: "ukevakt", Steps: []incident.StepSpec{{After: 0, Notify: []string{"oncall"}}}}}
	cfg.Oncall.DefaultPolicy = "mail"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	oslo, _ := time.LoadLocation("Europe/Oslo")
	clock := &testClock{t: calendar.At(oslo, 2026, 11, 24, 10, 0)}
	app := startApp(t, cfg, clock.Now)
	helpdesk, oncallTok := apiToken(t, cfg, auth.RoleHelpdesk), apiToken(t, cfg, auth.RoleOncall)
	base := app.base + "/api/v1"

	var tk tickets.Ticket
	open := map[string]any{"title": "Mail to gmail bounces", "service": "smtp", "severity": "critical", "reporter": "helpdesk"}
	if code := call(t, "POST", base+"/tickets", helpdesk, open, &tk); code != http.StatusCreated {
		t.Fatalf("open: %d", code)
	}
	// The default assignee is whoever the rota has on call.
	wantAssignee := testRota.Members[rotaTurn(t, clock.Now())]
	if tk.Assignee != wantAssignee || tk.Policy != "standard" {
		t.Fatalf("ticket %+v, want assignee %s", tk, wantAssignee)
	}
	id := tickets.ID(tk.ID)
	clock.Set(calendar.At(oslo, 2026, 11, 24, 10, 12))
	if code := call(t, "POST", base+"/tickets/"+id+"/ack", oncallTok, map[string]string{"note": "looking"}, &tk); code != http.StatusOK || tk.State != "acknowledged" {
		t.Fatalf("ack: %d %s", code, tk.State)
	}

	var n notice.Notice
	if code := call(t, "POST", base+"/notices", oncallTok, map[string]any{"kind": "outage", "title": "Webmail unavailable",
		"services": []string{"webmail"}, "symptoms": "HTTP 502"}, &n); code != http.StatusCreated || n.State != "investigating" {
		t.Fatalf("notice: %d %+v", code, n)
	}
	if code := call(t, "POST", base+"/notices/"+tickets.ID(n.ID)+"/updates", oncallTok, map[string]any{"state": "identified", "body": "A proxy node failed."}, &n); code != http.StatusOK || len(n.Updates) != 2 {
		t.Fatalf("notice update: %d %+v", code, n)
	}
	if code, body := get(t, app.base+"/status"); code != http.StatusOK || !strings.Contains(body, "Webmail unavailable") || !strings.Contains(body, "A proxy node failed.") {
		t.Fatalf("status page: %d\n%s", code, body)
	}
	if code, body := get(t, app.base+"/status/feed.atom"); code != http.StatusOK || !strings.Contains(body, "[Identified] Outage: Webmail unavailable") {
		t.Fatalf("feed: %d\n%s", code, body)
	}
	_, metrics := get(t, app.base+"/metrics")
	for _, want := range []string{
		`postvakt_tickets_open{service="smtp",severity="critical",state="acknowledged"} 1`,
		`postvakt_sla_response_business_seconds_count{severity="critical"} 1`,
		`postvakt_sla_response_wall_seconds_sum{severity="critical"} 720`,
		`postvakt_sla_breaches_total{clock="response"} 0`,
		`postvakt_sla_compliance_ratio{clock="response",policy="standard"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func rotaTurn(t *testing.T, at time.Time) int {
	r, err := rota.New(testRota)
	if err != nil {
		t.Fatal(err)
	}
	m := r.OnCallAt(rota.Changes{}, at).Member
	for i, x := range testRota.Members {
		if x == m {
			return i
		}
	}
	t.Fatalf("member %s", m)
	return 0
}
