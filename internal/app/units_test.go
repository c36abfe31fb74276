package app

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/notice/smtpsink"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck/dnstest"
)

// TestWebUnits: the units capability in the running service — the web
// pages record a unit, make a survey link shown once, the unit fills in
// the public form, the team plans through the web form and checks the MX
// (explained on the page), the system administrator records the work
// order's result; the units job is registered with the scheduler.
func TestWebUnits(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t, "mx1.uni.test. 300 IN A 192.0.2.1", "chem.uni.test. 3600 IN MX 10 old.chem.uni.test.",
		"old.chem.uni.test. 3600 IN A 198.51.100.7")
	sink := smtpsink.Start(t, nil)
	cfg := webConfig(t)
	cfg.Notices.Relay.Addr = sink.Addr
	cfg.Units.CentralMX = []string{"mx1.uni.test"}
	cfg.Units.Resolvers = []string{dns.Addr}
	cfg.Units.SysadminAddress = "sysadm@uni.test"
	cfg.HTTP.BaseURL = "https://postvakt.uni.test"
	cfg.Timezone = "Europe/Oslo"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)}
	app := startApp(t, cfg, clock.Now)
	webUsers(t, cfg, auth.RoleHelpdesk, auth.RolePostmaster, auth.RoleViewer)

	hd, tok := signedIn(t, app.base, "helpdesk")
	resp, _ := hd.do("POST", "/units", url.Values{"csrf": {tok}, "name": {"Department of Chemistry"}, "domains": {"chem.uni.test"},
		"admin_name": {"Kari"}, "admin_email": {"kari@chem.uni.test"}, "assignee": {"eva@uni.test"}}, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/units/1") {
		t.Fatalf("record unit: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	resp, page := hd.do("POST", "/units/1/link", url.Values{"csrf": {tok}}, nil)
	m := regexp.MustCompile(`https://postvakt\.uni\.test/survey\?t=([A-Za-z0-9_-]{43})`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("survey link not shown: %d", resp.StatusCode)
	}
	if _, again := hd.do("GET", "/units/1", nil, nil); strings.Contains(again, m[1]) {
		t.Fatal("the survey token is shown again")
	}
	// The unit, without an account.
	r, err := http.PostForm(app.base+"/survey?t="+m[1], url.Values{"domains": {"chem.uni.test"}, "admin_email": {"kari@chem.uni.test"},
		"admin_name": {"Kari Nett"}, "students": {"850"}, "clients": {"Thunderbird"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 200 || !strings.Contains(string(b), "Thank you") {
		t.Fatalf("survey form: %d", r.StatusCode)
	}
	resp, _ = hd.do("POST", "/units/1/plan", url.Values{"csrf": {tok}, "migration_at": {"2027-02-04T10:00"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("plan: %d", resp.StatusCode)
	}
	hd.do("POST", "/units/1/work-order", url.Values{"csrf": {tok}, "note": {"test accounts t1, t2"}}, nil)
	hd.do("POST", "/units/1/check", url.Values{"csrf": {tok}}, nil)
	_, page = hd.do("GET", "/units/1", nil, nil)
	for _, s := range []string{"planned", "students 850", "Thunderbird", "remind the administrator to lower the MX TTL",
		"Tue 2 Feb 09:00 CET", "old.chem.uni.test (NOT central)", "TTL 3600 s", "Work order", "survey link (kari@chem.uni.test)"} {
		if !strings.Contains(page, s) {
			t.Errorf("unit page lacks %q", s)
		}
	}
	var to []string
	for _, m := range sink.Messages() {
		to = append(to, strings.Join(m.To, ","))
	}
	// The survey to the assignee, the work order to the system administrators.
	if strings.Join(to, " ") != "eva@uni.test sysadm@uni.test" {
		t.Errorf("mail went to %v", to)
	}
	pm, ptok := signedIn(t, app.base, "postmaster")
	resp, _ = pm.do("POST", "/unit-work-orders/1", url.Values{"csrf": {ptok}, "state": {"done"}, "result": {"mailboxes ready"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("work order result: %d", resp.StatusCode)
	}
	if _, page = pm.do("GET", "/units/1", nil, nil); !strings.Contains(page, "mailboxes ready") {
		t.Error("work order result not shown")
	}
	// A complaint recorded by customer service, answered by a postmaster.
	if resp, _ = hd.do("POST", "/units/1/requirements", url.Values{"csrf": {tok}, "kind": {"complaint"}, "title": {"Spam reaches the lab"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("record complaint: %d", resp.StatusCode)
	}
	if resp, _ = hd.do("POST", "/unit-requirements/1", url.Values{"csrf": {tok}, "state": {"accepted"}, "answer": {"x"}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("helpdesk answers: %d", resp.StatusCode)
	}
	if resp, _ = pm.do("POST", "/unit-requirements/1", url.Values{"csrf": {ptok}, "state": {"accepted"}, "answer": {"filter tightened for the lab"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("answer complaint: %d", resp.StatusCode)
	}
	if _, page = hd.do("GET", "/units/1", nil, nil); !strings.Contains(page, "Spam reaches the lab") || !strings.Contains(page, "filter tightened for the lab") ||
		!strings.Contains(page, `state-accepted`) {
		t.Error("requirement and answer not shown on the unit's page")
	}
	// Roles: a viewer reads but cannot act; no CSRF, no change.
	v, vtok := signedIn(t, app.base, "viewer")
	if resp, _ := v.do("POST", "/units/1/check", url.Values{"csrf": {vtok}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer check: %d", resp.StatusCode)
	}
	if resp, _ := hd.do("POST", "/units/1/check", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("check without CSRF: %d", resp.StatusCode)
	}
	if resp, page := v.do("GET", "/units", nil, nil); resp.StatusCode != 200 || !strings.Contains(page, "Department of Chemistry") {
		t.Errorf("units list: %d", resp.StatusCode)
	}
	// The job is registered.
	r, err = http.Get(app.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{`postvakt_scheduler_runs_total{job_name="units",result="ok"}`, `postvakt_units{status="planned"} 1`,
		`postvakt_units{status="live"} 0`, `postvakt_units_dns_checks_total{result="wrong"} 2`, `postvakt_units_steps_overdue{kind="follow_up"} 0`,
		`postvakt_units_reminders_total{kind="ttl_reminder",result="sent"} 0`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// The units families pass promtool (docs/development.md, "Metrics").
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (Debian package prometheus)")
		}
		t.Skip("promtool not installed (Debian package prometheus)")
	}
	var units []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "postvakt_units") {
			units = append(units, l)
		}
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = strings.NewReader(strings.Join(units, "\n") + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
}

// TestWebNoticeToUnits: a notice composed on the web page for a unit goes
// to the announce list and to the unit's leader and network administrator
// through the running service's wiring (the units service as the notices'
// audience); the notice is on the unit's page.
func TestWebNoticeToUnits(t *testing.T) {
	t.Parallel()
	sink := newSMTPSink(t)
	cfg := noticeWebConfig(t, sink)
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RoleOncall)
	hd := apiToken(t, cfg, auth.RoleHelpdesk)
	var u struct{ ID int64 }
	if code := call(t, "POST", app.base+"/api/v1/units", hd, map[string]any{"name": "Chemistry", "domains": []string{"chem.example.edu"},
		"leader":        map[string]string{"name": "Lena", "email": "lena@chem.example.edu"},
		"network_admin": map[string]string{"name": "Kari", "email": "kari@chem.example.edu"}}, &u); code != http.StatusCreated {
		t.Fatalf("unit: %d", code)
	}
	oc, tok := signedIn(t, app.base, "oncall")
	if _, page := oc.do("GET", "/notices/new", nil, nil); !strings.Contains(page, `name="units" value="1"`) {
		t.Fatal("the compose form offers no units")
	}
	resp, _ := oc.do("POST", "/notices", url.Values{"csrf": {tok}, "kind": {"outage"}, "title": {"Mail to chem delayed"}, "services": {"smtp"},
		"body": {"Looking into it."}, "announce": {"on"}, "units": {"1"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	eventually(t, 10*time.Second, "the notice at the announce list and both unit contacts", func() bool {
		return len(sink.to("itss-announce@example.edu")) == 1 && len(sink.to("lena@chem.example.edu")) == 1 && len(sink.to("kari@chem.example.edu")) == 1
	})
	if _, page := oc.do("GET", "/units/1", nil, nil); !strings.Contains(page, "notice 1 scoped to the unit") {
		t.Error("the unit's history lacks the notice")
	}
}
