package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestWebBrowserNoticesDirectory drives the notice and directory pages in
// headless Chromium on a phone-sized window: on-call composes a notice from
// a ticket, previews the announcement, sends it and finds it on the public
// status page; a postmaster locks a mailbox on the Directory page.
// Screenshots are written as test artifacts.
func TestWebBrowserNoticesDirectory(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	out := artifacts(t)
	sink := newSMTPSink(t)
	cfg := noticeWebConfig(t, sink)
	sc := engine.Default()
	sc.DMARC.Check = false // no DNS here: SPF, DKIM and DMARC have their own tests
	sc.Hostname = "mx.uni.example"
	sc.MX.Listen, sc.Submission.Listen = "127.0.0.1:"+freePort(t), ""
	cfg.SMTP = sc
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RoleOncall, auth.RolePostmaster)
	helpdesk, pm := apiToken(t, cfg, auth.RoleHelpdesk), apiToken(t, cfg, auth.RolePostmaster)
	var tk struct{ ID int64 }
	if code := call(t, "POST", app.base+"/api/v1/tickets", helpdesk, map[string]any{"title": "Webmail shows error 502",
		"service": "webmail", "symptoms": "Students get 502 Bad Gateway after login."}, &tk); code != http.StatusCreated {
		t.Fatalf("open ticket: %d", code)
	}
	dir := app.base + "/api/v1/directory"
	if code := call(t, "POST", dir+"/domains", pm, map[string]string{"name": "uni.example"}, nil); code != http.StatusCreated {
		t.Fatalf("add domain: %d", code)
	}
	if code := call(t, "POST", dir+"/mailboxes", pm, map[string]any{"address": "ola@uni.example", "quota": "1GB"}, nil); code != http.StatusCreated {
		t.Fatalf("add mailbox: %d", code)
	}

	b := newTestBrowser(t, exe, out, 4*time.Minute, 20*time.Second)
	do, text, eval, shot := b.do, b.text, b.eval, b.shot
	login := func(user string) { t.Helper(); b.login(app.base, user) }

	// On call: compose a notice from the ticket, preview, send.
	login("oncall")
	do("compose from ticket",
		chromedp.Navigate(fmt.Sprintf("%s/tickets/%d", app.base, tk.ID)),
		chromedp.Click(chromedp.CSS(`#compose-notice`)),
		chromedp.WaitVisible(chromedp.CSS(`#notice-form`)), shot("notice-compose.png"))
	if v := eval(`document.querySelector("#notice-form input[name=title]").value + "|" +
		document.querySelector("#notice-form input[name=services][value=webmail]").checked`); v != "Webmail shows error 502|true" {
		t.Errorf("compose form from the ticket: %q", v)
	}
	do("preview",
		chromedp.SendKeys(chromedp.CSS(`#notice-form textarea[name=body]`), "We are restarting the webmail back ends."),
		chromedp.Click(chromedp.CSS(`#preview`)),
		chromedp.WaitVisible(chromedp.CSS(`#preview-subject`)), shot("notice-preview.png"))
	if s := text(`#preview-subject`); !strings.Contains(s, "Webmail shows error 502") {
		t.Errorf("preview subject %q", s)
	}
	if body := text(`#preview-text`); !strings.Contains(body, "restarting the webmail") {
		t.Errorf("preview text: %q", body)
	}
	if n := len(sink.to("itss-announce@example.edu")); n != 0 {
		t.Fatalf("the preview sent %d e-mails", n)
	}
	do("send", chromedp.Click(chromedp.CSS(`#send`)), chromedp.WaitVisible(chromedp.CSS(`#notice-state`)), shot("notice.png"))
	if st := text(`#notice-state`); st != "investigating" {
		t.Errorf("notice state %q", st)
	}
	if n := len(sink.to("itss-announce@example.edu")); n != 1 {
		t.Errorf("announcements after send: %d", n)
	}
	do("status page", chromedp.Navigate(app.base+"/status"), chromedp.WaitVisible(chromedp.CSS(`body`)), shot("status.png"))
	if body := eval(`document.body.innerText`); !strings.Contains(body, "Webmail shows error 502") {
		t.Errorf("the public notice is not on the status page:\n%.500s", body)
	}

	// Postmaster: lock a mailbox on the Directory page.
	do("sign out", chromedp.Navigate(app.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#whoami`)),
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)))
	login("postmaster")
	do("find mailbox",
		chromedp.Navigate(app.base+"/directory"),
		chromedp.Click(chromedp.CSS(`nav.tabs a[href="/directory/mailboxes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#mailbox-search`)),
		chromedp.SendKeys(chromedp.CSS(`#mailbox-search input[name=q]`), "ola"),
		chromedp.Click(chromedp.CSS(`#mailbox-search button`)),
		chromedp.WaitVisible(chromedp.CSS(`#mailboxes a`)),
		chromedp.Click(chromedp.CSS(`#mailboxes a`)),
		chromedp.WaitVisible(chromedp.CSS(`#lock-form`)), shot("mailbox.png"))
	do("lock",
		chromedp.SendKeys(chromedp.CSS(`#lock-form input[name=reason]`), "phished"),
		chromedp.Click(chromedp.CSS(`#lock`)),
		chromedp.WaitVisible(chromedp.CSS(`#unlock-form`)), shot("mailbox-locked.png"))
	if st := text(`#mailbox-state`); st != "locked" {
		t.Errorf("mailbox state %q", st)
	}
	var mb struct {
		Locked       bool   `json:"locked"`
		LockedReason string `json:"locked_reason"`
	}
	call(t, "GET", dir+"/mailboxes/ola@uni.example", pm, nil, &mb)
	if !mb.Locked || mb.LockedReason != "phished" {
		t.Errorf("after lock in the browser: %+v", mb)
	}
	t.Logf("screenshots in %s", out)
}
