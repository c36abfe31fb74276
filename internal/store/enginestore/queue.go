package enginestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
)

// The outbound relay queue (engine/queue.Store) on engine_relay_queue,
// whose rows the engine's MailCommit inserts.

const queueCols = `q.id, q.queue_id, q.rcpt, q.target, q.mail_from, q.body_hash, q.state, q.attempts, q.next_attempt_at,
	q.created_at, q.last_attempt_at, q.last_error, q.held_reason, q.checked, COALESCE(t.auth_user, ''), COALESCE(t.rcpts, ''),
	COALESCE(b.size, 0), q.node, COALESCE(t.listener, ''), COALESCE(t.client_ip, '')`

const queueFrom = ` FROM engine_relay_queue q LEFT JOIN engine_transactions t ON t.queue_id = q.queue_id
	LEFT JOIN engine_bodies b ON b.hash = q.body_hash`

func scanQueue(rows *sql.Rows) ([]queue.Entry, error) {
	defer rows.Close()
	var out []queue.Entry
	for rows.Next() {
		var e queue.Entry
		var state, rcpts string
		var next, created, last int64
		if err := rows.Scan(&e.ID, &e.QueueID, &e.Rcpt, &e.Target, &e.MailFrom, &e.BodyHash, &state, &e.Attempts, &next,
			&created, &last, &e.LastError, &e.HeldReason, &e.Checked, &e.AuthUser, &rcpts, &e.Size, &e.Node, &e.Listener,
			&e.ClientIP); err != nil {
			return nil, err
		}
		e.State = queue.State(state)
		e.NextAttemptAt, e.CreatedAt, e.LastAttemptAt = storage.FromMicros(next), storage.FromMicros(created), storage.FromMicros(last)
		if rcpts != "" {
			e.TxRcpts = strings.Count(rcpts, "\n") + 1
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// queueWhere renders f as a WHERE clause over engine_relay_queue q (and
// engine_transactions t for the account).
func queueWhere(f queue.Filter) (string, []any) {
	var conds []string
	var args []any
	if len(f.IDs) > 0 {
		conds = append(conds, "q.id IN (?"+strings.Repeat(", ?", len(f.IDs)-1)+")")
		for _, id := range f.IDs {
			args = append(args, id)
		}
	}
	if f.QueueID != "" {
		conds, args = append(conds, "q.queue_id = ?"), append(args, f.QueueID)
	}
	if f.State != "" {
		conds, args = append(conds, "q.state = ?"), append(args, string(f.State))
	}
	if f.Sender != "" {
		conds, args = append(conds, "LOWER(q.mail_from) = ?"), append(args, strings.ToLower(f.Sender))
	}
	if f.Recipient != "" {
		conds, args = append(conds, "(LOWER(q.target) = ? OR LOWER(q.rcpt) = ?)"), append(args, strings.ToLower(f.Recipient), strings.ToLower(f.Recipient))
	}
	if f.AuthUser != "" {
		u := strings.ToLower(f.AuthUser)
		conds = append(conds, "(LOWER(q.mail_from) = ? OR q.queue_id IN (SELECT queue_id FROM engine_transactions WHERE LOWER(auth_user) = ?))")
		args = append(args, u, u)
	}
	if !f.OlderThan.IsZero() {
		conds, args = append(conds, "q.created_at < ?"), append(args, storage.Micros(f.OlderThan))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// QueueClaim implements queue.Store.
func (s *Store) QueueClaim(ctx context.Context, now time.Time, owner string, until time.Time, limit int) ([]queue.Entry, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM engine_relay_queue WHERE state IN ('queued', 'deferred')
		AND next_attempt_at <= ? AND lease_until <= ? ORDER BY next_attempt_at, id LIMIT ?`, storage.Micros(now), storage.Micros(now), limit)
	if err != nil {
		return nil, fmt.Errorf("queue due: %w", err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var claimed []int64
	for _, id := range ids {
		res, err := s.db.Exec(ctx, `UPDATE engine_relay_queue SET lease_owner = ?, lease_until = ?
			WHERE id = ? AND state IN ('queued', 'deferred') AND next_attempt_at <= ? AND lease_until <= ?`,
			owner, storage.Micros(until), id, storage.Micros(now), storage.Micros(now))
		if err != nil {
			return nil, fmt.Errorf("queue claim %d: %w", id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			claimed = append(claimed, id)
		}
	}
	if len(claimed) == 0 {
		return nil, nil
	}
	return s.QueueList(ctx, queue.Filter{IDs: claimed})
}

// QueueBody implements queue.Store.
func (s *Store) QueueBody(ctx context.Context, hash string) ([]byte, error) {
	b, err := s.MailBody(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: %w", queue.ErrNotFound, err)
	}
	return b, err
}

// QueueDelivered implements queue.Store: with a journal, the attempt's
// step is written with the removal.
func (s *Store) QueueDelivered(ctx context.Context, id int64, a queue.Attempt) error {
	if !s.journaling() {
		_, err := s.db.Exec(ctx, `DELETE FROM engine_relay_queue WHERE id = ?`, id)
		return err
	}
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		es, err := queueListTx(ctx, tx, queue.Filter{IDs: []int64{id}})
		if err != nil || len(es) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM engine_relay_queue WHERE id = ?`, id); err != nil {
			return err
		}
		return s.write(ctx, tx, []event.Event{attemptEvent(es[0], a)})
	})
}

// QueueDeferred implements queue.Store: with a journal, the attempt's step
// is written with the change.
func (s *Store) QueueDeferred(ctx context.Context, id int64, attempts int, next time.Time, a queue.Attempt) error {
	const upd = `UPDATE engine_relay_queue SET state = CASE WHEN state = 'held' THEN 'held' ELSE 'deferred' END,
		attempts = ?, last_attempt_at = ?, next_attempt_at = ?, last_error = ?, lease_owner = '', lease_until = 0 WHERE id = ?`
	args := []any{attempts, storage.Micros(a.At), storage.Micros(next), a.Reply, id}
	if !s.journaling() {
		_, err := s.db.Exec(ctx, upd, args...)
		return err
	}
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		es, err := queueListTx(ctx, tx, queue.Filter{IDs: []int64{id}})
		if err != nil || len(es) == 0 {
			return err
		}
		if _, err := tx.Exec(ctx, upd, args...); err != nil {
			return err
		}
		e := es[0]
		e.Attempts = attempts - 1 // the step is attempt number `attempts`
		return s.write(ctx, tx, []event.Event{attemptEvent(e, a)})
	})
}

