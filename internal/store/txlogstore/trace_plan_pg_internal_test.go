package txlogstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// planDays is how many daily partitions the plan tests fill.
const planDays = 5

// fillPlanLog writes planDays days of messages (three rows each) whose
// senders are few (25, evenly spread) but for two rare ones
// (rare@partner.example, one message on day 1 and one on day 3) and one
// that wrote 60 (some@partner.example, 12 a day), with a
// distinct Message-ID each, to 40 recipients but for one rare
// (rare@uni.example, once). It returns the first day.
func fillPlanLog(t *testing.T, st *Store) time.Time {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 4))
	const perDay = 8000
	b := &txlog.Batch{}
	for i := range planDays * perDay {
		day := i / perDay
		ts := start.Add(time.Duration(day)*24*time.Hour + time.Duration(r.Int64N(int64(23*time.Hour))))
		from := fmt.Sprintf("sender%d@partner.example", r.IntN(25))
		to := fmt.Sprintf("user%d@uni.example", r.IntN(40))
		if i%perDay == 100 && day%2 == 1 {
			from = "rare@partner.example"
		}
		if i%perDay%650 == 7 && i%perDay < 12*650 {
			from = "some@partner.example"
		}
		if i == 2*perDay+5 {
			to = "rare@uni.example"
		}
		q1, q2 := fmt.Sprintf("%010X", 2*i), fmt.Sprintf("%010X", 2*i+1)
		key := txlog.MsgKey("mx1", q1, ts)
		msgid := fmt.Sprintf("%d@plan.example", i)
		b.Messages = append(b.Messages, txlog.MessageRow{FirstSeen: ts, LastSeen: ts.Add(2 * time.Second), Node: "mx1",
			Source: "postfix", Direction: txlog.Inbound, MsgKey: key, Origin: "smtpd", Service: "smtpd", State: "removed",
			QueueIDs: []string{q1, q2}, MessageID: msgid, MailFrom: from, Size: 1000, NRcpt: 1, ClientIP: "198.51.100.7", Received: 1})
		b.Rows = append(b.Rows,
			txlog.Row{Time: ts.Add(time.Second), Node: "mx1", Source: "postfix", Direction: txlog.Inbound, MsgKey: key, QueueID: q1,
				MessageID: msgid, MailFrom: from, Rcpt: to, ClientIP: "198.51.100.7", Status: txlog.StatusSent, Agent: "smtp", Handoff: true},
			txlog.Row{Time: ts.Add(time.Second), Node: "mx1", Source: "amavis", Direction: txlog.Inbound, QueueID: q1, MessageID: msgid,
				MailFrom: from, Rcpt: to, ClientIP: "198.51.100.7", Status: txlog.StatusScanned},
			txlog.Row{Time: ts.Add(2 * time.Second), Node: "mx1", Source: "postfix", Direction: txlog.Inbound, MsgKey: key, QueueID: q2,
				MessageID: msgid, MailFrom: from, Rcpt: to, ClientIP: "198.51.100.7", Status: txlog.StatusSent, Agent: "lmtp"})
		if len(b.Rows) >= 15000 {
			if err := st.WriteBatch(ctx, b, nil); err != nil {
				t.Fatal(err)
			}
			b.Reset()
		}
	}
	if err := st.WriteBatch(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := st.db.Exec(ctx, "ANALYZE"); err != nil {
		t.Fatal(err)
	}
	return start
}

// sqlLiteral writes v (a string or an int64) as a PostgreSQL literal.
func sqlLiteral(v any) string {
	switch v := v.(type) {
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	case int64:
		return fmt.Sprint(v)
	case int:
		return fmt.Sprint(v)
	}
	panic(fmt.Sprintf("literal of %T", v))
}

var probeSeq int // names planAfterRuns's statements (one test at a time calls it)

