package app

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/reports"
)

var osloZone = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

// The acceptance of the rota as data (docs/oncall.md, "Changing the
// rota"), with the clock at Wednesday 9 December 2026, 10:00 in Oslo: the
// test rota passes among ana, bjorn and chen weekly from Monday 5 January
// 2026 09:00, so ana holds this week (week 48), and next Monday's turn
// (week 49) is bjorn's by the old order.
var (
	rotaNow     = time.Date(2026, 12, 9, 10, 0, 0, 0, osloZone)
	nextMonday  = time.Date(2026, 12, 14, 9, 0, 0, 0, osloZone)
	eightWeeks  = rotaNow.AddDate(0, 0, -56)
	rotaHorizon = rotaNow.AddDate(0, 0, 70)
)

// weekNo is the oracle's turn number: whole weeks from Monday 2026-01-05
// to the latest Monday 09:00 (Oslo wall clock) at or before t.
func weekNo(t time.Time) int {
	lt := t.In(osloZone)
	back := (int(lt.Weekday()) + 6) % 7
	if back == 0 && lt.Hour() < 9 {
		back = 7
	}
	monday := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, time.UTC)
	return int(monday.Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)).Hours()) / (24 * 7)
}

// oracle is who is on call at t by the configured order before from, and
// by order starting with first from from on (from a Monday 09:00).
type oracle []orderFrom

// orderFrom is one order of the oracle: from from (a Monday 09:00; zero:
// the configured order since the start), order passes on from first.
type orderFrom struct {
	from  time.Time
	order []string
	first string
}

func (o oracle) at(t time.Time) string {
	i := len(o) - 1
	for i > 0 && t.Before(o[i].from) {
		i--
	}
	seg := o[i]
	start := slices.Index(seg.order, seg.first)
	if seg.from.IsZero() {
		return seg.order[weekNo(t)%len(seg.order)]
	}
	return seg.order[(start+weekNo(t)-weekNo(seg.from))%len(seg.order)]
}

var configured = oracle{{order: []string{"ana", "bjorn", "chen"}}}

// then is o followed by a new order from from, first held by whose turn
// it would have been (or the next who stays), as docs/oncall.md says
// unless first is given.
func (o oracle) then(from time.Time, order []string, first string) oracle {
	if first == "" {
		due := o.at(from)
		prev := o[len(o)-1].order
		first = order[0]
		for k := 0; k < len(prev); k++ {
			if m := prev[(slices.Index(prev, due)+k)%len(prev)]; slices.Contains(order, m) {
				first = m
				break
			}
		}
	}
	return append(slices.Clone(o), orderFrom{from, order, first})
}

// rotaWitness reads who is on call at every hour from the running server
// (its API) and from a second, CLI-like Team on its own database handle,
// which must agree, and renders last month's report as the CLI does.
type rotaWitness struct {
	t      *testing.T
	cfg    *config.Config
	base   string
	viewer string
	db     *storage.DB
	now    func() time.Time
}

func newRotaWitness(t *testing.T, cfg *config.Config, base string, now func() time.Time) *rotaWitness {
	db, err := storage.Open(context.Background(), cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &rotaWitness{t: t, cfg: cfg, base: base, viewer: apiToken(t, cfg, auth.RoleViewer), db: db, now: now}
}

// server asks the running server who is on call at at.
func (w *rotaWitness) server(at time.Time) string {
	var s oncallapi.ShiftView
	if code := call(w.t, "GET", w.base+"/api/v1/oncall/at?time="+url.QueryEscape(at.Format(time.RFC3339)), w.viewer, nil, &s); code != 200 {
		w.t.Fatalf("oncall/at: %d", code)
	}
	return s.Member
}

// hours answers every hour of [from, to) from the server and from a Team
// built as the CLI builds it (postvakt oncall at), failing when they
// disagree.
func (w *rotaWitness) hours(from, to time.Time) map[time.Time]string {
	w.t.Helper()
	tm, _, err := w.cfg.Oncall.Compile(oncallstore.New(w.db))
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[time.Time]string{}
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		s, err := tm.OnCallAt(context.Background(), "ukevakt", h)
		if err != nil {
			w.t.Fatal(err)
		}
		if srv := w.server(h); srv != s.Member {
			w.t.Fatalf("at %v the server says %s, the CLI %s", h.In(osloZone), srv, s.Member)
		}
		out[h] = s.Member
	}
	return out
}

