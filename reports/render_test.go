package reports_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/reports"
)

// requireTool returns the path of an external test tool; without it the
// test skips, or fails when POSTVAKT_REQUIRE_TOOLS=1 (CI).
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (POSTVAKT_REQUIRE_TOOLS=1) but not installed: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// sectionHeadings are the headings every rendering has, by language.
var sectionHeadings = map[string][]string{
	"en": {"Comment", "Summary", "Registrations", "Mail received and sent", "Spam and virus handling",
		"Logins and reads by protocol", "Traffic", "Availability", "Faults and SLA", "On-call", "Senders, recipients and reasons", "Data coverage", "Questions and tips", "Appendix: definitions"},
	"nb": {"Kommentar", "Sammendrag", "Registreringer", "E-post mottatt og sendt", "Søppelpost og virus",
		"Innlogginger og lesing per protokoll", "Trafikk", "Tilgjengelighet", "Feil og SLA", "Ukevakt", "Avsendere, mottakere og årsaker", "Datadekning", "Spørsmål og tips", "Vedlegg: definisjoner"},
}

// keyNumbers are strings every rendering of the October report must show:
// totals, their changes, ticket IDs, the Czech and Nordic test words.
func keyNumbers(t *testing.T, r *reports.Report) []string {
	t.Helper()
	en := r.Lang == "en"
	group := func(v float64) string {
		s := strconv.FormatInt(int64(v), 10)
		sep := ","
		if !en {
			sep = "\u00a0"
		}
		var b strings.Builder
		for i := range len(s) {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteString(sep)
			}
			b.WriteByte(s[i])
		}
		return b.String()
	}
	pct := func(v float64) string {
		s := strconv.FormatFloat(v, 'f', 1, 64)
		if !en {
			s = strings.ReplaceAll(s, ".", ",")
		}
		if v > 0 {
			s = "+" + s
		} else {
			s = strings.Replace(s, "-", "−", 1)
		}
		return s + " %"
	}
	var out []string
	for _, key := range []string{"mail.received.count", "mail.sent.count", "scan.spam", "logins.ok", "registrations.mailboxes", "oncall.pages"} {
		f, ok := r.FigureByKey(key)
		if !ok {
			t.Fatalf("no figure %s", key)
		}
		out = append(out, group(f.Current))
		if key != "oncall.pages" {
			out = append(out, pct(*f.Change))
		}
	}
	return append(out, "T-1042", "T-1057", "T-1061", "Říjen", "Tromsø", "Jiří Dvořák", "Per Østby")
}

func TestHTMLIsSelfContained(t *testing.T) {
	t.Parallel()
	for _, lang := range reports.Languages() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r, _ := october(t, lang)
			html, err := (&reports.Renderer{Config: testConfig(lang)}).HTML(r)
			if err != nil {
				t.Fatal(err)
			}
			s := string(html)
			if n := strings.Count(s, "<svg"); n != 5 {
				t.Errorf("%d inline SVG charts, want 5", n)
			}
			if regexp.MustCompile(`(?i)(src|href)=["']?(https?:|//)`).MatchString(s) || strings.Contains(s, "@import") {
				t.Error("HTML refers to an external resource")
			}
			if !strings.Contains(s, "@media print") || !strings.Contains(s, "@page") {
				t.Error("no print CSS")
			}
			text := htmlText(s)
			for _, want := range append(sectionHeadings[lang], keyNumbers(t, r)...) {
				if !strings.Contains(text, want) {
					t.Errorf("HTML lacks %q", want)
				}
			}
		})
	}
}

var tagRe = regexp.MustCompile(`<[^>]*>`)

func htmlText(s string) string {
	s = tagRe.ReplaceAllString(s, " ")
	s = strings.NewReplacer("&#43;", "+", "&#39;", "'", "&amp;", "&", "&nbsp;", "\u00a0").Replace(s)
	return s
}

func TestCSV(t *testing.T) {
	t.Parallel()
	r, _ := october(t, "en")
	data, err := (&reports.Renderer{Config: testConfig("en")}).CSV(r)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "section,metric,unit,date,value,previous,change_pct,days_with_data,days,note" {
		t.Fatalf("header %v", rows[0])
	}
	f, _ := r.FigureByKey("mail.received.count")
	var daySum float64
	found := false
	for _, row := range rows[1:] {
		if row[1] == "mail.received.count" && row[3] == "" {
			found = row[4] == strconv.FormatFloat(f.Current, 'f', -1, 64) && row[6] == strconv.FormatFloat(*f.Change, 'f', -1, 64)
		}
		if row[1] == "mail.received.count" && row[3] != "" {
			v, _ := strconv.ParseFloat(row[4], 64)
			daySum += v
		}
	}
	if !found {
		t.Error("CSV lacks the received total with its change")
	}
	if daySum != f.Current {
		t.Errorf("daily rows sum to %v, total %v", daySum, f.Current)
	}
	golden(t, "report-2026-10.golden.csv", data)
}