// planAfterRuns prepares q (? placeholders) as a named statement, as pgx
// does on a pooled connection, runs it six times with args under
// plan_cache_mode = mode (PostgreSQL's default, auto, may switch to a
// generic plan after the fifth run), and returns the plan of a seventh run.
func planAfterRuns(t *testing.T, db *storage.DB, mode, q string, args []any) string {
	t.Helper()
	ctx := context.Background()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	lits := make([]string, len(args))
	for i, a := range args {
		lits[i] = sqlLiteral(a)
	}
	probeSeq++
	name := fmt.Sprintf("plan_probe_%d", probeSeq)
	exec := "EXECUTE " + name + "(" + strings.Join(lits, ", ") + ")"
	defer func() { _, _ = conn.ExecContext(ctx, "DEALLOCATE "+name) }() // after the rollback: PREPARE is not transactional
	for _, s := range []string{"SET LOCAL plan_cache_mode = " + mode, "PREPARE " + name + " AS " + db.Rebind(q)} {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for range 6 {
		rows, err := tx.QueryContext(ctx, exec)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
	}
	rows, err := tx.QueryContext(ctx, "EXPLAIN "+exec)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line sql.NullString
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line.String)
	}
	return strings.Join(plan, "\n")
}

// timeScans matches a plan node that reads a partition by its time index or
// whole.
var timeScans = regexp.MustCompile(`(?:using|on) mail_(?:tx|messages)_p\d+_ts_idx\b|Seq Scan on mail_`)

// recorder is a storage.Querier that notes each query it passes on.
type recorder struct {
	storage.Querier
	queries []recorded
}

type recorded struct {
	sql  string
	args []any
}

func (r *recorder) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	r.queries = append(r.queries, recorded{q, args})
	return r.Querier.Query(ctx, q, args...)
}

func (r *recorder) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	r.queries = append(r.queries, recorded{q, args})
	return r.Querier.QueryRow(ctx, q, args...)
}

// joinedSearch is step 1 of a search by sender as one statement (how it
// was written before traceRowsByMessage): the messages joined to their
// rows in the partitions around them.
func joinedSearch(from string, lo, hi int64) (string, []any) {
	lw := linkWindow
	where := " WHERE ts >= ? AND ts < ? AND mail_from = ?"
	rowArgs := []any{lo, hi, from}
	loose := txSelect + where + " AND msg_key = ''"
	via := "mail_from = ?"
	msgs := "(SELECT msg_key, ts, last_seen FROM mail_messages WHERE " + via +
		" AND ts >= ? AND ts < ? AND last_seen >= ? ORDER BY ts DESC LIMIT 20000)" +
		" UNION ALL (SELECT msg_key, ts, last_seen FROM mail_messages WHERE " + via +
		" AND last_seen - ts > " + fmt.Sprint(lw) + " AND last_seen >= ? AND ts < ?)"
	keyed := "SELECT t.* FROM (" + msgs + ") m CROSS JOIN LATERAL (" + txSelect + where +
		" AND msg_key = m.msg_key AND msg_key <> '' AND ts >= m.ts - " + fmt.Sprint(lw) + " AND ts <= m.last_seen + " + fmt.Sprint(lw) + ") t"
	all := append([]any{}, rowArgs...)
	all = append(all, from, lo-2*lw, hi+lw, lo-lw, from, lo-lw, lo-2*lw)
	all = append(all, rowArgs...)
	return "SELECT * FROM (" + loose + " UNION ALL " + keyed + ") u ORDER BY ts DESC LIMIT 20000", all
}

