package accessapi_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

func TestAuditAPI(t *testing.T) {
	t.Parallel()
	ts, access := newServer(t)
	refusals(t, ts, access, "GET", "/api/v1/audit", auth.RolePostmaster)
	admin := token(t, access, auth.RoleAdmin)

	// An empty log is an empty list, not null.
	status, body, _ := do(t, "GET", ts.URL+"/api/v1/audit", admin, "")
	if status != 200 || string(body) != "{\n  \"entries\": []\n}\n" {
		t.Fatalf("empty audit: %d %q", status, body)
	}
	if status, body, _ := do(t, "POST", ts.URL+"/api/v1/tokens", admin, `{"name":"grafana","role":"viewer"}`); status != 201 {
		t.Fatalf("create: %d %s", status, body)
	}
	status, body, _ = do(t, "GET", ts.URL+"/api/v1/audit", admin, "")
	var list accessapi.AuditList
	if err := json.Unmarshal(body, &list); status != 200 || err != nil || len(list.Entries) != 1 || list.Entries[0].Action != "token.create" || list.Entries[0].Actor != "token:admin" {
		t.Fatalf("audit: %d %s %v", status, body, err)
	}
	var raw struct {
		Entries []json.RawMessage `json:"entries"`
	}
	_ = json.Unmarshal(body, &raw)
	if k := keys(t, raw.Entries[0]); !slices.Equal(k, []string{"Action", "Actor", "At", "Detail", "ID", "Remote", "Target"}) {
		t.Errorf("entry keys %v", k)
	}
	if status, body, _ := do(t, "GET", ts.URL+"/api/v1/audit?since=2999-01-01T00:00:00Z", admin, ""); status != 200 || string(body) != "{\n  \"entries\": []\n}\n" {
		t.Errorf("audit since the future: %d %s", status, body)
	}
	if status, body, _ := do(t, "GET", ts.URL+"/api/v1/audit?since=yesterday", admin, ""); status != 400 || errCode(t, body) != "bad_request" {
		t.Errorf("bad since: %d %s", status, body)
	}
}
