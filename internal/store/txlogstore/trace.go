package txlogstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

const txSelect = `SELECT ts, node, source, direction, msg_key, queue_id, message_id, mail_from, rcpt, orig_rcpt, header_from,
	subject, header_date, size, client_ip, client_name, helo, auth_user, spam_score, av_verdict, status, stage, code,
	dsn, reply, relay, agent, handoff, delay, delays FROM mail_tx`

const msgSelect = `SELECT ts, last_seen, node, source, direction, msg_key, origin, service, state, queue_ids, message_id,
	mail_from, header_from, subject, header_date, size, nrcpt, client_ip, client_name, helo, auth_user, spam_score,
	av_verdict, received, auth_results, original_from FROM mail_messages`

func scanTx(rows storage.RowScanner) (txlog.Row, error) {
	var r txlog.Row
	var ts int64
	var dir string
	var handoff int
	err := rows.Scan(&ts, &r.Node, &r.Source, &dir, &r.MsgKey, &r.QueueID, &r.MessageID, &r.MailFrom, &r.Rcpt,
		&r.OrigRcpt, &r.HeaderFrom, &r.Subject, &r.HeaderDate, &r.Size, &r.ClientIP, &r.ClientName, &r.Helo,
		&r.AuthUser, &r.SpamScore, &r.AVVerdict, &r.Status, &r.Stage, &r.Code, &r.DSN, &r.Reply, &r.Relay, &r.Agent,
		&handoff, &r.Delay, &r.Delays)
	r.Time, r.Direction, r.Handoff = storage.FromMicros(ts), txlog.Direction(dir), handoff != 0
	return r, err
}

func scanMsg(rows storage.RowScanner) (txlog.MessageRow, error) {
	var m txlog.MessageRow
	var ts, last int64
	var dir, qids string
	err := rows.Scan(&ts, &last, &m.Node, &m.Source, &dir, &m.MsgKey, &m.Origin, &m.Service, &m.State, &qids,
		&m.MessageID, &m.MailFrom, &m.HeaderFrom, &m.Subject, &m.HeaderDate, &m.Size, &m.NRcpt, &m.ClientIP,
		&m.ClientName, &m.Helo, &m.AuthUser, &m.SpamScore, &m.AVVerdict, &m.Received, &m.AuthResults, &m.OriginalFrom)
	m.FirstSeen, m.LastSeen, m.Direction = storage.FromMicros(ts), storage.FromMicros(last), txlog.Direction(dir)
	if qids != "" {
		m.QueueIDs = strings.Fields(qids)
	}
	return m, err
}

func queryTx(ctx context.Context, qr storage.Querier, q string, args ...any) ([]txlog.Row, error) {
	return storage.QueryAll(ctx, qr, scanTx, q, args...)
}

func queryMsgs(ctx context.Context, qr storage.Querier, q string, args ...any) ([]txlog.MessageRow, error) {
	return storage.QueryAll(ctx, qr, scanMsg, q, args...)
}

// messageConds are the conditions of q that apply to the messages table,
// each written so that its index serves it: the Message-ID index is
// partial (message_id <> ”), and a condition without that term cannot
// use it, so SQLite would scan every message.
func messageConds(q trace.Query) (conds []string, args []any) {
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	if q.From != "" {
		add("mail_from = ?", q.From)
	}
	if q.MessageID != "" {
		add("message_id = ? AND message_id <> ''", q.MessageID)
	}
	if q.QueueID != "" {
		add("first_queue_id = ?", q.QueueID)
	}
	if q.IP != "" {
		add("client_ip = ?", q.IP)
	}
	if q.Direction != "" {
		add("direction = ?", q.Direction)
	}
	if q.Subject != "" {
		add(`LOWER(subject) LIKE ? ESCAPE '\'`, "%"+storage.LikeEscaper.Replace(strings.ToLower(q.Subject))+"%")
	}
	return conds, args
}

