package app

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// webUser adds one web user with a chosen name and role.
func webUser(t testing.TB, cfg *config.Config, name string, role auth.Role) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc, err := webauth.New(webauth.Options{Config: cfg.Web, Store: accessstore.New(db)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddUser(ctx, name, "Test "+name, string(role), testPassword); err != nil {
		t.Fatal(err)
	}
}

// signedIn returns a client signed in as user, and a CSRF token from the
// Now page.
func signedIn(t *testing.T, base, user string) (*browserless, string) {
	t.Helper()
	c := newClient(t, base)
	if resp, _ := c.login(user, testPassword); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("%s: login %d", user, resp.StatusCode)
	}
	_, page := c.do("GET", "/", nil, nil)
	return c, formToken(t, page)
}

// noticeWebConfig is webConfig with the announce list going to sink.
func noticeWebConfig(t *testing.T, sink *smtpSink) *config.Config {
	cfg := webConfig(t)
	cfg.Notices.AnnounceTo = "itss-announce@example.edu"
	cfg.Notices.From = "IT drift <drift@example.edu>"
	cfg.Notices.Relay.Addr = sink.addr
	cfg.HTTP.BaseURL = "https://postvakt.example.edu"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

var subjectRE = regexp.MustCompile(`id="preview-subject">([^<]+)<`)

// TestWebNotices covers the notice pages (docs/web.md, "Pages"): compose
// from a ticket, preview the announcement without sending it, send, the
// list and the detail with its updates, an update with a state change, the
// public status page; CSRF and role refusals; the own-calendar-feed links
// on the rota page; and the mail-flow sparklines on Now.
func TestWebNotices(t *testing.T) {
	t.Parallel()
	sink := newSMTPSink(t)
	cfg := noticeWebConfig(t, sink)
	clock := &testClock{t: time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)}
	app := startApp(t, cfg, clock.Now)
	webUsers(t, cfg, auth.RoleOncall, auth.RoleHelpdesk, auth.RoleViewer)
	webUser(t, cfg, "ana", auth.RoleViewer)
	helpdesk := apiToken(t, cfg, auth.RoleHelpdesk)
	var tk struct{ ID int64 }
	if code := call(t, "POST", app.base+"/api/v1/tickets", helpdesk, map[string]any{"title": "IMAP login fails for staff",
		"service": "imap", "symptoms": "Thunderbird says authentication failed since 10:05."}, &tk); code != http.StatusCreated {
		t.Fatalf("open ticket: %d", code)
	}
	ticketPath := fmt.Sprintf("/tickets/%d", tk.ID)

	oc, tok := signedIn(t, app.base, "oncall")
	_, page := oc.do("GET", ticketPath, nil, nil)
	if !strings.Contains(page, `href="/notices/new?ticket=`) {
		t.Fatalf("ticket page has no compose-notice link")
	}
	resp, page := oc.do("GET", fmt.Sprintf("/notices/new?ticket=%d", tk.ID), nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `value="IMAP login fails for staff"`) ||
		!strings.Contains(page, "Thunderbird says authentication failed") || !regexp.MustCompile(`value="imap" checked`).MatchString(page) {
		t.Fatalf("compose form not prefilled from the ticket: %d\n%s", resp.StatusCode, page)
	}
	form := url.Values{"kind": {"outage"}, "title": {"IMAP login fails for staff"}, "services": {"imap"},
		"symptoms": {"Thunderbird says authentication failed."}, "body": {"We are looking into it."},
		"ticket_id": {fmt.Sprint(tk.ID)}, "public": {"on"}, "announce": {"on"}}

	t.Run("csrf", func(t *testing.T) {
		for _, p := range []string{"/notices/preview", "/notices"} {
			if resp, _ := oc.do("POST", p, form, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s without CSRF: %d", p, resp.StatusCode)
			}
		}
	})
	t.Run("viewer", func(t *testing.T) {
		v, vtok := signedIn(t, app.base, "viewer")
		if resp, body := v.do("GET", "/notices", nil, nil); resp.StatusCode != http.StatusOK || strings.Contains(body, `href="/notices/new"`) {
			t.Errorf("viewer notices page: %d (compose link shown: %v)", resp.StatusCode, strings.Contains(body, `href="/notices/new"`))
		}
		if resp, _ := v.do("GET", "/notices/new", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("viewer compose form: %d", resp.StatusCode)
		}
		f := url.Values{"csrf": {vtok}}
		for k, vs := range form {
			f[k] = vs
		}
		for _, p := range []string{"/notices/preview", "/notices"} {
			if resp, _ := v.do("POST", p, f, nil); resp.StatusCode != http.StatusForbidden {
				t.Errorf("viewer POST %s: %d", p, resp.StatusCode)
			}
		}
	})

	form.Set("csrf", tok)
	resp, page = oc.do("POST", "/notices/preview", form, nil)
	m := subjectRE.FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil || !strings.Contains(page, "itss-announce@example.edu") ||
		!strings.Contains(page, "We are looking into it.") {
		t.Fatalf("preview: %d\n%s", resp.StatusCode, page)
	}
	subject := m[1]
	if n := len(sink.to("itss-announce@example.edu")); n != 0 {
		t.Fatalf("the preview sent %d e-mails", n)
	}
	var list struct{ Notices []map[string]any }
	call(t, "GET", app.base+"/api/v1/notices", helpdesk, nil, &list)
	if len(list.Notices) != 0 {
		t.Fatalf("the preview stored a notice")
	}
	// A bad form is a plain error page, not a notice.
	bad := url.Values{"csrf": {tok}, "kind": {"maintenance"}, "title": {"Upgrade"}, "services": {"imap"}}
	if resp, body := oc.do("POST", "/notices/preview", bad, nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "started_at") {
		t.Errorf("maintenance without a start: %d", resp.StatusCode)
	}
	// Edit goes back to the form with the fields kept.
	resp, page = oc.do("GET", "/notices/new?edit=1&kind=outage&title=Kept+title&services=imap&public=on", nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `value="Kept title"`) || strings.Contains(page, `name="announce" checked`) {
		t.Errorf("edit after preview: %d", resp.StatusCode)
	}

	resp, _ = oc.do("POST", "/notices", form, nil)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/notices/") {
		t.Fatalf("send: %d %s", resp.StatusCode, loc)
	}
	sent := sink.to("itss-announce@example.edu")
	if len(sent) != 1 || !strings.Contains(sent[0].Data, "IMAP login fails") {
		t.Fatalf("announcements after send: %d", len(sent))
	}
	if !strings.Contains(strings.ReplaceAll(sent[0].Data, "\r\n ", " "), subject) {
		t.Errorf("sent subject differs from the preview %q:\n%.600s", subject, sent[0].Data)
	}
	path, _, _ := strings.Cut(loc, "?")
	resp, page = oc.do("GET", path, nil, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="notice-state">investigating`) || !strings.Contains(page, "We are looking into it.") ||
		!strings.Contains(page, fmt.Sprintf(`href="/tickets/%d"`, tk.ID)) {
		t.Fatalf("notice page: %d\n%s", resp.StatusCode, page)
	}
	if resp, _ := oc.do("POST", path+"/updates", url.Values{"state": {"identified"}, "body": {"A certificate expired."}}, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("update without CSRF: %d", resp.StatusCode)
	}
	resp, _ = oc.do("POST", path+"/updates", url.Values{"csrf": {tok}, "state": {"identified"}, "body": {"A certificate expired."}, "announce": {"on"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", resp.StatusCode)
	}
	_, page = oc.do("GET", path, nil, nil)
	if !strings.Contains(page, `id="notice-state">identified`) || !strings.Contains(page, "A certificate expired.") {
		t.Errorf("after the update:\n%s", page)
	}
	if n := len(sink.to("itss-announce@example.edu")); n != 2 {
		t.Errorf("announcements after the update: %d, want 2", n)
	}
	for _, q := range []string{"/notices", "/notices?kind=outage&state=open", "/notices?state=identified&all=true"} {
		if resp, body := oc.do("GET", q, nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "IMAP login fails for staff") {
			t.Errorf("GET %s: %d, notice listed: %v", q, resp.StatusCode, strings.Contains(body, "IMAP login fails"))
		}
	}
	if _, body := oc.do("GET", "/notices?kind=maintenance", nil, nil); strings.Contains(body, "IMAP login fails for staff") {
		t.Errorf("maintenance filter lists the outage")
	}
	if _, body := newClient(t, app.base).do("GET", "/status", nil, nil); !strings.Contains(body, "IMAP login fails for staff") {
		t.Errorf("the public notice is not on the status page")
	}

	t.Run("feeds", func(t *testing.T) {
		ana, _ := signedIn(t, app.base, "ana")
		_, page := ana.do("GET", "/rota", nil, nil)
		m := regexp.MustCompile(`href="https://postvakt.example.edu(/api/v1/oncall/feed/ukevakt/ana\?key=[0-9a-f]+)" class="my-feed"`).FindStringSubmatch(page)
		if m == nil || strings.Contains(page, "/feed/ukevakt/bjorn") || strings.Contains(page, `/feed/ukevakt?key`) {
			t.Fatalf("ana's rota page: own feed %v, others shown: %v", m != nil, strings.Contains(page, "/feed/ukevakt/bjorn"))
		}
		resp, body := newClient(t, app.base).do("GET", m[1], nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "BEGIN:VCALENDAR") {
			t.Errorf("own feed: %d", resp.StatusCode)
		}
		v, _ := signedIn(t, app.base, "viewer")
		if _, page := v.do("GET", "/rota", nil, nil); strings.Contains(page, "/api/v1/oncall/feed/") {
			t.Errorf("a viewer who is not a member sees feed links")
		}
	})

	t.Run("sparklines", func(t *testing.T) {
		seedTrace(t, cfg, clock.Now().Add(-2*time.Hour))
		ctx := context.Background()
		db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := txlogstore.New(db).ComputeRollups(ctx, rollup.Hour, clock.Now().Add(-25*time.Hour), clock.Now()); err != nil {
			t.Fatal(err)
		}
		v, _ := signedIn(t, app.base, "viewer")
		_, page := v.do("GET", "/", nil, nil)
		want := "Recipients delivered per hour, last 24 hours, oldest first: " + strings.Repeat("0, ", 21) + "1, 0, 0 (total 1, peak 1)"
		if !strings.Contains(page, `aria-label="`+want+`"`) || !strings.Contains(page, "<title>"+want+"</title>") || !strings.Contains(page, `id="spark-received"`) {
			t.Fatalf("no delivered sparkline %q on Now:\n%s", want, page)
		}
	})
}

// TestWebDirectory covers the directory and quarantine pages (docs/web.md,
// "Pages"): domains, mailbox search and paging, a mailbox with quota,
// forwarding and aliases, lock and unlock by a postmaster, quarantine
// release and delete; helpdesk reads but cannot lock or see the
// quarantine, a viewer sees none of it, and forms without the CSRF token
// are refused.
func TestWebDirectory(t *testing.T) {
	t.Parallel()
	cfg := webConfig(t)
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	cfg.SMTP = sc
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RolePostmaster, auth.RoleHelpdesk, auth.RoleViewer)
	pm := apiToken(t, cfg, auth.RolePostmaster)
	dir := app.base + "/api/v1/directory"
	if code := call(t, "POST", dir+"/domains", pm, map[string]string{"name": "uni.example"}, nil); code != http.StatusCreated {
		t.Fatalf("add domain: %d", code)
	}
	for i := range 55 {
		if code := call(t, "POST", dir+"/mailboxes", pm, map[string]any{"address": fmt.Sprintf("s%03d@uni.example", i), "quota": "1GB"}, nil); code != http.StatusCreated {
			t.Fatalf("add mailbox: %d", code)
		}
	}
	if code := call(t, "PATCH", dir+"/mailboxes/s007@uni.example", pm, map[string]any{"forward": map[string]any{"to": "s008@uni.example", "keep_copy": true}}, nil); code != http.StatusOK {
		t.Fatalf("forward: %d", code)
	}
	if code := call(t, "POST", dir+"/aliases", pm, map[string]any{"address": "it-support@uni.example", "kind": "list", "targets": []string{"s007@uni.example"}}, nil); code != http.StatusCreated {
		t.Fatalf("add list: %d", code)
	}
	if code := call(t, "POST", dir+"/aliases", pm, map[string]any{"address": "s008-alias@uni.example", "kind": "alias", "targets": []string{"s008@uni.example"}}, nil); code != http.StatusCreated {
		t.Fatalf("add alias: %d", code)
	}
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var qids []int64
	for _, s := range []string{"Invoice overdue", "You won a prize"} {
		id, err := enginestore.New(db).QuarantineAdd(ctx, &quarantine.Item{QueueID: "Q" + s[:3], At: time.Now(), Reason: "virus", Detail: "Eicar-Test-Signature",
			MailFrom: "bad@spam.example", Rcpts: []string{"s001@uni.example"}, Subject: s, Body: []byte("Subject: " + s + "\r\n\r\nx\r\n")})
		if err != nil {
			t.Fatal(err)
		}
		qids = append(qids, id)
	}
	locked := func(addr string) bool {
		var mb struct{ Locked bool }
		call(t, "GET", dir+"/mailboxes/"+addr, pm, nil, &mb)
		return mb.Locked
	}

	t.Run("helpdesk", func(t *testing.T) {
		c, tok := signedIn(t, app.base, "helpdesk")
		if resp, body := c.do("GET", "/directory", nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "uni.example") {
			t.Errorf("domains: %d", resp.StatusCode)
		}
		_, body := c.do("GET", "/directory/mailboxes", nil, nil)
		if !strings.Contains(body, `id="mailbox-count">55<`) || !strings.Contains(body, "s049@uni.example") || strings.Contains(body, "s050@uni.example") || !strings.Contains(body, `rel="next"`) {
			t.Errorf("first page of mailboxes:\n%s", body)
		}
		_, body = c.do("GET", "/directory/mailboxes?page=2", nil, nil)
		if !strings.Contains(body, "s054@uni.example") || strings.Contains(body, "s049@uni.example") || !strings.Contains(body, `rel="prev"`) {
			t.Errorf("second page of mailboxes")
		}
		_, body = c.do("GET", "/directory/mailboxes?q=S00", nil, nil)
		if !strings.Contains(body, `id="mailbox-count">10<`) {
			t.Errorf("search s00: %s", regexp.MustCompile(`id="mailbox-count">\d+`).FindString(body))
		}
		resp, body := c.do("GET", "/directory/mailboxes/s007@uni.example", nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "0 B used of 1.0 GiB allotted") || !strings.Contains(body, "to s008@uni.example, keeping a copy") ||
			!strings.Contains(body, "it-support@uni.example") || strings.Contains(body, "s008-alias@uni.example") || strings.Contains(body, `id="lock-form"`) {
			t.Errorf("mailbox page: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := c.do("GET", "/directory/mailboxes/nobody@uni.example", nil, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("unknown mailbox: %d", resp.StatusCode)
		}
		if resp, _ := c.do("GET", "/directory/aliases", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("aliases: %d", resp.StatusCode)
		}
		if resp, _ := c.do("POST", "/directory/mailboxes/s001@uni.example/lock", url.Values{"csrf": {tok}, "reason": {"test"}}, nil); resp.StatusCode != http.StatusForbidden || locked("s001@uni.example") {
			t.Errorf("helpdesk lock: %d", resp.StatusCode)
		}
		if resp, _ := c.do("GET", "/quarantine", nil, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("helpdesk quarantine page: %d", resp.StatusCode)
		}
		if resp, _ := c.do("POST", fmt.Sprintf("/quarantine/%d/release", qids[0]), url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("helpdesk release: %d", resp.StatusCode)
		}
	})
	t.Run("viewer", func(t *testing.T) {
		c, _ := signedIn(t, app.base, "viewer")
		for _, p := range []string{"/directory", "/directory/mailboxes", "/directory/mailboxes/s001@uni.example", "/quarantine"} {
			if resp, body := c.do("GET", p, nil, nil); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "s001@uni.example</a>") {
				t.Errorf("viewer GET %s: %d", p, resp.StatusCode)
			}
		}
		if _, body := c.do("GET", "/", nil, nil); strings.Contains(body, `href="/directory"`) {
			t.Errorf("viewer sees the Directory link")
		}
	})
	t.Run("postmaster", func(t *testing.T) {
		c, tok := signedIn(t, app.base, "postmaster")
		mb := "/directory/mailboxes/s001@uni.example"
		if resp, _ := c.do("POST", mb+"/lock", url.Values{"reason": {"phished"}}, nil); resp.StatusCode != http.StatusForbidden || locked("s001@uni.example") {
			t.Errorf("lock without CSRF: %d", resp.StatusCode)
		}
		if resp, _ := c.do("POST", mb+"/lock", url.Values{"csrf": {tok}, "reason": {"phished"}}, nil); resp.StatusCode != http.StatusSeeOther || !locked("s001@uni.example") {
			t.Fatalf("lock: %d", resp.StatusCode)
		}
		if _, body := c.do("GET", mb, nil, nil); !strings.Contains(body, `id="mailbox-state">locked`) || !strings.Contains(body, "phished") || !strings.Contains(body, `id="unlock-form"`) {
			t.Errorf("locked mailbox page")
		}
		if resp, _ := c.do("POST", mb+"/unlock", url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther || locked("s001@uni.example") {
			t.Errorf("unlock: %d", resp.StatusCode)
		}
		if resp, body := c.do("POST", mb+"/quota", url.Values{"csrf": {tok}, "quota": {"lots"}}, nil); resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "quota") {
			t.Errorf("bad quota: %d", resp.StatusCode)
		}
		if resp, _ := c.do("POST", mb+"/quota", url.Values{"csrf": {tok}, "quota": {"2GB"}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("quota: %d", resp.StatusCode)
		}
		resp, body := c.do("GET", "/quarantine", nil, nil)
		if resp.StatusCode != http.StatusOK || !strings.Contains(body, "Invoice overdue") || !strings.Contains(body, "You won a prize") {
			t.Fatalf("quarantine page: %d\n%s", resp.StatusCode, body)
		}
		if resp, _ := c.do("POST", fmt.Sprintf("/quarantine/%d/delete", qids[1]), url.Values{}, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("delete without CSRF: %d", resp.StatusCode)
		}
		if resp, _ := c.do("POST", fmt.Sprintf("/quarantine/%d/delete", qids[1]), url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("delete: %d", resp.StatusCode)
		}
		if resp, body := c.do("POST", fmt.Sprintf("/quarantine/%d/release", qids[0]), url.Values{"csrf": {tok}}, nil); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("release: %d %s", resp.StatusCode, body)
		}
		if _, body := c.do("GET", "/quarantine", nil, nil); strings.Contains(body, "You won a prize") || strings.Contains(body, "Invoice overdue") {
			t.Errorf("quarantine after release and delete:\n%s", body)
		}
	})
}
