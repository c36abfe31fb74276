package collectorsapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestTables: every role reads pflogsumm's tables of a period (the last 24
// hours unless given), top entries a table; a bad top or time is 400, no
// token 401.
func TestTables(t *testing.T) {
	t.Parallel()
	a := start(t, nil)
	for i, from := range []string{"a@partner.example", "b@partner.example", "a@partner.example"} {
		b := message(t0.Add(time.Duration(i)*time.Minute), "Q"+string(rune('1'+i)), from, "")
		a.write(t, &b)
	}
	a.write(t, &txlog.Batch{Warnings: []txlog.Warning{{Time: t0, Node: "mx1", Program: "postfix/smtpd", Severity: "warning",
		Text: "hostname x.example does not resolve to address 192.0.2.1"}}})
	old := message(now.AddDate(0, 0, -2), "Q0", "c@old.example", "")
	a.write(t, &old)

	a.wantError(t, "/api/v1/mail/tables", "", http.StatusUnauthorized, "unauthorized")
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleHelpdesk, auth.RoleOncall, auth.RolePostmaster, auth.RoleAdmin} {
		var tb collectorsapi.Tables
		if code := a.getJSON(t, "/api/v1/mail/tables", r, &tb); code != 200 || tb.Top != 10 || len(tb.TopSenders) != 2 ||
			tb.TopSenders[0].Key != "a@partner.example" || tb.TopSenders[0].Count != 2 || len(tb.Warnings) != 1 ||
			tb.Warnings[0].Text != "hostname x.example does not resolve to address N" || tb.Warnings[0].Count != 1 ||
			!tb.Since.Equal(now.Add(-24*time.Hour)) || tb.Zone != "UTC" {
			t.Errorf("%s: %d %+v", r, code, tb)
		}
	}
	var tb collectorsapi.Tables
	if code := a.getJSON(t, "/api/v1/mail/tables?since=2026-11-01&top=1", auth.RoleViewer, &tb); code != 200 || tb.Top != 1 ||
		len(tb.TopSenders) != 1 || tb.TopSenders[0].Count != 2 {
		t.Errorf("top 1 since a date: %d %+v", code, tb)
	}
	for _, bad := range []string{"top=0", "top=1001", "top=x", "since=yesterday", "until=x"} {
		a.wantError(t, "/api/v1/mail/tables?"+bad, auth.RoleViewer, http.StatusBadRequest, "bad_request")
	}
}