// rowConds are the conditions of q on the transaction-log rows.
func rowConds(q trace.Query) (conds []string, args []any) {
	add := func(cond string, v any) {
		conds = append(conds, cond)
		args = append(args, v)
	}
	if q.From != "" {
		add("mail_from = ?", q.From)
	}
	if q.To != "" {
		conds = append(conds, "(rcpt = ? OR (orig_rcpt = ? AND orig_rcpt <> ''))") // both indexed (orig_rcpt partially)
		args = append(args, q.To, q.To)
	}
	if q.MessageID != "" {
		add("message_id = ? AND message_id <> ''", q.MessageID) // "<> ''": the partial indexes
	}
	if q.QueueID != "" {
		add("queue_id = ? AND queue_id <> ''", q.QueueID)
	}
	if q.IP != "" {
		add("client_ip = ?", q.IP)
	}
	if q.Status != "" {
		add("status = ?", q.Status)
	}
	if q.Direction != "" {
		add("direction = ?", q.Direction)
	}
	if q.Subject != "" {
		add(`LOWER(subject) LIKE ? ESCAPE '\'`, "%"+storage.LikeEscaper.Replace(strings.ToLower(q.Subject))+"%")
	}
	return conds, args
}

// messagesQuery is step 2 of a search: the messages first seen in [lo, hi)
// that meet q's criteria that apply to messages, newest first, at most
// traceScan of them; ok is false when q has criteria that messages do not
// carry (recipient, status).
func messagesQuery(q trace.Query, lo, hi int64) (sqlText string, args []any, ok bool) {
	if q.To != "" || q.Status != "" {
		return "", nil, false
	}
	mconds, margs := messageConds(q)
	return msgSelect + " WHERE " + strings.Join(append([]string{"ts >= ? AND ts < ?"}, mconds...), " AND ") +
		fmt.Sprintf(" ORDER BY ts DESC LIMIT %d", traceScan), append([]any{lo, hi}, margs...), true
}

// traceSearchPlanMode is the plan_cache_mode of a search's steps 1 and 2
// on PostgreSQL, when the search is by queue ID, status, direction or
// subject alone: statements that must be planned for the values searched
// for (the time bounds to prune partitions by, how common a status is).
// PostgreSQL's default (auto) may turn a prepared statement generic after
// its fifth run on a pooled connection, so the mode is said explicitly.
// Searches by sender, Message-ID or client IP run as statements whose
// every plan reads by the key's index (traceRowsByMessage), and a search
// by recipient by the (rcpt, ts) and (orig_rcpt, ts) indexes whatever the
// plan is made for; these keep the plans made once per connection:
// planning a statement over 30 daily partitions of two tables costs more
// than running it (docs/performance.md, "Trace over 30 days through the
// CLI and the HTTP API").
const traceSearchPlanMode = "force_custom_plan"

// traceScan bounds how many matching rows one search looks at.
const traceScan = 20000

// WarmUpStatements are what `serve` has each new PostgreSQL connection
// run before its first search (storage.Options.WarmUp): planning a
// statement over mail_tx or mail_messages without a bound on the day
// opens every daily partition and its indexes, which a new connection
// first reads from the catalog (at 97 days 80 ms for mail_messages and
// 105 ms for mail_tx, in the first search's planning). EXPLAIN plans
// without running.
func WarmUpStatements() []string {
	return []string{
		"EXPLAIN SELECT 1 FROM mail_tx WHERE rcpt = '' OR msg_key = '' OR queue_id = ''",
		"EXPLAIN SELECT 1 FROM mail_messages WHERE msg_key = '' OR mail_from = '' OR message_id = ''",
	}
}

// linkWindow is how far from a message's first and last line its
// queue-ID-linked rows are looked for.
const linkWindow = int64(24 * time.Hour / time.Microsecond)

// TraceSearch finds the page of messages q selects, with their rows.
//
// On PostgreSQL the search runs in one transaction so that loading the
// page can use generic plans (see traceLoad).
func (s *Store) TraceSearch(ctx context.Context, q trace.Query) (trace.Found, error) {
	if s.db.Dialect() != storage.Postgres {
		return s.traceSearch(ctx, s.db, q)
	}
	var f trace.Found
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		// Every statement of a search reads a few rows by an index, but a
		// generic plan's estimate grows with the daily partitions: at 90
		// days a page's linked-rows lookup passed jit_above_cost, and
		// compiling some 700 functions took 250 ms of a search that runs
		// in 10 ms without (docs/performance.md, "Trace over 90 days").
		if _, err := tx.Exec(ctx, "SET LOCAL jit = off"); err != nil {
			return err
		}
		var err error
		f, err = s.traceSearch(ctx, tx, q)
		return err
	})
	return f, err
}

