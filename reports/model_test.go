package reports_test

import (
	"bytes"
	"context"
	"flag"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/uni-mail/postvakt/reports"
	"github.com/uni-mail/postvakt/reports/reportstest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

const comment = "Říjen 2026: migrace fakulty dokončena. Tromsø-noden er byttet."

func generatedAt() time.Time { return time.Date(2026, 11, 1, 7, 0, 0, 0, reportstest.Oslo()) }

func testConfig(lang string) reports.Config {
	cfg := reports.DefaultConfig()
	cfg.Language = lang
	cfg.TopDomains = 5
	cfg.Organisation = "Universitetet i Tromsø – sentral e-post"
	return cfg
}

// october builds the report for October 2026 from the standard seed.
func october(t testing.TB, lang string) (*reports.Report, *reportstest.Memory) {
	t.Helper()
	src := reportstest.Seed(reportstest.SeptOct())
	p, err := reports.ParsePeriod("2026-10", 1, reportstest.Oslo())
	if err != nil {
		t.Fatal(err)
	}
	r, err := reports.Build(context.Background(), src, p, reports.Options{Config: testConfig(lang), Comment: comment, Now: generatedAt})
	if err != nil {
		t.Fatal(err)
	}
	return r, src
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./reports -run %s -update to create it)", err, t.Name())
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("%s differs from the golden file (-want +got); rerun with -update if the change is intended:\n%s", name, d)
	}
}

// TestModelGolden (docs/reports.md, "What the report holds"): two months
// of seeded data; the whole model is compared with a golden file.
func TestModelGolden(t *testing.T) {
	t.Parallel()
	for _, lang := range reports.Languages() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r, _ := october(t, lang)
			js, err := r.JSON()
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "report-2026-10."+lang+".golden.json", append(js, '\n'))
			back, err := reports.ReportFromJSON(js, reportstest.Oslo())
			if err != nil {
				t.Fatal(err)
			}
			js2, _ := back.JSON()
			if !bytes.Equal(js, js2) {
				t.Error("model does not survive a JSON round trip (the archive keeps it as JSON)")
			}
		})
	}
}

// changePct is the change in per cent of docs/reports.md ("Change").
func changePct(cur, prev float64) float64 {
	return (cur - prev) / math.Abs(prev) * 100
}

