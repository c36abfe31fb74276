package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/incident"
)

type incidentReply struct {
	Incident incident.Incident `json:"incident"`
	Changed  bool              `json:"changed"`
}

// TestOncallEscalationSurvivesRestart: an unacknowledged
// page escalates to the next step at the configured delay, although
// postvakt restarts in between; the timers are in the database. Time is
// an injected clock. Acknowledging stops the third step.
func TestOncallEscalationSurvivesRestart(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, 15*time.Minute, 30*time.Minute)
	loc, _ := time.LoadLocation("Europe/Oslo")
	t0 := time.Date(2026, 3, 31, 10, 0, 0, 0, loc)
	clock := &testClock{t: t0}
	first, next := memberByID(onCallAt(t, t0)), memberByID("bjorn")
	if first.ID != "ana" {
		t.Fatalf("test assumes ana on call at %s, got %s", t0, first.ID)
	}
	token := apiToken(t, cfg, auth.RoleOncall)

	app1 := startApp(t, cfg, clock.Now)
	var inc incident.Incident
	if code := call(t, "POST", app1.base+"/api/v1/incidents", token, map[string]string{"title": "Queue stuck", "severity": "critical"}, &inc); code != 201 {
		t.Fatalf("create incident: %d", code)
	}
	eventually(t, 5*time.Second, "the first page to ana in Slack and by e-mail", func() bool {
		return len(slackAPI.posts("D"+first.SlackID)) == 1 && len(sink.to(first.Email)) == 1
	})
	app1.stop()

	// 14 minutes later postvakt starts again: nothing is due yet.
	clock.Set(t0.Add(14 * time.Minute))
	app2 := startApp(t, cfg, clock.Now)
	time.Sleep(400 * time.Millisecond)
	if n := len(slackAPI.posts("D" + next.SlackID)); n != 0 {
		t.Fatalf("bjorn paged %d times before the 15-minute step", n)
	}
	// At 15 minutes the second step pages the next person in the rota.
	clock.Set(t0.Add(15 * time.Minute))
	eventually(t, 5*time.Second, "the escalation to bjorn", func() bool {
		return len(slackAPI.posts("D"+next.SlackID)) == 1 && len(sink.to(next.Email)) == 1
	})
	if n := len(slackAPI.posts("D" + first.SlackID)); n != 1 {
		t.Fatalf("ana paged %d times, want 1 (no repeat of step 1)", n)
	}
	// Acknowledge: the 30-minute step never fires, even after a restart.
	var ack incidentReply
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/ack", app2.base, inc.ID), token, nil, &ack); code != 200 || !ack.Changed || ack.Incident.Status != incident.StatusAcknowledged {
		t.Fatalf("ack: %d %+v", code, ack)
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/ack", app2.base, inc.ID), token, nil, &ack); code != 200 || ack.Changed {
		t.Fatalf("second ack must be a no-op: %d %+v", code, ack)
	}
	app2.stop()
	clock.Set(t0.Add(45 * time.Minute))
	app3 := startApp(t, cfg, clock.Now)
	time.Sleep(400 * time.Millisecond)
	if n := len(sink.to("chen@example.edu")); n != 0 {
		t.Fatalf("chen paged %d times after the acknowledgement", n)
	}
	var got struct {
		Incident incident.Incident `json:"incident"`
		Timeline []incident.Event  `json:"timeline"`
	}
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", app3.base, inc.ID), token, nil, &got)
	if got.Incident.AckedAt.IsZero() || !got.Incident.AckedAt.Equal(t0.Add(15*time.Minute).UTC()) {
		t.Fatalf("acked at %v", got.Incident.AckedAt)
	}
	kinds := []string{}
	for _, e := range got.Timeline {
		kinds = append(kinds, e.Kind)
	}
	// The incident opened a fault ticket (tickets are wired in by the app),
	// and its acknowledgement acknowledged the ticket (the last "ticket").
	// The first page may come from Trigger or from the escalation loop, so
	// the first three entries are in either order.
	if len(kinds) != 6 || got.Incident.TicketID == "" {
		t.Fatalf("timeline %v, ticket %q", kinds, got.Incident.TicketID)
	}
	first3 := append([]string(nil), kinds[:3]...)
	sort.Strings(first3)
	if strings.Join(first3, ",") != "opened,paged,ticket" || strings.Join(kinds[3:], ",") != "escalated,acknowledged,ticket" {
		t.Fatalf("timeline %v", kinds)
	}
	// The e-mail page carries a signed acknowledge link.
	if !strings.Contains(sink.to(first.Email)[0].Data, "/api/v1/oncall/ack?t=3D") {
		t.Fatalf("no ack link in the e-mail:\n%s", sink.to(first.Email)[0].Data)
	}
}

