package app

import (
	"context"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/reports"
)

// The tests of this package run the server in UTC, whatever the machine's
// zone: a time shown in the server's zone instead of the service time zone
// (docs/configuration.md, "Times") then reads an hour off Oslo's.
func init() { time.Local = time.UTC }

// tzScenario is the acceptance of the service time zone: the server in UTC,
// timezone: Europe/Oslo, a ticket notified at 09:00 Oslo time, the rota's
// handover at 09:00 (its time_zone left to the service zone) and a
// maintenance window typed as 06:00 in the notice form.
type tzScenario struct {
	cfg      *config.Config
	app      *running
	clock    *testClock
	sink     *smtpSink
	ticketID int64
	notice   string // the maintenance notice's page, "/notices/N"
}

// tzNow is Monday 7 December 2026, 09:00 in Oslo (CET, UTC+1): a handover
// and the moment the ticket is notified and opened.
var tzNow = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func newTZScenario(t *testing.T) *tzScenario {
	t.Helper()
	if time.Local != time.UTC {
		t.Fatal("the server must run in UTC for this test")
	}
	sink := newSMTPSink(t)
	cfg := noticeWebConfig(t, sink)
	cfg.Timezone = "Europe/Oslo"
	cfg.Oncall.Rotas[0].TimeZone = "" // the handover's zone follows timezone
	cfg.Oncall.Links.Key = testLinkKey
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	s := &tzScenario{cfg: cfg, sink: sink, clock: &testClock{t: tzNow}}
	s.app = startApp(t, cfg, s.clock.Now)
	webUsers(t, cfg, auth.RoleOncall)
	var tk struct{ ID int64 }
	if code := call(t, "POST", s.app.base+"/api/v1/tickets", apiToken(t, cfg, auth.RoleHelpdesk),
		map[string]any{"title": "Webmail shows error 502", "service": "webmail"}, &tk); code != http.StatusCreated {
		t.Fatalf("open ticket: %d", code)
	}
	s.ticketID = tk.ID
	return s
}

// maintenanceForm is the compose form of a maintenance typed as Monday 14
// December 06:00–07:30, as <input type=datetime-local> submits it.
func maintenanceForm() url.Values {
	return url.Values{"kind": {"maintenance"}, "title": {"IMAP server upgrade"}, "services": {"imap"},
		"started_at": {"2026-12-14T06:00"}, "planned_end": {"2026-12-14T07:30"},
		"body": {"The IMAP servers are upgraded."}, "public": {"on"}, "announce": {"on"}}
}

// announce sends the maintenance through the web form (no browser) and
// returns the preview page.
func (s *tzScenario) announce(t *testing.T) string {
	t.Helper()
	oc, tok := signedIn(t, s.app.base, "oncall")
	form := maintenanceForm()
	form.Set("csrf", tok)
	resp, preview := oc.do("POST", "/notices/preview", form, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("preview: %d\n%s", resp.StatusCode, preview)
	}
	resp, _ = oc.do("POST", "/notices", form, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("send: %d", resp.StatusCode)
	}
	s.notice, _, _ = strings.Cut(resp.Header.Get("Location"), "?")
	return preview
}

// mustContain fails for each of wants that text lacks.
func mustContain(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not show %q:\n%.3000s", what, w, text)
		}
	}
}

// mustNotContain fails for each of bad that text has: the same times read
// in UTC.
func mustNotContain(t *testing.T, what, text string, bad ...string) {
	t.Helper()
	for _, b := range bad {
		if strings.Contains(text, b) {
			t.Errorf("%s shows %q (a time in the server's zone, not the service zone):\n%.3000s", what, b, text)
		}
	}
}