// near compares exact values computed in a different order.
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// TestNumbersMatchIndependentComputation (docs/reports.md, "What the report
// holds"): every key number and its change in per cent is computed here
// straight from the seeded rows, with none of the model's code, and
// compared.
func TestNumbersMatchIndependentComputation(t *testing.T) {
	t.Parallel()
	r, src := october(t, "en")
	loc := reportstest.Oslo()
	oct := [2]time.Time{time.Date(2026, 10, 1, 0, 0, 0, 0, loc), time.Date(2026, 11, 1, 0, 0, 0, 0, loc)}
	sep := [2]time.Time{time.Date(2026, 9, 1, 0, 0, 0, 0, loc), oct[0]}
	in := func(t time.Time, p [2]time.Time) bool { return !t.Before(p[0]) && t.Before(p[1]) }

	want := map[string][2]float64{} // key → {current, previous}
	var rc, rb, sc, sb, uc [2]float64
	for _, h := range src.Hours {
		for i, p := range [][2]time.Time{oct, sep} {
			if in(h.Hour, p) {
				rc[i] += float64(h.ReceivedCount)
				rb[i] += float64(h.ReceivedBytes)
				sc[i] += float64(h.SentCount)
				sb[i] += float64(h.SentBytes)
				uc[i] += float64(h.UnknownCount)
			}
		}
	}
	days := [2]float64{31, 30}
	want["mail.accepted.count"] = [2]float64{rc[0] + sc[0] + uc[0], rc[1] + sc[1] + uc[1]}
	want["mail.unknown.count"] = uc
	want["mail.received.per_day"] = [2]float64{rc[0] / days[0], rc[1] / days[1]}
	want["mail.sent.per_day"] = [2]float64{sc[0] / days[0], sc[1] / days[1]}
	want["mail.received.count"] = rc
	want["mail.received.bytes"] = rb
	want["mail.sent.count"] = sc
	want["mail.sent.bytes"] = sb
	want["traffic.in"] = rb
	want["traffic.out"] = sb
	want["traffic.total"] = [2]float64{rb[0] + sb[0], rb[1] + sb[1]}

	var spam, virus, scanned [2]float64
	for _, s := range src.Scans {
		for i, p := range [][2]time.Time{oct, sep} {
			if !in(s.Day, p) {
				continue
			}
			if s.Verdict != reports.VerdictGreylisted {
				scanned[i] += float64(s.Count)
			}
			switch s.Verdict {
			case reports.VerdictSpam:
				spam[i] += float64(s.Count)
			case reports.VerdictVirus:
				virus[i] += float64(s.Count)
			}
		}
	}
	want["scan.spam"], want["scan.virus"], want["scan.scanned"] = spam, virus, scanned

	var ok, failed, imapFailed [2]float64
	for _, l := range src.Logins {
		for i, p := range [][2]time.Time{oct, sep} {
			if in(l.Day, p) {
				ok[i] += float64(l.OK)
				failed[i] += float64(l.Failed)
				if l.Protocol == reports.ProtocolIMAP {
					imapFailed[i] += float64(l.Failed)
				}
			}
		}
	}
	want["logins.ok"], want["logins.failed"], want["logins.imap.failed"] = ok, failed, imapFailed

	last := func(before time.Time) reports.Registrations {
		var best reports.Registrations
		for _, s := range src.Snapshots {
			if s.At.Before(before) && s.At.After(best.At) {
				best = s
			}
		}
		return best
	}
	ro, rs := last(oct[1]), last(sep[1])
	want["registrations.mailboxes"] = [2]float64{float64(ro.Mailboxes), float64(rs.Mailboxes)}
	want["registrations.domains"] = [2]float64{float64(ro.Domains), float64(rs.Domains)}
	want["registrations.allotted"] = [2]float64{float64(ro.AllottedBytes), float64(rs.AllottedBytes)}
	want["registrations.extra"] = [2]float64{float64(ro.ExtraBytes), float64(rs.ExtraBytes)}
	want["registrations.used"] = [2]float64{float64(ro.UsedBytes), float64(rs.UsedBytes)}
	users := [2]map[string]bool{{}, {}}
	imapUsers := [2]map[string]bool{{}, {}}
	for _, u := range src.UserLogins {
		for i, p := range [][2]time.Time{oct, sep} {
			if in(u.Day, p) {
				users[i][u.User] = true
				if u.Protocol == reports.ProtocolIMAP {
					imapUsers[i][u.User] = true
				}
			}
		}
	}
	want["users.all"] = [2]float64{float64(len(users[0])), float64(len(users[1]))}
	want["users.imap"] = [2]float64{float64(len(imapUsers[0])), float64(len(imapUsers[1]))}
	var reads [2]float64
	for _, rd := range src.Reads {
		for i, p := range [][2]time.Time{oct, sep} {
			if in(rd.Day, p) && rd.Protocol == reports.ProtocolPOP {
				reads[i] += float64(rd.Reads)
			}
		}
	}
	want["reads.pop3"] = reads

	var pages [2]float64
	for _, p := range src.Pages {
		for i, per := range [][2]time.Time{oct, sep} {
			if in(p.At, per) {
				pages[i]++
			}
		}
	}
	want["oncall.pages"] = pages

	var opened, inHours, met [2]float64
	for _, tk := range src.TicketList {
		for i, p := range [][2]time.Time{oct, sep} {
			if in(tk.OpenedAt, p) {
				opened[i]++
				if tk.InHours && tk.ResponseTarget > 0 {
					inHours[i]++
					if !tk.ResponseBreached {
						met[i]++
					}
				}
			}
		}
	}
	want["faults.opened"] = opened
	want["faults.in_hours"] = inHours
	want["faults.sla_compliance"] = [2]float64{met[0] / inHours[0] * 100, met[1] / inHours[1] * 100}

	// IMAP: the probes saw it down 13:03–13:58 on 8 Oct, 55 minutes;
	// October has 745 hours (DST ends on the 25th). SMTP's 90 minutes of
	// maintenance are not measured.
	octMinutes := oct[1].Sub(oct[0]).Minutes()
	if octMinutes != 745*60 {
		t.Fatalf("October 2026 in Oslo has %v minutes", octMinutes)
	}
	want["availability.imap"] = [2]float64{(octMinutes - 55) / octMinutes * 100, 100}
	want["availability.smtp"] = [2]float64{100, 100}

	for key, w := range want {
		f, found := r.FigureByKey(key)
		if !found {
			t.Errorf("figure %s missing", key)
			continue
		}
		if !f.Known() || !near(f.Current, w[0]) {
			t.Errorf("%s = %v (missing %q), want %v", key, f.Current, f.Missing, w[0])
		}
		if f.Previous == nil || !near(*f.Previous, w[1]) {
			t.Errorf("%s previous = %v, want %v", key, f.Previous, w[1])
			continue
		}
		if w[1] != 0 {
			if f.Change == nil || !near(*f.Change, changePct(w[0], w[1])) {
				t.Errorf("%s change = %v, want %v", key, f.Change, changePct(w[0], w[1]))
			}
		}
	}
	// The flow sums to the messages accepted, and the report says so.
	if ft := r.Mail.Flow; !ft.Balanced || ft.Sum.Total != int64(want["mail.accepted.count"][0]) || len(r.Warnings) > 0 {
		t.Errorf("flow %+v, warnings %v", ft.Sum, r.Warnings)
	}

	var breaches, open []string
	for _, tk := range r.Faults.Breaches {
		breaches = append(breaches, tk.ID)
	}
	for _, tk := range r.Faults.Open {
		open = append(open, tk.ID)
	}
	if !slices.Equal(breaches, reportstest.BreachedTickets) {
		t.Errorf("breaches %v, want %v", breaches, reportstest.BreachedTickets)
	}
	if !slices.Equal(open, reportstest.OpenTickets) {
		t.Errorf("open tickets %v, want %v", open, reportstest.OpenTickets)
	}
}

