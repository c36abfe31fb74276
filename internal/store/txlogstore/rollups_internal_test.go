package txlogstore

import (
	"context"
	"fmt"
	"maps"
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
		b := randomLog(rand.New(rand.NewPCG(7, 26)), day0)
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
		have := map[string][2]int64{}
		for _, p := range got {
			have[fmt.Sprintf("%d %s %s", storage.Micros(p.Bucket), p.Metric, p.Dim)] = [2]int64{p.Count, p.Bytes}
		}
		want := map[string][2]int64{}
		lo, hi := storage.Micros(from), storage.Micros(to)
		for _, q := range slices.Concat(rollupQueries, reportRollupQueries) {
			args := []any{lo, hi}
			if q.args != nil {
				args = q.args(lo, hi)
			}
			maps.Copy(want, readBuckets(t, db, q.metric, q.sql, rollup.Day, args...))
		}
		if len(want) < 30 {
			t.Fatalf("only %d figures from the log: the records do not exercise the metrics", len(want))
		}
		for k, v := range want {
			if have[k] != v {
				t.Errorf("%s: day rollup %v, the day's log %v", k, have[k], v)
			}
		}
		for k, v := range have {
			if _, ok := want[k]; !ok && v != [2]int64{} {
				t.Errorf("%s: day rollup %v, not in the day's log", k, v)
			}
		}
	})
}

// randomLog is two days of random records from day0: messages with 0–3
// recipient lines each (of every status), lines without a message key,
// logins and mailbox sessions.
func randomLog(rnd *rand.Rand, day0 time.Time) txlog.Batch {
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
		for range rnd.IntN(4) {
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
	for range 200 {
		b.Rows = append(b.Rows, txlog.Row{Time: at(), Node: "mx1", Source: "amavis", Status: pick(txlog.Statuses()...),
			Direction: txlog.Inbound, AVVerdict: "Passed CLEAN"})
	}
	return b
}

// flowPlain is the mail-flow rollup as it was first written: each key's
// sums over all of its lines, joined to the period's messages.
const flowPlain = `SELECT m.ts - m.ts % BUCKET,
	CASE WHEN m.direction IN ('inbound', 'relayed') THEN 'outside' WHEN m.direction IN ('internal', 'outbound') THEN 'local' ELSE 'unknown' END
	|| '|' ||
	CASE
		WHEN COALESCE(t.sent_local, 0) + COALESCE(t.sent_remote, 0) > 0 AND COALESCE(t.failed, 0) > 0 THEN 'partly_bounced'
		WHEN COALESCE(t.sent_local, 0) > 0 AND COALESCE(t.sent_remote, 0) > 0 THEN 'delivered_both'
		WHEN COALESCE(t.sent_local, 0) > 0 THEN 'delivered_local'
		WHEN COALESCE(t.sent_remote, 0) > 0 THEN 'delivered_remote'
		WHEN m.av_verdict LIKE 'Blocked %' OR m.av_verdict = 'rspamd reject' THEN 'blocked'
		WHEN COALESCE(t.failed, 0) > 0 THEN 'bounced'
		WHEN COALESCE(t.discarded, 0) > 0 THEN 'discarded'
		WHEN COALESCE(t.deferred, 0) > 0 THEN 'queued'
		WHEN m.state = 'removed' THEN 'removed'
		ELSE 'no_outcome'
	END,
	SUM(m.received), COALESCE(SUM(m.size), 0)
	FROM mail_messages m LEFT JOIN (
		SELECT msg_key,
			SUM(CASE WHEN status = 'sent' AND handoff = 0 AND direction IN ('inbound', 'internal') THEN 1 ELSE 0 END) AS sent_local,
			SUM(CASE WHEN status = 'sent' AND handoff = 0 AND direction IN ('outbound', 'relayed') THEN 1 ELSE 0 END) AS sent_remote,
			SUM(CASE WHEN status IN ('bounced', 'expired') THEN 1 ELSE 0 END) AS failed,
			SUM(CASE WHEN status = 'discarded' THEN 1 ELSE 0 END) AS discarded,
			SUM(CASE WHEN status = 'deferred' THEN 1 ELSE 0 END) AS deferred
		FROM mail_tx WHERE msg_key IN (SELECT msg_key FROM mail_messages WHERE ts >= ? AND ts < ? AND received > 0)
		GROUP BY msg_key) t ON t.msg_key = m.msg_key
	WHERE m.ts >= ? AND m.ts < ? AND m.received > 0
	GROUP BY 1, 2`

// TestFlowRollupAsThePlainJoin: the mail-flow rollup, message by message
// through the key index, counts what the plain join of each key's sums
// counts, hour by hour, on SQLite and PostgreSQL.
func TestFlowRollupAsThePlainJoin(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		day0 := time.Date(2026, 10, 5, 0, 0, 0, 0, time.UTC)
		st := New(db)
		if err := st.EnsureLogPartitions(ctx, day0.AddDate(0, 0, -2), day0.AddDate(0, 0, 3)); err != nil {
			t.Fatal(err)
		}
		for seed := range uint64(3) {
			b := randomLog(rand.New(rand.NewPCG(seed, 5)), day0)
			for i := range b.Messages {
				b.Messages[i].MsgKey = fmt.Sprintf("s%d-%s", seed, b.Messages[i].MsgKey)
			}
			for i := range b.Rows {
				if b.Rows[i].MsgKey != "" {
					b.Rows[i].MsgKey = fmt.Sprintf("s%d-%s", seed, b.Rows[i].MsgKey)
				}
			}
			if err := st.WriteBatch(ctx, &b, nil); err != nil {
				t.Fatal(err)
			}
		}
		flow := reportRollupQueries[slices.IndexFunc(reportRollupQueries, func(q rollupQuery) bool { return q.metric == "flow" })]
		for _, span := range [][2]time.Time{{day0, day0.Add(48 * time.Hour)}, {day0.Add(13 * time.Hour), day0.Add(16 * time.Hour)}} {
			lo, hi := storage.Micros(span[0]), storage.Micros(span[1])
			got := readBuckets(t, db, "flow", flow.sql, rollup.Hour, flow.args(lo, hi)...)
			want := readBuckets(t, db, "flow", flowPlain, rollup.Hour, lo, hi, lo, hi)
			if len(want) < 10 {
				t.Fatalf("%v: only %d buckets: the records do not exercise the outcomes", span, len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%v %s: %v, the plain join %v", span[0], k, got[k], v)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%v: %d buckets, the plain join %d", span[0], len(got), len(want))
			}
		}
	})
}

// readBuckets runs the rollup query text of metric over buckets of period,
// keyed "bucket metric dim" (bucket in µs), with counts and bytes.
func readBuckets(t *testing.T, db *storage.DB, metric, text string, period rollup.Period, args ...any) map[string][2]int64 {
	t.Helper()
	rows, err := db.Query(context.Background(), strings.ReplaceAll(text, "BUCKET", strconv.FormatInt(period.Micros(), 10)), args...)
	if err != nil {
		t.Fatalf("%s: %v", metric, err)
	}
	defer rows.Close()
	out := map[string][2]int64{}
	for rows.Next() {
		var bucket, n, bytes int64
		var dim string
		if err := rows.Scan(&bucket, &dim, &n, &bytes); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%d %s %s", bucket, metric, dim)] = [2]int64{n, bytes}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
