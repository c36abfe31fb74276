package engine_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/loadgen"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// BenchmarkEngineCommit measures durable commits of 4 KiB messages from
// 32 concurrent sessions, with group commit (batches up to 64) and without
// (batches of 1), on each database.
//
//	go test ./engine/ -run '^$' -bench EngineCommit -benchtime 2000x
func BenchmarkEngineCommit(b *testing.B) {
	for _, d := range []storage.Dialect{storage.SQLite, storage.Postgres} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/batch=%d", d, batch), func(b *testing.B) {
				st := enginestore.New(storagetest.Open(b, d))
				ids, err := st.DirUpsertMailboxes(context.Background(), []directory.Mailbox{{Address: "anna@uni.example"}}, time.Now())
				if err != nil {
					b.Fatal(err)
				}
				workers := 1
				if d == storage.Postgres {
					workers = 4
				}
				c := store.NewCommitter(st, store.CommitterOptions{MaxBatch: batch, Workers: workers})
				defer c.Close()
				var n atomic.Int64
				b.SetParallelism(16) // 32 goroutines on 2 CPUs
				b.SetBytes(4096)
				b.ResetTimer()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						body := fmt.Appendf(make([]byte, 0, 4200), "Message-ID: <%d@bench>\r\n\r\n%4096d\r\n", i, i)
						m := &store.Message{QueueID: fmt.Sprintf("B%d-%d", batch, i), ReceivedAt: time.Now(), Body: body, BodyHash: store.Hash(body),
							Deliveries: []store.Delivery{{Rcpt: "anna@uni.example", MailboxID: ids[0]}}}
						if err := c.Commit(context.Background(), m); err != nil {
							b.Fatal(err)
						}
					}
				})
			})
		}
	}
}

// BenchmarkEngineSMTP drives the whole MX path (whitelisted client,
// recipient lookup, durable local delivery, metrics) with loadgen: 20
// concurrent sessions, 4 KiB messages, one connection per message.
//
//	go test ./engine/ -run '^$' -bench EngineSMTP -benchtime 3000x
func BenchmarkEngineSMTP(b *testing.B) {
	for _, d := range []storage.Dialect{storage.SQLite, storage.Postgres} {
		b.Run(d.String(), func(b *testing.B) {
			db := storagetest.Open(b, d)
			h := startEngine(b, db, func(c *engine.Config) {
				c.Whitelist.Clients = []string{"127.0.0.1"}
				c.Limits.MaxConnsPerIP = 100
				if d == storage.Postgres {
					c.Commit.Workers = 4
				}
			}, nil)
			h.mailbox("anna@uni.example", func(n *directory.NewMailbox) { n.QuotaBytes = 1 << 40 })
			b.SetBytes(4096)
			b.ResetTimer()
			res, err := loadgen.Run(context.Background(), loadgen.Options{Addr: h.mx, Concurrency: 20, Count: b.N,
				Sizes: []int{4096}, To: []string{"anna@uni.example"}}, nil)
			b.StopTimer()
			if err != nil || res.Accepted != b.N {
				b.Fatalf("loadgen: %+v, %v", res, err)
			}
			b.ReportMetric(res.PerSecond, "msgs/s")
			b.ReportMetric(float64(res.P99.Microseconds())/1000, "p99-ms")
		})
	}
}
