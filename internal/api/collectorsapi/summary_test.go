package collectorsapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestSummary: every role reads the grand totals of the stored logs over
// [since, until), since 24 hours before now when not given; no token is
// 401, a time that cannot be read 400.
func TestSummary(t *testing.T) {
	t.Parallel()
	a := start(t, nil)
	b := message(t0, "Q1", "a@partner.example", "Exam results")
	b.Rows = append(b.Rows, txlog.Row{Time: t0, Node: "mx1", Source: "engine", Direction: txlog.Inbound,
		MailFrom: "spam@bot.example", Rcpt: "x@foreign.example", ClientIP: "192.0.2.99", Status: txlog.StatusRejected,
		Stage: "RCPT", Code: 554, DSN: "5.7.1"})
	b.Logins = append(b.Logins, txlog.Login{Time: t0, Node: "mx1", Source: "dovecot", Service: "imap", User: "u@uni.example",
		RemoteIP: "192.0.2.98", Method: "PLAIN", OK: true})
	a.write(t, &b)
	old := message(now.AddDate(0, 0, -2), "Q0", "b@partner.example", "")
	a.write(t, &old)

	a.wantError(t, "/api/v1/mail/summary", "", http.StatusUnauthorized, "unauthorized")
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleHelpdesk, auth.RoleOncall, auth.RolePostmaster, auth.RoleAdmin} {
		var sum collectorsapi.Summary
		if code := a.getJSON(t, "/api/v1/mail/summary", r, &sum); code != 200 || sum.Received != 1 || sum.RejectedTotal != 1 ||
			len(sum.Logins) != 1 || !sum.Since.Equal(now.Add(-24*time.Hour)) || !sum.Until.IsZero() {
			t.Errorf("%s: %d %+v", r, code, sum)
		}
	}
	var sum collectorsapi.Summary
	if code := a.getJSON(t, "/api/v1/mail/summary?since=2026-11-01", auth.RoleViewer, &sum); code != 200 || sum.Received != 2 ||
		!sum.Since.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("since a date: %d %+v", code, sum)
	}
	sum = collectorsapi.Summary{}
	if code := a.getJSON(t, "/api/v1/mail/summary?since=2026-11-01&until=2026-11-21", auth.RoleViewer, &sum); code != 200 ||
		sum.Received != 1 || sum.Delivered != 1 || sum.RejectedTotal != 0 {
		t.Errorf("until: %d %+v", code, sum)
	}
	a.wantError(t, "/api/v1/mail/summary?since=last+week", auth.RoleViewer, http.StatusBadRequest, "bad_request")
	a.wantError(t, "/api/v1/mail/summary?until=x", auth.RoleViewer, http.StatusBadRequest, "bad_request")

	// the JSON keys, as `postvakt summary --json` prints them
	_, body := a.get(t, "/api/v1/mail/summary", auth.RoleViewer)
	var got []string
	for k := range keys(t, body) {
		got = append(got, k)
	}
	slices.Sort(got)
	want := []string{"auth_failures", "banned", "bounced", "bytes_delivered", "bytes_received", "cleanup_rejected",
		"deferred", "deferred_messages", "delivered", "delivered_by_agent", "delivered_by_direction", "discarded", "expired",
		"filter_handoffs", "forwarded", "greylist_passed", "greylisted", "logins", "messages", "received", "recipients",
		"refused", "rejected", "rejected_total", "sasl_failures", "senders", "sent_lines", "since", "spam", "unique_users", "until",
		"verdicts", "virus"}
	if !slices.Equal(got, want) {
		t.Errorf("keys %v\nwant %v", got, want)
	}
}
