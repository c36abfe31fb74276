package accessapi_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

func TestWhoami(t *testing.T) {
	t.Parallel()
	ts, access := newServer(t)
	if status, body, _ := do(t, "GET", ts.URL+"/api/v1/whoami", "", ""); status != 401 || errCode(t, body) != "unauthorized" {
		t.Errorf("without a token: %d %s", status, body)
	}
	status, body, hdr := do(t, "GET", ts.URL+"/api/v1/whoami", token(t, access, auth.RoleViewer), "")
	if status != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "application/json") || !strings.Contains(string(body), `"viewer"`) {
		t.Fatalf("whoami: %d %s %s", status, hdr.Get("Content-Type"), body)
	}
	var who accessapi.Whoami
	if err := json.Unmarshal(body, &who); err != nil || who.Name != "token:viewer" || who.Role != auth.RoleViewer {
		t.Errorf("whoami %+v %v", who, err)
	}
	if k := keys(t, body); !slices.Equal(k, []string{"name", "role"}) {
		t.Errorf("whoami keys %v", k)
	}
}