// QueueMarkChecked implements queue.Store.
func (s *Store) QueueMarkChecked(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	w, args := queueWhere(queue.Filter{IDs: ids})
	_, err := s.db.Exec(ctx, `UPDATE engine_relay_queue SET checked = TRUE WHERE id IN (SELECT q.id FROM engine_relay_queue q`+w+`)`, args...)
	return err
}

// queueChange runs an UPDATE or DELETE (stmt, whose WHERE clause
// follows) over the entries f selects and extra narrows, and, with a
// journal, writes step for each entry it changed, in one transaction.
func (s *Store) queueChange(ctx context.Context, stmt string, stmtArgs []any, f queue.Filter, extra string, step event.RelayStep, reason string, at time.Time) (int, error) {
	w, args := queueWhere(f)
	if w == "" {
		w = " WHERE 1 = 1"
	}
	q := stmt + ` WHERE id IN (SELECT q.id FROM engine_relay_queue q` + w + extra + `)`
	all := append(append([]any{}, stmtArgs...), args...)
	if !s.journaling() {
		res, err := s.db.Exec(ctx, q, all...)
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		return int(n), err
	}
	n := 0
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		rows, err := tx.Query(ctx, `SELECT `+queueCols+queueFrom+w+extra+` ORDER BY q.created_at, q.id`+forUpdateOfQ(s.db), args...)
		if err != nil {
			return err
		}
		es, err := scanQueue(rows)
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, q, all...)
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n = int(m)
		evs := make([]event.Event, 0, len(es))
		for _, e := range es {
			ev := relayEvent(e, step, at)
			ev.Reply = reason
			evs = append(evs, ev)
		}
		return s.write(ctx, tx, evs)
	})
	return n, err
}

// forUpdateOfQ locks the selected entries on PostgreSQL (the queue's own
// rows: FOR UPDATE may not name the outer join's nullable side).
func forUpdateOfQ(q storage.Querier) string {
	if q.Dialect() == storage.Postgres {
		return " FOR UPDATE OF q"
	}
	return ""
}

func (s *Store) now() time.Time {
	if s.clock == nil {
		return time.Now()
	}
	return s.clock()
}

// QueueHold implements queue.Store.
func (s *Store) QueueHold(ctx context.Context, f queue.Filter, reason string) (int, error) {
	return s.queueChange(ctx, `UPDATE engine_relay_queue SET state = 'held', held_reason = ?, lease_owner = '', lease_until = 0`,
		[]any{reason}, f, " AND q.state <> 'held'", event.RelayHeld, reason, s.now())
}