func (s *Store) traceSearch(ctx context.Context, qr storage.Querier, q trace.Query) (trace.Found, error) {
	lo, hi := timeBounds(q.Since, q.Until)
	byMessage := s.db.Dialect() == storage.Postgres && messageCriterion(q) != ""
	if tx, ok := qr.(*storage.Tx); ok && s.db.Dialect() == storage.Postgres {
		// Steps 1 and 2 (see traceSearchPlanMode).
		mode := traceSearchPlanMode
		if byMessage || q.To != "" {
			mode = "force_generic_plan"
		}
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = "+mode); err != nil {
			return trace.Found{}, err
		}
	}
	// 2. messages matching every criterion that applies to messages (run
	// first: a search by message finds its rows through them)
	var mmatched []txlog.MessageRow
	var err error
	if mq, margs, ok := messagesQuery(q, lo, hi); ok {
		mmatched, err = queryMsgs(ctx, qr, mq, margs...)
		if err != nil {
			return trace.Found{}, fmt.Errorf("trace messages: %w", err)
		}
	}
	// 1. rows matching every criterion
	conds, args := rowConds(q)
	var matched []txlog.Row
	if byMessage {
		// Unfolded, a message step 2 found is a result already, and its
		// rows add nothing to it (they are loaded with the page): only
		// the other messages' rows are looked up.
		var known map[string]bool
		if !q.Fold {
			known = make(map[string]bool, len(mmatched))
			for _, m := range mmatched {
				known[m.MsgKey] = true
			}
		}
		matched, err = s.traceRowsByMessage(ctx, qr, q, conds, args, lo, hi, known)
	} else {
		sqlText, sqlArgs := traceRowsQuery(q, conds, args, lo, hi)
		matched, err = queryTx(ctx, qr, sqlText, sqlArgs...)
	}
	if err != nil {
		return trace.Found{}, fmt.Errorf("trace rows: %w", err)
	}
	// 3. group hits by message; rows without a key but with a queue ID
	// belong to the message that had that queue ID on that node.
	seen := map[string]int{} // message key → index in hits
	var hits []trace.Hit
	for _, m := range mmatched {
		if _, ok := seen[m.MsgKey]; !ok {
			seen[m.MsgKey] = len(hits)
			hits = append(hits, trace.Hit{Key: m.MsgKey, Time: m.FirstSeen, From: m.MailFrom, Client: m.ClientIP})
		}
	}
	// rows of a message share its queue IDs: resolve from the page first
	resolved := map[string]string{}
	for i := range matched {
		if r := &matched[i]; r.MsgKey != "" && r.QueueID != "" {
			resolved[r.Node+"\x00"+r.QueueID] = r.MsgKey
		}
	}
	for _, m := range mmatched {
		for _, id := range m.QueueIDs {
			resolved[m.Node+"\x00"+id] = m.MsgKey
		}
	}
	for i := range matched {
		r := &matched[i]
		key := r.MsgKey
		if key == "" && r.QueueID != "" {
			nk := r.Node + "\x00" + r.QueueID
			k, ok := resolved[nk]
			if !ok {
				k, err = s.messageForQueue(ctx, qr, r.Node, r.QueueID, storage.Micros(r.Time))
				if err != nil {
					return trace.Found{}, err
				}
				resolved[nk] = k
			}
			key = k
		}
		if key == "" {
			hits = append(hits, trace.Hit{Row: r, Time: r.Time})
			continue
		}
		i, ok := seen[key]
		if !ok {
			i = len(hits)
			seen[key] = i
			hits = append(hits, trace.Hit{Key: key, Time: r.Time, From: r.MailFrom, Client: r.ClientIP})
		}
		h := &hits[i]
		if r.Time.Before(h.Time) {
			h.Time = r.Time
		}
		if h.From == "" {
			h.From = r.MailFrom
		}
		if h.Client == "" {
			h.Client = r.ClientIP
		}
		if r.Rcpt != "" && len(h.Rcpts) < 100 && !slices.Contains(h.Rcpts, r.Rcpt) {
			h.Rcpts = append(h.Rcpts, r.Rcpt)
		}
	}
	results := trace.Arrange(hits, q.Fold)
	f := trace.Found{Total: len(results), Capped: len(matched) >= traceScan || len(mmatched) >= traceScan,
		Folded: map[string][]txlog.Row{}}
	if q.Offset >= len(results) {
		return f, nil
	}
	end := min(q.Offset+q.Limit, len(results))
	f.More = end < len(results)
	page := results[q.Offset:end]
	// 4. load the page: messages, their rows, and rows linked by queue ID
	var keys []string
	var keyTimes []int64
	for _, h := range page {
		k := h.ResultKey()
		f.Order = append(f.Order, k)
		if len(h.Folded) > 0 {
			f.Folded[k] = h.Folded
		}
		if h.Key == "" {
			f.Rows = append(f.Rows, *h.Row)
		} else {
			keys = append(keys, h.Key)
			keyTimes = append(keyTimes, storage.Micros(h.Time))
		}
	}
	if len(keys) == 0 {
		return f, nil
	}
	if tx, ok := qr.(*storage.Tx); ok && s.db.Dialect() == storage.Postgres { // (SET LOCAL holds for the transaction)
		// The page is loaded by key and time span, with the same plan
		// whatever the keys: a generic plan, made once per connection,
		// saves planning every partition afresh for each search (3–6 ms a
		// query, as long as running it). The search itself keeps custom
		// plans (see traceSearchPlanMode).
		if _, err := tx.Exec(ctx, "SET LOCAL plan_cache_mode = force_generic_plan"); err != nil {
			return f, err
		}
	}
	msgs, rows, linked, err := s.traceLoad(ctx, qr, keys, keyTimes)
	if err != nil {
		return f, err
	}
	f.Messages = msgs
	f.Rows = append(f.Rows, rows...)
	f.Rows = append(f.Rows, linked...)
	return f, nil
}

