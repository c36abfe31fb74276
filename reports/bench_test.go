package reports_test

import (
	"context"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/reports"
	"github.com/uni-mail/postvakt/reports/reportstest"
)

// universityScale is the benchmark data set: rollups from one million
// messages received a day (a third as many sent), 20,000 users logging
// in, two months (the report and its previous period).
func universityScale(b *testing.B) (*reportstest.Memory, reports.Period) {
	b.Helper()
	opts := reportstest.SeptOct()
	opts.MessagesPerDay = 1_000_000
	opts.Users = 20_000
	src := reportstest.Seed(opts)
	p, err := reports.ParsePeriod("2026-10", 1, reportstest.Oslo())
	if err != nil {
		b.Fatal(err)
	}
	return src, p
}

func benchService(b *testing.B, engine string) (*reports.Service, reports.Period) {
	src, p := universityScale(b)
	cfg := testConfig("en")
	cfg.PDFEngine = engine
	return &reports.Service{Config: cfg, Source: src, Now: func() time.Time { return time.Date(2026, 11, 1, 7, 0, 0, 0, reportstest.Oslo()) }}, p
}

func benchGenerate(b *testing.B, engine string, formats ...string) {
	svc, p := benchService(b, engine)
	if engine == reports.PDFChromium && !reports.ChromiumAvailable(svc.Config.Chromium) {
		b.Skip("chromium not installed")
	}
	comment := "benchmark"
	b.ResetTimer()
	for b.Loop() {
		if _, err := svc.Generate(context.Background(), p, reports.GenerateOptions{Formats: formats, Comment: &comment}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMonthHTML: model, analysis and the HTML with inline SVG charts.
func BenchmarkMonthHTML(b *testing.B) { benchGenerate(b, reports.PDFBuiltin, reports.FormatHTML) }

// BenchmarkMonthPDFBuiltin: model, analysis and the pure-Go PDF.
func BenchmarkMonthPDFBuiltin(b *testing.B) { benchGenerate(b, reports.PDFBuiltin, reports.FormatPDF) }

// BenchmarkMonthPDFChromium: model, analysis, HTML and Chromium's print.
func BenchmarkMonthPDFChromium(b *testing.B) {
	benchGenerate(b, reports.PDFChromium, reports.FormatPDF)
}

// BenchmarkMonthAll: all three documents, as the scheduled job makes them.
func BenchmarkMonthAll(b *testing.B) { benchGenerate(b, reports.PDFAuto) }
