package oncallapi_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/team"
)

// responseURLs is a local stand-in for Slack's response URLs (which cannot
// be reached here): it records what is posted to them.
type responseURLs struct {
	srv    *httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newResponseURLs(t *testing.T) *responseURLs {
	r := &responseURLs{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *responseURLs) posted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func slackSign(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(m, "v0:%s:", ts)
	m.Write(body)
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// slackAction is a signed block action of user on a button.
func slackAction(t *testing.T, user, actionID string, value int64, responseURL string) []byte {
	t.Helper()
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": user},
		"actions":      []map[string]string{{"action_id": actionID, "block_id": "b", "value": strconv.FormatInt(value, 10), "type": "button"}},
		"response_url": responseURL,
		"message": map[string]any{"text": "Disk full", "blocks": []any{
			map[string]any{"type": "section", "block_id": "s", "text": map[string]string{"type": "mrkdwn", "text": "*Disk full*"}},
			map[string]any{"type": "actions", "block_id": "b", "elements": []any{
				map[string]any{"type": "button", "action_id": actionID, "value": strconv.FormatInt(value, 10), "text": map[string]string{"type": "plain_text", "text": "Acknowledge"}},
			}},
		}},
	})
	return []byte("payload=" + url.QueryEscape(string(payload)))
}

// TestSlackInteractivitySignature: a button click with a wrong signature,
// or a stale timestamp, answers 401 and changes nothing; a correctly
// signed one acknowledges, and the message is replaced through the
// response URL without its buttons.
func TestSlackInteractivitySignature(t *testing.T) {
	t.Parallel()
	slackAPI := newResponseURLs(t)
	f := newFixture(t, fixtureOptions{now: time.Now(), api: func(o *oncallapi.Options) { o.SlackAPIURL = slackAPI.srv.URL + "/api/" }})
	token := f.token(t, auth.RoleOncall)
	var inc incident.Incident
	f.do(t, "POST", "/api/v1/incidents", token, map[string]string{"title": "Disk full"}).ok(t, http.StatusCreated, &inc)
	body := slackAction(t, "UANA", "postvakt_ack", inc.ID, slackAPI.srv.URL+"/actions/T1/42/secret")
	post := func(ts, sig string) reply {
		return f.do(t, "POST", "/api/v1/slack/interactivity", "", string(body), "Content-Type", "application/x-www-form-urlencoded",
			"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", sig)
	}
	status := func() incident.Status {
		var got oncallapi.IncidentResponse
		f.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), token, nil).ok(t, http.StatusOK, &got)
		return got.Incident.Status
	}
	now := strconv.FormatInt(time.Now().Unix(), 10)
	stale := strconv.FormatInt(time.Now().Add(-10*time.Minute).Unix(), 10)
	for name, c := range map[string]struct{ ts, sig string }{
		"wrong secret":    {now, slackSign("not-the-secret", now, body)},
		"garbage":         {now, "v0=deadbeef"},
		"missing":         {now, ""},
		"stale timestamp": {stale, slackSign(testSlackSecret, stale, body)},
	} {
		if r := post(c.ts, c.sig); r.status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, r.status)
		} else {
			r.refused(t, http.StatusUnauthorized, "unauthorized")
		}
	}
	// slack-go's own verifier agrees that the good signature is good and the bad one bad.
	h := http.Header{}
	h.Set("X-Slack-Request-Timestamp", now)
	h.Set("X-Slack-Signature", slackSign("not-the-secret", now, body))
	sv, err := slack.NewSecretsVerifier(h, testSlackSecret)
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
	var answer oncallapi.SlackResponse
	post(now, slackSign(testSlackSecret, now, body)).ok(t, http.StatusOK, &answer)
	if answer.ResponseType != "ephemeral" || answer.ReplaceOriginal || answer.Text != fmt.Sprintf("Incident #%d acknowledged by slack:ana.", inc.ID) {
		t.Fatalf("answer %+v", answer)
	}
	if st := status(); st != incident.StatusAcknowledged {
		t.Fatalf("status after a signed click: %s", st)
	}
	// The message is replaced through the response URL: the buttons go,
	// the text stays, a line says who acknowledged.
	eventually(t, 5*time.Second, "the message update on the response URL", func() bool { return len(slackAPI.posted()) == 1 })
	var upd struct {
		ReplaceOriginal bool             `json:"replace_original"`
		Blocks          []map[string]any `json:"blocks"`
	}
	js := slackAPI.posted()[0]
	if err := json.Unmarshal([]byte(js), &upd); err != nil {
		t.Fatal(err)
	}
	if !upd.ReplaceOriginal || len(upd.Blocks) != 2 || upd.Blocks[0]["type"] != "section" || upd.Blocks[1]["type"] != "context" ||
		!strings.Contains(js, "acknowledged by slack:ana") || strings.Contains(js, "postvakt_ack") {
		t.Fatalf("message update: %s", js)
	}
	// A second click says so, and a response URL not on Slack gets nothing.
	again := slackAction(t, "UANA", "postvakt_ack", inc.ID, "https://example.net/actions/1")
	body = again
	post(now, slackSign(testSlackSecret, now, again)).ok(t, http.StatusOK, &answer)
	if answer.Text != fmt.Sprintf("Incident #%d was already acknowledged.", inc.ID) {
		t.Fatalf("second click %+v", answer)
	}
}

