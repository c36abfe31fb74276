package app

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/incident"
)

type incidentReply struct {
	Incident incident.Incident `json:"incident"`
	Changed  bool              `json:"changed"`
}

// TestOncallEscalationSurvivesRestart (acceptance 2): an unacknowledged
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
	// The incident opened a fault ticket (tickets are wired in by the app).
	// The first page may come from Trigger or from the escalation loop, so
	// the first three entries are in either order.
	if len(kinds) != 5 || got.Incident.TicketID == "" {
		t.Fatalf("timeline %v, ticket %q", kinds, got.Incident.TicketID)
	}
	first3 := append([]string(nil), kinds[:3]...)
	sort.Strings(first3)
	if strings.Join(first3, ",") != "opened,paged,ticket" || strings.Join(kinds[3:], ",") != "escalated,acknowledged" {
		t.Fatalf("timeline %v", kinds)
	}
	// The e-mail page carries a signed acknowledge link.
	if !strings.Contains(sink.to(first.Email)[0].Data, "/api/v1/oncall/ack?t=3D") {
		t.Fatalf("no ack link in the e-mail:\n%s", sink.to(first.Email)[0].Data)
	}
}

func slackSign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// TestSlackInteractivitySignature (acceptance 5): a button click with a
// wrong signature, or a stale timestamp, answers 401 and changes nothing;
// a correctly signed one acknowledges.
func TestSlackInteractivitySignature(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	token := apiToken(t, cfg, auth.RoleOncall)
	app := startApp(t, cfg, time.Now)
	var inc incident.Incident
	if code := call(t, "POST", app.base+"/api/v1/incidents", token, map[string]string{"title": "Disk full"}, &inc); code != 201 {
		t.Fatalf("create: %d", code)
	}
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": "UANA"},
		"actions":      []map[string]string{{"action_id": "postvakt_ack", "block_id": "b", "value": strconv.FormatInt(inc.ID, 10), "type": "button"}},
		"response_url": slackAPI.srv.URL + "/actions/T1/42/secret",
		"message": map[string]any{"text": "Disk full", "blocks": []any{
			map[string]any{"type": "section", "block_id": "s", "text": map[string]string{"type": "mrkdwn", "text": "*Disk full*"}},
			map[string]any{"type": "actions", "block_id": "b", "elements": []any{
				map[string]any{"type": "button", "action_id": "postvakt_ack", "value": strconv.FormatInt(inc.ID, 10), "text": map[string]string{"type": "plain_text", "text": "Acknowledge"}},
			}},
		}},
	})
	body := []byte("payload=" + url.QueryEscape(string(payload)))
	post := func(ts, sig string) int {
		req, _ := http.NewRequest("POST", app.base+"/api/v1/slack/interactivity", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Slack-Request-Timestamp", ts)
		req.Header.Set("X-Slack-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	status := func() incident.Status {
		var got struct {
			Incident incident.Incident `json:"incident"`
		}
		call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", app.base, inc.ID), token, nil, &got)
		return got.Incident.Status
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	for name, c := range map[string]struct{ ts, sig string }{
		"wrong secret":    {now, slackSign("not-the-secret", now, body)},
		"garbage":         {now, "v0=deadbeef"},
		"missing":         {now, ""},
		"stale timestamp": {stale, slackSign(testSlackSig, stale, body)},
	} {
		if code := post(c.ts, c.sig); code != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, code)
		}
	}
	// slack-go's own verifier agrees that the good signature is good and the bad one bad.
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", now)
	h.Set("X-Slack-Signature", slackSign("not-the-secret", now, body))
	sv, err := slack.NewSecretsVerifier(h, testSlackSig)
	if err != nil {
		t.Fatal(err)
	}
	sv.Write(body)
	if sv.Ensure() == nil {
		t.Fatal("slack-go accepts the wrong signature")
	}
	if st := status(); st != incident.StatusTriggered {
		t.Fatalf("status after refused requests: %s", st)
	}
	if code := post(now, slackSign(testSlackSig, now, body)); code != 200 {
		t.Fatalf("signed request: %d", code)
	}
	if st := status(); st != incident.StatusAcknowledged {
		t.Fatalf("status after a signed click: %s", st)
	}
	// The message is replaced through the response URL: the buttons go,
	// the text stays, a line says who acknowledged.
	eventually(t, 5*time.Second, "the message update on the response URL", func() bool { return len(slackAPI.responses()) == 1 })
	var upd struct {
		ReplaceOriginal bool             `json:"replace_original"`
		Blocks          []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(slackAPI.responses()[0]), &upd); err != nil {
		t.Fatal(err)
	}
	js := slackAPI.responses()[0]
	if !upd.ReplaceOriginal || len(upd.Blocks) != 2 || upd.Blocks[0]["type"] != "section" || upd.Blocks[1]["type"] != "context" ||
		!strings.Contains(js, "acknowledged by slack:ana") || strings.Contains(js, "postvakt_ack") {
		t.Fatalf("message update: %s", js)
	}
}

// TestAlertmanagerEndToEnd (acceptance 1) runs a real Alertmanager (Debian
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

