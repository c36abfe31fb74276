package enginestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
)

// The mailbox store (engine/store.Store): content-addressed bodies, the
// transaction record, mailbox references and relay-queue rows, written by
// the group committer in one database transaction per batch.

// MailCommit implements store.Store. A commit on SQLite (synchronous=FULL)
// or PostgreSQL (synchronous_commit on) is durable when it returns.
//
// Each table gets one multi-row INSERT per batch (in chunks of
// power-of-two sizes, see mailChunk) rather than one statement per
// message: on PostgreSQL every statement is a round trip, on SQLite one
// pass through the driver, so a batch of 20 messages is a handful of
// statements instead of 60.
func (s *Store) MailCommit(ctx context.Context, msgs []*store.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	// WAL pages the batch writes, roughly: the bodies, and a few index
	// and table pages per message
	pages := 0
	for _, m := range msgs {
		pages += len(m.Body)/4096 + 1 + len(m.Deliveries) + 3
	}
	what := fmt.Sprintf("%d messages", len(msgs))
	if len(msgs) == 1 {
		what = msgs[0].QueueID
	}
	return s.db.InMailTx(ctx, pages, func(tx *storage.Tx) error {
		// Statements go through tx.Exec: on SQLite they come from the
		// database's statement cache, on PostgreSQL from pgx's per
		// connection cache; no Prepare/Close round trips per batch.
		const (
			// a body used again is made young again, so that MailPrune
			// never collects a body a commit has just referred to
			insBody = `INSERT INTO engine_bodies (hash, size, data, created_at) VALUES `
			onBody  = ` ON CONFLICT (hash) DO UPDATE SET created_at = excluded.created_at`
			insTx   = `INSERT INTO engine_transactions (queue_id, received_at, node, listener, client_ip, helo, auth_user,
			mail_from, rcpts, message_id, subject, header_from, size, body_hash) VALUES `
			insMsg = `INSERT INTO engine_messages (mailbox_id, queue_id, body_hash, size, received_at, truncated) VALUES `
			insQ   = `INSERT INTO engine_relay_queue (queue_id, node, rcpt, target, mail_from, body_hash, next_attempt_at, created_at) VALUES `
			upd    = `UPDATE engine_mailboxes SET used_bytes = used_bytes + ? WHERE id = ?`
		)
		// Bodies once per hash (one statement may not touch a row twice
		// on PostgreSQL), the newest date kept, in hash order so that
		// concurrent batches on PostgreSQL lock them in the same order.
		type body struct {
			data []byte
			at   int64
		}
		bodies := make(map[string]body, len(msgs))
		addBody := func(hash string, data []byte, at int64) {
			if b, ok := bodies[hash]; !ok || at > b.at {
				bodies[hash] = body{data, at}
			}
		}
		var txArgs, msgArgs, qArgs []any
		nMsg, nQ := 0, 0
		used := map[int64]int64{}
		for _, m := range msgs {
			at := storage.Micros(m.ReceivedAt)
			addBody(m.BodyHash, m.Body, at)
			if m.TruncatedHash != "" {
				addBody(m.TruncatedHash, m.Truncated, at)
			}
			txArgs = append(txArgs, m.QueueID, at, m.Node, m.Listener, m.ClientIP, m.HELO, m.AuthUser,
				m.MailFrom, strings.Join(m.Rcpts, "\n"), m.MessageID, m.Subject, m.HeaderFrom, len(m.Body), m.BodyHash)
			for _, d := range m.Deliveries {
				switch {
				case d.MailboxID != 0:
					hash := m.BodyHash
					if d.Truncated {
						hash = m.TruncatedHash
					}
					size := m.Size(d)
					msgArgs = append(msgArgs, d.MailboxID, m.QueueID, hash, size, at, d.Truncated)
					nMsg++
					used[d.MailboxID] += size
				case d.Remote != "":
					qArgs = append(qArgs, m.QueueID, m.Node, d.Rcpt, d.Remote, m.MailFrom, m.BodyHash, at, at)
					nQ++
				}
			}
		}
		hashes := make([]string, 0, len(bodies))
		for h := range bodies {
			hashes = append(hashes, h)
		}
		slices.Sort(hashes)
		bodyArgs := make([]any, 0, 4*len(hashes))
		for _, h := range hashes {
			b := bodies[h]
			bodyArgs = append(bodyArgs, h, len(b.data), b.data, b.at)
		}
		if err := insertMulti(ctx, tx, insBody, onBody, 4, bodyArgs); err != nil {
			return fmt.Errorf("bodies of %s: %w", what, err)
		}
		if err := insertMulti(ctx, tx, insTx, "", 14, txArgs); err != nil {
			return fmt.Errorf("transactions of %s: %w", what, err)
		}
		if err := insertMulti(ctx, tx, insMsg, "", 6, msgArgs); err != nil {
			return fmt.Errorf("deliveries of %s: %w", what, err)
		}
		if err := insertMulti(ctx, tx, insQ, "", 8, qArgs); err != nil {
			return fmt.Errorf("relay queue entries of %s: %w", what, err)
		}
		// Quota usage, in mailbox order so concurrent batches on PostgreSQL
		// take row locks in the same order and cannot deadlock.
		ids := make([]int64, 0, len(used))
		for id := range used {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			if _, err := tx.Exec(ctx, upd, used[id], id); err != nil {
				return fmt.Errorf("quota usage of %d: %w", id, err)
			}
		}
		if s.journaling() {
			var evs []event.Event
			for _, m := range msgs {
				evs = append(evs, m.Events...)
			}
			if err := s.write(ctx, tx, evs); err != nil {
				return fmt.Errorf("transaction log: %w", err)
			}
		}
		return nil
	})
}