// TestServiceZoneWebBrowser: in headless Chromium, the ticket notified at
// 09:00, the 09:00 handover on Now and Rota, and the maintenance typed as
// 06:00 in the compose form read 09:00 / 06:00 with CET, and the footer
// names the zone.
func TestServiceZoneWebBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	s := newTZScenario(t)
	b := newTestBrowser(t, exe, artifacts(t), 4*time.Minute, 20*time.Second)
	b.login(s.app.base, "oncall")
	body := func() string { return b.eval(`document.body.innerText`) }

	b.do("now", chromedp.Navigate(s.app.base+"/"), chromedp.WaitVisible(chromedp.CSS(`#oncall-ukevakt`)), b.shot("tz-now.png"))
	now := body()
	mustContain(t, "the Now page", now, "until Mon 14 Dec 09:00 CET", "from Mon 14 Dec 09:00 CET", "Times in Europe/Oslo (CET)")
	mustNotContain(t, "the Now page", now, "08:00")

	b.do("rota", chromedp.Navigate(s.app.base+"/rota"), chromedp.WaitVisible(chromedp.CSS(`#h-ukevakt`)), b.shot("tz-rota.png"))
	mustContain(t, "the Rota page", body(), "Mon 7 Dec 09:00 CET", "Mon 14 Dec 09:00 CET", "Times in Europe/Oslo (CET)")
	// The override form's time inputs say which zone they are read in.
	mustContain(t, "the override form", b.eval(`document.querySelector("form[action='/rota/overrides']").textContent`), "From (Europe/Oslo)")
	mustNotContain(t, "the Rota page", body(), "08:00")

	b.do("ticket", chromedp.Navigate(fmt.Sprintf("%s/tickets/%d", s.app.base, s.ticketID)), chromedp.WaitVisible(chromedp.CSS(`body`)), b.shot("tz-ticket.png"))
	mustContain(t, "the ticket page", body(), "Mon 7 Dec 09:00 CET")
	mustNotContain(t, "the ticket page", body(), "08:00")

	// The maintenance is typed as 06:00 into the datetime-local inputs.
	b.do("compose", chromedp.Navigate(s.app.base+"/notices/new?kind=maintenance"), chromedp.WaitVisible(chromedp.CSS(`#notice-form`)))
	b.eval(`(() => {
		const f = document.querySelector("#notice-form");
		f.querySelector("input[name=title]").value = "IMAP server upgrade";
		f.querySelector("input[name=services][value=imap]").checked = true;
		f.querySelector("input[name=started_at]").value = "2026-12-14T06:00";
		f.querySelector("input[name=planned_end]").value = "2026-12-14T07:30";
		f.querySelector("textarea[name=body]").value = "The IMAP servers are upgraded.";
		return f.querySelector("input[name=started_at]").value;
	})()`)
	b.do("preview", chromedp.Click(chromedp.CSS(`#preview`)), chromedp.WaitVisible(chromedp.CSS(`#preview-text`)), b.shot("tz-preview.png"))
	mustContain(t, "the preview", b.text(`#preview-text`), "Mon 2026-12-14 06:00 CET", "Mon 2026-12-14 07:30 CET")
	b.do("send", chromedp.Click(chromedp.CSS(`#send`)), chromedp.WaitVisible(chromedp.CSS(`#notice-state`)), b.shot("tz-notice.png"))
	staff := body()
	mustContain(t, "the staff notice page", staff, "Mon 14 Dec 06:00 CET")
	mustNotContain(t, "the staff notice page", staff, "05:00", "07:00 CET")
	b.do("status", chromedp.Navigate(s.app.base+"/status"), chromedp.WaitVisible(chromedp.CSS(`body`)), b.shot("tz-status.png"))
	mustContain(t, "the status page", body(), "Mon 2026-12-14 06:00 CET")
}