// check compares every hour of [from, to) with the oracle.
func (w *rotaWitness) check(label string, from, to time.Time, o oracle) {
	w.t.Helper()
	for h, got := range w.hours(from, to) {
		if want := o.at(h); got != want {
			w.t.Fatalf("%s: at %v %s is on call, want %s", label, h.In(osloZone), got, want)
		}
	}
}

// report renders November 2026, HTML and CSV, as postvakt report does.
func (w *rotaWitness) report() (html, csv []byte, shifts []reports.WeekRow) {
	w.t.Helper()
	svc, err := NewReportService(w.cfg, w.db, slog.New(slog.DiscardHandler), "test-cli", w.now)
	if err != nil {
		w.t.Fatal(err)
	}
	p, err := svc.Period("2026-11")
	if err != nil {
		w.t.Fatal(err)
	}
	g, err := svc.Generate(context.Background(), p, reports.GenerateOptions{Formats: []string{reports.FormatHTML, reports.FormatCSV}})
	if err != nil {
		w.t.Fatal(err)
	}
	return g.HTML, g.CSV, g.Report.OnCall.Weeks
}

// rotaChangeSetup starts postvakt with the test team (cfg; nil: the
// on-call test configuration), the clock at rotaNow, waits for the record
// of shifts, and checks the past by the oracle and November's on-call
// table by hand.
func rotaChangeSetup(t *testing.T, cfg *config.Config) (*config.Config, *running, *rotaWitness, []byte, []byte) {
	if cfg == nil {
		cfg = oncallConfig(t, newFakeSlack(t).srv.URL, newSMTPSink(t).addr, time.Minute, 2*time.Minute)
	}
	cfg.Reports.PDFEngine = reports.PDFBuiltin
	cfg.Timezone = "Europe/Oslo" // the team's: the report's month and its times
	cfg.ApplyServiceZone()
	clock := &testClock{t: rotaNow}
	app := startApp(t, cfg, clock.Now)
	w := newRotaWitness(t, cfg, app.base, clock.Now)
	eventually(t, 10*time.Second, "the record of shifts", func() bool {
		var h oncallapi.HistoryResponse
		return call(t, "GET", app.base+"/api/v1/oncall/history", w.viewer, nil, &h) == 200 && len(h.Shifts) > 0
	})
	w.check("before", eightWeeks, rotaHorizon, configured)
	html, csv, weeks := w.report()
	// November's turns, counted by hand: ana's week 42 (from Monday 26
	// October) clipped to the month, then bjorn, chen, ana, bjorn, chen.
	var got []string
	for _, wk := range weeks {
		got = append(got, wk.Member+" "+wk.Start.In(osloZone).Format("01-02 15:04"))
	}
	want := []string{"Ana Berg 11-01 00:00", "Bjørn Dahl 11-02 09:00", "Chen Wei 11-09 09:00", "Ana Berg 11-16 09:00", "Bjørn Dahl 11-23 09:00", "Chen Wei 11-30 09:00"}
	if !slices.Equal(got, want) {
		t.Fatalf("November's on-call table %q, want %q", got, want)
	}
	return cfg, app, w, html, csv
}