// mailChunk is the most rows one INSERT of MailCommit writes (the default
// smtp.commit.max_batch; SQLite allows 32766 parameters per statement).
// A batch is written in chunks of power-of-two sizes (storage.ChunkRows),
// so the statement caches (storage's on SQLite, pgx's per connection) hold
// at most seven texts per table, whatever the batch sizes.
const mailChunk = 64

// insertMulti inserts the rows of args (cols values each) with head
// ("INSERT INTO t (...) VALUES "), one multi-row statement per chunk,
// tail (an ON CONFLICT clause, or "") after the values.
func insertMulti(ctx context.Context, tx *storage.Tx, head, tail string, cols int, args []any) error {
	n := len(args) / cols
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	for start := 0; start < n; {
		size := storage.ChunkRows(n-start, mailChunk)
		if _, err := tx.Exec(ctx, storage.MultiRowInsert(head, one, size, tail), args[start*cols:(start+size)*cols]...); err != nil {
			return err
		}
		start += size
	}
	return nil
}

// MailMessages implements store.Store.
func (s *Store) MailMessages(ctx context.Context, mailboxID int64) ([]store.StoredMessage, error) {
	rows, err := s.db.Query(ctx, `SELECT id, mailbox_id, queue_id, body_hash, size, received_at, truncated
		FROM engine_messages WHERE mailbox_id = ? ORDER BY id`, mailboxID)
	if err != nil {
		return nil, fmt.Errorf("messages of %d: %w", mailboxID, err)
	}
	defer rows.Close()
	var out []store.StoredMessage
	for rows.Next() {
		var m store.StoredMessage
		var at int64
		if err := rows.Scan(&m.ID, &m.MailboxID, &m.QueueID, &m.BodyHash, &m.Size, &at, &m.Truncated); err != nil {
			return nil, err
		}
		m.ReceivedAt = storage.FromMicros(at)
		out = append(out, m)
	}
	return out, rows.Err()
}

// MailBody implements store.Store.
func (s *Store) MailBody(ctx context.Context, hash string) ([]byte, error) {
	var b []byte
	err := s.db.QueryRow(ctx, `SELECT data FROM engine_bodies WHERE hash = ?`, hash).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("body %s: %w", hash, store.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("body %s: %w", hash, err)
	}
	return b, nil
}

