package app

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TestWebPhoneNoSidewaysScroll (docs/web.md, "Phones"): on a phone-sized
// window (412 px, under the 600 px where tables stack) the ticket list,
// a ticket's page and an incident's page fit the width: nothing scrolls
// sideways and the SLA clocks are inside the window.
func TestWebPhoneNoSidewaysScroll(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	sink := newSMTPSink(t)
	cfg := incidentWebConfig(t, sink, true)
	app := startApp(t, cfg, time.Now)
	webUsers(t, cfg, auth.RoleOncall)
	oncallTok, helpdesk := apiToken(t, cfg, auth.RoleOncall), apiToken(t, cfg, auth.RoleHelpdesk)
	var tk tickets.Ticket
	if code := call(t, "POST", app.base+"/api/v1/tickets", helpdesk, map[string]any{"title": "Outgoing mail to a very-long-domain-name-of-a-partner-university.example is deferred",
		"service": "smtp", "severity": "critical", "assignee": "a-rather-long-user-name"}, &tk); code != http.StatusCreated {
		t.Fatalf("open: %d", code)
	}
	inc := raiseAlert(t, app.base, oncallTok, "SMTPProbeFailedOnAVeryLongNodeNameForTheTest")

	b := newTestBrowser(t, exe, artifacts(t), 2*time.Minute, 30*time.Second)
	b.login(app.base, "oncall")
	for _, p := range []string{"/tickets", fmt.Sprintf("/tickets/%d", tk.ID), fmt.Sprintf("/incidents/%d", inc.ID)} {
		b.do("open "+p, chromedp.Navigate(app.base+p), chromedp.WaitVisible(chromedp.CSS("footer")))
		got := b.eval(`(() => {
			const w = document.documentElement.clientWidth;
			const out = [];
			if (document.documentElement.scrollWidth > w) {
				out.push("page " + document.documentElement.scrollWidth + " > " + w);
				for (const el of document.querySelectorAll("body *")) { const r = el.getBoundingClientRect(); if (r.right > w + 1) { out.push(el.tagName + "." + el.className + "#" + el.id + " " + r.right); } }
			}
			for (const el of document.querySelectorAll(".scroll")) if (el.scrollWidth > el.clientWidth + 1) out.push("scroll box " + el.scrollWidth + " > " + el.clientWidth);
			for (const el of document.querySelectorAll(".clock, td.sla")) { const r = el.getBoundingClientRect(); if (r.right > w + 1) out.push("SLA at " + r.right + " > " + w); }
			return out.join("; ");
		})()`)
		if got != "" {
			b.do("screenshot", b.shot("phone"+strings.ReplaceAll(p, "/", "-")+".png"))
			t.Errorf("%s at 412 px: %s", p, got)
		}
	}
}
