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
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
)

// The central quarantine (engine/quarantine.Store).

// QuarantineAdd implements quarantine.Store: with a journal, the message's
// quarantined step is written with it.
func (s *Store) QuarantineAdd(ctx context.Context, it *quarantine.Item) (int64, error) {
	q := `INSERT INTO engine_quarantine (queue_id, node, created_at, reason, detail, listener, client_ip, auth_user, mail_from,
		rcpts, message_id, subject, header_from, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	args := []any{it.QueueID, it.Node, storage.Micros(it.At), string(it.Reason), it.Detail, it.Listener, it.ClientIP, it.AuthUser,
		it.MailFrom, strings.Join(it.Rcpts, "\n"), it.MessageID, it.Subject, it.HeaderFrom, len(it.Body), it.Body}
	var id int64
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.QueryRow(ctx, q, args...).Scan(&id); err != nil {
			return err
		}
		added := *it
		added.Size = int64(len(it.Body))
		return s.write(ctx, tx, []event.Event{quarantineEvent(added, event.QuarantineAdded, it.At)})
	})
	if err != nil {
		return 0, fmt.Errorf("quarantine add: %w", err)
	}
	it.ID = id
	return id, nil
}

const quarantineCols = `id, queue_id, created_at, reason, detail, listener, client_ip, auth_user, mail_from, rcpts, subject, header_from, size,
	node, message_id`

func scanQuarantine(sc interface{ Scan(...any) error }, withBody bool) (quarantine.Item, error) {
	var it quarantine.Item
	var at int64
	var reason, rcpts string
	dest := []any{&it.ID, &it.QueueID, &at, &reason, &it.Detail, &it.Listener, &it.ClientIP, &it.AuthUser, &it.MailFrom,
		&rcpts, &it.Subject, &it.HeaderFrom, &it.Size, &it.Node, &it.MessageID}
	if withBody {
		dest = append(dest, &it.Body)
	}
	if err := sc.Scan(dest...); err != nil {
		return it, err
	}
	it.At, it.Reason = storage.FromMicros(at), quarantine.Reason(reason)
	if rcpts != "" {
		it.Rcpts = strings.Split(rcpts, "\n")
	}
	return it, nil
}

// QuarantineList implements quarantine.Store, newest first, without bodies.
func (s *Store) QuarantineList(ctx context.Context, f quarantine.Filter) ([]quarantine.Item, error) {
	var conds []string
	var args []any
	if f.Reason != "" {
		conds, args = append(conds, "reason = ?"), append(args, string(f.Reason))
	}
	if f.Sender != "" {
		conds, args = append(conds, "LOWER(mail_from) = ?"), append(args, strings.ToLower(f.Sender))
	}
	if f.Recipient != "" {
		// rcpts is newline-separated.
		// (an address's "_" and "%" are searched for, not LIKE wildcards)
		r := strings.ToLower(f.Recipient)
		e := storage.LikeEscaper.Replace(r)
		conds = append(conds, `(LOWER(rcpts) = ? OR LOWER(rcpts) LIKE ? ESCAPE '\' OR LOWER(rcpts) LIKE ? ESCAPE '\' OR LOWER(rcpts) LIKE ? ESCAPE '\')`)
		args = append(args, r, e+"\n%", "%\n"+e, "%\n"+e+"\n%")
	}
	if !f.Before.IsZero() {
		conds, args = append(conds, "created_at < ?"), append(args, storage.Micros(f.Before))
	}
	q := `SELECT ` + quarantineCols + ` FROM engine_quarantine`
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("quarantine list: %w", err)
	}
	defer rows.Close()
	var out []quarantine.Item
	for rows.Next() {
		it, err := scanQuarantine(rows, false)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// QuarantineGet implements quarantine.Store.
func (s *Store) QuarantineGet(ctx context.Context, id int64) (quarantine.Item, error) {
	it, err := scanQuarantine(s.db.QueryRow(ctx, `SELECT `+quarantineCols+`, body FROM engine_quarantine WHERE id = ?`, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("quarantine item %d: %w", id, quarantine.ErrNotFound)
	}
	return it, err
}

// QuarantineDelete implements quarantine.Store: with a journal, the
// message's deleted step is written with the deletion.
func (s *Store) QuarantineDelete(ctx context.Context, id int64) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		var it quarantine.Item
		var err error
		if s.journaling() {
			it, err = scanQuarantine(tx.QueryRow(ctx, `SELECT `+quarantineCols+` FROM engine_quarantine WHERE id = ?`, id), false)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("quarantine item %d: %w", id, quarantine.ErrNotFound)
			}
			if err != nil {
				return err
			}
		}
		res, err := tx.Exec(ctx, `DELETE FROM engine_quarantine WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("quarantine item %d: %w", id, quarantine.ErrNotFound)
		}
		if !s.journaling() {
			return nil
		}
		ev := quarantineEvent(it, event.QuarantineDeleted, s.now())
		return s.write(ctx, tx, []event.Event{ev})
	})
}

// QuarantineRelease implements quarantine.Store: in one transaction it
// deletes the item, stores its body with a relay-queue entry per relay
// target, and a message per mailbox with the mailbox's use grown by its
// size (in mailbox order, as MailCommit does). Where the copies go is the
// caller's (quarantine.Service.Release, by the directory's rule).
func (s *Store) QuarantineRelease(ctx context.Context, it quarantine.Item, now time.Time, d quarantine.Delivery) (int, error) {
	remote := make([]queue.NewEntry, 0, len(d.Relay))
	for _, r := range d.Relay {
		remote = append(remote, queue.NewEntry{QueueID: it.QueueID, Node: it.Node, Rcpt: r.Rcpt, Target: r.Target, MailFrom: it.MailFrom})
	}
	local := slices.Clone(d.Mailboxes)
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM engine_quarantine WHERE id = ?`, it.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("quarantine item %d: %w", it.ID, quarantine.ErrNotFound)
		}
		if err := s.queueEnqueueTx(ctx, tx, it.Body, now, remote, it); err != nil {
			return err
		}
		hash, size := store.Hash(it.Body), int64(len(it.Body))
		slices.Sort(local)
		for _, mb := range local {
			if _, err := tx.Exec(ctx, `INSERT INTO engine_messages (mailbox_id, queue_id, body_hash, size, received_at, truncated) VALUES (?, ?, ?, ?, ?, ?)`,
				mb, it.QueueID, hash, size, storage.Micros(now), false); err != nil {
				return fmt.Errorf("deliver to %d: %w", mb, err)
			}
			if _, err := tx.Exec(ctx, `UPDATE engine_mailboxes SET used_bytes = used_bytes + ? WHERE id = ?`, size, mb); err != nil {
				return err
			}
		}
		if !s.journaling() {
			return nil
		}
		ev := quarantineEvent(it, event.QuarantineReleased, now)
		for _, mb := range local {
			var address string
			if err := tx.QueryRow(ctx, `SELECT address FROM engine_mailboxes WHERE id = ?`, mb).Scan(&address); err != nil {
				return fmt.Errorf("released to %d: %w", mb, err)
			}
			ev.Mailboxes = append(ev.Mailboxes, address)
		}
		return s.write(ctx, tx, []event.Event{ev})
	})
	if err != nil {
		return 0, err
	}
	return len(local) + len(remote), nil
}

// QuarantineExpire implements quarantine.Store: with a journal, each
// message's expired step is written with the deletion.
func (s *Store) QuarantineExpire(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		var evs []event.Event
		if s.journaling() {
			rows, err := tx.Query(ctx, `SELECT `+quarantineCols+` FROM engine_quarantine WHERE created_at < ? ORDER BY created_at`, storage.Micros(before))
			if err != nil {
				return err
			}
			at := s.now()
			for rows.Next() {
				it, err := scanQuarantine(rows, false)
				if err != nil {
					rows.Close()
					return err
				}
				evs = append(evs, quarantineEvent(it, event.QuarantineExpired, at))
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		res, err := tx.Exec(ctx, `DELETE FROM engine_quarantine WHERE created_at < ?`, storage.Micros(before))
		if err != nil {
			return err
		}
		m, _ := res.RowsAffected()
		n = int(m)
		return s.write(ctx, tx, evs)
	})
	return n, err
}