// TestAnalysisNamesEvents checks the written analysis: the weekend
// pattern, the outlier days by date and size, the trend, and the SLA
// breaches by ticket ID.
func TestAnalysisNamesEvents(t *testing.T) {
	t.Parallel()
	r, _ := october(t, "en")
	mail := strings.Join(r.Mail.Notes, " ")
	var spike float64
	for _, d := range r.Mail.Days {
		if d.Day.Equal(reportstest.SpikeDay) {
			spike = float64(d.ReceivedCount)
		}
	}
	for _, want := range []string{
		"Lower at weekends", "as in September",
		"Wed 14 Oct (" + formatInt(spike) + ",",
		"more per day than in September",
	} {
		if !strings.Contains(mail, want) {
			t.Errorf("mail analysis lacks %q:\n%s", want, mail)
		}
	}
	if strings.Count(r.Mail.Notes[0], "Outside the normal range") != 1 || strings.Contains(r.Mail.Notes[0], "Sat ") || strings.Contains(r.Mail.Notes[0], "Sun ") {
		t.Errorf("only the spike should be named, not ordinary weekends: %s", r.Mail.Notes[0])
	}
	logins := strings.Join(r.Logins.Notes, " ")
	if !strings.Contains(logins, "Failed logins outside the normal range: Tue 20 Oct") {
		t.Errorf("login analysis does not name the password-guessing day: %s", logins)
	}
	faults := strings.Join(r.Faults.Notes, " ")
	if !strings.Contains(faults, "missed the response target: T-1042, T-1057") {
		t.Errorf("fault analysis does not name the breaches: %s", faults)
	}
	if !strings.Contains(faults, "T-1061, T-1063") {
		t.Errorf("fault analysis does not name the open tickets: %s", faults)
	}
}

// formatInt writes n with English thousands separators.
func formatInt(v float64) string {
	digits := strconv.FormatInt(int64(v), 10)
	var out []byte
	for i := range len(digits) {
		if i > 0 && (len(digits)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, digits[i])
	}
	return string(out)
}