// TestRotaChangeFromAPI: erin joins from next Monday through the API,
// without a restart; then ana leaves and the order changes. The past
// eight weeks, hour by hour, and November's report, byte for byte, are
// as they were; the new orders apply from their moments; the running
// server and a CLI-built team answer the same throughout.
func TestRotaChangeFromAPI(t *testing.T) {
	t.Parallel()
	cfg, app, w, html0, csv0 := rotaChangeSetup(t, nil)
	pm := apiToken(t, cfg, auth.RolePostmaster)
	if code := call(t, "POST", app.base+"/api/v1/oncall/members", pm, map[string]any{"id": "erin", "name": "Erin Moe", "email": "erin@example.edu"}, &oncallapi.MemberView{}); code != 201 {
		t.Fatalf("add member: %d", code)
	}
	var ch oncallapi.RotaChangeResponse
	if code := call(t, "POST", app.base+"/api/v1/oncall/rotas/ukevakt/versions", pm, map[string]any{"add": []string{"erin"}, "effective": nextMonday}, &ch); code != 201 {
		t.Fatalf("change: %d", code)
	}
	// Next Monday is bjorn's turn by the old order: bjorn keeps it.
	withErin := configured.then(nextMonday, []string{"ana", "bjorn", "chen", "erin"}, "")
	if ch.Version.First != "bjorn" || withErin.at(nextMonday) != "bjorn" {
		t.Fatalf("first %s", ch.Version.First)
	}
	w.check("erin added", eightWeeks, rotaHorizon, withErin)
	html1, csv1, _ := w.report()
	if !bytes.Equal(html0, html1) || !bytes.Equal(csv0, csv1) {
		t.Fatal("November's report changed")
	}

	// ana leaves from the Monday after (21 December), and from 4 January
	// the order is erin, chen, bjorn, bjorn first.
	dec21, jan4 := nextMonday.AddDate(0, 0, 7), time.Date(2027, 1, 4, 9, 0, 0, 0, osloZone)
	for _, body := range []map[string]any{
		{"remove": []string{"ana"}, "effective": dec21},
		{"members": []string{"erin", "chen", "bjorn"}, "effective": jan4, "first": "bjorn"},
	} {
		if code := call(t, "POST", app.base+"/api/v1/oncall/rotas/ukevakt/versions", pm, body, &ch); code != 201 {
			t.Fatalf("change %v: %d", body, code)
		}
	}
	final := withErin.then(dec21, []string{"bjorn", "chen", "erin"}, "").then(jan4, []string{"erin", "chen", "bjorn"}, "bjorn")
	w.check("ana removed, order changed", eightWeeks, rotaHorizon, final)
	html2, csv2, _ := w.report()
	if !bytes.Equal(html0, html2) || !bytes.Equal(csv0, csv2) {
		t.Fatal("November's report changed")
	}
}

// TestRotaConfigChangeOnRestart is the reported fault: appending a member
// in the YAML and restarting put her on call at once and rewrote
// November's report. Now the changed configuration takes effect at the
// next handover, and nothing before it changes.
func TestRotaConfigChangeOnRestart(t *testing.T) {
	t.Parallel()
	cfg, app, w, html0, csv0 := rotaChangeSetup(t, nil)
	app.stop()
	cfg.Oncall.Members = append(cfg.Oncall.Members, rota.Member{ID: "erin", Name: "Erin Moe", Email: "erin@example.edu"})
	cfg.Oncall.Rotas[0].Members = append(cfg.Oncall.Rotas[0].Members, "erin")
	clock := &testClock{t: rotaNow.Add(time.Hour)}
	app = startApp(t, cfg, clock.Now)
	w.base, w.now = app.base, clock.Now
	withErin := configured.then(nextMonday, []string{"ana", "bjorn", "chen", "erin"}, "")
	w.check("erin appended in the configuration", eightWeeks, rotaHorizon, withErin)
	if got := w.server(clock.Now()); got != "ana" {
		t.Fatalf("on call now: %s, want ana still", got)
	}
	html1, csv1, _ := w.report()
	if !bytes.Equal(csv0, csv1) || !bytes.Equal(stripGenerated(html0), stripGenerated(html1)) {
		t.Fatal("November's report changed")
	}
	// A second restart with the same configuration changes nothing more.
	app.stop()
	app = startApp(t, cfg, clock.Now)
	w.base = app.base
	w.check("restarted again", eightWeeks, rotaHorizon, withErin)
	var vs oncallapi.VersionsResponse
	pm := apiToken(t, cfg, auth.RolePostmaster)
	if code := call(t, "GET", app.base+"/api/v1/oncall/rotas/ukevakt/versions", pm, nil, &vs); code != 200 || len(vs.Versions) != 2 ||
		vs.Versions[1].CreatedBy != "config" || !vs.Versions[1].From.Equal(nextMonday) {
		t.Fatalf("versions after two restarts: %d %+v", code, vs.Versions)
	}
}

// stripGenerated drops the report's "generated" time (the clock moved
// by an hour between the renderings).
func stripGenerated(html []byte) []byte {
	var out [][]byte
	for _, line := range bytes.Split(html, []byte("\n")) {
		if !bytes.Contains(line, []byte(`class="meta"`)) && !bytes.HasPrefix(line, []byte("<footer>")) {
			out = append(out, line)
		}
	}
	return bytes.Join(out, []byte("\n"))
}
