package unitapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/unitapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/unitstore"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/notice/smtpsink"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck/dnstest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var oslo = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func at(d, hm string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", d+" "+hm, oslo)
	if err != nil {
		panic(err)
	}
	return t
}

var centralZone = []string{"mx1.uni.test. 300 IN A 192.0.2.1", "mx2.uni.test. 300 IN A 192.0.2.2", "mx2.uni.test. 300 IN AAAA 2001:db8::2"}

type fixture struct {
	base  string
	db    *storage.DB
	clock *clock
	sink  *smtpsink.Sink
	dns   *dnstest.Server
	svc   *units.Service
	mu    sync.Mutex
	pages []page.Message
}

func newFixture(t *testing.T, db *storage.DB) *fixture {
	t.Helper()
	f := &fixture{db: db, clock: &clock{t: at("2027-01-04", "10:00")}, sink: smtpsink.Start(t, nil)}
	f.dns = dnstest.Start(t, append(centralZone, "chem.uni.test. 3600 IN MX 10 mail.chem.uni.test.", "mail.chem.uni.test. 3600 IN A 198.51.100.7")...)
	cfg := units.DefaultConfig()
	cfg.CentralMX = []string{"mx1.uni.test", "mx2.uni.test"}
	cfg.From = "Mail team <postmaster@uni.test>"
	cfg.TeamAddress = "mailteam@uni.test"
	cfg.SysadminAddress = "sysadm@uni.test"
	cfg.Support = units.SupportConfig{Phone: "+47 5555 0000", Address: "support@uni.test", Abuse: "abuse@uni.test", Hours: "08:00–16:00 weekdays"}
	svc, err := units.New(units.Options{Config: cfg, Store: unitstore.New(db),
		Checker: &dnscheck.Checker{Resolver: &dnscheck.Client{Servers: []string{f.dns.Addr}, Timeout: 2 * time.Second}, Central: cfg.CentralMX, Now: f.clock.Now},
		Mailer:  &notice.SMTPSender{Addr: f.sink.Addr, Timeout: 5 * time.Second},
		Page: func(_ context.Context, m ...page.Message) error {
			f.mu.Lock()
			f.pages = append(f.pages, m...)
			f.mu.Unlock()
			return nil
		},
		Location: oslo, BaseURL: "https://postvakt.uni.test/", Now: f.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	srv := server.New(server.Options{Config: config.Default().HTTP, Tokens: accessstore.New(db), Audit: accessstore.New(db), Now: f.clock.Now})
	unitapi.Register(srv, unitapi.Options{Units: svc, Location: oslo, SurveyRate: 30, Now: f.clock.Now})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	f.base = hs.URL
	return f
}

func (f *fixture) token(t *testing.T, name string, role auth.Role) string {
	t.Helper()
	_, secret, err := auth.IssueToken(context.Background(), accessstore.New(f.db), auth.TokenRequest{Name: name, Role: string(role), By: "test", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

func (f *fixture) do(t *testing.T, method, path, token string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = strings.NewReader(string(js))
	}
	req, _ := http.NewRequest(method, f.base+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		t.Logf("%s %s → %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// mails returns the received messages whose Subject contains s.
func (f *fixture) mails(s string) []smtpsink.Message {
	var out []smtpsink.Message
	for _, m := range f.sink.Messages() {
		msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
		if err != nil {
			continue
		}
		subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if strings.Contains(subj, s) {
			out = append(out, m)
		}
	}
	return out
}

// decoded is the message with quoted-printable soft breaks and =XX of
// ASCII undone, enough to search its text.
func decoded(b []byte) string {
	s := strings.ReplaceAll(string(b), "=\r\n", "")
	s = strings.ReplaceAll(s, "=3D", "=")
	s = strings.ReplaceAll(s, "=E2=80=94", "—")
	s = strings.ReplaceAll(s, "=E2=80=93", "–")
	s = strings.ReplaceAll(s, "=E2=86=92", "→")
	return s
}

func (f *fixture) unit(t *testing.T, tok string, id int64) unitapi.UnitResponse {
	t.Helper()
	var r unitapi.UnitResponse
	if code := f.do(t, "GET", fmt.Sprintf("/api/v1/units/%d", id), tok, nil, &r); code != 200 {
		t.Fatalf("get unit: %d", code)
	}
	return r
}

// TestMigrationAcceptance: a unit surveyed through the one-time link,
// planned for a date and migrated. The clock moves through the days; at
// each tick exactly the steps due by then have their reminders, each once;
// the MX check against the test's authoritative DNS server explains the
// wrong MX, and the corrected one gets the success notice; the TTL
// reported is the published one; the record shows who did what.
func TestMigrationAcceptance(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		eva := f.token(t, "eva", auth.RoleHelpdesk)
		sysadm := f.token(t, "olav", auth.RolePostmaster)

		var u units.Unit
		if code := f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: "Department of Chemistry", Domains: []string{"chem.uni.test"}}, &u); code != 201 {
			t.Fatalf("create: %d", code)
		}
		var link units.SurveyLink
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/survey-links", u.ID), eva, unitapi.LinkRequest{SendTo: "kari@chem.uni.test"}, &link); code != 201 {
			t.Fatalf("link: %d", code)
		}
		if !strings.HasPrefix(link.URL, "https://postvakt.uni.test/survey?t=") || len(f.mails("survey before the move")) != 1 {
			t.Fatalf("link %q not mailed", link.URL)
		}
		// The unit fills in the HTML form through the link, no token.
		resp, err := http.Get(f.base + "/survey?t=" + link.Token)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Referrer-Policy") != "no-referrer" {
			t.Fatalf("form: %v %v", err, resp)
		}
		resp.Body.Close()
		form := url.Values{"domains": {"chem.uni.test"}, "current_system": {"Exchange 2016"}, "current_host": {"exch.chem.uni.test"},
			"published_mx": {"mail.chem.uni.test"}, "published_ttl": {"3600"}, "staff": {"120"}, "students": {"850"},
			"mailbox_mb": {"5000"}, "move_content": {"yes"}, "clients": {"Outlook\nThunderbird"},
			"admin_name": {"Kari Nett"}, "admin_email": {"kari@chem.uni.test"}, "admin_phone": {"+47 5555 1234"},
			"leader_name": {"Per Leder"}, "leader_email": {"per@chem.uni.test"}, "wished_date": {"2027-02-01"}}
		resp, err = http.PostForm(f.base+"/survey?t="+link.Token, form)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Thank you") {
			t.Fatalf("submit: %d %s", resp.StatusCode, body)
		}
		// Single use: the form and the JSON route refuse it now.
		resp, _ = http.PostForm(f.base+"/survey?t="+link.Token, form)
		resp.Body.Close()
		if resp.StatusCode != http.StatusGone {
			t.Errorf("second submission: %d, want 410", resp.StatusCode)
		}
		if code := f.do(t, "GET", "/api/v1/survey?t="+link.Token, "", nil, nil); code != http.StatusGone {
			t.Errorf("used link info: %d", code)
		}
		if m := f.mails("Department of Chemistry: survey received"); len(m) != 1 || m[0].To[0] != "mailteam@uni.test" ||
			!strings.Contains(decoded(m[0].Data), "Students:       850") {
			t.Fatalf("survey received mail %v", m)
		}
		got := f.unit(t, eva, u.ID)
		sv := got.Unit.Survey
		if got.Unit.Status != units.StatusSurveyed || sv == nil || *sv.Students != 850 || *sv.Staff != 120 || !*sv.MoveContent ||
			got.Unit.NetAdmin.Email != "kari@chem.uni.test" || got.Unit.Leader.Email != "per@chem.uni.test" || *got.Unit.Quota.MailboxMB != 5000 {
			t.Fatalf("survey not recorded: %+v %+v", got.Unit, sv)
		}
		// The survey's own DNS check recorded what is published.
		if len(got.Checks) != 1 || got.Checks[0].OK || *got.Checks[0].TTL != 3600 {
			t.Fatalf("survey check %+v", got.Checks)
		}

		// Plan: Thursday 4 February 2027 at 10:00 Oslo time.
		var plan unitapi.StepsResponse
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/plan", u.ID), eva, unitapi.PlanRequest{MigrationAt: "2027-02-04 10:00", Assignee: "eva@uni.test"}, &plan); code != 200 {
			t.Fatalf("plan: %d", code)
		}
		wantDue := map[string]string{
			"documents": "2027-01-28 09:00", "work_order": "2027-01-28 09:00", "ttl_reminder": "2027-02-02 09:00",
			"mx_check": "2027-02-04 10:00", "success_notice": "2027-02-04 10:00", "ttl_restore": "2027-02-05 09:00",
			"follow_up/1": "2027-02-05 09:00", "follow_up/2": "2027-02-11 09:00", "follow_up/3": "2027-02-18 09:00", "follow_up/4": "2027-03-04 09:00",
		}
		key := func(s units.Step) string {
			if s.Kind == units.StepFollowUp {
				return fmt.Sprintf("%s/%d", s.Kind, s.Seq)
			}
			return string(s.Kind)
		}
		if len(plan.Steps) != len(wantDue) || plan.TimeZone != "Europe/Oslo" {
			t.Fatalf("%d steps in %s", len(plan.Steps), plan.TimeZone)
		}
		for _, s := range plan.Steps {
			if d := s.DueAt.In(oslo).Format("2006-01-02 15:04"); d != wantDue[key(s)] {
				t.Errorf("%s due %s, want %s", key(s), d, wantDue[key(s)])
			}
		}
		var wo units.WorkOrder
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/work-orders", u.ID), eva, unitapi.WorkOrderRequest{Note: "Test accounts: test1, test2"}, &wo); code != 201 {
			t.Fatalf("work order %d", code)
		}
		if wo.SentTo == "" {
			// SentTo is recorded after the mail; read it back.
			if ws, _ := unitstore.New(db).WorkOrders(ctx, u.ID); len(ws) != 1 || ws[0].SentTo != "sysadm@uni.test" {
				t.Fatalf("work order not mailed: %+v", ws)
			}
		}
		if m := f.mails("Work order: migrate Department of Chemistry"); len(m) != 1 || m[0].To[0] != "sysadm@uni.test" ||
			!strings.Contains(decoded(m[0].Data), "students 850") {
			t.Fatalf("work order mail %v", m)
		}

		// tickAt moves the clock and runs the scheduler's job body; it
		// returns the keys of the steps reminded by then.
		steps := func() map[string]units.Step {
			out := map[string]units.Step{}
			for _, s := range f.unit(t, eva, u.ID).Steps {
				out[key(s)] = s
			}
			return out
		}
		tickAt := func(d, hm string) {
			t.Helper()
			f.clock.Set(at(d, hm))
			if err := f.svc.Tick(ctx); err != nil {
				t.Fatalf("tick %s %s: %v", d, hm, err)
			}
		}
		reminded := func(want ...string) {
			t.Helper()
			var got []string
			for k, s := range steps() {
				if !s.RemindedAt.IsZero() {
					got = append(got, k)
				}
			}
			if len(got) != len(want) {
				t.Fatalf("at %s reminded %v, want %v", f.clock.Now().In(oslo), got, want)
			}
			for _, w := range want {
				if steps()[w].RemindedAt.IsZero() {
					t.Fatalf("at %s %s not reminded (got %v)", f.clock.Now().In(oslo), w, got)
				}
			}
		}
		tickAt("2027-01-28", "08:59")
		reminded()
		tickAt("2027-01-28", "09:00")
		reminded("documents", "work_order")
		tickAt("2027-01-28", "09:30") // again: nothing new
		if n := len(f.mails("is due")); n != 2 {
			t.Fatalf("%d assignee reminders, want 2 (one each)", n)
		}
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/documents/send", u.ID), eva, nil, nil); code != 200 {
			t.Fatalf("documents %d", code)
		}
		if m := f.mails("Migration plan for Department of Chemistry"); len(m) != 1 || !strings.Contains(decoded(m[0].Data), "chem.uni.test.  300  IN  MX  10  mx1.uni.test.") {
			t.Fatalf("documents mail %v", m)
		}
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/unit-work-orders/%d/result", wo.ID), sysadm, unitapi.WorkOrderResultRequest{State: units.WorkOrderDone, Result: "domain and 970 mailboxes set up"}, nil); code != 200 {
			t.Fatalf("work order result %d", code)
		}
		tickAt("2027-02-02", "08:00")
		reminded("documents", "work_order")
		tickAt("2027-02-02", "09:00")
		reminded("documents", "work_order", "ttl_reminder")
		ttl := f.mails("please lower the TTL")
		if len(ttl) != 1 || !strings.Contains(decoded(ttl[0].Data), "MX TTL 3600 s") || ttl[0].To[0] != "kari@chem.uni.test" {
			t.Fatalf("TTL reminder %v", ttl)
		}
		// The administrator lowers the TTL, but points the MX wrong on the day.
		f.dns.Set(t, append(centralZone, "chem.uni.test. 300 IN MX 10 mx1.uni.test.", "chem.uni.test. 300 IN MX 5 mail.chem.uni.test.", "mail.chem.uni.test. 300 IN A 198.51.100.7")...)
		tickAt("2027-02-04", "09:59")
		if steps()["mx_check"].RemindedAt.IsZero() == false {
			t.Fatal("MX check before its time")
		}
		tickAt("2027-02-04", "10:00")
		wrong := f.mails("the MX records are not right yet")
		if len(wrong) != 1 {
			t.Fatalf("%d explanations", len(wrong))
		}
		ex := decoded(wrong[0].Data)
		for _, s := range []string{"Record: chem.uni.test. 300 IN MX 5 mail.chem.uni.test.", "points to mail.chem.uni.test, which is not a central mail server",
			"chem.uni.test. IN MX 10 mx1.uni.test.", "chem.uni.test. IN MX 20 mx2.uni.test.", "Remove the record"} {
			if !strings.Contains(ex, s) {
				t.Errorf("explanation lacks %q:\n%s", s, ex)
			}
		}
		if st := f.unit(t, eva, u.ID).Unit.Status; st != units.StatusMigrating {
			t.Errorf("status on the day %s", st)
		}
		tickAt("2027-02-04", "10:05") // before recheck_every: no check
		tickAt("2027-02-04", "10:10") // same wrong state: checked, not explained again
		if n := len(f.mails("not right yet")); n != 1 {
			t.Fatalf("explained %d times", n)
		}
		// Corrected; the administrator says so and eva checks at once.
		f.dns.Set(t, append(centralZone, "chem.uni.test. 300 IN MX 10 mx1.uni.test.", "chem.uni.test. 300 IN MX 20 mx2.uni.test.")...)
		f.clock.Set(at("2027-02-04", "10:12"))
		var cr unitapi.ChecksResponse
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/check", u.ID), eva, nil, &cr); code != 200 || !cr.OK || *cr.Checks[0].TTL != 300 {
			t.Fatalf("check %d %+v", code, cr)
		}
		ok := f.mails("the migration succeeded")
		if len(ok) != 1 {
			t.Fatalf("%d success notices", len(ok))
		}
		okText := decoded(ok[0].Data)
		for _, s := range []string{"+47 5555 0000", "support@uni.test", "abuse@uni.test", "08:00–16:00 weekdays", "TTL 300 s"} {
			if !strings.Contains(okText, s) {
				t.Errorf("success notice lacks %q", s)
			}
		}
		if rcpt := strings.Join(ok[0].To, ","); !strings.Contains(rcpt, "kari@chem.uni.test") || !strings.Contains(rcpt, "per@chem.uni.test") {
			t.Errorf("success notice to %s", rcpt)
		}
		tickAt("2027-02-04", "11:00")
		if n := len(f.mails("the migration succeeded")); n != 1 {
			t.Fatalf("success notice sent %d times", n)
		}
		tickAt("2027-02-05", "09:00")
		reminded("documents", "work_order", "ttl_reminder", "mx_check", "success_notice", "ttl_restore", "follow_up/1")
		if m := f.mails("you can restore the TTL"); len(m) != 1 || !strings.Contains(decoded(m[0].Data), "MX TTL 300 s") {
			t.Fatalf("TTL restore %v", m)
		}
		s1 := steps()["follow_up/1"]
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/unit-steps/%d", s1.ID), eva, units.StepRecord{Outcome: "called Kari: all well"}, nil); code != 200 {
			t.Fatalf("record %d", code)
		}
		s2 := steps()["follow_up/2"]
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/unit-steps/%d/assign", s2.ID), eva, unitapi.AssignRequest{Assignee: "ola@uni.test"}, nil); code != 200 {
			t.Fatalf("assign %d", code)
		}
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/unit-steps/%d/assign", s1.ID), eva, unitapi.AssignRequest{Assignee: "x@uni.test"}, nil); code != 409 {
			t.Errorf("assign a done step: %d", code)
		}
		tickAt("2027-02-11", "09:00")
		if m := f.mails("follow-up after 1 week is due"); len(m) != 1 || m[0].To[0] != "ola@uni.test" {
			t.Fatalf("reassigned reminder %+v", m)
		}
		tickAt("2027-02-18", "09:00")
		tickAt("2027-03-04", "09:00")
		reminded("documents", "work_order", "ttl_reminder", "mx_check", "success_notice", "ttl_restore", "follow_up/1", "follow_up/2", "follow_up/3", "follow_up/4")
		s4 := steps()["follow_up/4"]
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/unit-steps/%d", s4.ID), eva, units.StepRecord{Outcome: "met Per: wants larger lists"}, nil); code != 200 {
			t.Fatalf("record %d", code)
		}
		if s5, ok := steps()["follow_up/5"]; !ok || s5.DueAt.In(oslo).Format("2006-01-02 15:04") != "2027-04-04 09:00" {
			t.Fatalf("monthly follow-up %+v", s5)
		}
		// Each reminder once: assignee mails = documents, work order,
		// follow-ups 1–4; channel posts one per step key.
		if n := len(f.mails("is due")); n != 6 {
			t.Errorf("%d assignee reminders, want 6", n)
		}
		seen := map[string]int{}
		f.mu.Lock()
		for _, p := range f.pages {
			seen[p.Key]++
		}
		f.mu.Unlock()
		for k, n := range seen {
			if n != 1 {
				t.Errorf("channel post %s sent %d times", k, n)
			}
		}

		// Who did what.
		final := f.unit(t, eva, u.ID)
		if final.Unit.Status != units.StatusLive {
			t.Errorf("status %s", final.Unit.Status)
		}
		by := map[string]string{}
		for _, s := range final.Steps {
			by[key(s)] = s.DoneBy + "|" + string(s.State)
		}
		for k, w := range map[string]string{"documents": "token:eva|done", "work_order": "token:olav|done", "ttl_reminder": "postvakt|done",
			"mx_check": "token:eva|done", "success_notice": "postvakt|done", "ttl_restore": "postvakt|done", "follow_up/1": "token:eva|done", "follow_up/4": "token:eva|done", "follow_up/2": "|open"} {
			if by[k] != w {
				t.Errorf("%s: %s, want %s", k, by[k], w)
			}
		}
		var hist []string
		for _, e := range final.Events {
			hist = append(hist, e.Actor+": "+e.Kind)
		}
		for _, w := range []string{"eva: created", "eva: survey_link", "survey link (kari@chem.uni.test): survey", "eva: planned",
			"eva: work_order", "olav: step", "postvakt: status", "postvakt: mail", "eva: step"} {
			if !strings.Contains(strings.Join(hist, "\n"), w) {
				t.Errorf("history lacks %q:\n%s", w, strings.Join(hist, "\n"))
			}
		}
	})
}

