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
	"github.com/uni-mail/postvakt/oncall/sla"
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

// TestTicketsAPI runs the tickets capability in a whole in-process
// postvakt: the API with roles and audit, the default assignee from the
// rota, SLA explain, notices, the public status page and the metrics.
func TestTicketsAPI(t *testing.T) {
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
	helpdesk, oncallTok, viewer := apiToken(t, cfg, auth.RoleHelpdesk), apiToken(t, cfg, auth.RoleOncall), apiToken(t, cfg, auth.RoleViewer)
	base := app.base + "/api/v1"

	var tk tickets.Ticket
	open := map[string]any{"title": "Mail to gmail bounces", "service": "smtp", "severity": "critical", "reporter": "helpdesk"}
	if code := call(t, "POST", base+"/tickets", viewer, open, nil); code != http.StatusForbidden {
		t.Fatalf("viewer opened a ticket: %d", code)
	}
	if code := call(t, "POST", base+"/tickets", helpdesk, open, &tk); code != http.StatusCreated {
		t.Fatalf("open: %d", code)
	}
	// The default assignee is whoever the rota has on call.
	wantAssignee := testRota.Members[rotaTurn(t, clock.Now())]
	if tk.Assignee != wantAssignee || tk.Policy != "standard" {
		t.Fatalf("ticket %+v, want assignee %s", tk, wantAssignee)
	}
	if c, _ := tk.Clock(sla.KindResponse); !c.Due.Equal(calendar.At(oslo, 2026, 11, 24, 11, 0)) {
		t.Fatalf("due %v", c.Due)
	}
	if code := call(t, "POST", base+"/tickets", helpdesk, map[string]any{"title": "x", "service": "fax"}, nil); code != http.StatusBadRequest {
		t.Fatalf("unknown service: %d", code)
	}
	id := tickets.ID(tk.ID)
	clock.Set(calendar.At(oslo, 2026, 11, 24, 10, 12))
	if code := call(t, "POST", base+"/tickets/"+id+"/ack", helpdesk, nil, nil); code != http.StatusForbidden {
		t.Fatalf("helpdesk ack: %d", code)
	}
	if code := call(t, "POST", base+"/tickets/"+id+"/ack", oncallTok, map[string]string{"note": "looking"}, &tk); code != http.StatusOK || tk.State != "acknowledged" {
		t.Fatalf("ack: %d %s", code, tk.State)
	}
	if code := call(t, "POST", base+"/tickets/"+id+"/close", oncallTok, nil, nil); code != http.StatusConflict {
		t.Fatalf("close unresolved: %d", code)
	}
	if code := call(t, "POST", base+"/tickets/"+id+"/frobnicate", oncallTok, nil, nil); code != http.StatusNotFound {
		t.Fatalf("unknown action: %d", code)
	}
	if code := call(t, "POST", base+"/tickets/"+id+"/comments", helpdesk, map[string]any{"body": "user called again"}, nil); code != http.StatusCreated {
		t.Fatalf("comment: %d", code)
	}
	var view struct {
		tickets.Ticket
		Timeline []tickets.Event `json:"timeline"`
	}
	if code := call(t, "GET", base+"/tickets/"+id, viewer, nil, &view); code != http.StatusOK || len(view.Timeline) != 3 ||
		view.Timeline[1].Actor != "token:test-oncall" || view.Timeline[2].Kind != "comment" {
		t.Fatalf("get: %d %+v", code, view.Timeline)
	}
	if code := call(t, "GET", base+"/tickets/999", viewer, nil, nil); code != http.StatusNotFound {
		t.Fatalf("missing: %d", code)
	}
	var list struct{ Tickets []tickets.Ticket }
	if code := call(t, "GET", base+"/tickets?state=acknowledged", viewer, nil, &list); code != http.StatusOK || len(list.Tickets) != 1 {
		t.Fatalf("list: %d %+v", code, list)
	}
	var res sla.Result
	if code := call(t, "GET", base+"/sla/explain?policy=standard&notified=2026-11-27+16:30", viewer, nil, &res); code != http.StatusOK {
		t.Fatalf("explain: %d", code)
	}
	if c, _ := res.Clock(sla.KindResponse); !c.Due.Equal(calendar.At(oslo, 2026, 11, 30, 9, 30)) {
		t.Fatalf("explain due %v", c.Due)
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