// linkedRows is step 5 of a search: the rows without a message key
// linked to msgs by (node, queue ID) within linkWindow of their message
// (a Postfix line logged before the message's key was known), in one
// query for the page.
func (s *Store) linkedRows(ctx context.Context, qr storage.Querier, msgs []txlog.MessageRow) ([]txlog.Row, error) {
	type span struct{ lo, hi int64 }
	linkedTo := map[string][]span{}
	var qids []string
	var lo2, hi2 int64 = 1 << 62, 0
	for _, m := range msgs {
		for _, id := range m.QueueIDs {
			k := m.Node + "\x00" + id
			if len(linkedTo[k]) == 0 {
				qids = append(qids, id)
			}
			sp := span{storage.Micros(m.FirstSeen) - linkWindow, storage.Micros(m.LastSeen) + linkWindow}
			linkedTo[k] = append(linkedTo[k], sp)
			lo2, hi2 = min(lo2, sp.lo), max(hi2, sp.hi)
		}
	}
	if len(qids) == 0 {
		return nil, nil
	}
	var candidates []txlog.Row
	var err error
	if s.db.Dialect() == storage.Postgres {
		// per queue ID and only around its messages (see traceLoad):
		// one span per queue ID, overlapping spans merged, so that no
		// row comes back twice
		merged := map[string][]span{}
		for k, sps := range linkedTo {
			id := k[strings.IndexByte(k, 0)+1:]
			merged[id] = append(merged[id], sps...)
		}
		var spans [][3]any
		for id, sps := range merged {
			sort.Slice(sps, func(i, j int) bool { return sps[i].lo < sps[j].lo })
			cur := sps[0]
			for _, sp := range sps[1:] {
				if sp.lo <= cur.hi {
					cur.hi = max(cur.hi, sp.hi)
					continue
				}
				spans = append(spans, [3]any{id, cur.lo, cur.hi})
				cur = sp
			}
			spans = append(spans, [3]any{id, cur.lo, cur.hi})
		}
		candidates, err = queryTx(ctx, qr, lateralBy(txSelect, "msg_key = '' AND queue_id <> '' AND queue_id", lateralSize(len(spans))), flatten(spans)...)
	} else {
		qin, qargs := inList(qids)
		candidates, err = queryTx(ctx, qr, txSelect+" WHERE ts >= ? AND ts <= ? AND msg_key = '' AND queue_id <> '' AND queue_id IN "+qin+" ORDER BY ts",
			append([]any{lo2, hi2}, qargs...)...)
	}
	if err != nil {
		return nil, fmt.Errorf("trace load linked rows: %w", err)
	}
	var linked []txlog.Row
	for _, r := range candidates {
		at := storage.Micros(r.Time)
		for _, sp := range linkedTo[r.Node+"\x00"+r.QueueID] {
			if at >= sp.lo && at <= sp.hi {
				linked = append(linked, r)
				break
			}
		}
	}
	return linked, nil
}

