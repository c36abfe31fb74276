package ticketapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestStatusPage: the status page and its Atom feed are public (no token)
// and show the public notices only, with their updates.
func TestStatusPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	oncall := f.token(t, auth.RoleOncall)
	var pub, private notice.Notice
	f.do(t, "POST", "/api/v1/notices", oncall, map[string]any{"kind": "outage", "title": "Webmail unavailable",
		"services": []string{"webmail"}, "symptoms": "HTTP 502", "announce": false}).ok(t, http.StatusCreated, &pub)
	f.do(t, "POST", "/api/v1/notices", oncall, map[string]any{"kind": "outage", "title": "Internal relay test",
		"services": []string{"webmail"}, "public": false, "announce": false}).ok(t, http.StatusCreated, &private)
	f.do(t, "POST", "/api/v1/notices/"+tickets.ID(pub.ID)+"/updates", oncall,
		map[string]any{"state": "identified", "body": "A proxy node failed.", "announce": false}).ok(t, http.StatusOK, &pub)

	get := func(path string) (int, string, string) {
		t.Helper()
		resp, err := http.Get(f.base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}
	code, ct, body := get("/status")
	if code != http.StatusOK || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "Webmail unavailable") ||
		!strings.Contains(body, "A proxy node failed.") || strings.Contains(body, "Internal relay test") {
		t.Fatalf("GET /status: %d %s\n%s", code, ct, body)
	}
	code, ct, body = get("/status/feed.atom")
	if code != http.StatusOK || !strings.HasPrefix(ct, "application/atom+xml") ||
		!strings.Contains(body, "[Identified] Outage: Webmail unavailable") || strings.Contains(body, "Internal relay test") {
		t.Fatalf("GET /status/feed.atom: %d %s\n%s", code, ct, body)
	}
}
