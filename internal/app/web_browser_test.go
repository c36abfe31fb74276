package app

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/reports"
)

// chromium finds Debian's chromium; without it the browser tests skip, or
// fail when POSTVAKT_REQUIRE_TOOLS=1 (CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
		t.Fatal("chromium is not installed (apt-get install chromium) and POSTVAKT_REQUIRE_TOOLS=1")
	}
	t.Skip("chromium is not installed")
	return ""
}

// artifacts is where screenshots go: $POSTVAKT_ARTIFACTS or a temporary
// directory of the test.
func artifacts(t *testing.T) string {
	if d := os.Getenv("POSTVAKT_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// seedTrace writes one inbound message to the transaction log.
func seedTrace(t *testing.T, cfg *config.Config, at time.Time) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := &txlog.Batch{
		Messages: []txlog.MessageRow{{FirstSeen: at, LastSeen: at.Add(2 * time.Second), Node: "mx1", Source: txlog.SourceEngine,
			Direction: txlog.Inbound, MsgKey: "mx1:4XyZ1", State: "removed", QueueIDs: []string{"4XyZ1"},
			MessageID: "<m1@sender.example>", MailFrom: "alice@sender.example", Subject: "Exam results (confidential)",
			Size: 2048, NRcpt: 1, ClientIP: "192.0.2.7"}},
		Rows: []txlog.Row{
			{Time: at, Node: "mx1", Source: txlog.SourceEngine, Direction: txlog.Inbound, MsgKey: "mx1:4XyZ1", QueueID: "4XyZ1",
				MessageID: "<m1@sender.example>", MailFrom: "alice@sender.example", Rcpt: "bob@uni.example", Status: "accepted", ClientIP: "192.0.2.7"},
			{Time: at.Add(2 * time.Second), Node: "mx1", Source: txlog.SourceEngine, Direction: txlog.Inbound, MsgKey: "mx1:4XyZ1", QueueID: "4XyZ1",
				MailFrom: "alice@sender.example", Rcpt: "bob@uni.example", Status: "sent", DSN: "2.0.0", Relay: "lmtp", Agent: "lmtp"},
		},
	}
	if err := txlogstore.New(db).WriteBatch(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
}

// TestWebBrowser drives the web interface in headless Chromium on a phone-
// sized window: sign in, see who is on call, acknowledge an incident, open
// a ticket, run a trace (subjects masked for helpdesk), download a report;
// a helpdesk user cannot change the rota and a viewer cannot acknowledge.
// Screenshots are written as test artifacts.
func TestWebBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	out := artifacts(t)
	cfg := webConfig(t)
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	clock := &testClock{t: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
	app := startApp(t, cfg, clock.Now)
	webUsers(t, cfg, auth.RoleOncall, auth.RoleHelpdesk, auth.RoleViewer)
	seedTrace(t, cfg, clock.Now().Add(-time.Hour))
	oncallTok, pmTok := apiToken(t, cfg, auth.RoleOncall), apiToken(t, cfg, auth.RolePostmaster)
	newIncident := func(title string) string {
		var inc incident.Incident
		if code := call(t, "POST", app.base+"/api/v1/incidents", oncallTok, map[string]any{"title": title, "severity": "critical", "key": "test/" + title}, &inc); code != http.StatusCreated {
			t.Fatalf("create incident: %d", code)
		}
		return strconv.FormatInt(inc.ID, 10)
	}
	incStatus := func(id string) incident.Status {
		var got struct{ Incident incident.Incident }
		call(t, "GET", app.base+"/api/v1/incidents/"+id, oncallTok, nil, &got)
		return got.Incident.Status
	}
	var shift struct{ Name string }
	if code := call(t, "GET", app.base+"/api/v1/oncall/now", oncallTok, nil, &shift); code != http.StatusOK || shift.Name == "" {
		t.Fatalf("oncall now: %d %+v", code, shift)
	}
	if code := call(t, "POST", app.base+"/api/v1/reports", pmTok, map[string]any{"period": "2026-10"}, nil); code != http.StatusCreated {
		t.Fatalf("generate report: %d", code)
	}
	first := newIncident("Outbound queue above 5000")

	b := newTestBrowser(t, exe, out, 6*time.Minute, 30*time.Second)
	do, text, eval, shot := b.do, b.text, b.eval, b.shot
	signedIn := false
	login := func(user string) {
		t.Helper()
		if signedIn {
			do("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)))
		}
		b.login(app.base, user)
		signedIn = true
	}
	// post submits a form with the page's CSRF token, as a user could with
	// the developer tools, and returns the status.
	post := func(path string, fields map[string]string) int {
		t.Helper()
		var parts []string
		for k, v := range fields {
			parts = append(parts, fmt.Sprintf("%q: %q", k, v))
		}
		js := fmt.Sprintf(`(async () => { const b = new URLSearchParams({%s}); b.set("csrf", document.querySelector("input[name=csrf]").value);
			const r = await fetch(%q, {method: "POST", body: b, redirect: "manual"}); return String(r.status); })()`, strings.Join(parts, ", "), path)
		n, _ := strconv.Atoi(eval(js))
		return n
	}

	// On call: sign in on a phone, see who is on call now.
	login("oncall")
	do("now page", chromedp.Navigate(app.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#oncall-ukevakt`)), shot("now.png"))
	if who := text(`#oncall-ukevakt`); who != shift.Name {
		t.Errorf("on call shown %q, API says %q", who, shift.Name)
	}
	// Acknowledge the page from the Now view.
	do("acknowledge", chromedp.Click(chromedp.CSS(`#ack-`+first)), chromedp.WaitVisible(chromedp.CSS(`.notice`)), shot("acknowledged.png"))
	if st := incStatus(first); st != incident.StatusAcknowledged {
		t.Errorf("after acknowledge in the browser: %s", st)
	}

	// Helpdesk: open a ticket, run a trace, and fail to change the rota.
	login("helpdesk")
	do("open ticket",
		chromedp.Navigate(app.base+"/tickets/new"),
		chromedp.SendKeys(chromedp.CSS(`input[name=title]`), "Webmail login fails for students"),
		chromedp.SendKeys(chromedp.CSS(`textarea[name=symptoms]`), "Three reports since 09:00."),
		chromedp.Click(chromedp.CSS(`#ticket-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#ticket-state`)), shot("ticket.png"))
	if state := text(`#ticket-state`); state != "new" {
		t.Errorf("new ticket state %q", state)
	}
	do("trace",
		chromedp.Navigate(app.base+"/trace"),
		chromedp.SendKeys(chromedp.CSS(`#trace-form input[name=from]`), "alice@sender.example"),
		chromedp.Click(chromedp.CSS(`#trace-form button`)),
		chromedp.WaitVisible(chromedp.CSS(`#trace-count`)), shot("trace.png"))
	if count, subject := text(`#trace-count`), text(`.trace .subject`); count != "1" || strings.Contains(subject, "Exam") {
		t.Errorf("trace: %s messages, subject %q (want 1, masked)", count, subject)
	}
	do("rota", chromedp.Navigate(app.base+"/rota"), chromedp.WaitVisible(chromedp.CSS(`h1`)))
	if n := eval(`String(document.querySelectorAll("form[action='/rota/overrides']").length)`); n != "0" {
		t.Errorf("helpdesk sees %s override forms", n)
	}
	if st := post("/rota/overrides", map[string]string{"rota": "ukevakt", "member": "ana", "start": "2026-11-24T09:00", "end": "2026-11-24T17:00"}); st != http.StatusForbidden {
		t.Errorf("helpdesk changed the rota: %d", st)
	}

	// Viewer: cannot acknowledge; can download the report.
	second := newIncident("Spam score spike")
	login("viewer")
	do("viewer now", chromedp.Navigate(app.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#h-inc`)), shot("viewer.png"))
	if n := eval(`String(document.querySelectorAll("[id^=ack-]").length)`); n != "0" {
		t.Errorf("viewer sees %s acknowledge buttons", n)
	}
	if st := post("/incidents/"+second+"/ack", nil); st != http.StatusForbidden {
		t.Errorf("viewer acknowledge: %d", st)
	}
	if st := incStatus(second); st != incident.StatusTriggered {
		t.Errorf("viewer changed the incident: %s", st)
	}
	do("reports", chromedp.Navigate(app.base+"/reports"), chromedp.WaitVisible(chromedp.CSS(`a[href$=".pdf"]`)), shot("reports.png"))
	download := eval(`(async () => { const a = document.querySelector("a[href$='.pdf']");
		const r = await fetch(a.href); const b = new Uint8Array(await r.arrayBuffer());
		return r.status + " " + r.headers.get("content-type") + " " + String.fromCharCode(...b.slice(0, 5)); })()`)
	if download != "200 application/pdf %PDF-" {
		t.Errorf("report download: %q", download)
	}
	t.Logf("screenshots in %s", out)
}
