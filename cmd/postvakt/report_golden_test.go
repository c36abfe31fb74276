package main

import (
	"encoding/csv"
	"html"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/reports/reportstest/monthlog"
)

// The acceptance tests of the monthly report (docs/reports.md): a month of
// generated Postfix, amavis, postgrey and Dovecot logs is imported with
// `postvakt import` and reported with `postvakt report`, and every figure
// of the HTML, both PDFs (read with pdftotext) and the CSV is compared with
// the generator's own truth. The period is November 2025, long past, so
// that the report is of a complete period whatever the clock says.

// goldenMonth generates the month, imports it and returns the config.
func goldenMonth(t *testing.T, o monthlog.Options, extraConfig string) (string, monthlog.Truth) {
	t.Helper()
	data, truth := monthlog.Generate(o)
	cfg := writeConfig(t, "data_dir: DATADIR\nreports:\n  time_zone: Europe/Oslo\n  language: en\n  top_domains: 10\n"+extraConfig)
	file := filepath.Join(t.TempDir(), "mail.log")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runCLI(t, "import", "--create-database", "--config", cfg, "--timezone", "UTC", file); code != exitOK {
		t.Fatalf("import: %s", stderr)
	}
	return cfg, truth
}

// reportFile runs postvakt report into a file and returns its content.
func reportFile(t *testing.T, cfg, period, name string, args ...string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	code, _, stderr := runCLI(t, append([]string{"report", "--config", cfg, "--period", period, "-o", out}, args...)...)
	if code != exitOK {
		t.Fatalf("report %s: %s", name, stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pdfText is pdftotext -layout of a PDF.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	tool, err := exec.LookPath("pdftotext")
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("pdftotext not installed (poppler-utils)")
		}
		t.Skip("pdftotext not installed (poppler-utils)")
	}
	f := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(f, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tool, "-layout", f, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

var (
	rowRe  = regexp.MustCompile(`(?s)<tr>(.*?)</tr>`)
	cellRe = regexp.MustCompile(`(?s)<t[dh][^>]*>(.*?)</t[dh]>`)
	tagRe  = regexp.MustCompile(`<[^>]+>`)
)

// htmlRows returns every table row of an HTML report as cell texts.
func htmlRows(doc []byte) [][]string {
	var rows [][]string
	for _, m := range rowRe.FindAllSubmatch(doc, -1) {
		var cells []string
		for _, c := range cellRe.FindAllSubmatch(m[1], -1) {
			cells = append(cells, strings.TrimSpace(html.UnescapeString(tagRe.ReplaceAllString(string(c[1]), ""))))
		}
		rows = append(rows, cells)
	}
	return rows
}

// Independent formatting of English numbers, as docs/reports.md shows them.
func fmtInt(v int64) string {
	s := strconv.FormatInt(v, 10)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func fmtBytes(v int64) string {
	f := float64(v)
	units := []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	if i == 0 {
		return fmtInt(v) + " B"
	}
	if f >= 100 {
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64) + " " + units[i]
	}
	return strconv.FormatFloat(f, 'f', 1, 64) + " " + units[i]
}

func fmtDec(v float64, places int) string {
	s := strconv.FormatFloat(v, 'f', places, 64)
	ip, fp, _ := strings.Cut(s, ".")
	n, _ := strconv.ParseInt(ip, 10, 64)
	if fp == "" {
		return fmtInt(n)
	}
	return fmtInt(n) + "." + fp
}

// want is one figure of the report and its truth.
type want struct {
	key, name string // CSV metric, the row's name in the HTML and PDF
	value     float64
	shown     string // the value as the report shows it
}

// checkCSV finds each period figure in the CSV and compares it exactly.
func checkCSV(t *testing.T, doc []byte, wants []want) map[string][]string {
	t.Helper()
	rows, err := csv.NewReader(strings.NewReader(string(doc))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string][]string{}
	for _, r := range rows[1:] {
		if r[3] == "" {
			byKey[r[1]] = r
		}
	}
	for _, w := range wants {
		r, ok := byKey[w.key]
		if !ok {
			t.Errorf("CSV: no row %s", w.key)
			continue
		}
		v, err := strconv.ParseFloat(r[4], 64)
		if err != nil || math.Abs(v-w.value) > 1e-9*math.Max(1, math.Abs(w.value)) {
			t.Errorf("CSV %s = %q, want %v", w.key, r[4], w.value)
		}
	}
	return byKey
}

// checkHTML finds each figure's row by its name and compares the value
// shown.
func checkHTML(t *testing.T, doc []byte, wants []want) {
	t.Helper()
	rows := htmlRows(doc)
	for _, w := range wants {
		found := false
		for _, r := range rows {
			if len(r) >= 2 && r[0] == w.name {
				found = true
				if r[1] != w.shown {
					t.Errorf("HTML %q = %q, want %q", w.name, r[1], w.shown)
				}
				break
			}
		}
		if !found {
			t.Errorf("HTML: no row %q", w.name)
		}
	}
}

// checkText finds each figure's line in a PDF's text by its name and
// checks that the value follows the name.
func checkText(t *testing.T, label, text string, wants []want) {
	t.Helper()
	lines := strings.Split(text, "\n")
	for _, w := range wants {
		found := false
		for _, l := range lines {
			l = strings.TrimSpace(l)
			if !strings.HasPrefix(l, w.name+"  ") {
				continue
			}
			found = true
			rest := strings.Fields(strings.TrimPrefix(l, w.name))
			if got := strings.Join(rest, " "); !strings.HasPrefix(got, w.shown) {
				t.Errorf("%s %q: %q, want it to start with %q", label, w.name, got, w.shown)
			}
			break
		}
		if !found {
			t.Errorf("%s: no line %q", label, w.name)
		}
	}
}

// checkRow finds a table row by its first cell, in the HTML and in a
// PDF's text, and checks its cells (in the text: in order on its line).
func checkRow(t *testing.T, rows [][]string, texts map[string]string, first string, cells ...string) {
	t.Helper()
	found := false
	for _, r := range rows {
		if len(r) > len(cells) && r[0] == first {
			found = true
			if !slices.Equal(r[1:1+len(cells)], cells) {
				t.Errorf("HTML row %q = %q, want %q", first, r[1:], cells)
			}
			break
		}
	}
	if !found {
		t.Errorf("HTML: no row %q", first)
	}
	for label, text := range texts {
		ok := false
		for _, l := range strings.Split(text, "\n") {
			if !strings.Contains(l, first) {
				continue
			}
			rest := strings.Fields(l[strings.Index(l, first)+len(first):])
			if len(rest) >= len(cells) && slices.Equal(rest[:len(cells)], splitCells(cells)[:len(cells)]) {
				ok = true
				break
			}
			if got := strings.Join(rest, " "); strings.HasPrefix(got, strings.Join(cells, " ")) {
				ok = true
				break
			}
		}
		if !ok {
			t.Errorf("%s: no line %q followed by %q", label, first, cells)
		}
	}
}

func splitCells(cells []string) []string {
	var out []string
	for _, c := range cells {
		out = append(out, strings.Fields(c)...)
	}
	return append(out, make([]string, len(cells))...)
}

// TestReportGoldenMonth is the golden month: every figure in the HTML,
// both PDFs and the CSV equals the generator's truth, and the mail flow
// reconciles.
func TestReportGoldenMonth(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, oslo)
	cfg, tr := goldenMonth(t, monthlog.Options{Start: start, Days: 30, Seed: 11}, "  pdf_engine: builtin\n")
	days := float64(30)
	wants := []want{
		{"mail.accepted.count", "Messages accepted", float64(tr.Accepted()), fmtInt(tr.Accepted())},
		{"mail.received.count", "Mail received (from outside)", float64(tr.Received), fmtInt(tr.Received)},
		{"mail.received.bytes", "Mail received, size", float64(tr.ReceivedBytes), fmtBytes(tr.ReceivedBytes)},
		{"mail.sent.count", "Mail sent (by local users)", float64(tr.Sent), fmtInt(tr.Sent)},
		{"mail.sent.bytes", "Mail sent, size", float64(tr.SentBytes), fmtBytes(tr.SentBytes)},
		{"mail.unknown.count", "Messages of unknown direction", 0, "0"},
		{"mail.received.per_day", "Mail received per day with data (mean)", float64(tr.Received) / days, fmtDec(float64(tr.Received)/days, 1)},
		{"mail.sent.per_day", "Mail sent per day with data (mean)", float64(tr.Sent) / days, fmtDec(float64(tr.Sent)/days, 1)},
		{"scan.scanned", "Messages scanned", float64(tr.Scanned), fmtInt(tr.Scanned)},
		{"scan.spam", "Spam", float64(tr.Spam), fmtInt(tr.Spam)},
		{"scan.spam_rate", "Spam share of scanned mail", float64(tr.Spam) / float64(tr.Scanned) * 100, fmtDec(float64(tr.Spam)/float64(tr.Scanned)*100, 1) + " %"},
		{"scan.virus", "Viruses", float64(tr.Virus), fmtInt(tr.Virus)},
		{"scan.banned", "Banned attachments", float64(tr.Banned), fmtInt(tr.Banned)},
		{"scan.greylisted", "Greylisted (deferred)", float64(tr.Greylisted), fmtInt(tr.Greylisted)},
		{"logins.ok", "Successful logins", float64(tr.LoginsOK["imap"] + tr.LoginsOK["pop3"] + tr.LoginsOK["smtp_auth"]),
			fmtInt(tr.LoginsOK["imap"] + tr.LoginsOK["pop3"] + tr.LoginsOK["smtp_auth"])},
		{"logins.failed", "Failed logins", float64(tr.LoginsFailed["imap"] + tr.LoginsFailed["pop3"]), fmtInt(tr.LoginsFailed["imap"] + tr.LoginsFailed["pop3"])},
		{"users.all", "Active users (any protocol)", float64(tr.AllUsers()), fmtInt(int64(tr.AllUsers()))},
		{"reads.all", "Messages read", float64(tr.Reads["imap"] + tr.Reads["pop3"]), fmtInt(tr.Reads["imap"] + tr.Reads["pop3"])},
		{"traffic.in", "Traffic in", float64(tr.ReceivedBytes), fmtBytes(tr.ReceivedBytes)},
		{"traffic.out", "Traffic out", float64(tr.TrafficOut), fmtBytes(tr.TrafficOut)},
		{"traffic.total", "Traffic in total", float64(tr.ReceivedBytes + tr.TrafficOut), fmtBytes(tr.ReceivedBytes + tr.TrafficOut)},
	}
	// Every day has logs, greylisting decisions included (postgrey passes
	// known partners every day).
	docCSV := reportFile(t, cfg, "2025-11", "r.csv")
	byKey := checkCSV(t, docCSV, wants)
	for _, w := range []struct {
		key   string
		value int64
	}{
		{"logins.imap.ok", tr.LoginsOK["imap"]}, {"logins.imap.failed", tr.LoginsFailed["imap"]},
		{"logins.pop3.ok", tr.LoginsOK["pop3"]}, {"logins.pop3.failed", tr.LoginsFailed["pop3"]},
		{"logins.smtp_auth.ok", tr.LoginsOK["smtp_auth"]}, {"logins.smtp_auth.failed", 0},
		{"reads.imap", tr.Reads["imap"]}, {"reads.pop3", tr.Reads["pop3"]},
		{"users.imap", int64(len(tr.Users["imap"]))}, {"users.pop3", int64(len(tr.Users["pop3"]))},
		{"users.smtp_auth", int64(len(tr.Users["smtp_auth"]))},
		{"mail.flow.refused.smtp_permanent", tr.RefusedPermanent}, {"mail.flow.refused.smtp_temporary", tr.RefusedTemporary},
		{"mail.flow.refused.checks", tr.RefusedChecks},
		{"mail.flow.sum", tr.Accepted()}, {"mail.flow.accepted", tr.Accepted()},
		{"tables.rejects.total", tr.RefusedPermanent + tr.RefusedTemporary + tr.RefusedChecks},
	} {
		if r := byKey[w.key]; r == nil || r[4] != strconv.FormatInt(w.value, 10) {
			t.Errorf("CSV %s = %v, want %d", w.key, r, w.value)
		}
	}
	for _, side := range []string{monthlog.Outside, monthlog.Local} {
		for _, o := range []string{"delivered_local", "delivered_remote", "delivered_both", "partly_bounced", "bounced", "blocked",
			"discarded", "queued", "removed", "no_outcome"} {
			if r := byKey["mail.flow."+o+"."+side]; r == nil || r[4] != strconv.FormatInt(tr.Flow[side][o], 10) {
				t.Errorf("CSV flow %s %s = %v, want %d", side, o, r, tr.Flow[side][o])
			}
		}
	}
	if r := byKey["coverage.mail.days_with_data"]; r == nil || r[4] != "30" {
		t.Errorf("coverage %v", r)
	}

	docHTML := reportFile(t, cfg, "2025-11", "r.html")
	checkHTML(t, docHTML, wants)
	builtin := pdfText(t, reportFile(t, cfg, "2025-11", "r.pdf", "--pdf-engine", "builtin"))
	checkText(t, "built-in PDF", builtin, wants)
	texts := map[string]string{"built-in PDF": builtin}
	if _, err := exec.LookPath("chromium"); err == nil {
		text := pdfText(t, reportFile(t, cfg, "2025-11", "r.pdf", "--pdf-engine", "chromium"))
		checkText(t, "Chromium PDF", text, wants)
		texts["Chromium PDF"] = text
	} else if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
		t.Error("chromium not installed")
	}
	rows := htmlRows(docHTML)
	// The flow table reconciles and says so.
	n := func(v int64) string { return fmtInt(v) }
	o, l := tr.Flow[monthlog.Outside], tr.Flow[monthlog.Local]
	checkRow(t, rows, texts, "Messages accepted", n(tr.Received), n(tr.Sent), "0", n(tr.Accepted()))
	checkRow(t, rows, texts, "delivered to local mailboxes", n(o["delivered_local"]), n(l["delivered_local"]), "0", n(o["delivered_local"]+l["delivered_local"]))
	checkRow(t, rows, texts, "delivered to remote hosts", n(o["delivered_remote"]), n(l["delivered_remote"]), "0", n(o["delivered_remote"]+l["delivered_remote"]))
	checkRow(t, rows, texts, "bounced or expired", n(o["bounced"]), n(l["bounced"]), "0", n(o["bounced"]+l["bounced"]))
	checkRow(t, rows, texts, "blocked by the content filter", n(o["blocked"]), n(l["blocked"]), "0", n(o["blocked"]+l["blocked"]))
	checkRow(t, rows, texts, "Sum of the outcomes (= messages accepted)", n(tr.Received), n(tr.Sent), "0", n(tr.Accepted()))
	// Logins, reads and active users by protocol.
	checkRow(t, rows, texts, "IMAP", n(tr.LoginsOK["imap"]))
	checkRow(t, rows, texts, "POP", n(tr.LoginsOK["pop3"]))
	// The reads and users table: Dovecot's own logout and login lines.
	for _, p := range []struct{ name, key string }{{"IMAP", "imap"}, {"POP", "pop3"}} {
		found := false
		for _, r := range rows {
			if len(r) == 7 && r[0] == p.name && r[1] == n(tr.Reads[p.key]) && r[4] == fmtInt(int64(len(tr.Users[p.key]))) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %s row with %d messages read and %d active users", p.name, tr.Reads[p.key], len(tr.Users[p.key]))
		}
	}
	// pflogsumm's tables: the sender domains and the reasons.
	for d, v := range tr.SenderDomains {
		checkRow(t, rows, texts, d, n(v[0]), fmtBytes(v[1]))
	}
	for status, reasons := range tr.Reasons {
		for text, count := range reasons {
			found := false
			for _, r := range rows {
				if len(r) == 3 && r[1] == text {
					found = true
					if r[2] != n(count) {
						t.Errorf("%s reason %q: %q, want %d", status, text, r[2], count)
					}
				}
			}
			if !found {
				t.Errorf("%s reason %q not in the report", status, text)
			}
		}
	}
	// No failed check, no missing section but the directory (no snapshot
	// in an import).
	if strings.Contains(string(docHTML), "Checks that failed") {
		t.Error("the report has failed checks")
	}
	for _, s := range []string{"Data not available"} {
		if strings.Count(string(docHTML), s) != 1 {
			t.Errorf("%q appears %d times, want once (registrations)", s, strings.Count(string(docHTML), s))
		}
	}
}

