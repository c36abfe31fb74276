package page

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestSlackEscapesOutsiderText (Slack API, "Formatting text for app
// surfaces"): text that outsiders control — an SMTP AUTH user name in an
// abuse finding, an alert label, a ticket's e-mailed subject — reaches
// Slack with &, < and > escaped in the fallback text and in every block,
// so it can neither mention @channel or a user nor dress a link; the
// Details link cannot be ended early either.
func TestSlackEscapesOutsiderText(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var posted []url.Values
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		mu.Lock()
		posted = append(posted, r.PostForm)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1.2"}`))
	}))
	t.Cleanup(api.Close)
	s := NewSlack(SlackOptions{BotToken: "xoxb-test", Channel: "CTEAM", APIURL: api.URL + "/api/"})
	hostile := "Brute force on <!channel> & <@U0ADMIN> <https://evil.example|Reset your password>"
	for _, m := range []Message{
		{Channel: true, Subject: hostile, Text: "user " + hostile, Link: "https://postvakt.example/i/1?a=1&b=<x>|Click me", IncidentID: 1, Buttons: true},
		{Channel: true, Text: hostile}, // no subject: the text is the fallback
	} {
		if _, err := s.Page(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posted) != 2 {
		t.Fatalf("%d posts, want 2", len(posted))
	}
	for i, f := range posted {
		var blocks []struct {
			Text struct {
				Text string `json:"text"`
			} `json:"text"`
		}
		if err := json.Unmarshal([]byte(f.Get("blocks")), &blocks); err != nil || len(blocks) == 0 {
			t.Fatalf("post %d: blocks %q: %v", i, f.Get("blocks"), err)
		}
		texts := map[string]string{"text": f.Get("text"), "block": blocks[0].Text.Text}
		for where, txt := range texts {
			if !strings.Contains(txt, "&lt;!channel&gt; &amp; &lt;@U0ADMIN&gt; &lt;https://evil.example|Reset your password&gt;") {
				t.Errorf("post %d %s: %q, want the hostile text escaped", i, where, txt)
			}
			// The only control sequence left is postvakt's own Details link.
			rest := strings.Replace(txt, "<https://postvakt.example/i/1?a=1&amp;b=%3Cx%3E%7CClick%20me|Details>", "", 1)
			if strings.ContainsAny(rest, "<>") {
				t.Errorf("post %d %s: %q has Slack control characters", i, where, txt)
			}
		}
	}
	if !strings.Contains(posted[0].Get("blocks"), "https://postvakt.example/i/1?a=1\\u0026amp;b=%3Cx%3E%7CClick%20me|Details") {
		t.Errorf("the Details link is not made safe: %s", posted[0].Get("blocks"))
	}
}
