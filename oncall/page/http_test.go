package page

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// recorder is a real HTTP endpoint on 127.0.0.1 that records each request
// and answers with the next status of its script (200 when it runs out).
type recorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []recorded
	script []int
	header http.Header // sent with every answer
	body   string      // the answer's body
}

type recorded struct {
	Method, Path, Query, ContentType, Auth string
	Body                                   []byte
}

func newRecorder(t *testing.T, script ...int) *recorder {
	r := &recorder{script: script, header: http.Header{}, body: `{"ok":true}`}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, recorded{req.Method, req.URL.Path, req.URL.RawQuery, req.Header.Get("Content-Type"), req.Header.Get("Authorization"), body})
		status := http.StatusOK
		if len(r.script) > 0 {
			status, r.script = r.script[0], r.script[1:]
		}
		for k, v := range r.header {
			w.Header()[k] = v
		}
		answer := r.body
		r.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *recorder) got() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

var ana = Recipient{ID: "ana", Name: "Ana Berg", Email: "ana@example.edu", Phone: "+4791234567"}

func pageMsg() Message {
	return Message{Key: "incident/7/page/r0/s0/ana", Kind: KindPage, To: ana, IncidentID: 7, Severity: "critical",
		Subject: "[CRITICAL] #7 MailQueueHigh", Text: "Mail queue above 5000 on mx1 <@here> *bold*", Link: "https://postvakt.example.edu/incidents/7",
		AckURL: "https://postvakt.example.edu/api/v1/oncall/ack?t=abc"}
}

// TestSMSGateway: an HTTP SMS gateway receives the page with the member's
// number and text in its body template, the auth header from the secret,
// once per page; pages only (no acknowledgements), members with a phone
// only.
func TestSMSGateway(t *testing.T) {
	t.Parallel()
	gw := newRecorder(t)
	sms, err := NewSMS(SMSOptions{HTTPOptions: HTTPOptions{Name: "sms", URL: gw.srv.URL + "/send?to={{urlquery .Phone}}",
		Header: map[string]string{"Authorization": "Bearer gw-secret"}},
		Body: `{"to":{{json .Phone}},"message":{{json .Text}}}`})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sms.Page(context.Background(), pageMsg()); err != nil {
		t.Fatal(err)
	}
	for _, m := range []Message{
		{Kind: KindAcknowledged, To: ana, Subject: "[ACK] #7"},
		{Kind: KindPage, To: Recipient{ID: "bjorn"}, Subject: "x"},
		{Kind: KindPage, Channel: true, Subject: "x"},
	} {
		if _, err := sms.Page(context.Background(), m); !errors.Is(err, ErrNotApplicable) {
			t.Errorf("%+v: %v, want ErrNotApplicable", m, err)
		}
	}
	reqs := gw.got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	var body struct{ To, Message string }
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body %q: %v", r.Body, err)
	}
	q, _ := url.ParseQuery(r.Query)
	if r.Method != "POST" || r.Path != "/send" || q.Get("to") != "+4791234567" || r.Auth != "Bearer gw-secret" || r.ContentType != "application/json" {
		t.Errorf("request %+v", r)
	}
	if body.To != "+4791234567" || !strings.HasPrefix(body.Message, "[CRITICAL] #7 MailQueueHigh\nAck: https://") {
		t.Errorf("body %+v", body)
	}
	if _, _, err := ParseSMSTemplates("{{.Nope}}", ""); err == nil {
		t.Error("a template with an unknown field parses")
	}
}

