package app

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/reports"
)

// TestWebReportSend (docs/web.md, "Reports"): from the Reports page a
// postmaster previews the report's e-mail (nothing is sent by the
// preview), sends it, and sends it again: each click reaches the loopback
// SMTP sink once, a second plain send of a sent report sends nothing, and
// each send is in the audit log. Lower roles are refused.
func TestWebReportSend(t *testing.T) {
	t.Parallel()
	sink := newSMTPSink(t)
	cfg := config.Default()
	cfg.SMTP.Enabled = false
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Listen = "127.0.0.1:0"
	cfg.Scheduler.Enabled = false
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	cfg.Reports.Mail.From = "postvakt@mail.example.edu"
	cfg.Reports.Mail.To = "styring@example.edu"
	cfg.Reports.Mail.SMTP = sink.addr
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	oslo, _ := time.LoadLocation("Europe/Oslo")
	clock := &testClock{t: time.Date(2026, 11, 2, 10, 0, 0, 0, oslo)}
	app := startApp(t, cfg, clock.Now)
	webUsers(t, cfg, auth.RolePostmaster, auth.RoleOncall)
	admin := apiToken(t, cfg, auth.RoleAdmin)
	c, tok := signedIn(t, app.base, "postmaster")
	mails := func() int { return len(sink.to("styring@example.edu")) }

	if resp, body := c.do("POST", "/reports", url.Values{"csrf": {tok}, "period": {"2026-10"}}, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("generate: %d\n%s", resp.StatusCode, body)
	}
	_, list := c.do("GET", "/reports", nil, nil)
	if !strings.Contains(list, `href="/reports/2026-10/send"`) || !strings.Contains(list, "Send…") {
		t.Fatalf("the Reports page has no send link")
	}
	resp, preview := c.do("GET", "/reports/2026-10/send", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(preview, `id="report-to">styring@example.edu<`) ||
		!strings.Contains(preview, `id="report-subject">`) || !strings.Contains(preview, "postvakt-report-2026-10.pdf") ||
		strings.Contains(preview, `name="resend"`) {
		t.Fatalf("preview: %d\n%s", resp.StatusCode, preview)
	}
	if n := mails(); n != 0 {
		t.Fatalf("the preview sent %d e-mails", n)
	}
	send := func(f url.Values, wantOK string, want int) {
		t.Helper()
		f.Set("csrf", tok)
		resp, body := c.do("POST", "/reports/2026-10/send", f, nil)
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports?ok="+wantOK {
			t.Fatalf("send: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		if n := mails(); n != want {
			t.Fatalf("%d e-mails after the click, want %d", n, want)
		}
	}
	send(url.Values{}, "reportsent", 1)
	if m := sink.to("styring@example.edu")[0]; !strings.Contains(m.Data, "application/pdf") || m.From != "postvakt@mail.example.edu" {
		t.Errorf("the report mail: from %s\n%.400s", m.From, m.Data)
	}
	send(url.Values{}, "notsent", 1) // sent before, and not asked to send again
	_, again := c.do("GET", "/reports/2026-10/send", nil, nil)
	if !strings.Contains(again, `id="report-sent-before">Sent `) || !strings.Contains(again, `name="resend" value="on"`) {
		t.Fatalf("the preview of a sent report:\n%s", again)
	}
	send(url.Values{"resend": {"on"}}, "reportsent", 2)

	var audit accessapi.AuditList
	call(t, "GET", app.base+"/api/v1/audit", admin, nil, &audit)
	sends := 0
	for _, e := range audit.Entries {
		if e.Action == "report.send" && e.Target == "2026-10" && e.Actor == "postmaster" {
			sends++
		}
	}
	if sends != 2 {
		t.Errorf("%d report.send audit entries, want 2", sends)
	}

	o, otok := signedIn(t, app.base, "oncall")
	if resp, _ := o.do("GET", "/reports/2026-10/send", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("oncall preview: %d", resp.StatusCode)
	}
	if resp, _ := o.do("POST", "/reports/2026-10/send", url.Values{"csrf": {otok}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("oncall send: %d", resp.StatusCode)
	}
	if resp, _ := c.do("POST", "/reports/2026-10/send", url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("send without CSRF: %d", resp.StatusCode)
	}
	if resp, _ := c.do("GET", "/reports/2026-09/send", nil, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("preview of a period with no report: %d", resp.StatusCode)
	}
	if n := mails(); n != 2 {
		t.Errorf("%d e-mails at the end, want 2", n)
	}
}