// TestSurveyLinkAttacks: garbage, expired and reused tokens, and the
// rate limit.
func TestSurveyLinkAttacks(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	f := newFixture(t, db)
	eva := f.token(t, "eva", auth.RoleHelpdesk)
	var u units.Unit
	f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: "Physics"}, &u)
	var link units.SurveyLink
	f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/survey-links", u.ID), eva, unitapi.LinkRequest{}, &link)
	sv := units.Survey{Domains: []string{"phys.uni.test"}, NetAdmin: units.Contact{Email: "a@phys.uni.test"}}
	for _, tok := range []string{"x", strings.Repeat("A", 43), "../../api/v1/units"} {
		if code := f.do(t, "POST", "/api/v1/survey?t="+url.QueryEscape(tok), "", sv, nil); code != http.StatusGone && code != http.StatusNotFound {
			t.Errorf("token %q: %d", tok, code)
		}
	}
	// A bad survey does not use the link.
	if code := f.do(t, "POST", "/api/v1/survey?t="+link.Token, "", units.Survey{Domains: []string{"phys.uni.test"}}, nil); code != 400 {
		t.Fatalf("bad survey %d", code)
	}
	// Expired after survey_link_ttl (14 days).
	f.clock.Set(f.clock.Now().Add(14*24*time.Hour + time.Second))
	if code := f.do(t, "POST", "/api/v1/survey?t="+link.Token, "", sv, nil); code != http.StatusGone {
		t.Fatalf("expired link %d", code)
	}
	if got, _ := f.svc.Get(context.Background(), u.ID); got.Survey != nil || got.Status != units.StatusNew {
		t.Fatal("expired link changed the unit")
	}
	// Rate limit: 30 a minute per address.
	limited := 0
	for range 40 {
		if f.do(t, "GET", "/api/v1/survey?t="+link.Token, "", nil, nil) == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited < 5 {
		t.Errorf("only %d of 40 requests limited", limited)
	}
	// No token, no unit API.
	if code := f.do(t, "GET", "/api/v1/units", "", nil, nil); code != 401 {
		t.Errorf("units without a token: %d", code)
	}
	// A domain belongs to one unit.
	if code := f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: "A", Domains: []string{"dup.uni.test"}}, nil); code != 201 {
		t.Fatal(code)
	}
	if code := f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: "B", Domains: []string{"DUP.uni.test."}}, nil); code != 409 {
		t.Errorf("duplicate domain: %d", code)
	}
	// Bad plans change nothing.
	for name, req := range map[string]unitapi.PlanRequest{
		"header in assignee": {MigrationAt: "2027-03-01 10:00", Assignee: "eva@uni.test\r\nBcc: x@evil.test"},
		"past":               {MigrationAt: "2020-01-01 10:00"},
		"far future":         {MigrationAt: "2099-01-01 10:00"},
		"no date":            {},
		"not a date":         {MigrationAt: "soon"},
	} {
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/plan", u.ID), eva, req, nil); code != 400 {
			t.Errorf("plan %s: %d", name, code)
		}
	}
	if steps, _ := f.svc.Store().Steps(context.Background(), u.ID); len(steps) != 0 {
		t.Errorf("a refused plan made %d steps", len(steps))
	}
}