// traceRowsQuery is the query for step 1 of a search: the transaction-log
// rows in [lo, hi) that meet conds (with args), ordered by time, at most
// traceScan of them. On PostgreSQL a search with a message criterion goes
// through traceRowsByMessage instead (the query below, one statement over
// both tables, is fine with SQLite's plans but not with PostgreSQL's
// generic ones).
//
// mail_tx indexes sender, Message-ID and client IP only for rows without a
// message (empty msg_key): rows that belong to a message carry its sender,
// Message-ID and client IP, so they are found through mail_messages, one
// row per message instead of one per recipient outcome (the import
// maintains fewer and smaller indexes: docs/performance.md, "Import into
// PostgreSQL: indexes"). Searches by recipient or queue ID (full indexes
// on mail_tx), or by status or subject alone, read mail_tx directly.
func traceRowsQuery(q trace.Query, conds []string, args []any, lo, hi int64) (string, []any) {
	where := " WHERE ts >= ? AND ts < ? AND " + strings.Join(conds, " AND ")
	// newest first: a search that meets its bound keeps the newest rows
	limit := fmt.Sprintf(" ORDER BY ts DESC LIMIT %d", traceScan)
	via, viaArg := messageCriterion(q), messageCriterionArg(q)
	rowArgs := append([]any{lo, hi}, args...)
	if via == "" {
		return txSelect + where + limit, rowArgs
	}
	// the rows without a message (the partial indexes), and the rows of
	// the matching messages by key
	loose := txSelect + where + " AND msg_key = ''"
	keyed := txSelect + where + " AND msg_key <> '' AND msg_key IN (SELECT msg_key FROM mail_messages WHERE " + via + ")"
	all := append(append([]any{}, rowArgs...), rowArgs...)
	return "SELECT * FROM (" + loose + " UNION ALL " + keyed + ") u" + limit, append(all, viaArg)
}

// messageCriterion is the condition on mail_messages that every message
// whose rows match q meets ("" when q has none): the search finds rows
// with a message through their messages (mail_tx indexes sender,
// Message-ID and client IP only for rows without one).
func messageCriterion(q trace.Query) string {
	switch {
	case q.To != "" || q.QueueID != "":
		return ""
	case q.MessageID != "":
		return "message_id = ? AND message_id <> ''"
	case q.From != "":
		return "mail_from = ?"
	case q.IP != "":
		return "client_ip = ?"
	}
	return ""
}

// messageCriterionArg is messageCriterion's argument.
func messageCriterionArg(q trace.Query) any {
	switch {
	case q.MessageID != "":
		return q.MessageID
	case q.From != "":
		return q.From
	}
	return q.IP
}

