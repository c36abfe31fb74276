package accessapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/runbooks"
)

func TestRunbooksAPI(t *testing.T) {
	t.Parallel()
	ts, access := newServer(t)
	if status, body, _ := do(t, "GET", ts.URL+"/api/v1/runbooks", "", ""); status != 401 || errCode(t, body) != "unauthorized" {
		t.Errorf("without a token: %d %s", status, body)
	}
	status, body, _ := do(t, "GET", ts.URL+"/api/v1/runbooks", token(t, access, auth.RoleViewer), "")
	if status != 200 {
		t.Fatalf("runbooks: %d %s", status, body)
	}
	lib, _ := runbooks.Embedded()
	var list accessapi.RunbookList
	if err := json.Unmarshal(body, &list); err != nil || len(list.Runbooks) != len(lib.All()) || len(list.Runbooks) == 0 {
		t.Fatalf("runbooks %s %v", body, err)
	}
	for _, rb := range list.Runbooks {
		if rb.ID == "" || rb.Title == "" || rb.URL != baseURL+"/runbooks/"+rb.ID {
			t.Errorf("runbook %+v", rb)
		}
	}
	var raw struct {
		Runbooks []json.RawMessage `json:"runbooks"`
	}
	_ = json.Unmarshal(body, &raw)
	if k := keys(t, raw.Runbooks[0]); !slices.Equal(k, []string{"alerts", "id", "services", "summary", "title", "url"}) {
		t.Errorf("runbook keys %v", k)
	}
	if !strings.HasPrefix(string(body), "{\n  \"runbooks\": [") {
		t.Errorf("shape %.40q", body)
	}
}
