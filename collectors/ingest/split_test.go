package ingest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/collectors/txlog"
)

// batchSizes records the size of every batch written, after memStore.
type batchSizes struct {
	memStore
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) WriteBatch(ctx context.Context, batch *txlog.Batch, cps []txlog.Checkpoint) error {
	b.mu.Lock()
	b.sizes = append(b.sizes, batch.Len())
	b.mu.Unlock()
	return b.memStore.WriteBatch(ctx, batch, cps)
}

// TestImportSplitSameAsOneGoroutine: an import whose records are built on
// a second goroutine (split.go) writes the same records in the same
// batches, raises the same abuse findings and counts the same as one that
// does everything on one goroutine, with abuse detection at thresholds
// low enough for the sample to raise findings. With one file the parsers'
// event blocks are used again (logparse.Arena.Recycle): an event still
// used after its block was given back would show as a difference.
func TestImportSplitSameAsOneGoroutine(t *testing.T) {
	for _, files := range [][]string{sampleFiles(t), sampleFiles(t)[:1]} {
		t.Run(strconv.Itoa(len(files)), func(t *testing.T) { testImportSplit(t, files) })
	}
}

func testImportSplit(t *testing.T, files []string) {
	type result struct {
		st      ImportStats
		sizes   []int
		records []string
		alerts  []string
		summary string
		parsed  float64
	}
	run := func(split bool) result {
		old := importSplit
		importSplit = split
		defer func() { importSplit = old }()
		cfg := abusedetect.DefaultConfig()
		cfg.AuthFailuresPerUser, cfg.AuthFailuresPerIP, cfg.RecipientsPerMessage, cfg.MessagesPerAccount = 2, 2, 2, 2
		var alerts []string
		d, err := abusedetect.New(abusedetect.Options{Config: cfg, Sink: abusedetect.AlertSinkFunc(func(_ context.Context, a abusedetect.Alert) error {
			alerts = append(alerts, fmt.Sprintf("%v %s %s %s %q", a.At, a.Kind, a.Subject, a.Summary, a.Evidence))
			return nil
		})})
		if err != nil {
			t.Fatal(err)
		}
		store := &batchSizes{}
		p := New(Options{Store: store, BatchSize: 97, Detector: abusedetect.Stream{D: d}})
		st, err := Import(context.Background(), p, ImportOptions{Files: files, Loc: time.UTC})
		if err != nil {
			t.Fatal(err)
		}
		var recs []string
		for _, r := range store.b.Rows {
			recs = append(recs, fmt.Sprintf("%#v", r))
		}
		for _, m := range store.b.Messages {
			recs = append(recs, fmt.Sprintf("%#v", m))
		}
		for _, l := range store.b.Logins {
			recs = append(recs, fmt.Sprintf("%#v", l))
		}
		for _, s := range store.b.Sessions {
			recs = append(recs, fmt.Sprintf("%#v", s))
		}
		// the order of records emitted by the once-a-minute sweep follows
		// Go's map order, in either mode: compare the sets
		slices.Sort(recs)
		slices.Sort(alerts)
		return result{st: st, sizes: store.sizes, records: recs, alerts: alerts,
			summary: fmt.Sprintf("%+v", p.Correlator().Summary()), parsed: testutil.ToFloat64(p.Metrics().LinesParsed.WithLabelValues(SourceImport))}
	}
	one, two := run(false), run(true)
	if len(one.records) < 1000 || len(one.alerts) == 0 || len(one.sizes) < 10 {
		t.Fatalf("the sample gave %d records, %d findings, %d batches: too few to compare", len(one.records), len(one.alerts), len(one.sizes))
	}
	if diff := cmp.Diff(one, two, cmp.AllowUnexported(result{})); diff != "" {
		t.Fatalf("split import differs (-one goroutine +two):\n%s", diff)
	}
}