// TestOncallICalFeed (acceptance 4): the rota and member feeds behind
// secret URLs are text/calendar, parse with an independent iCalendar
// parser (Python's icalendar, Debian package python3-icalendar) and agree
// with the API's schedule for 8 weeks.
func TestOncallICalFeed(t *testing.T) {
	t.Parallel()
	requireTool(t, "/usr/bin/python3", "python3-icalendar")
	if err := exec.Command("/usr/bin/python3", "-c", "import icalendar").Run(); err != nil {
		requireTool(t, "/nonexistent/python3-icalendar", "python3-icalendar")
	}
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, time.Hour, 2*time.Hour)
	admin := apiToken(t, cfg, auth.RoleAdmin)
	loc, _ := time.LoadLocation("Europe/Oslo")
	clock := &testClock{t: time.Date(2026, 3, 18, 12, 0, 0, 0, loc)} // 8 weeks across the DST change
	app := startApp(t, cfg, clock.Now)

	var feeds struct {
		Feeds map[string]struct {
			Rota    string            `json:"rota"`
			Members map[string]string `json:"members"`
		} `json:"feeds"`
	}
	if code := call(t, "GET", app.base+"/api/v1/oncall/feeds", admin, nil, &feeds); code != 200 {
		t.Fatalf("feeds: %d", code)
	}
	f := feeds.Feeds["ukevakt"]
	if f.Rota == "" || f.Members["ana"] == "" {
		t.Fatalf("feeds %+v", feeds)
	}
	// http.base_url is unset and the listener's port is chosen at start:
	// keep the path and the secret, use the real address.
	local := func(u string) string {
		p, err := url.Parse(u)
		if err != nil {
			t.Fatal(err)
		}
		return app.base + p.RequestURI()
	}
	f.Rota, f.Members["chen"] = local(f.Rota), local(f.Members["chen"])
	// An override shows in both.
	if code := call(t, "POST", app.base+"/api/v1/oncall/overrides", admin, map[string]any{"rota": "ukevakt", "member": "chen",
		"start": time.Date(2026, 4, 1, 18, 0, 0, 0, loc), "end": time.Date(2026, 4, 2, 8, 0, 0, 0, loc)}, &map[string]any{}); code != 201 {
		t.Fatalf("override: %d", code)
	}
	fetch := func(u string) []icsEvent {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/calendar; charset=utf-8" {
			t.Fatalf("feed %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		return parseWithPython(t, body)
	}
	if resp, err := http.Get(strings.Split(f.Rota, "?")[0] + "?key=0000"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("wrong feed secret: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	events := fetch(f.Rota)
	var sched struct {
		Shifts []struct {
			Member, Name string
			Start, End   time.Time
		} `json:"shifts"`
	}
	from := clock.Now()
	if code := call(t, "GET", app.base+"/api/v1/oncall/schedule?rota=ukevakt&weeks=8&from="+url.QueryEscape(from.Format(time.RFC3339)), admin, nil, &sched); code != 200 {
		t.Fatalf("schedule: %d", code)
	}
	if len(sched.Shifts) < 8 {
		t.Fatalf("%d shifts in 8 weeks", len(sched.Shifts))
	}
	for i, s := range sched.Shifts {
		ok := false
		for _, e := range events {
			sameStart := e.Start.Equal(s.Start) || (i == 0 && !e.Start.After(s.Start) && e.End.After(s.Start))
			sameEnd := e.End.Equal(s.End) || (i == len(sched.Shifts)-1 && !e.End.Before(s.End))
			if sameStart && sameEnd && e.Summary == "On call: "+s.Name {
				ok = true
			}
		}
		if !ok {
			t.Errorf("API shift %s %s–%s not in the feed", s.Member, s.Start, s.End)
		}
	}
	mine := fetch(f.Members["chen"])
	n := 0
	for _, e := range mine {
		if e.Summary != "On call: Chen Wei" {
			t.Errorf("member feed has %q", e.Summary)
		}
		if e.End.After(from) && e.Start.Before(from.AddDate(0, 0, 56)) {
			n++
		}
	}
	want := 0
	for _, s := range sched.Shifts {
		if s.Member == "chen" {
			want++
		}
	}
	if n != want {
		t.Fatalf("member feed has %d shifts in the 8 weeks, the API %d", n, want)
	}
}

type icsEvent struct {
	UID, Summary string
	Start, End   time.Time
}

func parseWithPython(t *testing.T, ics []byte) []icsEvent {
	t.Helper()
	const script = `import sys, json, icalendar
cal = icalendar.Calendar.from_ical(sys.stdin.buffer.read())
out = []
for ev in cal.walk('VEVENT'):
    out.append({"UID": str(ev['UID']), "Summary": str(ev['SUMMARY']),
                "Start": ev.decoded('DTSTART').isoformat(), "End": ev.decoded('DTEND').isoformat()})
print(json.dumps(out))
`
	cmd := exec.Command("/usr/bin/python3", "-c", script)
	cmd.Stdin = bytes.NewReader(ics)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python icalendar: %v", err)
	}
	var raw []struct{ UID, Summary, Start, End string }
	if err := json.Unmarshal(out, &raw); err != nil {
		t.Fatal(err)
	}
	var evs []icsEvent
	for _, r := range raw {
		s, err1 := time.Parse(time.RFC3339, r.Start)
		e, err2 := time.Parse(time.RFC3339, r.End)
		if err1 != nil || err2 != nil {
			t.Fatalf("times %q %q", r.Start, r.End)
		}
		evs = append(evs, icsEvent{UID: r.UID, Summary: r.Summary, Start: s, End: e})
	}
	return evs
}
