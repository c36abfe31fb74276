package txlogstore_test

import (
	"context"
	"os"
	"testing"

	"github.com/uni-mail/postvakt/collectors/ingest"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// BenchmarkImportSQLite imports a log (POSTVAKT_BENCH_MAILLOG, e.g. from
// collectors/cmd/mkmaillog) into a fresh SQLite database per run, as
// `postvakt import --no-rollups` does without abuse detection (opened with
// Options.Bulk, a bulk load into the empty logs); lines/s is
// reported. With -cpuprofile it shows where an import into SQLite goes
// (docs/performance.md).
//
//	POSTVAKT_BENCH_MAILLOG=/tmp/mail-200k.log go test -run XXX -bench ImportSQLite -benchtime 2x ./internal/store/txlogstore/
func BenchmarkImportSQLite(b *testing.B) {
	f := os.Getenv("POSTVAKT_BENCH_MAILLOG")
	if f == "" {
		b.Skip("POSTVAKT_BENCH_MAILLOG not set")
	}
	var lines int64
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		u := storagetest.URL(b, storage.SQLite)
		db, err := storage.Open(ctx, u, storage.Options{MaxConns: 8, Bulk: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := db.MigrateUp(ctx, nil); err != nil {
			b.Fatal(err)
		}
		st := txlogstore.New(db)
		b.StartTimer()
		if _, err := st.BeginBulkLoad(ctx); err != nil {
			b.Fatal(err)
		}
		s, err := ingest.Import(ctx, ingest.New(ingest.Options{Store: st, Writers: 2}), ingest.ImportOptions{Files: []string{f}})
		if err != nil {
			b.Fatal(err)
		}
		if err := st.FinishBulkLoad(ctx); err != nil {
			b.Fatal(err)
		}
		lines += s.Lines
		b.StopTimer()
		db.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(lines)/b.Elapsed().Seconds(), "lines/s")
}
