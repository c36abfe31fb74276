package txlogstore_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// BenchmarkBulkWriteBatchSQLite writes 40 batches of 9,000 records (the
// sample batch's messages, recipients' rows and logins) into the empty
// logs of a fresh SQLite database in a bulk load, as import's writers
// do: the write side of an import alone, without the parse and without
// the index build. writers=2 is import's two writers taking turns.
//
//	go test -run XXX -bench BulkWriteBatchSQLite -count 5 ./internal/store/txlogstore/
func BenchmarkBulkWriteBatchSQLite(b *testing.B) {
	var batches []*txlog.Batch
	records := 0
	for i := range 40 {
		bt := sampleBatch(t0.Add(time.Duration(i)*time.Hour), 1000)
		records += bt.Len()
		batches = append(batches, bt)
	}
	for _, writers := range []int{1, 2} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				db, err := storage.Open(ctx, storagetest.URL(b, storage.SQLite), storage.Options{MaxConns: 8, Bulk: true})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := db.MigrateUp(ctx, nil); err != nil {
					b.Fatal(err)
				}
				st := txlogstore.New(db)
				if _, err := st.BeginBulkLoad(ctx); err != nil {
					b.Fatal(err)
				}
				jobs := make(chan *txlog.Batch)
				var wg sync.WaitGroup
				errs := make(chan error, writers)
				b.StartTimer()
				for range writers {
					wg.Go(func() {
						for bt := range jobs {
							if err := st.WriteBatch(ctx, bt, nil); err != nil {
								errs <- err
								return
							}
						}
					})
				}
				for _, bt := range batches {
					jobs <- bt
				}
				close(jobs)
				wg.Wait()
				b.StopTimer()
				close(errs)
				if err := <-errs; err != nil {
					b.Fatal(err)
				}
				st.EndBulkWrites()
				db.Close()
				b.StartTimer()
			}
			b.ReportMetric(float64(records)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