// TestStepsWaitForLive: while the MX stays wrong, the TTL restore and the
// follow-ups are held; a plan abandoned (status back to surveyed) sends
// nothing; once the MX is right the held steps go out, once.
func TestStepsWaitForLive(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	f := newFixture(t, db)
	ctx := context.Background()
	eva := f.token(t, "eva", auth.RoleHelpdesk)
	pm := f.token(t, "pm", auth.RolePostmaster)
	var u units.Unit
	f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: "Chemistry", Domains: []string{"chem.uni.test"},
		NetAdmin: units.Contact{Name: "Kari", Email: "kari@chem.uni.test"}}, &u)
	if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/plan", u.ID), eva, unitapi.PlanRequest{MigrationAt: "2027-02-04 10:00", Assignee: "eva@uni.test"}, nil); code != 200 {
		t.Fatalf("plan %d", code)
	}
	tick := func(d, hm string) {
		t.Helper()
		f.clock.Set(at(d, hm))
		if err := f.svc.Tick(ctx); err != nil {
			t.Fatal(err)
		}
	}
	tick("2027-02-04", "10:00") // the old MX is still published
	tick("2027-02-06", "09:00")
	if n := len(f.mails("restore the TTL")); n != 0 {
		t.Fatalf("TTL restore sent while the MX is wrong")
	}
	if n := len(f.mails("follow-up after 1 day")); n != 0 {
		t.Fatalf("follow-up reminded before the unit is live")
	}
	if n := len(f.mails("not right yet")); n != 1 {
		t.Fatalf("%d explanations", n)
	}
	f.dns.Set(t, append(centralZone, "chem.uni.test. 300 IN MX 10 mx1.uni.test.", "chem.uni.test. 300 IN MX 20 mx2.uni.test.")...)
	tick("2027-02-06", "09:30")
	tick("2027-02-06", "09:31")
	tick("2027-02-06", "09:45")
	for s, want := range map[string]int{"migration succeeded": 1, "restore the TTL": 1, "follow-up after 1 day": 1, "follow-up after 1 week": 0} {
		if n := len(f.mails(s)); n != want {
			t.Errorf("%q sent %d times, want %d", s, n, want)
		}
	}

	// A second unit whose plan is abandoned sends nothing.
	var v units.Unit
	f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: "Physics", Domains: []string{"phys.uni.test"},
		NetAdmin: units.Contact{Email: "ola@phys.uni.test"}}, &v)
	f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/plan", v.ID), eva, unitapi.PlanRequest{MigrationAt: "2027-03-10 10:00"}, nil)
	if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/status", v.ID), pm, unitapi.StatusRequest{Status: units.StatusSurveyed}, nil); code != 200 {
		t.Fatal(code)
	}
	tick("2027-03-10", "12:00")
	if n := len(f.mails("Physics")); n != 0 {
		t.Errorf("an abandoned plan sent %d mails", n)
	}
	if n := len(f.mails("Chemistry: follow-up after 1 month")); n != 1 {
		t.Errorf("the live unit's follow-up: %d reminders", n)
	}
	// Re-planning a unit that is migrating is refused.
	if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/plan", u.ID), eva, unitapi.PlanRequest{MigrationAt: "2027-05-01 10:00"}, nil); code != 409 {
		t.Errorf("re-plan of a live unit: %d", code)
	}
}

