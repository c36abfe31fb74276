package txlogstore_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// BenchmarkTraceSearch measures trace searches by sender, recipient and
// Message-ID over a transaction log of POSTVAKT_BENCH_TRACE_ROWS rows
// (default 300000) on PostgreSQL, spread over 30 days (30 partitions),
// and reports p50 and p95 per kind. POSTVAKT_BENCH_PG_URL reuses a loaded
// database (it is filled only when empty); see docs/performance.md.
//
//	POSTVAKT_BENCH_TRACE_ROWS=10000000 go test -run XXX -bench TraceSearch -benchtime 200x ./internal/store/txlogstore/
func BenchmarkTraceSearch(b *testing.B) {
	rows := 300000
	if v := os.Getenv("POSTVAKT_BENCH_TRACE_ROWS"); v != "" {
		rows, _ = strconv.Atoi(v)
	}
	var db *storage.DB
	if u := os.Getenv("POSTVAKT_BENCH_PG_URL"); u != "" {
		db = storagetest.OpenURL(b, u)
	} else {
		db = storagetest.Open(b, storage.Postgres)
	}
	st := txlogstore.New(db)
	ctx := context.Background()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	var have int
	if err := db.QueryRow(ctx, "SELECT COUNT(*) FROM mail_tx").Scan(&have); err != nil {
		b.Fatal(err)
	}
	const senders, rcpts = 200000, 50000
	if have < rows {
		t0 := time.Now()
		fillTxLog(b, st, start, rows-have, have, senders, rcpts)
		b.Logf("loaded %d rows in %s", rows-have, time.Since(t0).Round(time.Second))
		if _, err := db.Exec(ctx, "ANALYZE"); err != nil {
			b.Fatal(err)
		}
	}
	total := max(have, rows)
	b.Logf("mail_tx holds %d rows", total)
	r := rand.New(rand.NewPCG(1, 2))
	lat := map[string][]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		kind := []string{"sender", "recipient", "msgid"}[i%3]
		var q trace.Query
		switch kind {
		case "sender":
			q.From = fmt.Sprintf("sender%d@partner%d.example", r.IntN(senders), r.IntN(senders)%97)
		case "recipient":
			q.To = fmt.Sprintf("user%d@uni.example", r.IntN(rcpts))
		case "msgid":
			q.MessageID = fmt.Sprintf("%d@bench.example", r.IntN(max(total/3, 1)))
		}
		t := time.Now()
		if _, err := trace.Search(ctx, st, q, false); err != nil {
			b.Fatal(err)
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

// fillTxLog writes n transaction-log rows: messages of three rows each
// (hand-off, scan, delivery) with a message row, over 30 days.
func fillTxLog(b *testing.B, st *txlogstore.Store, start time.Time, n, from, senders, rcpts int) {
	ctx := context.Background()
	r := rand.New(rand.NewPCG(uint64(from), 7))
	span := 30 * 24 * time.Hour
	batch := &txlog.Batch{}
	for i := from / 3; i < (from+n)/3; i++ {
		ts := start.Add(time.Duration(r.Int64N(int64(span))))
		s := r.IntN(senders)
		from := fmt.Sprintf("sender%d@partner%d.example", s, s%97)
		to := fmt.Sprintf("user%d@uni.example", r.IntN(rcpts))
		q1, q2 := fmt.Sprintf("%010X", 2*i), fmt.Sprintf("%010X", 2*i+1)
		key := txlog.MsgKey("mx1", q1, ts)
		msgid := fmt.Sprintf("%d@bench.example", i)
		ip := fmt.Sprintf("198.51.%d.%d", (s/256)%256, s%256)
		batch.Messages = append(batch.Messages, txlog.MessageRow{FirstSeen: ts, LastSeen: ts.Add(2 * time.Second), Node: "mx1",
			Source: "postfix", Direction: txlog.Inbound, MsgKey: key, Origin: "smtpd", Service: "smtpd", State: "removed",
			QueueIDs: []string{q1, q2}, MessageID: msgid, MailFrom: from, Size: int64(1000 + r.IntN(100000)), NRcpt: 1,
			ClientIP: ip, ClientName: "mail.partner.example", AVVerdict: "Passed CLEAN", Received: 1})
		batch.Rows = append(batch.Rows,
			txlog.Row{Time: ts.Add(time.Second), Node: "mx1", Source: "postfix", Direction: txlog.Inbound, MsgKey: key, QueueID: q1,
				MessageID: msgid, MailFrom: from, Rcpt: to, ClientIP: ip, Status: txlog.StatusSent, Agent: "smtp", Handoff: true,
				Relay: "127.0.0.1[127.0.0.1]:10024", DSN: "2.0.0", Reply: "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as " + q2},
			txlog.Row{Time: ts.Add(time.Second), Node: "mx1", Source: "amavis", Direction: txlog.Inbound, QueueID: q1, MessageID: msgid,
				MailFrom: from, Rcpt: to, ClientIP: ip, Status: txlog.StatusScanned, AVVerdict: "Passed CLEAN", SpamScore: "0.5"},
			txlog.Row{Time: ts.Add(2 * time.Second), Node: "mx1", Source: "postfix", Direction: txlog.Inbound, MsgKey: key, QueueID: q2,
				MessageID: msgid, MailFrom: from, Rcpt: to, ClientIP: ip, Status: txlog.StatusSent, Agent: "lmtp",
				Relay: "mx1[private/dovecot-lmtp]", DSN: "2.0.0", Reply: "250 2.0.0 <" + to + "> Saved", Delay: 1.2, Delays: "0.1/0/0/1.1"},
		)
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
}
