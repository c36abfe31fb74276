package oncallstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/alertmanager"
)

// The Alertmanager receiver's inbox (oncall_alertmanager_inbox).

var _ alertmanager.Inbox = (*Store)(nil)

// AddInboxItem stores a webhook group and returns its ID.
func (s *Store) AddInboxItem(ctx context.Context, it alertmanager.Item) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO oncall_alertmanager_inbox (group_key, body, received_at, attempts, next_at)
		VALUES (?, ?, ?, 0, ?) RETURNING id`, it.Key, string(it.Body), storage.Micros(it.ReceivedAt), storage.Micros(it.NextAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store alertmanager group: %w", err)
	}
	return id, nil
}

// PendingInboxItems returns up to limit groups not yet handled, oldest first.
func (s *Store) PendingInboxItems(ctx context.Context, limit int) ([]alertmanager.Item, error) {
	rows, err := s.db.Query(ctx, `SELECT id, group_key, body, received_at, attempts, next_at FROM oncall_alertmanager_inbox
		WHERE done_at IS NULL ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("pending alertmanager groups: %w", err)
	}
	defer rows.Close()
	var out []alertmanager.Item
	for rows.Next() {
		var (
			it            alertmanager.Item
			body          string
			received, due int64
		)
		if err := rows.Scan(&it.ID, &it.Key, &body, &received, &it.Attempts, &due); err != nil {
			return nil, fmt.Errorf("pending alertmanager groups: %w", err)
		}
		it.Body, it.ReceivedAt, it.NextAt = []byte(body), storage.FromMicros(received), storage.FromMicros(due)
		out = append(out, it)
	}
	return out, rows.Err()
}

// InboxItemDone marks a group handled.
func (s *Store) InboxItemDone(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE oncall_alertmanager_inbox SET done_at = ? WHERE id = ?`, storage.Micros(at), id)
	if err != nil {
		return fmt.Errorf("alertmanager group %d done: %w", id, err)
	}
	return nil
}

// InboxItemFailed records a failed attempt.
func (s *Store) InboxItemFailed(ctx context.Context, id int64, attempts int, next time.Time, lastErr string) error {
	_, err := s.db.Exec(ctx, `UPDATE oncall_alertmanager_inbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ? AND done_at IS NULL`,
		attempts, storage.Micros(next), lastErr, id)
	if err != nil {
		return fmt.Errorf("alertmanager group %d failed: %w", id, err)
	}
	return nil
}

// PruneInbox deletes the groups handled before.
func (s *Store) PruneInbox(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM oncall_alertmanager_inbox WHERE done_at IS NOT NULL AND done_at < ?`, storage.Micros(before))
	if err != nil {
		return 0, fmt.Errorf("prune alertmanager inbox: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