// checkPDF checks a rendered PDF (docs/reports.md, "Rendering"): pdftotext
// finds every section heading and key number; pdffonts shows every font
// embedded; pdftoppm renders the pages.
// With POSTVAKT_REPORT_PAGES=DIR the page images are kept there to be looked at.
func checkPDF(t *testing.T, r *reports.Report, pdf []byte, name string) {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) || !bytes.Contains(pdf[len(pdf)-1024:], []byte("%%EOF")) {
		t.Fatal("not a PDF")
	}
	pdftotext := requireTool(t, "pdftotext")
	dir := t.TempDir()
	file := filepath.Join(dir, name+".pdf")
	if err := os.WriteFile(file, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pdftotext, "-enc", "UTF-8", file, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	// Lines may break anywhere; compare with whitespace normalised.
	text := strings.Join(strings.Fields(strings.ReplaceAll(string(out), "\u00a0", " ")), " ")
	for _, want := range append(sectionHeadings[r.Lang], keyNumbers(t, r)...) {
		w := strings.Join(strings.Fields(strings.ReplaceAll(want, "\u00a0", " ")), " ")
		if !strings.Contains(text, w) {
			t.Errorf("%s: pdftotext finds no %q", name, want)
		}
	}
	fonts, err := exec.Command(requireTool(t, "pdffonts"), file).Output()
	if err != nil {
		t.Fatalf("pdffonts: %v", err)
	}
	for _, line := range strings.Split(string(fonts), "\n")[2:] {
		if f := strings.Fields(line); len(f) >= 5 && f[len(f)-5] != "yes" {
			t.Errorf("%s: font not embedded: %s", name, line)
		}
	}
	pages := os.Getenv("POSTVAKT_REPORT_PAGES")
	if pages == "" {
		pages = dir
	}
	prefix := filepath.Join(pages, name)
	if err := exec.Command(requireTool(t, "pdftoppm"), "-png", "-r", "60", file, prefix).Run(); err != nil {
		t.Fatalf("pdftoppm: %v", err)
	}
	pngs, _ := filepath.Glob(prefix + "-*.png")
	if len(pngs) < 3 {
		t.Errorf("%s: %d pages rendered", name, len(pngs))
	}
	for _, p := range pngs {
		if st, err := os.Stat(p); err != nil || st.Size() < 5000 {
			t.Errorf("%s: page image %s looks empty", name, p)
		}
	}
}

// TestBuiltinPDF checks the pure-Go PDF (docs/reports.md, "Rendering"),
// made the way the service makes it when Chromium is missing: pdf_engine
// auto falls back to the built-in renderer.
func TestBuiltinPDF(t *testing.T) {
	t.Parallel()
	for _, lang := range reports.Languages() {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			r, _ := october(t, lang)
			cfg := testConfig(lang)
			cfg.Chromium = filepath.Join(t.TempDir(), "no-such-chromium")
			pdf, engine, err := (&reports.Renderer{Config: cfg}).PDF(context.Background(), r)
			if err != nil {
				t.Fatal(err)
			}
			if engine != reports.PDFBuiltin {
				t.Fatalf("auto without chromium used %s", engine)
			}
			checkPDF(t, r, pdf, "builtin-"+lang)
			// The charts are images in this PDF: five of them.
			dir := t.TempDir()
			file := filepath.Join(dir, "r.pdf")
			_ = os.WriteFile(file, pdf, 0o600)
			out, err := exec.Command(requireTool(t, "pdfimages"), "-list", file).Output()
			if err != nil {
				t.Fatal(err)
			}
			if n := len(regexp.MustCompile(`(?m)^\s*\d+\s+\d+\s+image\s`).FindAllString(string(out), -1)); n != 5 {
				t.Errorf("%d images (charts) in the PDF, want 5:\n%s", n, out)
			}
		})
	}
}

func TestChromiumEngineNeedsChromium(t *testing.T) {
	t.Parallel()
	cfg := testConfig("en")
	cfg.Chromium = filepath.Join(t.TempDir(), "no-such-chromium")
	cfg.PDFEngine = reports.PDFChromium
	r, _ := october(t, "en")
	if _, _, err := (&reports.Renderer{Config: cfg}).PDF(context.Background(), r); !errors.Is(err, reports.ErrNoChromium) {
		t.Fatalf("chromium engine without chromium: %v", err)
	}
}

// TestChromiumPDF checks the PDF printed by Chromium (docs/reports.md,
// "Rendering").
func TestChromiumPDF(t *testing.T) {
	t.Parallel()
	cfg := testConfig("nb")
	if !reports.ChromiumAvailable(cfg.Chromium) {
		requireTool(t, "chromium")
		cfg.Chromium = "chromium"
	}
	cfg.PDFEngine = reports.PDFChromium
	r, _ := october(t, "nb")
	pdf, engine, err := (&reports.Renderer{Config: cfg}).PDF(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if engine != reports.PDFChromium {
		t.Fatalf("engine %s", engine)
	}
	checkPDF(t, r, pdf, "chromium-nb")
}
