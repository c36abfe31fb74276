package enginestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
)

// A mailbox's messages for people (the mailbox view of the API, the web
// and `postvakt mailbox`): pages of the newest, one message's head, a
// deletion that gives back its quota, and every message in turn for an
// export.

// MailboxMessage is a stored message with the head of its body (the first
// store.HeadBytes, in which its header block is).
type MailboxMessage struct {
	store.StoredMessage
	Head []byte
}

// SQLite's substr and PostgreSQL's substr both cut a blob or bytea by
// bytes, so one statement serves both.
const headCols = `m.id, m.mailbox_id, m.queue_id, m.body_hash, m.size, m.received_at, m.truncated,
	(SELECT substr(b.data, 1, ?) FROM engine_bodies b WHERE b.hash = m.body_hash)`

func scanMailboxMessage(r storage.RowScanner) (MailboxMessage, error) {
	var m MailboxMessage
	var at int64
	err := r.Scan(&m.ID, &m.MailboxID, &m.QueueID, &m.BodyHash, &m.Size, &at, &m.Truncated, &m.Head)
	m.ReceivedAt = storage.FromMicros(at)
	return m, err
}

// MailboxMessagePage returns up to limit messages of the mailbox, newest
// first, with an ID below before (0: from the newest).
func (s *Store) MailboxMessagePage(ctx context.Context, mailboxID, before int64, limit int) ([]MailboxMessage, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	out, err := storage.QueryAll(ctx, s.db, scanMailboxMessage, `SELECT `+headCols+`
		FROM engine_messages m WHERE m.mailbox_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?`,
		store.HeadBytes, mailboxID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("messages of mailbox %d: %w", mailboxID, err)
	}
	return out, nil
}

// MailboxMessage returns message id of the mailbox with its head, or an
// error wrapping store.ErrNotFound when the mailbox has no such message.
func (s *Store) MailboxMessage(ctx context.Context, mailboxID, id int64) (MailboxMessage, error) {
	m, err := scanMailboxMessage(s.db.QueryRow(ctx, `SELECT `+headCols+`
		FROM engine_messages m WHERE m.id = ? AND m.mailbox_id = ?`, store.HeadBytes, id, mailboxID))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("message %d of mailbox %d: %w", id, mailboxID, store.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("message %d of mailbox %d: %w", id, mailboxID, err)
	}
	return m, nil
}

// MailDelete deletes message id of the mailbox and takes its size off the
// mailbox's used bytes (never below zero), in one transaction; a message
// the mailbox does not have (or no longer has: deleted at the same time)
// is an error wrapping store.ErrNotFound and changes nothing. The body
// stays for MailPrune. It returns the message deleted.
func (s *Store) MailDelete(ctx context.Context, mailboxID, id int64) (store.StoredMessage, error) {
	var m store.StoredMessage
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		var at int64
		err := tx.QueryRow(ctx, `DELETE FROM engine_messages WHERE id = ? AND mailbox_id = ?
			RETURNING id, mailbox_id, queue_id, body_hash, size, received_at, truncated`, id, mailboxID).
			Scan(&m.ID, &m.MailboxID, &m.QueueID, &m.BodyHash, &m.Size, &at, &m.Truncated)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		m.ReceivedAt = storage.FromMicros(at)
		_, err = tx.Exec(ctx, `UPDATE engine_mailboxes SET used_bytes = CASE WHEN used_bytes > ? THEN used_bytes - ? ELSE 0 END WHERE id = ?`,
			m.Size, m.Size, mailboxID)
		return err
	})
	if err != nil {
		return m, fmt.Errorf("delete message %d of mailbox %d: %w", id, mailboxID, err)
	}
	return m, nil
}

// exportBatch is how many messages' rows MailEach reads at a time (their
// bodies one by one).
const exportBatch = 100

// MailEach calls fn with every message of the mailbox, oldest first, its
// envelope sender ("" when its transaction row is gone) and its body. It
// holds one body at a time; a message whose body is gone is skipped. fn's
// error stops it.
func (s *Store) MailEach(ctx context.Context, mailboxID int64, fn func(m store.StoredMessage, sender string, body []byte) error) error {
	type row struct {
		store.StoredMessage
		sender sql.NullString
	}
	var after int64
	for {
		rows, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (row, error) {
			var m row
			var at int64
			err := r.Scan(&m.ID, &m.MailboxID, &m.QueueID, &m.BodyHash, &m.Size, &at, &m.Truncated, &m.sender)
			m.ReceivedAt = storage.FromMicros(at)
			return m, err
		}, `SELECT m.id, m.mailbox_id, m.queue_id, m.body_hash, m.size, m.received_at, m.truncated,
			(SELECT t.mail_from FROM engine_transactions t WHERE t.queue_id = m.queue_id)
			FROM engine_messages m WHERE m.mailbox_id = ? AND m.id > ? ORDER BY m.id LIMIT ?`, mailboxID, after, exportBatch)
		if err != nil {
			return fmt.Errorf("messages of mailbox %d: %w", mailboxID, err)
		}
		for _, m := range rows {
			after = m.ID
			body, err := s.MailBody(ctx, m.BodyHash)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if err := fn(m.StoredMessage, m.sender.String, body); err != nil {
				return err
			}
		}
		if len(rows) < exportBatch {
			return nil
		}
	}
}
