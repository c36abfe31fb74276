package txlogstore

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// TestRollupQueriesReadByIndex: on SQLite no rollup query reads a whole
// log table; each reads its period through an index. The flow rollup read
// every recipient line of the transaction log (SCAN mail_tx) to find the
// lines of the period's messages: 16.6 s a run at 90 days.
func TestRollupQueriesReadByIndex(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.SQLite)
	lo, hi := storage.Micros(time.Now().Add(-3*time.Hour)), storage.Micros(time.Now())
	for _, q := range slices.Concat(rollupQueries, reportRollupQueries) {
		args := []any{lo, hi}
		if q.args != nil {
			args = q.args(lo, hi)
		}
		plan := sqlitePlan(t, db, strings.ReplaceAll(q.sql, "BUCKET", "3600000000"), args...)
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN mail_") {
				t.Errorf("%s reads a whole table: %q", q.metric, strings.Join(plan, "; "))
			}
		}
		// the lines of the period's messages, found by their keys (the
		// time index would read a day of lines before the period too)
		if q.metric == "flow" && !strings.Contains(strings.Join(plan, "; "), "INDEX mail_tx_key") {
			t.Errorf("flow does not read the lines by message key: %q", strings.Join(plan, "; "))
		}
	}
}

// TestDayRollupsAsFromTheLog: a day's rollups, made from its hours', are
// what reading the day's log gives (the plain version: each metric's own
// query over day buckets), on random records of two days, for every
// metric; the distinct users of a day are counted once however many hours
// they logged in.
func TestDayRollupsAsFromTheLog(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := New(db)
		day0 := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
		if err := st.EnsureLogPartitions(ctx, day0.AddDate(0, 0, -2), day0.AddDate(0, 0, 3)); err != nil {
			t.Fatal(err)
		}
		rnd := rand.New(rand.NewPCG(7, 26))
		pick := func(s ...string) string { return s[rnd.IntN(len(s))] }
		at := func() time.Time { return day0.Add(time.Duration(rnd.Int64N(int64(48 * time.Hour)))) }
		var b txlog.Batch
		for i := range 400 {
			key := fmt.Sprintf("k%d", i)
			first := at()
			b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: first, LastSeen: first, Node: pick("mx1", "mx2"),
				Source: txlog.SourcePostfix, Direction: txlog.Direction(pick("inbound", "outbound", "internal", "relayed", "unknown")),
				MsgKey: key, State: pick("removed", "accepted", "removed"), Size: rnd.Int64N(50000), Received: rnd.IntN(2),
				AVVerdict: pick("", "Passed CLEAN", "Blocked SPAM")})
			for range 1 + rnd.IntN(3) {
				b.Rows = append(b.Rows, txlog.Row{Time: first.Add(time.Duration(rnd.IntN(7200)) * time.Second), Node: "mx1",
					Source: txlog.SourcePostfix, Direction: txlog.Direction(pick("inbound", "outbound", "internal")), MsgKey: key,
					Status: pick(txlog.Statuses()...), Handoff: rnd.IntN(4) == 0, Size: rnd.Int64N(50000),
					AVVerdict: pick("Passed CLEAN", "Blocked INFECTED"), Stage: pick("RCPT", "DATA"), Code: 450 + rnd.IntN(2)*100})
			}
		}
		for range 300 {
			b.Logins = append(b.Logins, txlog.Login{Time: at(), Node: "imap1", Source: pick("dovecot", "dovecot-auth"),
				Service: pick("imap", "pop3"), User: pick("anna", "bo", "carl", "dana"), OK: rnd.IntN(3) > 0})
		}
		for range 100 {
			b.Sessions = append(b.Sessions, txlog.Session{Time: at(), Node: "imap1", Source: "dovecot", Service: pick("imap", "pop3"),
				User: "anna", Reads: rnd.Int64N(20), ReadBytes: rnd.Int64N(1 << 20)})
		}
		if err := st.WriteBatch(ctx, &b, nil); err != nil {
			t.Fatal(err)
		}
		from, to := day0, day0.Add(48*time.Hour)
		if err := (rollup.Jobs{Store: st}).RollRange(ctx, from, to); err != nil {
			t.Fatal(err)
		}
		got, err := st.Rollups(ctx, rollup.Day, from, to)
		if err != nil {
			t.Fatal(err)
		}
		have := map[string]int64{}
		for _, p := range got {
			have[fmt.Sprintf("%s %s %s n", p.Bucket.Format(time.DateOnly), p.Metric, p.Dim)] = p.Count
			have[fmt.Sprintf("%s %s %s bytes", p.Bucket.Format(time.DateOnly), p.Metric, p.Dim)] = p.Bytes
		}
		want := map[string]int64{}
		lo, hi := storage.Micros(from), storage.Micros(to)
		for _, q := range slices.Concat(rollupQueries, reportRollupQueries) {
			args := []any{lo, hi}
			if q.args != nil {
				args = q.args(lo, hi)
			}
			rows, err := db.Query(ctx, strings.ReplaceAll(q.sql, "BUCKET", strconv.FormatInt(rollup.Day.Micros(), 10)), args...)
			if err != nil {
				t.Fatalf("%s: %v", q.metric, err)
			}
			for rows.Next() {
				var bucket, n, bytes int64
				var dim string
				if err := rows.Scan(&bucket, &dim, &n, &bytes); err != nil {
					t.Fatal(err)
				}
				d := storage.FromMicros(bucket).Format(time.DateOnly)
				want[fmt.Sprintf("%s %s %s n", d, q.metric, dim)] = n
				want[fmt.Sprintf("%s %s %s bytes", d, q.metric, dim)] = bytes
			}
			rows.Close()
		}
		if len(want) < 60 {
			t.Fatalf("only %d figures from the log: the records do not exercise the metrics", len(want))
		}
		for k, v := range want {
			if have[k] != v {
				t.Errorf("%s: day rollup %d, the day's log %d", k, have[k], v)
			}
		}
		for k, v := range have {
			if _, ok := want[k]; !ok && v != 0 {
				t.Errorf("%s: day rollup %d, not in the day's log", k, v)
			}
		}
	})
}