// TestReportMissingData: a month with no probes, no webmail logs and logs
// for 12 of its 30 days shows "–" with the reason and the coverage, and no
// 0 or 100 % stands for data that is missing.
func TestReportMissingData(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, oslo)
	logDays := []int{0, 1, 2, 3, 4, 10, 11, 12, 13, 20, 21, 22}
	cfg, tr := goldenMonth(t, monthlog.Options{Start: start, Days: 30, LogDays: logDays, Seed: 12}, "")
	docHTML := reportFile(t, cfg, "2025-11", "r.html", "--pdf-engine", "builtin")
	docCSV := reportFile(t, cfg, "2025-11", "r.csv")
	builtin := pdfText(t, reportFile(t, cfg, "2025-11", "r.pdf", "--pdf-engine", "builtin"))
	texts := map[string]string{"HTML": string(docHTML), "built-in PDF": builtin}
	if _, err := exec.LookPath("chromium"); err == nil {
		texts["Chromium PDF"] = pdfText(t, reportFile(t, cfg, "2025-11", "r.pdf", "--pdf-engine", "chromium"))
	}
	for label, text := range texts {
		flat := strings.Join(strings.Fields(text), " ")
		for _, want := range []string{
			"The mail logs cover 12 of 30 days of the period",
			"no probes configured", "no webmail logs for the period",
			"data for 12 of 30 days",
			"Mail (Postfix, engine): data for 12 of 30 days; none for",
		} {
			if !strings.Contains(flat, want) {
				t.Errorf("%s lacks %q", label, want)
			}
		}
	}
	rows := htmlRows(docHTML)
	// Availability: every service "–" with its note, never 100 %.
	services := 0
	for _, r := range rows {
		if len(r) == 7 && slices.Contains([]string{"smtp", "submission", "imap", "pop3", "webmail", "lists"}, r[0]) {
			services++
			if !strings.HasPrefix(r[1], "– (") || strings.Contains(strings.Join(r, " "), "100") {
				t.Errorf("availability row %q", r)
			}
		}
		// Webmail: no logins, failures, reads or users shown as 0.
		if len(r) == 7 && r[0] == "Webmail" {
			for i, c := range []string{r[1], r[4]} {
				if !strings.HasPrefix(c, "– (") {
					t.Errorf("webmail cell %d = %q, want – and a note", i, c)
				}
			}
		}
	}
	if services != 6 {
		t.Errorf("%d service rows, want 6", services)
	}
	// The CSV leaves missing values empty with the reason; the totals carry
	// their days with data; means are over those days.
	rs, err := csv.NewReader(strings.NewReader(string(docCSV))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rs[1:] {
		if r[3] != "" {
			continue
		}
		switch {
		case strings.HasPrefix(r[1], "availability.") && !strings.Contains(r[1], "_minutes") && !strings.HasSuffix(r[1], ".outages"):
			seen["availability"] = true
			if r[4] != "" || r[9] != "missing: no_probes" {
				t.Errorf("CSV %v", r)
			}
		case r[1] == "logins.webmail.ok" || r[1] == "users.webmail":
			seen["webmail"] = true
			if r[4] != "" || r[9] != "missing: no_webmail_logs" {
				t.Errorf("CSV %v", r)
			}
		case r[1] == "mail.received.count":
			seen["received"] = true
			if r[4] != strconv.FormatInt(tr.Received, 10) || r[7] != "12" || r[8] != "30" {
				t.Errorf("CSV %v: want %d over 12 of 30 days", r, tr.Received)
			}
		case r[1] == "mail.received.per_day":
			seen["per_day"] = true
			if v, _ := strconv.ParseFloat(r[4], 64); math.Abs(v-float64(tr.Received)/12) > 1e-9 {
				t.Errorf("CSV %v: want %v (12 days with data)", r, float64(tr.Received)/12)
			}
		}
	}
	if len(seen) != 4 {
		t.Errorf("CSV rows seen: %v", seen)
	}
	// The per-day records list only the days with logs.
	days := map[string]bool{}
	for _, r := range rs[1:] {
		if r[1] == "mail.received.count" && r[3] != "" {
			days[r[3]] = true
		}
	}
	if len(days) != 12 {
		t.Errorf("%d days in the CSV, want 12", len(days))
	}
}

// TestReportOneDay: with all of a month's traffic on one Sunday, the
// analysis says that data exists for that day only, and makes no statement
// about weekdays and weekends.
func TestReportOneDay(t *testing.T) {
	t.Parallel()
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, oslo)
	cfg, _ := goldenMonth(t, monthlog.Options{Start: start, Days: 30, LogDays: []int{1}, Seed: 13}, "")
	docHTML := reportFile(t, cfg, "2025-11", "r.html")
	builtin := pdfText(t, reportFile(t, cfg, "2025-11", "r.pdf", "--pdf-engine", "builtin"))
	for label, text := range map[string]string{"HTML": string(docHTML), "built-in PDF": builtin} {
		flat := strings.Join(strings.Fields(text), " ")
		if !strings.Contains(flat, "Data exists for one day only, Sun 2 Nov") {
			t.Errorf("%s does not say the data is for one day", label)
		}
		for _, bad := range []string{"No significant difference between weekdays and weekends", "No marked difference", "Lower at weekends", "Higher at weekends"} {
			if strings.Contains(flat, bad) {
				t.Errorf("%s says %q", label, bad)
			}
		}
	}
}