// traceRowsByMessage is step 1 of a search by sender, Message-ID or
// client IP on PostgreSQL, in three statements of one table each, so that
// every plan reads by the key's index whatever the plan is made for (a
// generic plan, made once per connection, sees neither the time bounds
// nor how rare the key is; as one statement, joined, it hash-joined the
// messages with a scan of every partition by time):
//
//   - the rows without a message (the partial indexes on an empty msg_key),
//   - the matching messages that can have rows in [lo, hi): first seen
//     from 2 × linkWindow before lo (the newest traceScan of them), and
//     the few that lasted longer than linkWindow (a partial index on
//     last_seen) first seen before that,
//   - those messages' rows, each looked for only in the partitions
//     around its message (its first line to its last, with linkWindow of
//     slack: run-time pruning in a LATERAL join, as traceLoad does), but
//     for the messages in known (found as results already).
//
// The result is the newest traceScan rows, newest first.
func (s *Store) traceRowsByMessage(ctx context.Context, qr storage.Querier, q trace.Query, conds []string, args []any, lo, hi int64, known map[string]bool) ([]txlog.Row, error) {
	via, viaArg := messageCriterion(q), messageCriterionArg(q)
	cond := "ts >= ? AND ts < ? AND " + strings.Join(conds, " AND ")
	rowArgs := append([]any{lo, hi}, args...)
	limit := fmt.Sprintf(" ORDER BY ts DESC LIMIT %d", traceScan)
	rows, err := queryTx(ctx, qr, txSelect+" WHERE "+cond+" AND msg_key = ''"+limit, rowArgs...)
	if err != nil {
		return nil, err
	}
	lw := linkWindow
	mq := "(SELECT msg_key, ts, last_seen FROM mail_messages WHERE " + via +
		" AND ts >= ? AND ts < ? AND last_seen >= ? ORDER BY ts DESC LIMIT " + fmt.Sprint(traceScan) + ")" +
		" UNION ALL (SELECT msg_key, ts, last_seen FROM mail_messages WHERE " + via +
		" AND last_seen - ts > " + fmt.Sprint(lw) + " AND last_seen >= ? AND ts < ?)"
	mrows, err := qr.Query(ctx, mq, viaArg, lo-2*lw, hi+lw, lo-lw, viaArg, lo-lw, lo-2*lw)
	if err != nil {
		return nil, err
	}
	var spans [][3]any
	for mrows.Next() {
		var key string
		var first, last int64
		if err := mrows.Scan(&key, &first, &last); err != nil {
			mrows.Close()
			return nil, err
		}
		if known[key] {
			continue
		}
		spans = append(spans, [3]any{key, max(first-lw, lo), min(last+lw, hi-1)})
	}
	mrows.Close()
	if err := mrows.Err(); err != nil {
		return nil, err
	}
	for len(spans) > 0 {
		chunk := spans[:min(len(spans), traceKeysPerStatement)]
		spans = spans[len(chunk):]
		keyed, err := queryTx(ctx, qr, lateralWhere(txSelect, "msg_key <> '' AND msg_key", cond, lateralSize(len(chunk))),
			append(flatten(chunk), rowArgs...)...)
		if err != nil {
			return nil, err
		}
		rows = append(rows, keyed...)
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Time.After(rows[j].Time) })
	if len(rows) > traceScan {
		rows = rows[:traceScan]
	}
	return rows, nil
}

// traceKeysPerStatement bounds the messages one statement of
// traceRowsByMessage looks up (a power of two: lateralSize).
const traceKeysPerStatement = 512

// traceLoad loads the page (step 4 of a search): the messages with the
// given keys and every row that carries one of the keys, each ordered by
// time, and the rows linked to the messages (linkedRows). times[i] is when
// keys[i] was first seen by the search (its message's first line, or the
// first matching row).
func (s *Store) traceLoad(ctx context.Context, qr storage.Querier, keys []string, times []int64) (msgs []txlog.MessageRow, rows, linked []txlog.Row, err error) {
	if s.db.Dialect() != storage.Postgres {
		return s.traceLoadSQLite(ctx, qr, keys)
	}
	msgs, rows, err = s.traceLoadPostgres(ctx, qr, keys, times)
	if err != nil {
		return nil, nil, nil, err
	}
	linked, err = s.linkedRows(ctx, qr, msgs)
	return msgs, rows, linked, err
}