// TestSlackSwapButtons: the counterpart's Accept button decides the swap;
// a Slack user who is not a member is told so.
func TestSlackSwapButtons(t *testing.T) {
	t.Parallel()
	// Slack's signatures are checked against the real time as well.
	f := newFixture(t, fixtureOptions{now: time.Now()})
	var sw team.SwapRecord
	// Turns that have not started: a started one is not swapped.
	mine := nextTurnOf("chen", time.Now())
	f.do(t, "POST", "/api/v1/oncall/swaps", f.token(t, auth.RoleAdmin), map[string]any{"requester": "chen", "counterpart": "ana",
		"mine": mine, "theirs": nextTurnOf("ana", mine)}).ok(t, http.StatusCreated, &sw)
	id, _ := strconv.ParseInt(sw.ID, 10, 64)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	click := func(user string) oncallapi.SlackResponse {
		body := slackAction(t, user, "postvakt_swap_accept", id, "")
		var out oncallapi.SlackResponse
		f.do(t, "POST", "/api/v1/slack/interactivity", "", string(body), "Content-Type", "application/x-www-form-urlencoded",
			"X-Slack-Request-Timestamp", ts, "X-Slack-Signature", slackSign(testSlackSecret, ts, body)).ok(t, http.StatusOK, &out)
		return out
	}
	if got := click("USTRANGER"); got.Text != "Your Slack user is not a member of the rota." {
		t.Fatalf("stranger: %+v", got)
	}
	if got := click("UCHEN"); !strings.HasPrefix(got.Text, "Swap: ") {
		t.Fatalf("the requester may not accept: %+v", got)
	}
	if got := click("UANA"); got.Text != "Swap "+sw.ID+" is accepted." {
		t.Fatalf("ana accepts: %+v", got)
	}
}

// nextTurnOf returns noon on the Tuesday of member's first turn that starts
// after t, by counting weeks from the test rota's anchor: ana, bjorn and
// chen in turn from Monday 2026-01-05 09:00 Europe/Oslo.
func nextTurnOf(member string, after time.Time) time.Time {
	idx := map[string]int{"ana": 0, "bjorn": 1, "chen": 2}[member]
	for w := 0; ; w++ {
		if monday := time.Date(2026, 1, 5+7*w, 9, 0, 0, 0, oslo); monday.After(after) && w%3 == idx {
			return time.Date(2026, 1, 6+7*w, 12, 0, 0, 0, oslo)
		}
	}
}