// MailQueueIDsByMessageID implements store.Store.
func (s *Store) MailQueueIDsByMessageID(ctx context.Context, messageID string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT queue_id FROM engine_transactions WHERE message_id = ? ORDER BY id`, messageID)
	if err != nil {
		return nil, fmt.Errorf("transactions by message-id: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

// MailFindToken finds, among the 50 newest messages of the mailbox of
// address (any case), the newest that carries token in its header: in the
// Message-ID or Subject the engine logged with its transaction or, for a
// message whose transaction row is gone (released from quarantine, or
// older than the log's retention), in its body's header block (RFC 5322
// §2.1: up to the first empty line). The mail loop's probe puts its token
// in the Subject, the Message-ID and the X-Postvakt-Probe header
// (docs/probes.md). The message comes back with its ID, mailbox, size,
// body and arrival; ok is false when none carries token.
func (s *Store) MailFindToken(ctx context.Context, address, token string) (m store.StoredMessage, ok bool, err error) {
	type msg struct {
		store.StoredMessage
		messageID, subject sql.NullString // NULL: no transaction row
	}
	msgs, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (msg, error) {
		var m msg
		var at int64
		err := r.Scan(&m.ID, &m.MailboxID, &m.Size, &at, &m.BodyHash, &m.messageID, &m.subject)
		m.ReceivedAt = storage.FromMicros(at)
		return m, err
	}, `SELECT m.id, m.mailbox_id, m.size, m.received_at, m.body_hash, t.message_id, t.subject
		FROM (SELECT m.id, m.mailbox_id, m.size, m.received_at, m.body_hash, m.queue_id FROM engine_messages m
			JOIN engine_mailboxes b ON b.id = m.mailbox_id WHERE b.address = ? ORDER BY m.id DESC LIMIT 50) m
		LEFT JOIN engine_transactions t ON t.queue_id = m.queue_id
		ORDER BY m.id DESC`, strings.ToLower(address))
	if err != nil {
		return m, false, fmt.Errorf("messages of mailbox %s: %w", address, err)
	}
	for _, c := range msgs {
		found := strings.Contains(c.messageID.String, token) || strings.Contains(c.subject.String, token)
		if !found && !c.messageID.Valid {
			body, err := s.MailBody(ctx, c.BodyHash)
			if err != nil {
				return m, false, err
			}
			head := body
			if i := strings.Index(string(body), "\r\n\r\n"); i >= 0 {
				head = body[:i]
			}
			found = strings.Contains(string(head), token)
		}
		if found {
			return c.StoredMessage, true, nil
		}
	}
	return m, false, nil
}

// MailRemove deletes message m from its mailbox and takes its size off the
// mailbox's used bytes (never below zero: the opposite of what MailCommit
// adds), in one transaction. The body stays: the message's transaction
// row refers to it, and MailPrune collects it once nothing does.
func (s *Store) MailRemove(ctx context.Context, m store.StoredMessage) error {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM engine_messages WHERE id = ?`, m.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE engine_mailboxes SET used_bytes = CASE WHEN used_bytes > ? THEN used_bytes - ? ELSE 0 END WHERE id = ?`,
			m.Size, m.Size, m.MailboxID); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove message %d from mailbox %d: %w", m.ID, m.MailboxID, err)
	}
	return nil
}

// MailStats implements store.Store.
func (s *Store) MailStats(ctx context.Context) (store.Stats, error) {
	var st store.Stats
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(size), 0) FROM engine_bodies`).Scan(&st.Bodies, &st.BodyBytes); err != nil {
		return st, fmt.Errorf("store stats: %w", err)
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM engine_messages`).Scan(&st.Messages); err != nil {
		return st, fmt.Errorf("store stats: %w", err)
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM engine_relay_queue WHERE state = 'queued'`).Scan(&st.QueuedMail); err != nil {
		return st, fmt.Errorf("store stats: %w", err)
	}
	return st, nil
}

// MailPrune implements store.Store. Bodies go in one statement per call
// (the engine calls it hourly, so it finds about an hour of relayed and
// deleted mail): each reference table is read once, not once per body.
// On PostgreSQL the references to engine_bodies carry no foreign keys
// (migration 20261123015300); on SQLite they are declared, so the bodies
// are deleted on a connection with foreign_keys off, after the same check
// done by hand.
func (s *Store) MailPrune(ctx context.Context, txBefore, bodiesBefore time.Time) (store.Pruned, error) {
	var p store.Pruned
	if !txBefore.IsZero() {
		n, err := s.db.DeleteBatches(ctx, `DELETE FROM engine_transactions WHERE id IN
			(SELECT id FROM engine_transactions WHERE received_at < ? ORDER BY received_at LIMIT ?)`, 5000, storage.Micros(txBefore))
		p.Transactions = n
		if err != nil {
			return p, fmt.Errorf("prune transactions: %w", err)
		}
	}
	if bodiesBefore.IsZero() {
		return p, nil
	}
	unreferenced := ` FROM engine_bodies b WHERE b.created_at < ?
		AND NOT EXISTS (SELECT 1 FROM engine_messages m WHERE m.body_hash = b.hash)
		AND NOT EXISTS (SELECT 1 FROM engine_relay_queue q WHERE q.body_hash = b.hash)`
	if s.db.Dialect() == storage.SQLite {
		// SQLite reads an uncorrelated NOT IN list once; a NOT EXISTS
		// without an index on body_hash would scan per body
		unreferenced = ` FROM engine_bodies b WHERE b.created_at < ?
			AND b.hash NOT IN (SELECT body_hash FROM engine_messages)
			AND b.hash NOT IN (SELECT body_hash FROM engine_relay_queue)`
	}
	run := func(q storage.Querier) error {
		// one pass: the sizes of what was deleted come back with it
		sizes, err := storage.QueryAll(ctx, q, func(r storage.RowScanner) (int64, error) {
			var n int64
			return n, r.Scan(&n)
		}, `DELETE FROM engine_bodies WHERE hash IN (SELECT b.hash`+unreferenced+`) RETURNING size`, storage.Micros(bodiesBefore))
		p.Bodies = int64(len(sizes))
		for _, n := range sizes {
			p.BodyBytes += n
		}
		return err
	}
	var err error
	if s.db.Dialect() == storage.SQLite {
		err = s.db.WithoutForeignKeys(ctx, run)
	} else {
		err = s.db.InTx(ctx, func(tx *storage.Tx) error { return run(tx) })
	}
	if err != nil {
		return p, fmt.Errorf("prune bodies: %w", err)
	}
	return p, nil
}
