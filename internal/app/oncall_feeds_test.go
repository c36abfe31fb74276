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

// TestOncallOwnFeeds covers GET /api/v1/oncall/feeds/mine: viewer and
// above, only the caller's own member feed in each rota they belong to
// (member ID matched case-insensitively against the user name), on
// http.base_url without its trailing slash and the same URL as the
// admin's GET /api/v1/oncall/feeds gives; nothing for a non-member or a
// token (its principal is "token:NAME"), and nothing when
// oncall.links.key is unset.
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
	webUsers(t, cfg, auth.RoleViewer)
	admin := apiToken(t, cfg, auth.RoleAdmin)
	viewerTok := apiToken(t, cfg, auth.RoleViewer)
	const mine = "/api/v1/oncall/feeds/mine"

	// get answers the status and the decoded body of GET mine.
	get := func(who string, c *browserless) (int, map[string]any) {
		t.Helper()
		resp, body := c.do("GET", mine, nil, nil)
		var out map[string]any
		if resp.StatusCode == http.StatusOK {
			if err := json.Unmarshal([]byte(body), &out); err != nil {
				t.Fatalf("%s: %v: %s", who, err, body)
			}
		}
		return resp.StatusCode, out
	}
	none := map[string]any{"feeds": map[string]any{}}

	if code, _ := get("anonymous", newClient(t, app.base)); code != http.StatusUnauthorized {
		t.Errorf("without a session or token: %d, want 401", code)
	}
	want := oncallapi.FeedURL("https://postvakt.example.edu", testLinkKey, "ukevakt", "Ana")
	c, _ := signedIn(t, app.base, "ana")
	if code, got := get("ana", c); code != http.StatusOK || !reflect.DeepEqual(got, map[string]any{"feeds": map[string]any{"ukevakt": want}}) {
		t.Errorf("ana's feeds: %d %v, want %s", code, got, want)
	}
	var all struct {
		Feeds map[string]struct {
			Members map[string]string `json:"members"`
		} `json:"feeds"`
	}
	if code := call(t, "GET", app.base+"/api/v1/oncall/feeds", admin, nil, &all); code != http.StatusOK || all.Feeds["ukevakt"].Members["Ana"] != want {
		t.Errorf("admin feeds: %d, Ana's %q, want %q", code, all.Feeds["ukevakt"].Members["Ana"], want)
	}
	v, _ := signedIn(t, app.base, "viewer")
	if code, got := get("viewer", v); code != http.StatusOK || !reflect.DeepEqual(got, none) {
		t.Errorf("a non-member's feeds: %d %v", code, got)
	}
	var tok map[string]any
	if code := call(t, "GET", app.base+mine, viewerTok, nil, &tok); code != http.StatusOK || !reflect.DeepEqual(tok, none) {
		t.Errorf("a token's feeds: %d %v", code, tok)
	}
	app.stop()

	cfg.Oncall.Links.Key = ""
	app = startApp(t, cfg, time.Now)
	c, _ = signedIn(t, app.base, "ana")
	if code, got := get("ana", c); code != http.StatusOK || !reflect.DeepEqual(got, none) {
		t.Errorf("without oncall.links.key: %d %v", code, got)
	}
}