// TestSurveyForm: the HTML form escapes what it shows, keeps the typed
// values and names the error when a field is bad, and leaves the link
// unused.
func TestSurveyForm(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	f := newFixture(t, db)
	eva := f.token(t, "eva", auth.RoleHelpdesk)
	var u units.Unit
	f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: `Dept <script>alert(1)</script>`}, &u)
	var link units.SurveyLink
	f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/survey-links", u.ID), eva, unitapi.LinkRequest{}, &link)
	resp, err := http.Get(f.base + "/survey?t=" + link.Token)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), "<script>alert") || !strings.Contains(string(b), "&lt;script&gt;") {
		t.Fatalf("unit name not escaped")
	}
	// The one inline style is allowed by its hash, and nothing else.
	csp := resp.Header.Get("Content-Security-Policy")
	style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(string(b))
	if style == nil {
		t.Fatal("no style")
	}
	sum := sha256.Sum256([]byte(style[1]))
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'") ||
		strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "form-action 'self'") {
		t.Errorf("CSP %q", csp)
	}
	form := url.Values{"domains": {"phys.uni.test"}, "admin_email": {"ola@phys.uni.test"}, "staff": {"many"}, "notes": {`"><b>x`}}
	resp, err = http.PostForm(f.base+"/survey?t="+link.Token, form)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "staff &#34;many&#34; must be a whole number") || strings.Contains(string(b), `"><b>x`) {
		t.Fatalf("bad form: %d %s", resp.StatusCode, b)
	}
	form.Set("staff", "40")
	resp, _ = http.PostForm(f.base+"/survey?t="+link.Token, form)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("corrected form: %d", resp.StatusCode)
	}
	got, _ := f.svc.Get(context.Background(), u.ID)
	if got.Survey == nil || *got.People.Staff != 40 || got.People.Students != nil {
		t.Fatalf("survey %+v people %+v", got.Survey, got.People)
	}
}

