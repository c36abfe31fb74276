package txlogstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// BenchmarkTraceSearchFewSenders measures trace searches on PostgreSQL
// over a log like a university's: most mail comes from few senders (50,
// evenly spread), twenty senders wrote once. 10 days of 30,000
// messages (900,000 rows); searches by a sender that wrote once and by
// Message-ID, over 30 days, reported as p50 and p95 per kind.
// POSTVAKT_BENCH_PG_URL reuses a loaded database (filled when empty):
//
//	POSTVAKT_BENCH_PG_URL=postgres://… go test -run XXX -bench TraceSearchFewSenders -benchtime 60x ./internal/store/txlogstore/
func BenchmarkTraceSearchFewSenders(b *testing.B) {
	var db *storage.DB
	if u := os.Getenv("POSTVAKT_BENCH_PG_URL"); u != "" {
		db = storagetest.OpenURL(b, u)
	} else {
		db = storagetest.Open(b, storage.Postgres)
	}
	st := txlogstore.New(db)
	ctx := context.Background()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	const days, perDay, rare = 10, 30000, 20
	var have int
	if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM mail_messages").Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have == 0 {
		r := rand.New(rand.NewPCG(5, 6))
		batch := &txlog.Batch{}
		for i := range days * perDay {
			ts := start.Add(time.Duration(i/perDay)*24*time.Hour + time.Duration(r.Int64N(int64(23*time.Hour))))
			from := fmt.Sprintf("sender%d@partner.example", r.IntN(50))
			if i%(days*perDay/rare) == 0 {
				from = fmt.Sprintf("rare%d@partner.example", i/(days*perDay/rare))
			}
			to := fmt.Sprintf("user%d@uni.example", r.IntN(5000))
			q1, q2 := fmt.Sprintf("%010X", 2*i), fmt.Sprintf("%010X", 2*i+1)
			key := txlog.MsgKey("mx1", q1, ts)
			msgid := fmt.Sprintf("%d@few.example", i)
			batch.Messages = append(batch.Messages, txlog.MessageRow{FirstSeen: ts, LastSeen: ts.Add(2 * time.Second), Node: "mx1",
				Source: "postfix", Direction: txlog.Inbound, MsgKey: key, Origin: "smtpd", Service: "smtpd", State: "removed",
				QueueIDs: []string{q1, q2}, MessageID: msgid, MailFrom: from, Size: 1000, NRcpt: 1, ClientIP: "198.51.100.7", Received: 1})
			batch.Rows = append(batch.Rows,
				txlog.Row{Time: ts.Add(time.Second), Node: "mx1", Source: "postfix", Direction: txlog.Inbound, MsgKey: key, QueueID: q1,
					MessageID: msgid, MailFrom: from, Rcpt: to, ClientIP: "198.51.100.7", Status: txlog.StatusSent, Agent: "smtp", Handoff: true},
				txlog.Row{Time: ts.Add(time.Second), Node: "mx1", Source: "amavis", Direction: txlog.Inbound, QueueID: q1, MessageID: msgid,
					MailFrom: from, Rcpt: to, ClientIP: "198.51.100.7", Status: txlog.StatusScanned},
				txlog.Row{Time: ts.Add(2 * time.Second), Node: "mx1", Source: "postfix", Direction: txlog.Inbound, MsgKey: key, QueueID: q2,
					MessageID: msgid, MailFrom: from, Rcpt: to, ClientIP: "198.51.100.7", Status: txlog.StatusSent, Agent: "lmtp"})
			if len(batch.Rows) >= 30000 {
				if err := st.WriteBatch(ctx, batch, nil); err != nil {
					b.Fatal(err)
				}
				batch.Reset()
			}
		}
		if err := st.WriteBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
		if _, err := db.Exec(ctx, "VACUUM ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	since, until := start.Add(-20*24*time.Hour), start.Add(10*24*time.Hour)
	r := rand.New(rand.NewPCG(1, 2))
	lat := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		q := trace.Query{Since: since, Until: until}
		kind := []string{"sender", "msgid"}[i%2]
		if kind == "sender" {
			q.From = fmt.Sprintf("rare%d@partner.example", r.IntN(rare))
		} else {
			q.MessageID = fmt.Sprintf("%d@few.example", r.IntN(days*perDay))
		}
		t := time.Now()
		f, err := trace.Search(ctx, st, q, false)
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Messages) != 1 {
			b.Fatalf("%+v: %d messages, want 1", q, len(f.Messages))
		}
		lat[kind] = append(lat[kind], time.Since(t))
	}
	b.StopTimer()
	for kind, l := range lat {
		slices.Sort(l)
		b.ReportMetric(float64(l[len(l)*50/100].Microseconds())/1000, kind+"-p50-ms")
		b.ReportMetric(float64(l[min(len(l)-1, len(l)*95/100)].Microseconds())/1000, kind+"-p95-ms")
	}
}
