package collectorsapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestTrafficHourly: the last N hours of the hourly rollups, one entry per
// hour including empty ones, the current hour last; every role may read
// it, no token is 401, N outside 1…168 is 400.
func TestTrafficHourly(t *testing.T) {
	t.Parallel()
	a := start(t, nil)
	b := message(t0.Add(5*time.Minute), "Q1", "a@partner.example", "")
	b.Rows = append(b.Rows,
		txlog.Row{Time: t0.Add(70 * time.Minute), Node: "mx1", Source: "engine", Direction: txlog.Inbound, MailFrom: "spam@bot.example",
			Rcpt: "x@uni.example", ClientIP: "192.0.2.99", Status: txlog.StatusRejected, Stage: "RCPT", Code: 554},
		txlog.Row{Time: t0.Add(75 * time.Minute), Node: "mx1", Source: "engine", Direction: txlog.Inbound, MailFrom: "spam@bot.example",
			Rcpt: "y@uni.example", ClientIP: "192.0.2.99", Status: txlog.StatusRejected, Stage: "RCPT", Code: 554})
	b.Logins = append(b.Logins,
		txlog.Login{Time: t0.Add(2*time.Hour + time.Minute), Node: "mx1", Source: "dovecot", Service: "imap", User: "u@uni.example", OK: true},
		txlog.Login{Time: t0.Add(2*time.Hour + 2*time.Minute), Node: "mx1", Source: "dovecot", Service: "imap", User: "v@uni.example"})
	a.write(t, &b)
	ctx := context.Background()
	if err := a.store.ComputeRollups(ctx, rollup.Hour, t0.Add(-time.Hour), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	a.wantError(t, "/api/v1/traffic/hourly", "", http.StatusUnauthorized, "unauthorized")
	for _, q := range []string{"hours=0", "hours=169", "hours=x"} {
		a.wantError(t, "/api/v1/traffic/hourly?"+q, auth.RoleViewer, http.StatusBadRequest, "bad_request")
	}
	for _, r := range []auth.Role{auth.RoleViewer, auth.RoleHelpdesk, auth.RoleOncall, auth.RolePostmaster, auth.RoleAdmin} {
		var tr collectorsapi.Traffic
		if code := a.getJSON(t, "/api/v1/traffic/hourly", r, &tr); code != 200 || len(tr.Hours) != 24 ||
			!tr.To.Equal(now.Add(time.Hour)) || !tr.From.Equal(now.Add(-23*time.Hour)) {
			t.Errorf("%s: %d from %s to %s, %d hours", r, code, tr.From, tr.To, len(tr.Hours))
		}
	}

	code, body := a.get(t, "/api/v1/traffic/hourly?hours=4", auth.RoleViewer)
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, body)
	}
	var tr collectorsapi.Traffic
	if err := json.Unmarshal(body, &tr); err != nil {
		t.Fatal(err)
	}
	want := []collectorsapi.TrafficHour{
		{Hour: t0.Add(-time.Hour)},
		{Hour: t0, Received: 1, Delivered: 1},
		{Hour: t0.Add(time.Hour), Rejected: 2},
		{Hour: t0.Add(2 * time.Hour), Logins: 1, LoginFailures: 1}, // the current hour
	}
	if !tr.From.Equal(t0.Add(-time.Hour)) || !tr.To.Equal(now.Add(time.Hour)) || len(tr.Hours) != len(want) {
		t.Fatalf("from %s to %s: %+v", tr.From, tr.To, tr.Hours)
	}
	for i := range want {
		if got := tr.Hours[i]; !got.Hour.Equal(want[i].Hour) || got.Received != want[i].Received || got.Delivered != want[i].Delivered ||
			got.Rejected != want[i].Rejected || got.Logins != want[i].Logins || got.LoginFailures != want[i].LoginFailures {
			t.Errorf("hour %d: %+v, want %+v", i, got, want[i])
		}
	}

	// The JSON is what the endpoint wrote from a map: keys "from", "hours",
	// "to", byte for byte.
	old, err := json.MarshalIndent(map[string]any{"hours": tr.Hours, "from": tr.From, "to": tr.To}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if string(body) != string(old)+"\n" {
		t.Errorf("JSON\n%s\nwant\n%s", body, old)
	}
	var hours struct{ Hours []map[string]json.RawMessage }
	if err := json.Unmarshal(body, &hours); err != nil {
		t.Fatal(err)
	}
	var got []string
	for k := range hours.Hours[0] {
		got = append(got, k)
	}
	slices.Sort(got)
	if w := []string{"delivered", "hour", "login_failures", "logins", "received", "rejected"}; !slices.Equal(got, w) {
		t.Errorf("an hour's keys %v, want %v", got, w)
	}
}
