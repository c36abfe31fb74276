package txlogstore_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// vmRSS is the process's resident set in MiB, from /proc/self/status.
func vmRSS(tb testing.TB) float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

// BenchmarkWriteBatchSQLiteRSS writes batches of varying size (1 to 600
// rows, as the live tail's commits are) into SQLite from four goroutines,
// so that the pool's connections take turns, and reports the process's
// resident memory after (rss-MiB) and its growth (rss-growth-MiB) beside
// the Go heap (heap-MiB): memory held by SQLite's prepared statements
// shows in the first two only.
//
//	go test -run XXX -bench WriteBatchSQLiteRSS -benchtime 2000x ./internal/store/txlogstore/
func BenchmarkWriteBatchSQLiteRSS(b *testing.B) {
	db := storagetest.Open(b, storage.SQLite)
	st := txlogstore.New(db)
	ctx := context.Background()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	runtime.GC()
	before := vmRSS(b)
	var next, rows int64
	var mu sync.Mutex
	work := make(chan int)
	var wg sync.WaitGroup
	b.ResetTimer()
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range work {
				n := 1 + r.IntN(600)
				batch := &txlog.Batch{}
				mu.Lock()
				base := next
				next += int64(n)
				rows += int64(n)
				mu.Unlock()
				for i := range n {
					k := base + int64(i)
					ts := start.Add(time.Duration(k) * time.Second)
					q := fmt.Sprintf("%010X", k)
					key := txlog.MsgKey("mx1", q, ts)
					if i%3 == 0 {
						batch.Messages = append(batch.Messages, txlog.MessageRow{FirstSeen: ts, LastSeen: ts, Node: "mx1",
							Source: "postfix", Direction: txlog.Inbound, MsgKey: key, State: "removed", QueueIDs: []string{q},
							MessageID: fmt.Sprintf("%d@rss.example", k), MailFrom: "a@partner.example", NRcpt: 1})
					}
					batch.Rows = append(batch.Rows, txlog.Row{Time: ts, Node: "mx1", Source: "postfix", Direction: txlog.Inbound,
						MsgKey: key, QueueID: q, MessageID: fmt.Sprintf("%d@rss.example", k), MailFrom: "a@partner.example",
						Rcpt: fmt.Sprintf("user%d@uni.example", k%5000), Status: txlog.StatusSent, Agent: "lmtp"})
				}
				if err := st.WriteBatch(ctx, batch, nil); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < b.N; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	after := vmRSS(b)
	b.ReportMetric(after, "rss-MiB")
	b.ReportMetric(after-before, "rss-growth-MiB")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MiB")
	b.ReportMetric(float64(rows)/b.Elapsed().Seconds(), "rows/s")
}
