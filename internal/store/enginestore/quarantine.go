package enginestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
)

// The central quarantine (engine/quarantine.Store).

// QuarantineAdd implements quarantine.Store.
func (s *Store) QuarantineAdd(ctx context.Context, it *quarantine.Item) (int64, error) {
	q := `INSERT INTO engine_quarantine (queue_id, created_at, reason, detail, listener, client_ip, auth_user, mail_from,
		rcpts, subject, header_from, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	var id int64
	err := s.db.QueryRow(ctx, q, it.QueueID, storage.Micros(it.At), string(it.Reason), it.Detail, it.Listener, it.ClientIP, it.AuthUser,
		it.MailFrom, strings.Join(it.Rcpts, "\n"), it.Subject, it.HeaderFrom, len(it.Body), it.Body).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("quarantine add: %w", err)
	}
	it.ID = id
	return id, nil
}

const quarantineCols = `id, queue_id, created_at, reason, detail, listener, client_ip, auth_user, mail_from, rcpts, subject, header_from, size`

func scanQuarantine(sc interface{ Scan(...any) error }, withBody bool) (quarantine.Item, error) {
	var it quarantine.Item
	var at int64
	var reason, rcpts string
	dest := []any{&it.ID, &it.QueueID, &at, &reason, &it.Detail, &it.Listener, &it.ClientIP, &it.AuthUser, &it.MailFrom,
		&rcpts, &it.Subject, &it.HeaderFrom, &it.Size}
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

// QuarantineDelete implements quarantine.Store.
func (s *Store) QuarantineDelete(ctx context.Context, id int64) error {
	res, err := s.db.Exec(ctx, `DELETE FROM engine_quarantine WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("quarantine item %d: %w", id, quarantine.ErrNotFound)
	}
	return nil
}

// QuarantineRelease implements quarantine.Store: in one transaction it
// deletes the item, stores its body with a relay-queue entry per relay
// target, and a message per mailbox with the mailbox's use grown by its
// size (in mailbox order, as MailCommit does). Where the copies go is the
// caller's (quarantine.Service.Release, by the directory's rule).
func (s *Store) QuarantineRelease(ctx context.Context, it quarantine.Item, now time.Time, d quarantine.Delivery) (int, error) {
	remote := make([]queue.NewEntry, 0, len(d.Relay))
	for _, r := range d.Relay {
		remote = append(remote, queue.NewEntry{QueueID: it.QueueID, Rcpt: r.Rcpt, Target: r.Target, MailFrom: it.MailFrom})
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
		if err := queueEnqueueTx(ctx, tx, it.Body, now, remote); err != nil {
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
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(local) + len(remote), nil
}

// QuarantineExpire implements quarantine.Store.
func (s *Store) QuarantineExpire(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM engine_quarantine WHERE created_at < ?`, storage.Micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
