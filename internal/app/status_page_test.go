package app

import (
	"context"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// statusBars returns the classes of a service's day bars on the status
// page, oldest first.
func statusBars(t *testing.T, page, service string) []string {
	t.Helper()
	m := regexp.MustCompile(`<div class="bars" id="bars-` + service + `">(.*?)</div>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no bars for %s", service)
	}
	var out []string
	for _, c := range regexp.MustCompile(`<span class="([^"]*)"`).FindAllStringSubmatch(m[1], -1) {
		out = append(out, c[1])
	}
	return out
}

type statusFeed struct {
	Entries []struct {
		Title   string `xml:"title"`
		Content string `xml:"content"`
	} `xml:"entry"`
}

func (f statusFeed) entry(title string) (string, bool) {
	for _, e := range f.Entries {
		if strings.Contains(e.Title, title) {
			return e.Content, true
		}
	}
	return "", false
}

// TestStatusPageServices (docs/tickets.md, "Status page and feed"): three
// probed services, one down (its probe fails), one in an announced
// maintenance, one up. The page shows each one's state, 90 daily bars
// from the recorded probe results (no data before the first result, not
// green; the day of a two-hour failure red; the maintenance day marked),
// the maintenance window from its start to its planned end in the service
// zone, a planned maintenance as "Scheduled for"; the Atom feed carries
// the same facts; a withdrawn notice leaves both at once.
func TestStatusPageServices(t *testing.T) {
	t.Parallel()
	cfg := webConfig(t)
	loc, err := time.LoadLocation(cfg.Notices.TimeZone)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	today := func(days, hour int) time.Time {
		y, m, d := now.In(loc).Date()
		return time.Date(y, m, d+days, hour, 0, 0, 0, loc)
	}
	// the history the probes recorded: every service up from ten days ago
	// at noon, smtp down for two hours three days ago
	ctx := context.Background()
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.MigrateUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ps := NewProbeStore(db)
	for _, r := range []probe.Result{
		{Probe: "imap-tcp", Service: "imap", At: today(-10, 12), OK: true},
		{Probe: "smtp-tcp", Service: "smtp", At: today(-10, 12), OK: true},
		{Probe: "webmail-tcp", Service: "webmail", At: today(-10, 12), OK: true},
		{Probe: "smtp-tcp", Service: "smtp", At: today(-3, 10), Error: "connection refused"},
		{Probe: "smtp-tcp", Service: "smtp", At: today(-3, 12), OK: true},
	} {
		r.Kind, r.Attempts = probe.KindTCP, 1
		if _, _, err := ps.SaveProbeResult(ctx, r, "test"); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	// the probes now: imap and webmail answer, nothing listens for smtp
	var up []string
	for range 2 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go acceptAndClose(l)
		up = append(up, l.Addr().String())
	}
	cfg.Probes.Enabled = true
	cfg.Probes.Interval, cfg.Probes.Timeout = time.Second, 2*time.Second
	cfg.Probes.Retries, cfg.Probes.RetryInterval, cfg.Probes.Jitter = 1, 100*time.Millisecond, 0
	cfg.Probes.RaiseIncidents = false
	cfg.Probes.Targets = []probe.Target{
		{Name: "imap-tcp", Service: "imap", Kind: probe.KindTCP, Address: up[0]},
		{Name: "smtp-tcp", Service: "smtp", Kind: probe.KindTCP, Address: "127.0.0.1:" + freePort(t)},
		{Name: "webmail-tcp", Service: "webmail", Kind: probe.KindTCP, Address: up[1]},
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, cfg, time.Now)
	oncall := apiToken(t, cfg, "oncall")
	eventually(t, 30*time.Second, "imap and webmail up, smtp down", func() bool {
		var out struct {
			Probes []probe.State `json:"probes"`
		}
		call(t, "GET", app.base+"/api/v1/probes", oncall, nil, &out)
		st := map[string]probe.Status{}
		for _, p := range out.Probes {
			if p.LastAt.After(now) {
				st[p.Service] = p.Status
			}
		}
		return st["imap"] == probe.StatusUp && st["webmail"] == probe.StatusUp && st["smtp"] == probe.StatusDown
	})

	// the notices: webmail's maintenance under way, a planned one, an
	// outage of imap made by mistake
	no := false
	start, end := now.Add(-time.Hour).Truncate(time.Minute), now.Add(2*time.Hour).Truncate(time.Minute)
	var maint, planned, mistake notice.Notice
	if code := call(t, "POST", app.base+"/api/v1/notices", oncall, notice.CreateRequest{Kind: notice.KindMaintenance,
		Title: "Webmail upgrade", Services: []string{"webmail"}, StartedAt: start, PlannedEnd: end,
		Impact: "Webmail is unavailable; IMAP and SMTP work.", Symptoms: "The web page answers 503.", Announce: &no}, &maint); code != http.StatusCreated {
		t.Fatalf("maintenance: %d", code)
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/notices/%d/updates", app.base, maint.ID), oncall,
		notice.ChangeRequest{State: notice.InProgress, Body: "Upgrade started.", Announce: &no, At: start}, nil); code != http.StatusOK {
		t.Fatalf("maintenance in progress: %d", code)
	}
	pStart, pEnd := today(7, 22), today(8, 2)
	if code := call(t, "POST", app.base+"/api/v1/notices", oncall, notice.CreateRequest{Kind: notice.KindMaintenance,
		Title: "Storage move", Services: []string{"imap"}, StartedAt: pStart, PlannedEnd: pEnd, Impact: "Mailboxes read-only.",
		Announce: &no}, &planned); code != http.StatusCreated {
		t.Fatalf("planned: %d", code)
	}
	if code := call(t, "POST", app.base+"/api/v1/notices", oncall, notice.CreateRequest{Kind: notice.KindOutage,
		Title: "IMAP test notice", Services: []string{"imap"}, Announce: &no}, &mistake); code != http.StatusCreated {
		t.Fatalf("mistake: %d", code)
	}

	when := func(t time.Time) string { return t.In(loc).Format("Mon 2006-01-02 15:04 MST") }
	code, page := get(t, app.base+"/status")
	if code != http.StatusOK {
		t.Fatalf("status: %d", code)
	}
	for _, want := range []string{
		`id="state-smtp">Outage<`, `id="state-webmail">Maintenance<`,
		`id="state-imap">Degraded<`, // the open outage notice (made by mistake) says so until withdrawn
		"<dt>Started</dt><dd>" + when(start) + "</dd><dt>Planned end</dt><dd>" + when(end) + "</dd>",
		"<dt>Impact</dt><dd>Webmail is unavailable; IMAP and SMTP work.</dd><dt>Symptoms</dt><dd>The web page answers 503.</dd>",
		"Upgrade started.",
		"<dt>Scheduled for</dt><dd>" + when(pStart) + "</dd><dt>Planned end</dt><dd>" + when(pEnd) + "</dd>",
		"IMAP test notice", "times in " + cfg.Notices.TimeZone + " (",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}
	if strings.Contains(page, "started:") {
		t.Error("the status page says started: for a scheduled maintenance")
	}
	for _, svc := range []string{"imap", "smtp", "webmail"} {
		bars := statusBars(t, page, svc)
		if len(bars) != notice.StatusDays {
			t.Fatalf("%s: %d bars", svc, len(bars))
		}
		if bars[0] != "none" || bars[notice.StatusDays-12] != "none" {
			t.Errorf("%s: days before the first probe result are %q and %q, want none (no data)", svc, bars[0], bars[notice.StatusDays-12])
		}
		if bars[notice.StatusDays-11] != "ok" || bars[notice.StatusDays-5] != "ok" {
			t.Errorf("%s: measured days up are %q, %q", svc, bars[notice.StatusDays-11], bars[notice.StatusDays-5])
		}
		// The figure under the bars is over the days with data, and says so.
		known := 0
		for _, b := range bars {
			if !strings.HasPrefix(b, "none") {
				known++
			}
		}
		if want := fmt.Sprintf("available over the %d of 90 days with data", known); known == 0 || !strings.Contains(page, want) {
			t.Errorf("%s: the page lacks %q", svc, want)
		}
	}
	if bars := statusBars(t, page, "smtp"); bars[notice.StatusDays-4] != "down" {
		t.Errorf("smtp: the day of its two-hour failure is %q, want down", bars[notice.StatusDays-4])
	}
	// the days of the maintenance are marked, and only they: it began an
	// hour ago, which is yesterday in the first hour of a day
	y1, m1, d1 := start.In(loc).Date()
	y2, m2, d2 := now.In(loc).Date()
	beganYesterday := y1 != y2 || m1 != m2 || d1 != d2
	if bars := statusBars(t, page, "webmail"); !strings.Contains(bars[notice.StatusDays-1], "maint") ||
		strings.Contains(bars[notice.StatusDays-2], "maint") != beganYesterday || strings.Contains(bars[notice.StatusDays-3], "maint") {
		t.Errorf("webmail: today %q, yesterday %q, the day before %q: want the maintenance's days marked (it began %s)",
			bars[notice.StatusDays-1], bars[notice.StatusDays-2], bars[notice.StatusDays-3], when(start))
	}

	feedOf := func() statusFeed {
		t.Helper()
		code, body := get(t, app.base+"/status/feed.atom")
		var f statusFeed
		if err := xml.Unmarshal([]byte(body), &f); code != http.StatusOK || err != nil {
			t.Fatalf("feed: %d %v", code, err)
		}
		return f
	}
	f := feedOf()
	if c, ok := f.entry("Webmail upgrade"); !ok || !strings.Contains(c, "Started: "+when(start)) || !strings.Contains(c, "Planned end: "+when(end)) ||
		!strings.Contains(c, "Impact: Webmail is unavailable") || !strings.Contains(c, "Upgrade started.") {
		t.Errorf("feed entry of the maintenance:\n%s", c)
	}
	if c, ok := f.entry("Storage move"); !ok || !strings.Contains(c, "Scheduled for: "+when(pStart)) || !strings.Contains(c, "Planned end: "+when(pEnd)) {
		t.Errorf("feed entry of the planned maintenance:\n%s", c)
	}
	if _, ok := f.entry("IMAP test notice"); !ok {
		t.Error("the feed lacks the outage notice")
	}

	// withdrawn: gone from the page and the feed, imap operational again
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/notices/%d/withdraw", app.base, mistake.ID), oncall,
		notice.WithdrawRequest{Reason: "a test"}, nil); code != http.StatusOK {
		t.Fatalf("withdraw: %d", code)
	}
	_, page = get(t, app.base+"/status")
	if strings.Contains(page, "IMAP test notice") || !strings.Contains(page, `id="state-imap">Operational<`) {
		t.Errorf("after the withdrawal the page still shows the notice or imap not operational")
	}
	if _, ok := feedOf().entry("IMAP test notice"); ok {
		t.Error("after the withdrawal the feed still has the notice")
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/notices/%d/withdraw", app.base, mistake.ID), oncall,
		notice.WithdrawRequest{}, nil); code != http.StatusConflict {
		t.Errorf("withdrawn twice: %d, want 409", code)
	}
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/notices/%d/withdraw", app.base, planned.ID), apiToken(t, cfg, "helpdesk"),
		notice.WithdrawRequest{}, nil); code != http.StatusForbidden {
		t.Errorf("helpdesk withdraws: %d, want 403", code)
	}

	// resolved: its real start and resolution; the history lists it
	if code := call(t, "POST", fmt.Sprintf("%s/api/v1/notices/%d/updates", app.base, maint.ID), oncall,
		notice.ChangeRequest{State: notice.Completed, Body: "Done.", Announce: &no}, &maint); code != http.StatusOK {
		t.Fatalf("complete: %d", code)
	}
	_, page = get(t, app.base+"/status")
	if !strings.Contains(page, "<dt>Started</dt><dd>"+when(start)+"</dd><dt>Ended</dt><dd>"+when(maint.EndedAt)+"</dd><dt>Duration</dt><dd>1h") {
		t.Error("the completed maintenance does not show its start, end and duration")
	}
	if code, hist := get(t, app.base+"/status/history"); code != http.StatusOK || !strings.Contains(hist, "Webmail upgrade") || strings.Contains(hist, "IMAP test notice") {
		t.Errorf("history: %d", code)
	}
}
