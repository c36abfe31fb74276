package enginestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/engine/authlimit"
	"github.com/uni-mail/postvakt/internal/storage"
)

// AUTH attempt counters (engine/authlimit.Store) on engine_auth_attempts,
// shared by every engine node using the database.

var _ authlimit.Store = (*Store)(nil)

// AuthCount implements authlimit.Store.
func (s *Store) AuthCount(ctx context.Context, kind, key string, bucket time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count FROM engine_auth_attempts WHERE kind = ? AND key = ? AND bucket = ?`,
		kind, key, storage.Micros(bucket)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("auth attempts: %w", err)
	}
	return n, nil
}

// AuthIncrement implements authlimit.Store: one upsert whose update is
// conditional, so concurrent callers on any node never take the count past
// limit (PostgreSQL locks the conflicting row; SQLite has one writer).
func (s *Store) AuthIncrement(ctx context.Context, kind, key string, bucket time.Time, limit int, at time.Time) (bool, error) {
	if limit <= 0 {
		return false, nil
	}
	var n int
	err := s.db.QueryRow(ctx, `INSERT INTO engine_auth_attempts (kind, key, bucket, count, updated_at) VALUES (?, ?, ?, 1, ?)
		ON CONFLICT (kind, key, bucket) DO UPDATE SET count = engine_auth_attempts.count + 1, updated_at = excluded.updated_at
		WHERE engine_auth_attempts.count < ?
		RETURNING count`, kind, key, storage.Micros(bucket), storage.Micros(at), limit).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil // the update's condition failed: at the limit
	}
	if err != nil {
		return false, fmt.Errorf("auth attempts: %w", err)
	}
	return true, nil
}

// AuthDecrement implements authlimit.Store.
func (s *Store) AuthDecrement(ctx context.Context, kind, key string, bucket time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE engine_auth_attempts SET count = count - 1 WHERE kind = ? AND key = ? AND bucket = ? AND count > 0`,
		kind, key, storage.Micros(bucket))
	if err != nil {
		return fmt.Errorf("auth attempts: %w", err)
	}
	return nil
}

// AuthTouched implements authlimit.Store.
func (s *Store) AuthTouched(ctx context.Context, kind, key string, since time.Time) (bool, error) {
	var one int
	err := s.db.QueryRow(ctx, `SELECT 1 FROM engine_auth_attempts WHERE kind = ? AND key = ? AND updated_at >= ? LIMIT 1`,
		kind, key, storage.Micros(since)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("auth attempts: %w", err)
	}
	return true, nil
}

// AuthPrune implements authlimit.Store.
func (s *Store) AuthPrune(ctx context.Context, kind string, before time.Time) (int64, error) {
	n, err := s.db.DeleteBatches(ctx, `DELETE FROM engine_auth_attempts WHERE (kind, key, bucket) IN
		(SELECT kind, key, bucket FROM engine_auth_attempts WHERE kind = ? AND updated_at < ? LIMIT ?)`, 5000, kind, storage.Micros(before))
	if err != nil {
		return n, fmt.Errorf("prune auth attempts: %w", err)
	}
	return n, nil
}