// TestAlertmanagerEndToEnd runs a real Alertmanager (Debian
// package prometheus-alertmanager) whose webhook receiver points at
// postvakt: an alert posted to Alertmanager pages the person on call in
// the fake Slack (DM with Acknowledge and Resolve buttons) and by e-mail
// to a real SMTP server; acknowledging through the API stops the
// escalation; resolving the alert in Alertmanager resolves the incident and
// tells the people paged.
func TestAlertmanagerEndToEnd(t *testing.T) {
	t.Parallel()
	const amBin = "/usr/bin/prometheus-alertmanager"
	requireTool(t, amBin, "prometheus-alertmanager")
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, 4*time.Second, 8*time.Second)
	token := apiToken(t, cfg, auth.RoleOncall)
	app := startApp(t, cfg, time.Now)
	oncallNow := memberByID(onCallAt(t, time.Now()))
	next := onCallAt(t, time.Now().AddDate(0, 0, 7))

	// Webhook auth and size limit, directly.
	if code := call(t, "POST", app.base+"/api/v1/alertmanager", "wrong", map[string]string{"version": "4"}, nil); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	amPort := freePort(t)
	dir := t.TempDir()
	amCfg := fmt.Sprintf(`route:
  receiver: postvakt
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: postvakt
    webhook_configs:
      - url: %s/api/v1/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: %s
`, app.base, testAMToken)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(amCfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var amLog bytes.Buffer
	am := exec.Command(amBin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address=127.0.0.1:"+amPort, "--cluster.listen-address=")
	am.Stdout, am.Stderr = &amLog, &amLog
	if err := am.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = am.Process.Kill(); _ = am.Wait() })
	amURL := "http://127.0.0.1:" + amPort
	eventually(t, 30*time.Second, "alertmanager ready", func() bool {
		resp, err := http.Get(amURL + "/-/ready")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	postAlert := func(endsAt time.Time) {
		a := map[string]any{"labels": map[string]string{"alertname": "MailQueueHigh", "severity": "critical", "instance": "mx1"},
			"annotations": map[string]string{"summary": "Mail queue above 5000 on mx1"}, "startsAt": time.Now().Add(-time.Minute).Format(time.RFC3339)}
		if !endsAt.IsZero() {
			a["endsAt"] = endsAt.Format(time.RFC3339)
		}
		b, _ := json.Marshal([]any{a})
		resp, err := http.Post(amURL+"/api/v2/alerts", "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("alertmanager v2 alerts: %d", resp.StatusCode)
		}
	}
	postAlert(time.Time{})

	var incs struct {
		Incidents []incident.Incident `json:"incidents"`
	}
	eventually(t, 30*time.Second, "an incident from Alertmanager", func() bool {
		call(t, "GET", app.base+"/api/v1/incidents", token, nil, &incs)
		return len(incs.Incidents) == 1
	})
	inc := incs.Incidents[0]
	if inc.Source != "alertmanager" || inc.Severity != "critical" || !strings.HasPrefix(inc.Key, "alertmanager/postvakt/") || inc.Title != "MailQueueHigh" {
		t.Fatalf("incident %+v", inc)
	}
	eventually(t, 10*time.Second, "the page in Slack and by e-mail", func() bool {
		return slackAPI.opened(oncallNow.SlackID) && len(slackAPI.posts("D"+oncallNow.SlackID)) >= 1 && len(sink.to(oncallNow.Email)) >= 1
	})
	dm := slackAPI.posts("D" + oncallNow.SlackID)[0]
	blocks := dm.Get("blocks")
	for _, want := range []string{`"action_id":"postvakt_ack"`, `"action_id":"postvakt_resolve"`, `"Acknowledge"`, `"Resolve"`, `"value":"` + strconv.FormatInt(inc.ID, 10) + `"`} {
		if !strings.Contains(blocks, want) {
			t.Fatalf("Slack DM lacks %s: %s", want, blocks)
		}
	}
	mail := sink.to(oncallNow.Email)[0].Data
	if !strings.Contains(mail, "Subject: [CRITICAL] #") || !strings.Contains(mail, "Mail queue above 5000") {
		t.Fatalf("page e-mail:\n%s", mail)
	}

	var ack incidentReply
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/ack", app.base, inc.ID), token, nil, &ack); code != 200 || !ack.Changed {
		t.Fatalf("ack: %d", code)
	}
	time.Sleep(5 * time.Second) // past the 4 s step
	if n := len(sink.to(memberByID(next).Email)); next != oncallNow.ID && n != 0 {
		t.Fatalf("next person %s paged %d times after the acknowledgement", next, n)
	}

	postAlert(time.Now().Add(-time.Second))
	eventually(t, 30*time.Second, "the incident resolved by Alertmanager", func() bool {
		var got struct {
			Incident incident.Incident `json:"incident"`
		}
		call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", app.base, inc.ID), token, nil, &got)
		return got.Incident.Status == incident.StatusResolved && got.Incident.ResolvedBy == "alertmanager"
	})
	eventually(t, 10*time.Second, "the resolution told to the person paged", func() bool {
		for _, m := range sink.to(oncallNow.Email) {
			if strings.Contains(m.Data, "[RESOLVED]") {
				return true
			}
		}
		return false
	})
	if t.Failed() {
		t.Log(amLog.String())
	}
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}
