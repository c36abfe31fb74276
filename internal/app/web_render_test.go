package app

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/reports"
)

// TestWebEveryPage renders every page of the web interface through the
// running service, with realistic data in every capability the pages show
// (on-call with an override and a swap, incidents in each status, tickets
// with clocks, comments and links, notices of both kinds with updates, a
// trace and the hourly rollups, an archived report, API tokens and the
// audit log, the directory with a locked and a forwarding mailbox, more
// quarantined messages than a page shows, probes up and down), for each
// role that sees something different. A page must answer its status with
// HTML (a template execution error answers 500 "render error") and show
// the fields listed for it.
func TestWebEveryPage(t *testing.T) {
	t.Parallel()
	sink := newSMTPSink(t)
	cfg := noticeWebConfig(t, sink)
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	cfg.SMTP = sc
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go acceptAndClose(up)
	cfg.Probes.Retries, cfg.Probes.Timeout, cfg.Probes.RaiseIncidents = 0, 2*time.Second, false
	cfg.Probes.Targets = []probe.Target{
		{Name: "imap-tcp", Service: "imap", Node: "imap1", Kind: probe.KindTCP, Address: up.Addr().String()},
		{Name: "pop-tcp", Service: "pop3", Kind: probe.KindTCP, Address: "127.0.0.1:" + freePort(t)},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)
	clock := &testClock{t: now}
	app := startApp(t, cfg, clock.Now)
	webUsers(t, cfg, auth.RoleAdmin, auth.RoleHelpdesk, auth.RoleViewer)
	webUser(t, cfg, "ana", auth.RoleOncall) // a member of the rota
	admin := apiToken(t, cfg, auth.RoleAdmin)
	api := func(method, path string, body any, want int) {
		t.Helper()
		if code := call(t, method, app.base+path, admin, body, nil); code != want {
			t.Fatalf("%s %s: %d, want %d", method, path, code, want)
		}
	}

	// Tickets: one worked on, with a comment; one new.
	api("POST", "/api/v1/tickets", map[string]any{"title": "IMAP login fails for staff", "service": "imap", "severity": "critical",
		"reporter": "Kari Nordmann", "reporter_email": "kari@uni.example", "symptoms": "Thunderbird says authentication failed.",
		"handling_plan": "Check the LDAP proxy."}, http.StatusCreated)
	api("POST", "/api/v1/tickets/1/ack", map[string]any{"note": "Looking at it."}, http.StatusOK)
	api("POST", "/api/v1/tickets/1/comments", map[string]any{"body": "The proxy restarted at 10:05.", "public": false}, http.StatusCreated)
	api("POST", "/api/v1/tickets", map[string]any{"title": "Webmail is slow", "service": "webmail"}, http.StatusCreated)

	// On call: an override, a swap request; incidents in each status
	// (each opens a ticket of its own).
	api("POST", "/api/v1/oncall/overrides", map[string]any{"rota": "ukevakt", "member": "chen", "start": "2026-11-25T08:00:00Z",
		"end": "2026-11-25T16:00:00Z", "reason": "Bjørn at the dentist"}, http.StatusCreated)
	api("POST", "/api/v1/oncall/swaps", map[string]any{"rota": "ukevakt", "requester": "ana", "counterpart": "bjorn",
		"mine": "2026-12-08T12:00:00Z", "theirs": "2026-12-15T12:00:00Z", "note": "Christmas party"}, http.StatusCreated)
	for i, inc := range []struct{ title, severity, then string }{
		{"Outbound queue above 5000", "critical", ""}, {"Spam score spike", "warning", "ack"}, {"Disk almost full on mx2", "warning", "resolve"},
	} {
		api("POST", "/api/v1/incidents", map[string]any{"title": inc.title, "summary": "Seen by Prometheus.", "severity": inc.severity,
			"key": "test/" + inc.title}, http.StatusCreated)
		if inc.then != "" {
			api("POST", fmt.Sprintf("/api/v1/incidents/%d/%s", i+1, inc.then), nil, http.StatusOK)
		}
	}

	// Notices: a public outage from the ticket with an update, an internal
	// maintenance window.
	api("POST", "/api/v1/notices", map[string]any{"kind": "outage", "title": "IMAP login fails for staff", "services": []string{"imap"},
		"symptoms": "Authentication fails.", "impact": "Staff cannot read mail.", "handling_plan": "Restart the proxy.",
		"body": "We are looking into it.", "ticket_id": "1", "next_update_at": "2026-11-23T12:00:00Z"}, http.StatusCreated)
	api("POST", "/api/v1/notices/1/updates", map[string]any{"state": "identified", "body": "A certificate expired."}, http.StatusOK)
	api("POST", "/api/v1/notices", map[string]any{"kind": "maintenance", "title": "Mailbox server upgrade", "services": []string{"imap", "pop"},
		"started_at": "2026-11-28T18:00:00Z", "planned_end": "2026-11-28T22:00:00Z", "public": false, "announce": false,
		"language": "nb"}, http.StatusCreated)

	// A report, an API token.
	api("POST", "/api/v1/reports", map[string]any{"period": "2026-10", "comment": "A quiet month."}, http.StatusCreated)
	api("POST", "/api/v1/tokens", map[string]any{"name": "grafana", "role": "viewer", "expires_in": "720h"}, http.StatusCreated)

	// Probes: one up, one down.
	for _, p := range []string{"imap-tcp", "pop-tcp"} {
		api("POST", "/api/v1/probes/"+p+"/run", nil, http.StatusOK)
	}

	// The directory: 55 mailboxes (two pages), one locked, one forwarding
	// with a list; 101 quarantined messages (more than a page shows).
	dir := "/api/v1/directory"
	api("POST", dir+"/domains", map[string]string{"name": "uni.example"}, http.StatusCreated)
	for i := range 55 {
		api("POST", dir+"/mailboxes", map[string]any{"address": fmt.Sprintf("s%03d@uni.example", i), "quota": "1GB",
			"display_name": fmt.Sprintf("Student %d", i)}, http.StatusCreated)
	}
	api("PATCH", dir+"/mailboxes/s001@uni.example", map[string]any{"locked": true, "reason": "phished", "nickname": "kari.n@uni.example"}, http.StatusOK)
	api("PATCH", dir+"/mailboxes/s007@uni.example", map[string]any{"forward": map[string]any{"to": "s008@uni.example", "keep_copy": true}}, http.StatusOK)
	api("POST", dir+"/aliases", map[string]any{"address": "it-support@uni.example", "kind": "list", "targets": []string{"s007@uni.example", "s009@uni.example"}}, http.StatusCreated)
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 101 {
		if _, err := enginestore.New(db).QuarantineAdd(ctx, &quarantine.Item{QueueID: fmt.Sprintf("Q%03d", i), At: now.Add(-time.Duration(i) * time.Minute),
			Reason: "virus", Detail: "Eicar-Test-Signature", ClientIP: "198.51.100.4", MailFrom: "bad@spam.example",
			Rcpts: []string{"s001@uni.example", "s002@uni.example"}, Subject: fmt.Sprintf("Invoice %d overdue", i), Size: 2048,
			Body: []byte("Subject: x\r\n\r\n" + strings.Repeat("x", 2034))}); err != nil {
			t.Fatal(err)
		}
	}

	// The transaction log and its rollups (Now's summary and sparklines).
	seedTrace(t, cfg, now.Add(-time.Hour))
	if err := txlogstore.New(db).ComputeRollups(ctx, rollup.Hour, now.Add(-25*time.Hour), now); err != nil {
		t.Fatal(err)
	}

	type page struct {
		method, path string
		form         url.Values
		status       int
		want         []string
	}
	// notOn are what a user's page must not show, by user and path.
	notOn := map[string]map[string][]string{
		// ana asked bjorn for a swap: she may cancel it, not accept or
		// decline it for him, and she asks only in her own name.
		"ana": {"/rota": {`/accept"`, `/decline"`, `<select name="requester">`}},
	}
	preview := url.Values{"kind": {"outage"}, "title": {"IMAP login fails"}, "services": {"imap", "pop"}, "symptoms": {"Authentication fails."},
		"body": {"We are looking into it."}, "ticket_id": {"1"}, "public": {"on"}, "announce": {"on"}, "started_at": {"2026-11-23T10:00"}}
	pages := map[string][]page{
		"admin": {
			{"GET", "/", nil, 200, []string{`id="oncall-ukevakt">Bjørn Dahl<`, "Chen Wei", "#1 Outbound queue above 5000", "acknowledged by token:test-admin",
				`id="ack-1"`, "IMAP login fails for staff", "response: ", `id="spark-delivered"`, "<dt>delivered</dt><dd>1</dd>", "pop-tcp", "imap1", "sev-critical"}},
			{"GET", "/rota", nil, 200, []string{"Bjørn Dahl", "chen from", "Bjørn at the dentist", "ana ⇄ bjorn", "Christmas party", "requested",
				`action="/rota/swaps/`, "<td>ana</td>", "whole rota", "/api/v1/oncall/feed/ukevakt/bjorn?key="}},
			{"GET", "/rota?weeks=2", nil, 200, []string{"The next 2 weeks"}},
			{"GET", "/tickets", nil, 200, []string{"#1 IMAP login fails for staff", "state-acknowledged", "#2 Webmail is slow", "clock-"}},
			{"GET", "/tickets?all=true&state=new&service=webmail&limit=1", nil, 200, []string{"#2 Webmail is slow", "Show more", "<option selected>new</option>"}},
			{"GET", "/tickets/new", nil, 200, []string{`<option value="imap">IMAP</option>`, "<option selected>major</option>", "<option selected>helpdesk</option>"}},
			{"GET", "/tickets/1", nil, 200, []string{"#1 IMAP login fails for staff", "Kari Nordmann &lt;kari@uni.example&gt;", "Check the LDAP proxy.",
				"The proxy restarted at 10:05.", "new → acknowledged", `id="action-start"`, "/notices/new?ticket=1", "<strong>response</strong>"}},
			{"GET", "/tickets/999", nil, 404, []string{`id="error"`}},
			{"GET", "/incidents", nil, 200, []string{"#1 Outbound queue above 5000", "#2 Spam score spike", "Seen by Prometheus.", "acknowledged by"}},
			{"GET", "/incidents?status=resolved", nil, 200, []string{"#3 Disk almost full on mx2", "resolved by token:test-admin"}},
			{"GET", "/notices", nil, 200, []string{"N-1 IMAP login fails for staff", "N-2 Mailbox server upgrade", "imap, pop", "ticket #1", "internal", "public"}},
			{"GET", "/notices?kind=maintenance&state=scheduled&all=true", nil, 200, []string{"N-2 Mailbox server upgrade"}},
			{"GET", "/notices/1", nil, 200, []string{`id="notice-state">identified`, "A certificate expired.", "Staff cannot read mail.", `href="/tickets/1"`,
				"Next update", "<option>monitoring</option>"}},
			{"GET", "/notices/2", nil, 200, []string{"Planned end", "nb", "internal: not on the status page"}},
			{"GET", "/notices/new", nil, 200, []string{`value="outage" checked`, `name="public" checked`}},
			{"GET", "/notices/new?ticket=1", nil, 200, []string{`value="IMAP login fails for staff"`, `value="imap" checked`, "Check the LDAP proxy."}},
			{"GET", "/notices/new?edit=1&kind=maintenance&title=Kept&services=pop&public=on&language=nb", nil, 200, []string{`value="maintenance" checked`,
				`value="Kept"`, `value="pop" checked`, `value="nb" selected`}},
			{"POST", "/notices/preview", preview, 200, []string{"itss-announce@example.edu", `id="preview-subject">`, "We are looking into it.",
				`<input type="hidden" name="services" value="pop">`, `<input type="hidden" name="announce" value="on">`, `<input type="hidden" name="title" value="IMAP login fails">`}},
			{"GET", "/trace", nil, 200, []string{"Every search is recorded"}},
			{"GET", "/trace?from=alice%40sender.example", nil, 200, []string{`id="trace-count">1<`, "Exam results (confidential)", "bob@uni.example", "dsn=2.0.0", "via lmtp"}},
			{"GET", "/trace?from=nobody%40sender.example", nil, 200, []string{`id="trace-none"`}},
			{"GET", "/trace?from=alice%40sender.example&since=soon", nil, 200, []string{`class="error"`}},
			{"GET", "/reports", nil, 200, []string{"2026-10", "A quiet month.", `href="/api/v1/reports/2026-10.pdf"`}},
			{"GET", "/admin", nil, 200, []string{"Test viewer", "grafana", "token.create", "report.generate", `action="/admin/tokens/`}},
			{"POST", "/admin/tokens", url.Values{"name": {"backup"}, "role": {"viewer"}}, 200, []string{"Token <strong>backup</strong> with role viewer", `class="secret"`}},
			{"POST", "/rota/overrides", url.Values{"rota": {"ukevakt"}, "member": {"ana"}, "start": {"soon"}}, 400, []string{"start: give a date and time"}},
			{"GET", "/directory", nil, 200, []string{`href="/directory/mailboxes?q=uni.example"`}},
			{"GET", "/directory/mailboxes", nil, 200, []string{`id="mailbox-count">55<`, "page 1 of 2", "s049@uni.example", "kari.n", "Student 3", "state-locked", "forwards", `rel="next"`}},
			{"GET", "/directory/mailboxes?q=s00&locked=true", nil, 200, []string{`id="mailbox-count">1<`, "s001@uni.example", "checked"}},
			{"GET", "/directory/mailboxes?page=9", nil, 200, []string{"page 2 of 2", "s054@uni.example", `rel="prev"`}},
			{"GET", "/directory/mailboxes/s001@uni.example", nil, 200, []string{`id="mailbox-state">locked`, "phished", "kari.n", `id="unlock-form"`}},
			{"GET", "/directory/mailboxes/s007@uni.example", nil, 200, []string{"to s008@uni.example, keeping a copy", "it-support@uni.example", "Student 7", `id="lock-form"`}},
			{"GET", "/directory/aliases", nil, 200, []string{"it-support@uni.example", `href="/directory/mailboxes/s009@uni.example"`}},
			{"GET", "/quarantine", nil, 200, []string{"Showing the first 100 of 101", "Invoice 0 overdue", "Eicar-Test-Signature", "s001@uni.example, s002@uni.example", "2.0 KiB", "198.51.100.4"}},
			{"GET", "/quarantine?reason=virus&sender=bad", nil, 200, []string{`value="virus"`, `value="bad"`}},
		},
		"viewer": {
			{"GET", "/", nil, 200, []string{"Bjørn Dahl", "Outbound queue above 5000"}},
			{"GET", "/rota", nil, 200, []string{"Calendar feeds are personal secret links"}},
			{"GET", "/tickets/1", nil, 200, []string{"IMAP login fails for staff"}},
			{"GET", "/notices/1", nil, 200, []string{"A certificate expired."}},
			{"GET", "/reports", nil, 200, []string{"2026-10"}},
			{"GET", "/trace", nil, 403, []string{"This needs the role helpdesk"}},
		},
		"helpdesk": {
			{"GET", "/trace?from=alice%40sender.example", nil, 200, []string{"Subjects are masked", "(hidden)"}},
			{"GET", "/directory/mailboxes/s001@uni.example", nil, 200, []string{"Postmasters lock and unlock"}},
		},
		"ana": {
			{"GET", "/rota", nil, 200, []string{`class="my-feed"`, "/api/v1/oncall/feed/ukevakt/ana?key=", `/cancel"`,
				`<input type="hidden" name="requester" value="ana">`}},
		},
	}
	for _, user := range []string{"admin", "viewer", "helpdesk", "ana"} {
		c, tok := signedIn(t, app.base, user)
		for _, p := range pages[user] {
			if p.form != nil {
				p.form.Set("csrf", tok)
			}
			resp, body := c.do(p.method, p.path, p.form, nil)
			if resp.StatusCode != p.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "</html>") {
				t.Errorf("%s: %s %s: %d %s, want %d HTML:\n%s", user, p.method, p.path, resp.StatusCode, resp.Header.Get("Content-Type"), p.status, body)
				continue
			}
			for _, w := range p.want {
				if !strings.Contains(body, w) {
					t.Errorf("%s: %s %s does not show %q", user, p.method, p.path, w)
				}
			}
			for _, w := range notOn[user][p.path] {
				if strings.Contains(body, w) {
					t.Errorf("%s: %s %s shows %q", user, p.method, p.path, w)
				}
			}
		}
	}
	// The trace export, and the sign-in form of a signed-out browser.
	c, _ := signedIn(t, app.base, "admin")
	if resp, body := c.do("GET", "/trace.csv?from=alice%40sender.example", nil, nil); resp.StatusCode != http.StatusOK ||
		!strings.Contains(body, "alice@sender.example,bob@uni.example,delivered,Exam results (confidential),<m1@sender.example>,4XyZ1,192.0.2.7,") {
		t.Errorf("trace CSV: %d\n%s", resp.StatusCode, body)
	}
	if resp, body := newClient(t, app.base).do("GET", "/login?next=/rota", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="next" value="/rota"`) {
		t.Errorf("sign-in form: %d\n%s", resp.StatusCode, body)
	}
}
