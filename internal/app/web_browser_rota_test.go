package app

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uni-mail/postvakt/internal/auth"
)

// TestWebRotaChange (docs/oncall.md, "Changing the rota") drives the Rota
// page in headless Chromium as a postmaster: add a person, then add her to
// the rota with the form, taking effect at the next handover (the field
// left empty). Without a restart, the server and a CLI-built team answer
// every hour of the past eight weeks as before, November's report is the
// same byte for byte, and the new order applies from next Monday. A
// removal and a new order from later Mondays are posted from the page too;
// someone on call sees the versions but no change form, and is refused.

func TestWebRotaChange(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	out := artifacts(t)
	cfg, app, w, html0, csv0 := rotaChangeSetup(t, webConfig(t))
	webUsers(t, cfg, auth.RolePostmaster, auth.RoleOncall)

	b := newTestBrowser(t, exe, out, 6*time.Minute, 30*time.Second)
	do, text, eval, shot := b.do, b.text, b.eval, b.shot
	b.login(app.base, "postmaster")
	do("rota page", chromedp.Navigate(app.base+"/rota"), chromedp.WaitVisible(chromedp.CSS(`#versions-ukevakt`)), shot("rota-before.png"))
	if cur := text(`#rota-current-ukevakt`); !strings.Contains(cur, "ana, bjorn, chen") {
		t.Fatalf("in force now: %q", cur)
	}
	do("add a person",
		chromedp.Click(chromedp.CSS(`#h-people ~ details summary`)),
		chromedp.SendKeys(chromedp.CSS(`#add-person input[name=id]`), "erin"),
		chromedp.SendKeys(chromedp.CSS(`#add-person input[name=name]`), "Erin Moe"),
		chromedp.SendKeys(chromedp.CSS(`#add-person input[name=email]`), "erin@example.edu"),
		chromedp.Click(chromedp.CSS(`#add-person button`)),
	)
	b.saved()
	if people := text(`#people`); !strings.Contains(people, "Erin Moe") {
		t.Fatalf("people: %q", people)
	}
	b.eval(`history.replaceState(null, "", location.pathname); document.querySelectorAll(".notice").forEach(e => e.remove()); ""`)
	do("change the rota",
		chromedp.Click(chromedp.CSS(`details:has(#change-ukevakt) summary`)),
		chromedp.Clear(chromedp.CSS(`#change-ukevakt input[name=members]`)),
		chromedp.SendKeys(chromedp.CSS(`#change-ukevakt input[name=members]`), "ana, bjorn, chen, erin"),
		chromedp.SendKeys(chromedp.CSS(`#change-ukevakt input[name=reason]`), "erin joins"),
		chromedp.Click(chromedp.CSS(`#change-ukevakt button`)),
	)
	b.saved()
	do("screenshot", shot("rota-changed.png"))
	if rows := text(`#versions-ukevakt`); !strings.Contains(rows, "scheduled") || !strings.Contains(rows, "ana, bjorn, chen, erin") || !strings.Contains(rows, "erin joins") {
		t.Fatalf("versions after the change: %q", rows)
	}
	withErin := configured.then(nextMonday, []string{"ana", "bjorn", "chen", "erin"}, "")
	w.check("erin added from the web", eightWeeks, rotaHorizon, withErin)
	if html1, csv1, _ := w.report(); !bytes.Equal(html0, html1) || !bytes.Equal(csv0, csv1) {
		t.Fatal("November's report changed")
	}

	// post submits a form with the page's CSRF token and returns the
	// status, 303 for a redirect (the effective moment as RFC 3339,
	// whatever the page's zone).
	post := func(path string, fields map[string]string) int {
		t.Helper()
		var parts []string
		for k, v := range fields {
			parts = append(parts, fmt.Sprintf("%q: %q", k, v))
		}
		js := fmt.Sprintf(`(async () => { const b = new URLSearchParams({%s}); b.set("csrf", document.querySelector("input[name=csrf]").value);
			const r = await fetch(%q, {method: "POST", body: b, redirect: "manual"});
			return r.type === "opaqueredirect" ? "303" : String(r.status); })()`, strings.Join(parts, ", "), path)
		n, _ := strconv.Atoi(eval(js))
		return n
	}
	dec21, jan4 := nextMonday.AddDate(0, 0, 7), time.Date(2027, 1, 4, 9, 0, 0, 0, osloZone)
	base := map[string]string{"rota": "ukevakt", "every": "1w", "handover_weekday": "monday", "handover_time": "09:00"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	// A moment inside the turn in progress is refused with the reason.
	if st := post("/rota/versions", with("members", "bjorn, chen, erin", "effective", rotaNow.Add(time.Hour).Format(time.RFC3339))); st != http.StatusBadRequest {
		t.Fatalf("a change inside the turn in progress: %d", st)
	}
	if st := post("/rota/versions", with("members", "bjorn, chen, erin", "effective", dec21.Format(time.RFC3339))); st != http.StatusSeeOther {
		t.Fatalf("remove ana: %d", st)
	}
	if st := post("/rota/versions", with("members", "erin, chen, bjorn", "first", "bjorn", "effective", jan4.Format(time.RFC3339))); st != http.StatusSeeOther {
		t.Fatalf("reorder: %d", st)
	}
	final := withErin.then(dec21, []string{"bjorn", "chen", "erin"}, "").then(jan4, []string{"erin", "chen", "bjorn"}, "bjorn")
	w.check("ana removed and the order changed from the web", eightWeeks, rotaHorizon, final)
	if html2, csv2, _ := w.report(); !bytes.Equal(html0, html2) || !bytes.Equal(csv0, csv2) {
		t.Fatal("November's report changed")
	}

	// Someone on call reads the versions and cannot change them.
	do("sign out", chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)), chromedp.WaitVisible(chromedp.CSS(`input[name=user]`)))
	b.login(app.base, "oncall")
	do("rota as oncall", chromedp.Navigate(app.base+"/rota"), chromedp.WaitVisible(chromedp.CSS(`#versions-ukevakt`)), shot("rota-oncall.png"))
	if n := eval(`String(document.querySelectorAll("#change-ukevakt, #add-person, form[action$='/cancel']").length)`); n != "0" {
		t.Errorf("someone on call sees %s rota change forms", n)
	}
	if st := post("/rota/versions", with("members", "chen", "effective", jan4.AddDate(0, 0, 7).Format(time.RFC3339))); st != http.StatusForbidden {
		t.Errorf("someone on call changed the rota: %d", st)
	}
}
