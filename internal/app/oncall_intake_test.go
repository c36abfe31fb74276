package app

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/integration"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// endpoint is a real HTTP server on 127.0.0.1 standing in for an SMS
// gateway or a Mattermost server: it records every request.
type endpoint struct {
	srv  *httptest.Server
	mu   sync.Mutex
	reqs []endpointReq
}

type endpointReq struct {
	Auth string
	Body []byte
}

func newEndpoint(t *testing.T) *endpoint {
	e := &endpoint{}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.reqs = append(e.reqs, endpointReq{Auth: r.Header.Get("Authorization"), Body: b})
		e.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *endpoint) got() []endpointReq {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]endpointReq(nil), e.reqs...)
}

// post sends body as is with a bearer token and returns the status and
// the answer.
func post(t *testing.T, u, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestOncallIntakeAndContactRules runs the whole server with an injected
// clock: a Grafana-alerting webhook and a generic integration event each
// open an incident through the real HTTP server with their tokens (a
// wrong token is 401, an oversized body 413, malformed JSON 400, and none
// of those changes anything); the contact rules "mattermost at once, SMS
// after 5 minutes unacknowledged" send the page to a Mattermost-compatible
// endpoint at once and to the SMS gateway (with the member's phone
// number) only after 5 minutes, and only for the incident nobody
// acknowledged; a resolved event resolves the incident.
func TestOncallIntakeAndContactRules(t *testing.T) {
	t.Parallel()
	slackAPI, sink := newFakeSlack(t), newSMTPSink(t)
	gw, mm := newEndpoint(t), newEndpoint(t)
	cfg := oncallConfig(t, slackAPI.srv.URL, sink.addr, 2*time.Hour, 3*time.Hour)
	const intToken = "nagios-token-0123456789abcdef"
	sum := sha256.Sum256([]byte(intToken))
	members := make([]rota.Member, len(testMembers))
	for i, m := range testMembers {
		m.Phone = fmt.Sprintf("+47900000%02d", i)
		members[i] = m
	}
	cfg.Oncall.Members = members
	cfg.Oncall.Channels = []oncall.ChannelConfig{
		{Name: "sms", Type: "sms", URL: gw.srv.URL + "/send", Body: `{"to":{{json .Phone}},"text":{{json .Text}}}`, AuthHeader: "Bearer gw-secret"},
		{Name: "mattermost", Type: "mattermost", URL: mm.srv.URL + "/hooks/k3y"},
	}
	cfg.Oncall.ContactRules = page.ContactRules{"*": {{Channel: "mattermost"}, {Channel: "sms", After: 5 * time.Minute}}}
	cfg.Oncall.Integrations = []integration.Spec{{Name: "nagios", TokenSHA256: hex.EncodeToString(sum[:]), MaxBodyBytes: 4096}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	loc, _ := time.LoadLocation("Europe/Oslo")
	t0 := time.Date(2026, 3, 31, 10, 0, 0, 0, loc)
	clock := &testClock{t: t0}
	onCall := members[0]
	if id := onCallAt(t, t0); id != onCall.ID {
		t.Fatalf("test assumes %s on call, got %s", onCall.ID, id)
	}
	token := apiToken(t, cfg, auth.RoleOncall)
	app := startApp(t, cfg, clock.Now)
	list := func() []incident.Incident {
		var incs struct {
			Incidents []incident.Incident `json:"incidents"`
		}
		if code := call(t, "GET", app.base+"/api/v1/incidents", token, nil, &incs); code != 200 {
			t.Fatalf("list incidents: %d", code)
		}
		return incs.Incidents
	}

	// Grafana alerting, at the Alertmanager route with its token.
	grafana, err := os.ReadFile("../../oncall/alertmanager/testdata/grafana-firing.json")
	if err != nil {
		t.Fatal(err)
	}
	if code, b := post(t, app.base+"/api/v1/alertmanager", testAMToken, grafana); code != http.StatusAccepted {
		t.Fatalf("grafana webhook: %d %s", code, b)
	}
	var graf incident.Incident
	eventually(t, 10*time.Second, "the incident from Grafana", func() bool {
		incs := list()
		if len(incs) == 1 {
			graf = incs[0]
		}
		return len(incs) == 1
	})
	if graf.Source != "grafana" || graf.Title != "MailQueueHigh" || graf.Severity != "critical" || !strings.HasPrefix(graf.Key, "grafana/1/postvakt/") ||
		graf.Summary != "Mail queue above 5000 on mx1" || graf.ExternalURL != "https://grafana.example.edu/" {
		t.Fatalf("grafana incident %+v", graf)
	}

	// The generic intake refuses what is wrong and changes nothing.
	events := app.base + "/api/v1/integrations/nagios/events"
	good := []byte(`{"summary":"IMAP login failures on imap2","severity":"critical","service":"imap","dedup_key":"imap2-logins","details":{"host":"imap2"}}`)
	for name, tc := range map[string]struct {
		url, token string
		body       []byte
		status     int
		code       string
	}{
		"wrong token":         {events, "wrong-token", good, 401, "unauthorized"},
		"no token":            {events, "", good, 401, "unauthorized"},
		"unknown integration": {app.base + "/api/v1/integrations/zabbix/events", intToken, good, 401, "unauthorized"},
		"oversized":           {events, intToken, []byte(`{"summary":"` + strings.Repeat("x", 5000) + `","dedup_key":"k"}`), 413, "too_large"},
		"malformed JSON":      {events, intToken, []byte(`{"summary":"x","dedup_key":`), 400, "bad_request"},
		"unknown field":       {events, intToken, []byte(`{"summary":"x","dedup_key":"k","sevrity":"critical"}`), 400, "bad_request"},
		"no dedup key":        {events, intToken, []byte(`{"summary":"x"}`), 400, "bad_request"},
		"bad status":          {events, intToken, []byte(`{"summary":"x","dedup_key":"k","status":"open"}`), 400, "bad_request"},
	} {
		code, b := post(t, tc.url, tc.token, tc.body)
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		if code != tc.status || e.Error.Code != tc.code {
			t.Errorf("%s: %d %s, want %d %s", name, code, b, tc.status, tc.code)
		}
	}
	if n := len(list()); n != 1 {
		t.Fatalf("%d incidents after refused events, want 1", n)
	}

	code, b := post(t, events, intToken, good)
	var rep integration.Reply
	if err := json.Unmarshal(b, &rep); code != http.StatusAccepted || err != nil || rep.Result != "opened" || rep.IncidentID == 0 {
		t.Fatalf("event: %d %s", code, b)
	}
	var got incidentReply
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", app.base, rep.IncidentID), token, nil, &got)
	if in := got.Incident; in.Source != "integration" || in.Key != "integration/nagios/imap2-logins" || in.Severity != "critical" || in.Labels["service"] != "imap" {
		t.Fatalf("integration incident %+v", in)
	}
	// The same dedup key again updates it.
	if _, b := post(t, events, intToken, good); !strings.Contains(string(b), `"result":"updated"`) {
		t.Fatalf("second event: %s", b)
	}

	// Contact rules: Mattermost at once, for both incidents; no SMS yet.
	eventually(t, 10*time.Second, "both pages in Mattermost", func() bool { return len(mm.got()) == 2 })
	var texts []string
	for _, r := range mm.got() {
		var m struct{ Text string }
		if err := json.Unmarshal(r.Body, &m); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, m.Text)
	}
	joined := strings.Join(texts, "\n")
	for _, want := range []string{"To " + onCall.Name + ": **\\[CRITICAL\\] #" + fmt.Sprint(graf.ID) + " MailQueueHigh**",
		"**\\[CRITICAL\\] #" + fmt.Sprint(rep.IncidentID) + " IMAP login failures on imap2**", "[Details](http"} {
		if !strings.Contains(joined, want) {
			t.Errorf("mattermost posts lack %q:\n%s", want, joined)
		}
	}
	if n := len(slackAPI.posts("D" + onCall.SlackID)); n != 0 {
		t.Errorf("%d Slack pages, but the contact rules name mattermost and sms only", n)
	}
	// Grafana's incident is acknowledged; the other is not.
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/incidents/%d/ack", app.base, graf.ID), token, nil, &got); code != 200 {
		t.Fatalf("ack: %d", code)
	}
	clock.Set(t0.Add(4*time.Minute + 50*time.Second))
	time.Sleep(500 * time.Millisecond) // ten rounds of the loop
	if n := len(gw.got()); n != 0 {
		t.Fatalf("SMS sent %d times before 5 minutes", n)
	}
	clock.Set(t0.Add(5*time.Minute + time.Second))
	eventually(t, 10*time.Second, "the SMS after 5 minutes", func() bool { return len(gw.got()) >= 1 })
	time.Sleep(500 * time.Millisecond) // no second SMS: the acknowledged incident's, or a repeat
	sms := gw.got()
	if len(sms) != 1 {
		t.Fatalf("%d SMS, want 1 (the unacknowledged incident's, once)", len(sms))
	}
	var body struct{ To, Text string }
	if err := json.Unmarshal(sms[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	if body.To != onCall.Phone || !strings.Contains(body.Text, fmt.Sprintf("#%d IMAP login failures", rep.IncidentID)) || sms[0].Auth != "Bearer gw-secret" {
		t.Fatalf("SMS %+v auth %q, want to %s", body, sms[0].Auth, onCall.Phone)
	}

	// Resolved.
	if _, b := post(t, events, intToken, []byte(`{"summary":"IMAP logins fine","dedup_key":"imap2-logins","status":"resolved"}`)); !strings.Contains(string(b), `"result":"resolved"`) {
		t.Fatalf("resolve event: %s", b)
	}
	call(t, "GET", fmt.Sprintf("%s/api/v1/incidents/%d", app.base, rep.IncidentID), token, nil, &got)
	if got.Incident.Status != incident.StatusResolved || got.Incident.ResolvedBy != "integration:nagios" {
		t.Fatalf("after the resolved event: %+v", got.Incident)
	}
}