// TestMissingDataIsReported: a source without tickets yields a report
// that says so instead of showing zeros.
func TestMissingDataIsReported(t *testing.T) {
	t.Parallel()
	src := reportstest.Seed(reportstest.SeptOct())
	src.Fail = map[string]error{"Tickets": reports.ErrNoData}
	p, _ := reports.ParsePeriod("2026-10", 1, reportstest.Oslo())
	r, err := reports.Build(context.Background(), src, p, reports.Options{Config: testConfig("en"), Now: generatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Missing, []string{"faults"}) {
		t.Fatalf("missing %v", r.Missing)
	}
	if !strings.Contains(strings.Join(r.Summary, " "), "Faults and SLA") {
		t.Errorf("summary does not mention the missing section: %v", r.Summary)
	}
	src.Fail = map[string]error{"MailDays": os.ErrPermission}
	if _, err := reports.Build(context.Background(), src, p, reports.Options{Config: testConfig("en"), Now: generatedAt}); err == nil {
		t.Fatal("a real source error must fail the build")
	}
}

// TestAvailabilityToDate: a report built while its period runs measures
// availability up to the build time, and an outage still open ends there
// (docs/reports.md, "A report to date").
func TestAvailabilityToDate(t *testing.T) {
	t.Parallel()
	oslo := reportstest.Oslo()
	p, _ := reports.ParsePeriod("2026-10", 1, oslo)
	now := time.Date(2026, 10, 1, 0, 15, 0, 0, oslo) // 15 minutes into the period
	src := reportstest.Seed(reportstest.SeptOct())
	src.ProbeDown = append(src.ProbeDown, reports.Outage{Service: "pop3", Ref: "probe", Title: "Probes failed: pop3",
		Start: time.Date(2026, 9, 30, 23, 0, 0, 0, oslo)}) // still open
	r, err := reports.Build(context.Background(), src, p, reports.Options{Config: testConfig("en"), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if !r.ToDate || !r.DataEnd.Equal(now) {
		t.Fatalf("to date %v, data end %v", r.ToDate, r.DataEnd)
	}
	for _, s := range r.Availability.Services {
		if s.Service != "pop3" {
			continue
		}
		// 15 minutes measured, all of them down: 0 %, not 13.9 days.
		if s.Unplanned != 15 || s.MeasuredMinutes != 15 || !near(s.Availability.Current, 0) {
			t.Errorf("pop3 %+v", s)
		}
	}
	var found bool
	for _, o := range r.Availability.Outages {
		if o.Service == "pop3" && o.Ref == "probe" {
			found = true
			if !o.Ongoing || o.Minutes != 15 {
				t.Errorf("open outage %+v: want 15 minutes, ongoing", o)
			}
		}
	}
	if !found {
		t.Error("the open outage is not listed")
	}
	html, err := (&reports.Renderer{Config: testConfig("en")}).HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(html), "October 2026 (to date, up to Thu 1 Oct 00:15 CEST)") {
		t.Error("the HTML does not say the report is to date")
	}
}

// TestAnalysisAllOnOneDay: when the logs cover the whole month but all the
// traffic fell on one Sunday, the analysis says so and makes no claim
// about weekdays and weekends; when data exists for one day only, it says
// that (docs/reports.md, "The written analysis").
func TestAnalysisAllOnOneDay(t *testing.T) {
	t.Parallel()
	src := reportstest.Seed(reportstest.SeptOct())
	sunday := time.Date(2026, 10, 4, 0, 0, 0, 0, reportstest.Oslo())
	var hours []reportstest.Hour
	onSunday := reports.Period{Start: sunday, End: sunday.AddDate(0, 0, 1)}
	for _, h := range src.Hours {
		if h.Hour.Before(time.Date(2026, 10, 1, 0, 0, 0, 0, reportstest.Oslo())) || onSunday.Contains(h.Hour) {
			hours = append(hours, h)
		}
	}
	src.Hours = hours
	p, _ := reports.ParsePeriod("2026-10", 1, reportstest.Oslo())
	r, err := reports.Build(context.Background(), src, p, reports.Options{Config: testConfig("en"), Now: generatedAt})
	if err != nil {
		t.Fatal(err)
	}
	note := r.Mail.Notes[0]
	if !strings.Contains(note, "All of it fell on one day, Sun 4 Oct; the other 30 days with data had none") ||
		strings.Contains(note, "weekends (") || strings.Contains(note, "difference between weekdays") {
		t.Errorf("mail note: %s", note)
	}
	// Logs for one day only.
	var covers []reports.CoverageDay
	for _, c := range src.Covers {
		if c.Day.Before(p.Start) || c.Day.Equal(sunday) {
			covers = append(covers, c)
		}
	}
	src.Covers = covers
	r, err = reports.Build(context.Background(), src, p, reports.Options{Config: testConfig("en"), Now: generatedAt})
	if err != nil {
		t.Fatal(err)
	}
	if note := r.Mail.Notes[0]; !strings.Contains(note, "(data for 1 of 31 days). Data exists for one day only, Sun 4 Oct") {
		t.Errorf("mail note: %s", note)
	}
	if f, _ := r.FigureByKey("mail.received.count"); f.DaysWithData != 1 || f.Days != 31 || f.Change != nil {
		t.Errorf("received %+v", f)
	}
}