// TestTraceSearchPlansUseKeyIndexes: on PostgreSQL, every statement of a
// trace search by sender, Message-ID or recipient finds its rows through
// a key's index in each partition, never by reading partitions by time,
// also when its prepared statement has run more than five times on the
// connection, under the plan mode the search runs it with (a
// plan that scanned every partition's time index took 4–6 s over 30
// days). Searches by sender and Message-ID keep plans made once per
// connection (planning over 30 partitions cost more than running); on the
// same data a generic plan of the search by sender written as one joined
// statement does read by time, which shows that the data tells the
// shapes apart.
func TestTraceSearchPlansUseKeyIndexes(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.Postgres)
	st := New(db)
	start := fillPlanLog(t, st)
	// a 30-day search ending after the data, as a person asks it
	since, until := start.Add(-20*24*time.Hour), start.Add(10*24*time.Hour)
	lo, hi := timeBounds(since, until)
	searches := map[string]trace.Query{
		"sender":     {From: "rare@partner.example"},
		"sender, 60": {From: "some@partner.example", Fold: true}, // folded: the rows of its messages are looked up too
		"message-id": {MessageID: "12345@plan.example"},
		"recipient":  {To: "rare@uni.example"},
	}
	for name, q := range searches {
		// the statements the search runs, as it runs them
		rec := &recorder{Querier: db}
		q.Since, q.Until, q.Limit = since, until, 50
		if err := q.Normalize(); err != nil {
			t.Fatal(err)
		}
		f, err := st.traceSearch(context.Background(), rec, q)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want := map[string]int{"sender": 2, "sender, 60": 50, "message-id": 1, "recipient": 1}[name]
		if len(f.Messages) != want {
			t.Errorf("%s: %d messages, want %d", name, len(f.Messages), want)
		}
		mode := traceSearchPlanMode
		if messageCriterion(q) != "" || q.To != "" {
			mode = "force_generic_plan"
		}
		steps := 0
		for _, r := range rec.queries {
			if !strings.Contains(r.sql, "FROM mail_tx") && !strings.Contains(r.sql, "FROM mail_messages") {
				continue
			}
			if !strings.Contains(r.sql, "ORDER BY ts DESC") && !strings.Contains(r.sql, "UNION ALL") && !strings.Contains(r.sql, "k.key") {
				continue // the page's load (traceLoad): generic plans, by key
			}
			steps++
			plan := planAfterRuns(t, db, mode, r.sql, r.args)
			if m := timeScans.FindAllString(plan, -1); len(m) > 0 || !strings.Contains(plan, "Index") {
				t.Errorf("%s: the plan of %.80q… reads partitions by time (%d nodes):\n%s", name, r.sql, len(m), plan)
			}
			if testing.Verbose() {
				t.Logf("%s, %s, %.80q…:\n%s", name, mode, r.sql, plan)
			}
		}
		if steps < 2 {
			t.Errorf("%s: %d search statements recorded, want at least 2", name, steps)
		}
	}
	jq, jargs := joinedSearch("rare@partner.example", lo, hi)
	if n := len(timeScans.FindAllString(planAfterRuns(t, db, "force_generic_plan", jq, jargs), -1)); n < planDays {
		t.Errorf("a generic plan of the joined search reads %d partitions by time; the data no longer tells the shapes apart", n)
	}
}

// TestWarmUpStatementsPlanEveryPartition: the statements serve's new
// PostgreSQL connections run while idle (storage.Options.WarmUp) plan
// over every daily partition of the transaction log, each of which the
// first search on a new connection would otherwise read from the catalog.
func TestWarmUpStatementsPlanEveryPartition(t *testing.T) {
	t.Parallel()
	db := storagetest.Open(t, storage.Postgres)
	fillPlanLog(t, New(db))
	ctx := context.Background()
	for _, table := range []string{"mail_tx", "mail_messages"} {
		parts, err := db.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = ?::regclass`, table)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for parts.Next() {
			var n string
			if err := parts.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		parts.Close()
		if len(names) < 2 {
			t.Fatalf("%s: %d partitions; the test needs the plan log's days", table, len(names))
		}
		var plan strings.Builder
		found := false
		for _, q := range WarmUpStatements() {
			if !strings.Contains(q, " FROM "+table+" ") {
				continue
			}
			found = true
			rows, err := db.Query(ctx, q)
			if err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan.WriteString(line + "\n")
			}
			rows.Close()
		}
		if !found {
			t.Fatalf("no warm-up statement reads %s", table)
		}
		for _, n := range names {
			if !strings.Contains(plan.String(), " "+n+" ") && !strings.Contains(plan.String(), " "+n+"\n") {
				t.Errorf("the warm-up of %s does not plan partition %s:\n%s", table, n, plan.String())
			}
		}
	}
}