// QueueRelease implements queue.Store.
func (s *Store) QueueRelease(ctx context.Context, f queue.Filter, now time.Time) (int, error) {
	return s.queueChange(ctx, `UPDATE engine_relay_queue SET state = 'queued', held_reason = '', checked = TRUE, next_attempt_at = ?`,
		[]any{storage.Micros(now)}, f, " AND q.state = 'held'", event.RelayReleased, "", now)
}

// QueueRetry implements queue.Store.
func (s *Store) QueueRetry(ctx context.Context, f queue.Filter, now time.Time) (int, error) {
	w, args := queueWhere(f)
	if w == "" {
		w = " WHERE 1 = 1"
	}
	res, err := s.db.Exec(ctx, `UPDATE engine_relay_queue SET next_attempt_at = ? WHERE id IN (SELECT q.id FROM engine_relay_queue q`+
		w+` AND q.state IN ('queued', 'deferred'))`, append([]any{storage.Micros(now)}, args...)...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// QueueDelete implements queue.Store.
func (s *Store) QueueDelete(ctx context.Context, f queue.Filter) (int, error) {
	if w, _ := queueWhere(f); w == "" {
		return 0, errors.New("queue delete: refusing to delete without a filter")
	}
	return s.queueChange(ctx, `DELETE FROM engine_relay_queue`, nil, f, "", event.RelayDeleted, "deleted by a postmaster", s.now())
}

// QueueList implements queue.Store.
func (s *Store) QueueList(ctx context.Context, f queue.Filter) ([]queue.Entry, error) {
	return queueListTx(ctx, s.db, f)
}

func queueListTx(ctx context.Context, qr storage.Querier, f queue.Filter) ([]queue.Entry, error) {
	w, args := queueWhere(f)
	q := `SELECT ` + queueCols + queueFrom + w + ` ORDER BY q.created_at, q.id`
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := qr.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("queue list: %w", err)
	}
	return scanQueue(rows)
}

// QueueEnqueue implements queue.Store.
func (s *Store) QueueEnqueue(ctx context.Context, body []byte, now time.Time, es []queue.NewEntry) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error { return s.queueEnqueueTx(ctx, tx, body, now, es, quarantine.Item{}) })
}

// queueEnqueueTx stores body and entries es due at now; with a journal
// each entry's queued step is written (with what is known of the message
// from it, a released quarantined one).
func (s *Store) queueEnqueueTx(ctx context.Context, tx *storage.Tx, body []byte, now time.Time, es []queue.NewEntry, from quarantine.Item) error {
	hash := store.Hash(body)
	at := storage.Micros(now)
	if _, err := tx.Exec(ctx, `INSERT INTO engine_bodies (hash, size, data, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
		hash, len(body), body, at); err != nil {
		return fmt.Errorf("queue body: %w", err)
	}
	var evs []event.Event
	for _, e := range es {
		if _, err := tx.Exec(ctx, `INSERT INTO engine_relay_queue (queue_id, node, rcpt, target, mail_from, body_hash, next_attempt_at, created_at, checked)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, TRUE)`, e.QueueID, e.Node, e.Rcpt, e.Target, e.MailFrom, hash, at, at); err != nil {
			return fmt.Errorf("enqueue %s for %s: %w", e.QueueID, e.Target, err)
		}
		if s.journaling() {
			evs = append(evs, &event.Relay{At: now, Node: e.Node, QueueID: e.QueueID, DSNFor: e.DSNFor, Listener: from.Listener,
				ClientIP: from.ClientIP, AuthUser: from.AuthUser, MailFrom: e.MailFrom, Rcpt: e.Rcpt, Target: e.Target,
				Step: event.RelayQueued, Size: int64(len(body))})
		}
	}
	return s.write(ctx, tx, evs)
}

// QueueStats implements queue.Store.
func (s *Store) QueueStats(ctx context.Context) ([]queue.Stat, error) {
	rows, err := s.db.Query(ctx, `SELECT state, COUNT(*), MIN(created_at) FROM engine_relay_queue GROUP BY state`)
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	defer rows.Close()
	got := map[queue.State]queue.Stat{}
	for rows.Next() {
		var state string
		var n, oldest int64
		if err := rows.Scan(&state, &n, &oldest); err != nil {
			return nil, err
		}
		got[queue.State(state)] = queue.Stat{State: queue.State(state), Count: n, Oldest: storage.FromMicros(oldest)}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]queue.Stat, 0, len(queue.States))
	for _, state := range queue.States {
		st := got[state]
		st.State = state
		out = append(out, st)
	}
	return out, nil
}
