package ingest

import (
	"context"
	"os"
	"testing"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

type discard struct{}

func (discard) WriteBatch(context.Context, *txlog.Batch, []txlog.Checkpoint) error { return nil }
func (discard) Checkpoint(context.Context, string) (txlog.Checkpoint, error) {
	return txlog.Checkpoint{}, txlog.ErrNoCheckpoint
}

// BenchmarkImportSample measures parse + correlate + records (no
// database) over the two sample files; lines/s is reported.
func BenchmarkImportSample(b *testing.B) {
	files := sampleFiles(b)
	var lines int64
	for i := 0; i < b.N; i++ {
		st, err := Import(context.Background(), New(Options{Store: discard{}}), ImportOptions{Files: files})
		if err != nil {
			b.Fatal(err)
		}
		lines += st.Lines
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkImportMailLog is BenchmarkImportSample over a large log, e.g.
// the million lines of collectors/cmd/mkmaillog (docs/performance.md,
// "Collectors"): POSTVAKT_BENCH_MAILLOG=/tmp/mail-1m.log.
func BenchmarkImportMailLog(b *testing.B) {
	b.Run("without detector", func(b *testing.B) { benchImportMailLog(b, false) })
	b.Run("with detector", func(b *testing.B) { benchImportMailLog(b, true) })
}

// benchImportMailLog imports the log, with abuse detection at its
// defaults as `postvakt import` runs it, or without.
func benchImportMailLog(b *testing.B, detect bool) {
	f := os.Getenv("POSTVAKT_BENCH_MAILLOG")
	if f == "" {
		b.Skip("POSTVAKT_BENCH_MAILLOG not set")
	}
	var lines int64
	for i := 0; i < b.N; i++ {
		o := Options{Store: discard{}}
		if detect {
			d, err := abusedetect.New(abusedetect.Options{Config: abusedetect.DefaultConfig(),
				Sink: abusedetect.AlertSinkFunc(func(context.Context, abusedetect.Alert) error { return nil })})
			if err != nil {
				b.Fatal(err)
			}
			o.Detector = abusedetect.Stream{D: d}
		}
		st, err := Import(context.Background(), New(o), ImportOptions{Files: []string{f}})
		if err != nil {
			b.Fatal(err)
		}
		lines += st.Lines
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}