// TestServiceZoneNoticeMailAndStatusPage: the maintenance typed as 06:00 is
// previewed, e-mailed to the announce list, shown on the public status page
// and in its Atom feed as 06:00 CET.
func TestServiceZoneNoticeMailAndStatusPage(t *testing.T) {
	t.Parallel()
	s := newTZScenario(t)
	preview := s.announce(t)
	mustContain(t, "the preview", preview, "Mon 2026-12-14 06:00 CET", "Mon 2026-12-14 07:30 CET")
	mustNotContain(t, "the preview", preview, "07:00 CET", "05:00")
	sent := s.sink.to("itss-announce@example.edu")
	if len(sent) != 1 {
		t.Fatalf("%d announcements", len(sent))
	}
	mail := strings.ReplaceAll(sent[0].Data, "=\r\n", "")
	mustContain(t, "the announcement", mail, "Mon 2026-12-14 06:00 CET", "Mon 2026-12-14 07:30 CET")
	mustNotContain(t, "the announcement", mail, "05:00", "07:00 CET")

	code, status := get(t, s.app.base+"/status")
	if code != http.StatusOK {
		t.Fatalf("status page: %d", code)
	}
	mustContain(t, "the status page", status, "Mon 2026-12-14 06:00 CET")
	mustNotContain(t, "the status page", status, "05:00")
	code, feed := get(t, s.app.base+"/status/feed.atom")
	if code != http.StatusOK {
		t.Fatalf("feed: %d", code)
	}
	var f struct {
		Entries []struct {
			Content string `xml:"content"`
			Updated string `xml:"updated"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal([]byte(feed), &f); err != nil || len(f.Entries) != 1 {
		t.Fatalf("feed: %v, %d entries\n%s", err, len(f.Entries), feed)
	}
	mustContain(t, "the feed entry", f.Entries[0].Content, "Mon 2026-12-14 06:00 CET")
	// Machine-readable stamps are RFC 3339 (RFC 4287 §3.3).
	if _, err := time.Parse(time.RFC3339, f.Entries[0].Updated); err != nil {
		t.Errorf("feed updated %q: %v", f.Entries[0].Updated, err)
	}
	// The staff page (no browser) agrees.
	oc, _ := signedIn(t, s.app.base, "oncall")
	_, staff := oc.do("GET", s.notice, nil, nil)
	mustContain(t, "the staff notice page", staff, "Mon 14 Dec 06:00 CET", "Times in Europe/Oslo (CET)")
	// The API speaks RFC 3339 with offsets: the instant is 05:00 UTC.
	var n struct {
		StartedAt time.Time `json:"started_at"`
	}
	call(t, "GET", s.app.base+"/api/v1"+s.notice, apiToken(t, s.cfg, auth.RoleViewer), nil, &n)
	if want := time.Date(2026, 12, 14, 5, 0, 0, 0, time.UTC); !n.StartedAt.Equal(want) {
		t.Errorf("API started_at %v, want %v", n.StartedAt, want)
	}
}

// TestServiceZoneICal: the rota's iCal feed gives the 09:00 handover as
// 09:00 in Europe/Oslo, with its VTIMEZONE.
func TestServiceZoneICal(t *testing.T) {
	t.Parallel()
	s := newTZScenario(t)
	var feeds struct {
		Feeds map[string]struct {
			Rota string `json:"rota"`
		} `json:"feeds"`
	}
	if code := call(t, "GET", s.app.base+"/api/v1/oncall/feeds", apiToken(t, s.cfg, auth.RoleAdmin), nil, &feeds); code != http.StatusOK || feeds.Feeds["ukevakt"].Rota == "" {
		t.Fatalf("feeds: %d %+v", code, feeds)
	}
	u, err := url.Parse(feeds.Feeds["ukevakt"].Rota)
	if err != nil {
		t.Fatal(err)
	}
	code, body := get(t, s.app.base+u.RequestURI())
	if code != http.StatusOK {
		t.Fatalf("feed: %d %s", code, body)
	}
	mustContain(t, "the iCal feed", body, "BEGIN:VTIMEZONE\r\nTZID:Europe/Oslo", "TZNAME:CET",
		"DTSTART;TZID=Europe/Oslo:20261207T090000", "DTEND;TZID=Europe/Oslo:20261214T090000")
	mustNotContain(t, "the iCal feed", body, "DTSTART:20261207T080000Z")
}

// TestServiceZoneReport: the monthly report shows the ticket opened at
// 09:00, the week from the 09:00 handover and the maintenance from 06:00,
// each with CET.
func TestServiceZoneReport(t *testing.T) {
	t.Parallel()
	s := newTZScenario(t)
	s.announce(t)
	s.app.stop()
	ctx := context.Background()
	db, err := OpenDatabase(ctx, s.cfg, slog.New(slog.DiscardHandler), false)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	after := func() time.Time { return time.Date(2027, 1, 2, 7, 0, 0, 0, time.UTC) }
	svc, err := NewReportService(s.cfg, db, slog.New(slog.DiscardHandler), "test", after)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.Period("2026-12")
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.Generate(ctx, p, reports.GenerateOptions{Formats: []string{reports.FormatHTML}})
	if err != nil {
		t.Fatal(err)
	}
	html := string(g.HTML)
	mustContain(t, "the report", html,
		"Mon 7 Dec 09:00 CET",                    // the ticket, opened (and notified) at 09:00
		"Mon 7 Dec 09:00 – Mon 14 Dec 09:00 CET", // the on-call week from the handover
		"Mon 14 Dec 06:00 CET",                   // the maintenance
		"IMAP server upgrade", "Webmail shows error 502")
	mustNotContain(t, "the report", html, "Mon 7 Dec 08:00", "Mon 14 Dec 05:00")
}