// traceLoadSQLite is traceLoad on SQLite: one table, one index on
// msg_key, no partitions to fan out to. The rows are read beside the
// messages and their linked rows, on two pooled connections: on a key's
// first search its rows come from disk as often as not, one page read at
// a time per statement, and two statements keep two reads in flight (a
// page of 28 messages and 355 rows: 34 ms on a cold cache, 5 ms warm).
// A search inside a transaction (one connection) reads them in turn.
func (s *Store) traceLoadSQLite(ctx context.Context, qr storage.Querier, keys []string) (msgs []txlog.MessageRow, rows, linked []txlog.Row, err error) {
	in, kargs := inList(keys)
	loadRows := func() error {
		var err error
		rows, err = queryTx(ctx, qr, txSelect+" WHERE msg_key <> '' AND msg_key IN "+in+" ORDER BY ts", kargs...)
		if err != nil {
			return fmt.Errorf("trace load rows: %w", err)
		}
		return nil
	}
	loadMessages := func() error {
		var err error
		msgs, err = queryMsgs(ctx, qr, msgSelect+" WHERE msg_key IN "+in+" ORDER BY ts", kargs...)
		if err != nil {
			return fmt.Errorf("trace load messages: %w", err)
		}
		linked, err = s.linkedRows(ctx, qr, msgs)
		return err
	}
	if _, pooled := qr.(*storage.DB); !pooled {
		if err := loadMessages(); err != nil {
			return nil, nil, nil, err
		}
		if err := loadRows(); err != nil {
			return nil, nil, nil, err
		}
		return msgs, rows, linked, nil
	}
	rowsDone := make(chan error, 1)
	go func() { rowsDone <- loadRows() }()
	merr := loadMessages()
	rerr := <-rowsDone
	if err := errors.Join(merr, rerr); err != nil {
		return nil, nil, nil, err
	}
	return msgs, rows, linked, nil
}

// traceLoadPostgres is traceLoad's messages and rows on PostgreSQL.
func (s *Store) traceLoadPostgres(ctx context.Context, qr storage.Querier, keys []string, times []int64) ([]txlog.MessageRow, []txlog.Row, error) {
	// PostgreSQL: the logs are partitioned by day and msg_key is indexed
	// per partition, so "msg_key IN (50 keys)" probes every partition's
	// index once per key: 30 days × 50 keys × 2 tables ≈ 3,000 index
	// descents, most of them for nothing, and the bulk of a search's time
	// on a cold cache (docs/performance.md, "Trace over 10 million stored
	// rows"). Instead each key is looked up only in the partitions around
	// the time it was seen (run-time partition pruning in a LATERAL join),
	// and the few keys not found there (a message whose first line is more
	// than a day before the row that matched) are looked up everywhere, as
	// before.
	spans := make([][3]any, len(keys))
	for i, k := range keys {
		spans[i] = [3]any{k, times[i] - linkWindow, times[i] + linkWindow}
	}
	msgs, err := queryMsgs(ctx, qr, lateralBy(msgSelect, "msg_key", lateralSize(len(spans))), flatten(spans)...)
	if err != nil {
		return nil, nil, fmt.Errorf("trace load messages: %w", err)
	}
	type window struct{ lo, hi int64 }
	found := map[string]window{}
	for _, m := range msgs {
		w, ok := found[m.MsgKey]
		lo, hi := storage.Micros(m.FirstSeen), storage.Micros(m.LastSeen)
		if ok {
			lo, hi = min(lo, w.lo), max(hi, w.hi)
		}
		found[m.MsgKey] = window{lo, hi}
	}
	var missing []string
	for _, k := range keys {
		if _, ok := found[k]; !ok {
			missing = append(missing, k)
		}
	}
	if len(missing) > 0 {
		in, kargs := inList(missing)
		more, err := queryMsgs(ctx, qr, msgSelect+" WHERE msg_key IN "+in+" ORDER BY ts", kargs...)
		if err != nil {
			return nil, nil, fmt.Errorf("trace load messages: %w", err)
		}
		msgs = append(msgs, more...)
		sort.SliceStable(msgs, func(i, j int) bool { return msgs[i].FirstSeen.Before(msgs[j].FirstSeen) })
	}
	// A message's rows lie between its first and last line (they are
	// written from its lines), so they are looked for there, with the
	// same day of slack as rows linked by queue ID. Keys without a
	// message row are looked up everywhere.
	spans = spans[:0]
	var unbounded []string
	for _, k := range keys {
		if w, ok := found[k]; ok {
			spans = append(spans, [3]any{k, w.lo - linkWindow, w.hi + linkWindow})
		} else {
			unbounded = append(unbounded, k)
		}
	}
	var rows []txlog.Row
	if len(spans) > 0 {
		rows, err = queryTx(ctx, qr, lateralBy(txSelect, "msg_key <> '' AND msg_key", lateralSize(len(spans))), flatten(spans)...)
		if err != nil {
			return nil, nil, fmt.Errorf("trace load rows: %w", err)
		}
	}
	if len(unbounded) > 0 {
		in, kargs := inList(unbounded)
		more, err := queryTx(ctx, qr, txSelect+" WHERE msg_key <> '' AND msg_key IN "+in+" ORDER BY ts", kargs...)
		if err != nil {
			return nil, nil, fmt.Errorf("trace load rows: %w", err)
		}
		rows = append(rows, more...)
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].Time.Before(rows[j].Time) })
	}
	return msgs, rows, nil
}