// TestChatWebhooks: Mattermost receives {"text": …} in Markdown with the
// outsider text escaped; Teams a MessageCard; the generic webhook the
// payload with the recipient.
func TestChatWebhooks(t *testing.T) {
	t.Parallel()
	mm, teams, hook := newRecorder(t), newRecorder(t), newRecorder(t)
	ctx := context.Background()
	for _, p := range []Pager{NewMattermost(HTTPOptions{Name: "mattermost", URL: mm.srv.URL + "/hooks/abc"}),
		NewTeams(HTTPOptions{Name: "teams", URL: teams.srv.URL + "/webhook"}),
		NewWebhook(HTTPOptions{Name: "hook", URL: hook.srv.URL + "/in", Header: map[string]string{"Authorization": "Bearer h"}})} {
		if _, err := p.Page(ctx, pageMsg()); err != nil {
			t.Fatalf("%s: %v", p.Name(), err)
		}
	}
	var m struct{ Text, Username string }
	if err := json.Unmarshal(mm.got()[0].Body, &m); err != nil {
		t.Fatal(err)
	}
	want := "To Ana Berg: **\\[CRITICAL\\] #7 MailQueueHigh**\nMail queue above 5000 on mx1 &lt;@\u200bhere&gt; \\*bold\\*\n[Details](https://postvakt.example.edu/incidents/7)"
	if m.Text != want || m.Username != "postvakt" {
		t.Errorf("mattermost text\n%q\nwant\n%q", m.Text, want)
	}
	var card TeamsCard
	if err := json.Unmarshal(teams.got()[0].Body, &card); err != nil {
		t.Fatal(err)
	}
	if card.Type != "MessageCard" || card.Title != "[CRITICAL] #7 MailQueueHigh" || card.ThemeColor != "D32F2F" ||
		len(card.PotentialAction) != 2 || card.PotentialAction[1].Targets[0]["uri"] != pageMsg().AckURL || !strings.HasPrefix(card.Text, "To Ana Berg:\n") {
		t.Errorf("teams card %+v", card)
	}
	var wp WebhookPayload
	if err := json.Unmarshal(hook.got()[0].Body, &wp); err != nil {
		t.Fatal(err)
	}
	if wp.Kind != KindPage || wp.IncidentID != 7 || wp.To == nil || wp.To.Phone != ana.Phone || hook.got()[0].Auth != "Bearer h" {
		t.Errorf("webhook payload %+v", wp)
	}
}

// TestHTTPChannelRetryable: 429 and 5xx are worth retrying, another 4xx
// is not, and an unreachable endpoint is; the URL (a webhook's secret) is
// not in the error.
func TestHTTPChannelRetryable(t *testing.T) {
	t.Parallel()
	rec := newRecorder(t, 429, 503, 400)
	p := NewMattermost(HTTPOptions{Name: "mm", URL: rec.srv.URL + "/hooks/secret-key"})
	for _, want := range []bool{true, true, false} {
		retry, err := p.Page(context.Background(), pageMsg())
		if err == nil || retry != want {
			t.Errorf("retry %v err %v, want retry %v", retry, err, want)
		}
	}
	rec.srv.Close()
	retry, err := p.Page(context.Background(), pageMsg())
	if err == nil || !retry || strings.Contains(err.Error(), "secret-key") {
		t.Errorf("closed endpoint: retry %v err %v", retry, err)
	}
}

// TestSlackRetryAfter (Slack API, "Rate limits"): a 429 with Retry-After
// is waited out and the call tried again, counted in
// postvakt_oncall_slack_rate_limited_total; a Retry-After beyond the bound
// is not waited for but handed to the pipeline as retryable.
func TestSlackRetryAfter(t *testing.T) {
	t.Parallel()
	api := newRecorder(t, 429, 200, 429)
	api.header.Set("Retry-After", "7")
	api.header.Set("Content-Type", "application/json")
	api.body = `{"ok":true,"channel":"CTEAM","ts":"1.2"}`
	var slept []time.Duration
	s := NewSlack(SlackOptions{BotToken: "xoxb-test", Channel: "CTEAM", APIURL: api.srv.URL + "/api/", MaxRetryAfter: 10 * time.Second,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }})
	if _, err := s.Page(context.Background(), Message{Channel: true, Subject: "x"}); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] != 7*time.Second || len(api.got()) != 2 || testutil.ToFloat64(s.RateLimited()) != 1 {
		t.Fatalf("slept %v, %d calls, counted %v", slept, len(api.got()), testutil.ToFloat64(s.RateLimited()))
	}
	api.header.Set("Retry-After", "120")
	retry, err := s.Page(context.Background(), Message{Channel: true, Subject: "x"})
	if err == nil || !retry || len(slept) != 1 || testutil.ToFloat64(s.RateLimited()) != 2 {
		t.Fatalf("Retry-After 120: retry %v err %v slept %v", retry, err, slept)
	}
}
