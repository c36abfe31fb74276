package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
)

// The central quarantine (engine/quarantine.Store).

var _ quarantine.Store = (*DB)(nil)

// QuarantineAdd implements quarantine.Store.
func (db *DB) QuarantineAdd(ctx context.Context, it *quarantine.Item) (int64, error) {
	q := `INSERT INTO engine_quarantine (queue_id, created_at, reason, detail, listener, client_ip, auth_user, mail_from,
		rcpts, subject, header_from, size, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`
	var id int64
	err := db.QueryRow(ctx, q, it.QueueID, Micros(it.At), string(it.Reason), it.Detail, it.Listener, it.ClientIP, it.AuthUser,
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
	it.At, it.Reason = FromMicros(at), quarantine.Reason(reason)
	if rcpts != "" {
		it.Rcpts = strings.Split(rcpts, "\n")
	}
	return it, nil
}

// QuarantineList implements quarantine.Store, newest first, without bodies.
func (db *DB) QuarantineList(ctx context.Context, f quarantine.Filter) ([]quarantine.Item, error) {
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
		r := strings.ToLower(f.Recipient)
		conds = append(conds, "(LOWER(rcpts) = ? OR LOWER(rcpts) LIKE ? OR LOWER(rcpts) LIKE ? OR LOWER(rcpts) LIKE ?)")
		args = append(args, r, r+"\n%", "%\n"+r, "%\n"+r+"\n%")
	}
	if !f.Before.IsZero() {
		conds, args = append(conds, "created_at < ?"), append(args, Micros(f.Before))
	}
	q := `SELECT ` + quarantineCols + ` FROM engine_quarantine`
	if len(conds) > 0 {
		q += " WHERE " + strings.Join(conds, " AND ")
	}
	q += " ORDER BY created_at DESC, id DESC"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := db.Query(ctx, q, args...)
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
func (db *DB) QuarantineGet(ctx context.Context, id int64) (quarantine.Item, error) {
	it, err := scanQuarantine(db.QueryRow(ctx, `SELECT `+quarantineCols+`, body FROM engine_quarantine WHERE id = ?`, id), true)
	if errors.Is(err, sql.ErrNoRows) {
		return it, fmt.Errorf("quarantine item %d: %w", id, quarantine.ErrNotFound)
	}
	return it, err
}

// QuarantineDelete implements quarantine.Store.
func (db *DB) QuarantineDelete(ctx context.Context, id int64) error {
	res, err := db.Exec(ctx, `DELETE FROM engine_quarantine WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("quarantine item %d: %w", id, quarantine.ErrNotFound)
	}
	return nil
}

// QuarantineRelease implements quarantine.Store.
func (db *DB) QuarantineRelease(ctx context.Context, id int64, now time.Time) (int, error) {
	var n int
	err := db.InTx(ctx, func(tx *Tx) error {
		it, err := scanQuarantine(tx.QueryRow(ctx, `SELECT `+quarantineCols+`, body FROM engine_quarantine WHERE id = ?`, id), true)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("quarantine item %d: %w", id, quarantine.ErrNotFound)
		}
		if err != nil {
			return err
		}
		var es []queue.NewEntry
		for _, r := range it.Rcpts {
			es = append(es, queue.NewEntry{QueueID: it.QueueID, Rcpt: r, Target: r, MailFrom: it.MailFrom})
		}
		if err := queueEnqueueTx(ctx, tx, it.Body, now, es); err != nil {
			return err
		}
		n = len(es)
		_, err = tx.Exec(ctx, `DELETE FROM engine_quarantine WHERE id = ?`, id)
		return err
	})
	return n, err
}

// QuarantineExpire implements quarantine.Store.
func (db *DB) QuarantineExpire(ctx context.Context, before time.Time) (int, error) {
	res, err := db.Exec(ctx, `DELETE FROM engine_quarantine WHERE created_at < ?`, Micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