// lateralBy selects the rows of sel (a "SELECT cols FROM table") where
// "match = key AND lo <= ts <= hi" for one of n (key, lo, hi) triples,
// ordered by ts. PostgreSQL only: each triple is looked up in the
// partitions its span covers (run-time pruning in the nested loop).
func lateralBy(sel, match string, n int) string {
	return lateralWhere(sel, match, "", n)
}

// lateralWhere is lateralBy with a further condition on the rows (its
// arguments after the triples').
func lateralWhere(sel, match, cond string, n int) string {
	var b strings.Builder
	b.WriteString("SELECT x.* FROM (VALUES ")
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?::text, ?::bigint, ?::bigint)")
	}
	b.WriteString(") AS k(key, lo, hi) CROSS JOIN LATERAL (")
	b.WriteString(sel)
	b.WriteString(" WHERE " + match + " = k.key AND ts >= k.lo AND ts <= k.hi")
	if cond != "" {
		b.WriteString(" AND " + cond)
	}
	// OFFSET 0 keeps the subquery from being pulled up into a join: then
	// a generic plan may scan the table by time and look the triples up
	// for each row (with 64 triples and a condition on the sender it did,
	// 10 s over 30 partitions), where each triple must drive one lookup.
	b.WriteString(" OFFSET 0) x ORDER BY x.ts")
	return b.String()
}

// lateralSize rounds n up to a power of two (at least 8), so that few
// distinct statements (each with its cached generic plan) serve every page.
func lateralSize(n int) int {
	size := 8
	for size < n {
		size *= 2
	}
	return size
}

// flatten lists the triples' values, padded to lateralSize with empty
// spans (lo > hi: no partition is read for them).
func flatten(spans [][3]any) []any {
	n := lateralSize(len(spans))
	out := make([]any, 0, 3*n)
	for _, s := range spans {
		out = append(out, s[0], s[1], s[2])
	}
	for range n - len(spans) {
		out = append(out, "", int64(0), int64(-1))
	}
	return out
}

// inList is "(?,?,…)" for keys and its arguments, padded with the last
// key to a power of two (at least 8: lateralSize), so that few distinct
// texts serve every page and storage.DB's statement cache (one prepared
// statement per text on each pooled SQLite connection) stays small; a key
// listed twice matches the same rows once.
func inList(keys []string) (string, []any) {
	if len(keys) == 0 {
		return "(NULL)", nil // matches nothing
	}
	n := lateralSize(len(keys))
	args := make([]any, n)
	for i := range n {
		args[i] = keys[min(i, len(keys)-1)]
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?,", n), ",") + ")", args
}

// messageForQueue finds the message that had queue ID qid on node around
// the instant at (µs), or "".
func (s *Store) messageForQueue(ctx context.Context, qr storage.Querier, node, qid string, at int64) (string, error) {
	var key string
	err := qr.QueryRow(ctx, `SELECT msg_key FROM mail_tx WHERE queue_id = ? AND queue_id <> '' AND ts >= ? AND ts <= ? AND node = ? AND msg_key <> '' LIMIT 1`,
		qid, at-linkWindow, at+linkWindow, node).Scan(&key)
	if err == nil {
		return key, nil
	}
	if err != sql.ErrNoRows {
		return "", fmt.Errorf("trace link %s: %w", qid, err)
	}
	err = qr.QueryRow(ctx, `SELECT msg_key FROM mail_messages WHERE first_queue_id = ? AND ts >= ? AND ts <= ? AND node = ? LIMIT 1`,
		qid, at-linkWindow, at+linkWindow, node).Scan(&key)
	if err == sql.ErrNoRows {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("trace link %s: %w", qid, err)
	}
	return key, nil
}
