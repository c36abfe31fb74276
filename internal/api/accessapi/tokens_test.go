package accessapi_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestTokensRefusals: the token list needs an admin; a missing, malformed,
// unknown or revoked token is refused with a JSON 401, a smaller role with
// a 403.
func TestTokensRefusals(t *testing.T) {
	t.Parallel()
	ts, access := newServer(t)
	viewer, admin := token(t, access, auth.RoleViewer), token(t, access, auth.RoleAdmin)
	revoked := token(t, access, auth.RoleAdmin)
	list, _ := access.ListTokens(context.Background())
	for _, tk := range list {
		if tk.Prefix == auth.DisplayPrefix(revoked) {
			_ = access.RevokeToken(context.Background(), tk.ID, time.Now())
		}
	}
	cases := []struct {
		name, secret string
		status       int
		code         string
	}{
		{"no token", "", 401, "unauthorized"},
		{"garbage", "abc", 401, "unauthorized"},
		{"unknown", "pvt_" + strings.Repeat("a", 32), 401, "unauthorized"},
		{"revoked", revoked, 401, "unauthorized"},
		{"too small a role", viewer, 403, "forbidden"},
		{"admin", admin, 200, ""},
	}
	for _, c := range cases {
		status, body, hdr := do(t, "GET", ts.URL+"/api/v1/tokens", c.secret, "")
		if status != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.name, status, c.status, body)
			continue
		}
		if !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
			t.Errorf("%s: content type %q", c.name, hdr.Get("Content-Type"))
		}
		if c.code != "" && errCode(t, body) != c.code {
			t.Errorf("%s: code %q, want %q", c.name, errCode(t, body), c.code)
		}
		if status == 401 && hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
	refusals(t, ts, access, "POST", "/api/v1/tokens", auth.RolePostmaster)
	refusals(t, ts, access, "DELETE", "/api/v1/tokens/1", auth.RolePostmaster)
}

// TestTokenList checks the list's JSON: every token, newest first, without
// its secret or hash.
func TestTokenList(t *testing.T) {
	t.Parallel()
	ts, access := newServer(t)
	admin := token(t, access, auth.RoleAdmin)
	token(t, access, auth.RoleViewer)
	status, body, _ := do(t, "GET", ts.URL+"/api/v1/tokens", admin, "")
	if status != 200 {
		t.Fatalf("list: %d %s", status, body)
	}
	if k := keys(t, body); !slices.Equal(k, []string{"tokens"}) {
		t.Errorf("list keys %v", k)
	}
	var list struct {
		Tokens []json.RawMessage `json:"tokens"`
	}
	if err := json.Unmarshal(body, &list); err != nil || len(list.Tokens) != 2 {
		t.Fatalf("list %s %v", body, err)
	}
	if k := keys(t, list.Tokens[0]); !slices.Equal(k, []string{"created_at", "created_by", "id", "name", "prefix", "role"}) {
		t.Errorf("token keys %v", k)
	}
	var typed accessapi.TokenList
	if err := json.Unmarshal(body, &typed); err != nil || typed.Tokens[0].Name != "viewer" || typed.Tokens[1].Name != "admin" || typed.Tokens[1].LastUsedAt == nil {
		t.Errorf("typed list %+v %v", typed, err)
	}
}

func TestTokenAPILifecycleIsAudited(t *testing.T) {
	t.Parallel()
	ts, access := newServer(t)
	admin := token(t, access, auth.RoleAdmin)
	status, body, _ := do(t, "POST", ts.URL+"/api/v1/tokens", admin, `{"name":"grafana","role":"viewer","expires_in":"24h"}`)
	if status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	var created accessapi.CreatedToken
	if err := json.Unmarshal(body, &created); err != nil || !auth.LooksLikeSecret(created.Secret) || created.Token.ExpiresAt == nil {
		t.Fatalf("created %s %v", body, err)
	}
	if k := keys(t, body); !slices.Equal(k, []string{"secret", "token"}) {
		t.Errorf("created keys %v", k)
	}
	if status, _, _ := do(t, "GET", ts.URL+"/api/v1/whoami", created.Secret, ""); status != 200 {
		t.Fatalf("new token rejected: %d", status)
	}
	for _, bad := range []string{`{"name":"x","role":"root"}`, `{"name":"","role":"viewer"}`, `{"name":"x","role":"viewer","extra":1}`, `not json`, `{"name":"x","role":"viewer","expires_in":"soon"}`} {
		if status, body, _ := do(t, "POST", ts.URL+"/api/v1/tokens", admin, bad); status != 400 || errCode(t, body) != "bad_request" {
			t.Errorf("create %s: %d %s", bad, status, body)
		}
	}
	big := `{"name":"` + strings.Repeat("x", 4096) + `","role":"viewer"}`
	if status, body, _ := do(t, "POST", ts.URL+"/api/v1/tokens", admin, big); status != 413 || errCode(t, body) != "too_large" {
		t.Errorf("big body: %d %s", status, body)
	}
	url := ts.URL + "/api/v1/tokens/" + strconv.FormatInt(created.Token.ID, 10)
	if status, body, _ := do(t, "DELETE", url, admin, ""); status != 204 {
		t.Fatalf("revoke: %d %s", status, body)
	}
	if status, _, _ := do(t, "GET", ts.URL+"/api/v1/whoami", created.Secret, ""); status != 401 {
		t.Fatalf("revoked token accepted: %d", status)
	}
	if status, _, _ := do(t, "DELETE", ts.URL+"/api/v1/tokens/99999", admin, ""); status != 404 {
		t.Fatalf("revoke missing: %d", status)
	}
	if status, body, _ := do(t, "DELETE", ts.URL+"/api/v1/tokens/x", admin, ""); status != 400 || errCode(t, body) != "bad_request" {
		t.Errorf("revoke x: %d %s", status, body)
	}
	entries, err := access.ListAudit(context.Background(), time.Time{}, 10)
	if err != nil || len(entries) != 2 || entries[0].Action != "token.revoke" || entries[1].Action != "token.create" || entries[1].Actor != "token:admin" {
		t.Fatalf("audit %+v %v", entries, err)
	}
}
