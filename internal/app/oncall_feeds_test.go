package app

import (
	"encoding/json"
	"net/http"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// TestOncallOwnFeeds: a web user's session reaches GET
// /api/v1/oncall/feeds/mine (the route's own cases are oncallapi's tests),
// and the feed URL is on http.base_url without its trailing slash, the
// member ID matched case-insensitively against the user name.
func TestOncallOwnFeeds(t *testing.T) {
	cfg := webConfig(t)
	cfg.HTTP.BaseURL = "https://postvakt.example.edu/"
	// ana's member ID differs in case from her (lower-case) user name.
	cfg.Oncall.Members = slices.Clone(testMembers)
	cfg.Oncall.Members[0].ID = "Ana"
	rt := testRota
	rt.Members = []string{"Ana", "bjorn", "chen"}
	cfg.Oncall.Rotas = []rota.Spec{rt}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	webUser(t, cfg, "ana", auth.RoleViewer)
	want := oncallapi.FeedURL("https://postvakt.example.edu", testLinkKey, "ukevakt", "Ana")
	c, _ := signedIn(t, app.base, "ana")
	resp, body := c.do("GET", "/api/v1/oncall/feeds/mine", nil, nil)
	var got map[string]any
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("ana: %v: %s", err, body)
		}
	}
	if resp.StatusCode != http.StatusOK || !reflect.DeepEqual(got, map[string]any{"feeds": map[string]any{"ukevakt": want}}) {
		t.Errorf("ana's feeds: %d %v, want %s", resp.StatusCode, got, want)
	}
}