// TestRequirementsAPI: customer service records a requirement and a
// complaint; only a postmaster decides; a decision needs the answer;
// done and declined are final; the unit's history says who did what.
func TestRequirementsAPI(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		eva := f.token(t, "eva", auth.RoleHelpdesk)
		olav := f.token(t, "olav", auth.RolePostmaster)
		var u units.Unit
		if code := f.do(t, "POST", "/api/v1/units", eva, unitapi.UnitRequest{Name: "Physics", Domains: []string{"phys.uni.test"}}, &u); code != 201 {
			t.Fatalf("create: %d", code)
		}
		var q, c units.Requirement
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/requirements", u.ID), eva, unitapi.RequirementRequest{Title: "Shared calendar", Body: "for the lab"}, &q); code != 201 || q.State != units.RequirementNew || q.Kind != units.KindRequirement {
			t.Fatalf("add: %d %+v", code, q)
		}
		if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/requirements", u.ID), eva, unitapi.RequirementRequest{Kind: "complaint", Title: "Spam got through"}, &c); code != 201 {
			t.Fatalf("add complaint: %d", code)
		}
		for _, bad := range []unitapi.RequirementRequest{{Title: ""}, {Title: "x", Kind: "wish"}, {Title: "two\nlines"}} {
			if code := f.do(t, "POST", fmt.Sprintf("/api/v1/units/%d/requirements", u.ID), eva, bad, nil); code != 400 {
				t.Fatalf("bad %+v: %d", bad, code)
			}
		}
		if code := f.do(t, "POST", "/api/v1/units/999/requirements", eva, unitapi.RequirementRequest{Title: "x"}, nil); code != 404 {
			t.Fatalf("missing unit: %d", code)
		}
		path := fmt.Sprintf("/api/v1/unit-requirements/%d/state", q.ID)
		if code := f.do(t, "POST", path, eva, unitapi.RequirementStateRequest{State: "accepted", Answer: "yes"}, nil); code != 403 {
			t.Fatalf("helpdesk decides: %d", code)
		}
		if code := f.do(t, "POST", path, olav, unitapi.RequirementStateRequest{State: "accepted"}, nil); code != 400 {
			t.Fatalf("accepted without answer: %d", code)
		}
		if code := f.do(t, "POST", path, olav, unitapi.RequirementStateRequest{State: "done", Answer: "x"}, nil); code != 409 {
			t.Fatalf("new → done: %d", code)
		}
		if code := f.do(t, "POST", path, olav, unitapi.RequirementStateRequest{State: "accepted", Answer: "From March"}, &q); code != 200 || q.Answer != "From March" || q.AnsweredBy != "token:olav" {
			t.Fatalf("accept: %d %+v", code, q)
		}
		if code := f.do(t, "POST", path, olav, unitapi.RequirementStateRequest{State: "done", Answer: "Calendar set up"}, &q); code != 200 || q.State != units.RequirementDone {
			t.Fatalf("done: %d %+v", code, q)
		}
		if code := f.do(t, "POST", path, olav, unitapi.RequirementStateRequest{State: "declined", Answer: "no"}, nil); code != 409 {
			t.Fatalf("done is final: %d", code)
		}
		var l unitapi.RequirementsResponse
		if code := f.do(t, "GET", fmt.Sprintf("/api/v1/units/%d/requirements", u.ID), eva, nil, &l); code != 200 || len(l.Requirements) != 2 ||
			l.Requirements[0].State != units.RequirementDone || l.Requirements[1].Kind != units.KindComplaint || l.Requirements[1].State != units.RequirementNew {
			t.Fatalf("list: %d %+v", code, l)
		}
		evs, _ := f.svc.Store().Events(context.Background(), u.ID)
		var seen []string
		for _, e := range evs {
			if e.Kind == units.EventRequirement {
				seen = append(seen, e.Actor+": "+e.Text)
			}
		}
		if len(seen) != 4 || !strings.Contains(seen[3], "token:olav: requirement 1 accepted → done; answer: Calendar set up") {
			t.Fatalf("history: %q", seen)
		}
	})
}
