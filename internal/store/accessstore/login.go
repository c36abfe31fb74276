package accessstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// The sign-in throttles (webauth.LoginStore). Each method is a single
// conditional statement, so that parallel attempts — in one process or on
// several replicas — are counted one after another by the database: on
// SQLite the one writer orders them; on PostgreSQL a concurrent UPDATE of
// the same row waits for the other and re-evaluates its WHERE clause on
// the row as committed (READ COMMITTED, "UPDATE … re-evaluates"), and
// INSERT … ON CONFLICT DO UPDATE does the same for a new address.

var _ webauth.LoginStore = (*Store)(nil)

// ReserveAddress counts an attempt of addr unless it is at the limit.
func (s *Store) ReserveAddress(ctx context.Context, addr string, l webauth.LoginLimits) (bool, error) {
	now, start := storage.Micros(l.Now), storage.Micros(l.WindowStart)
	rows, err := s.db.Query(ctx, `INSERT INTO web_login_addresses AS a (addr, window_start, attempts) VALUES (?, ?, 1)
		ON CONFLICT (addr) DO UPDATE SET
			attempts = CASE WHEN a.window_start <= ? THEN 1 ELSE a.attempts + 1 END,
			window_start = CASE WHEN a.window_start <= ? THEN ? ELSE a.window_start END
		WHERE a.window_start <= ? OR a.attempts < ?
		RETURNING attempts`, addr, now, start, start, now, start, l.MaxPerAddress)
	if err != nil {
		return false, fmt.Errorf("reserve sign-in attempt of %s: %w", addr, err)
	}
	defer rows.Close()
	counted := rows.Next()
	return counted, rows.Err()
}

// RefundAddress takes one attempt of addr back.
func (s *Store) RefundAddress(ctx context.Context, addr string) error {
	if _, err := s.db.Exec(ctx, `UPDATE web_login_addresses SET attempts = attempts - 1 WHERE addr = ? AND attempts > 0`, addr); err != nil {
		return fmt.Errorf("refund sign-in attempt of %s: %w", addr, err)
	}
	return nil
}

// PruneAddresses forgets the addresses whose window began before.
func (s *Store) PruneAddresses(ctx context.Context, before time.Time) error {
	if _, err := s.db.Exec(ctx, `DELETE FROM web_login_addresses WHERE window_start < ?`, storage.Micros(before)); err != nil {
		return fmt.Errorf("prune sign-in addresses: %w", err)
	}
	return nil
}

// ReserveLogin counts an attempt for the user unless locked or at the limit.
func (s *Store) ReserveLogin(ctx context.Context, userID int64, l webauth.LoginLimits) (bool, error) {
	now, start, stale := storage.Micros(l.Now), storage.Micros(l.WindowStart), storage.Micros(l.StaleBefore)
	res, err := s.db.Exec(ctx, `UPDATE web_users SET
			failed_count = CASE WHEN failed_since IS NULL OR failed_since <= ? THEN 1 ELSE failed_count + 1 END,
			failed_since = CASE WHEN failed_since IS NULL OR failed_since <= ? THEN ? ELSE failed_since END,
			login_pending = CASE WHEN login_pending_at IS NULL OR login_pending_at < ? THEN 1 ELSE login_pending + 1 END,
			login_pending_at = ?
		WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)
			AND (failed_since IS NULL OR failed_since <= ? OR failed_count < ?)`,
		start, start, now, stale, now, userID, now, start, l.MaxFailures)
	return affected(res, err, "reserve sign-in attempt of user %d", userID)
}

// FinishLogin records a right password, only if no other attempt is being
// checked and the user is not locked out.
func (s *Store) FinishLogin(ctx context.Context, userID int64, l webauth.LoginLimits) (bool, error) {
	now, stale := storage.Micros(l.Now), storage.Micros(l.StaleBefore)
	res, err := s.db.Exec(ctx, `UPDATE web_users SET failed_count = 0, failed_since = NULL, locked_until = NULL,
			last_login_at = ?, login_pending = 0, login_pending_at = NULL
		WHERE id = ? AND (locked_until IS NULL OR locked_until <= ?)
			AND (login_pending <= 1 OR login_pending_at IS NULL OR login_pending_at < ?)`,
		now, userID, now, stale)
	return affected(res, err, "record sign-in of user %d", userID)
}

// FailLogin ends an attempt as a failure, locking the user at the limit.
func (s *Store) FailLogin(ctx context.Context, userID int64, l webauth.LoginLimits) (bool, error) {
	now, lock := storage.Micros(l.Now), storage.Micros(l.LockUntil)
	res, err := s.db.Exec(ctx, `UPDATE web_users SET locked_until = ?, failed_count = 0, failed_since = NULL,
			login_pending = CASE WHEN login_pending > 0 THEN login_pending - 1 ELSE 0 END
		WHERE id = ? AND failed_count >= ? AND (locked_until IS NULL OR locked_until <= ?)`,
		lock, userID, l.MaxFailures, now)
	locked, err := affected(res, err, "record failed sign-in of user %d", userID)
	if err != nil || locked {
		return locked, err
	}
	return false, s.ReleasePending(ctx, userID)
}

// ReleaseLogin takes a reserved attempt back unchecked.
func (s *Store) ReleaseLogin(ctx context.Context, userID int64) error {
	if _, err := s.db.Exec(ctx, `UPDATE web_users SET
			failed_count = CASE WHEN failed_count > 0 THEN failed_count - 1 ELSE 0 END,
			login_pending = CASE WHEN login_pending > 0 THEN login_pending - 1 ELSE 0 END
		WHERE id = ?`, userID); err != nil {
		return fmt.Errorf("release sign-in attempt of user %d: %w", userID, err)
	}
	return nil
}

// ReleasePending ends an attempt that stays counted as a failure.
func (s *Store) ReleasePending(ctx context.Context, userID int64) error {
	if _, err := s.db.Exec(ctx, `UPDATE web_users SET
			login_pending = CASE WHEN login_pending > 0 THEN login_pending - 1 ELSE 0 END
		WHERE id = ?`, userID); err != nil {
		return fmt.Errorf("end sign-in attempt of user %d: %w", userID, err)
	}
	return nil
}

// ResetLogin clears the user's failures and lockout.
func (s *Store) ResetLogin(ctx context.Context, userID int64) error {
	if _, err := s.db.Exec(ctx, `UPDATE web_users SET failed_count = 0, failed_since = NULL, locked_until = NULL
		WHERE id = ?`, userID); err != nil {
		return fmt.Errorf("reset sign-in state of user %d: %w", userID, err)
	}
	return nil
}

// affected reports whether an UPDATE changed a row.
func affected(res interface{ RowsAffected() (int64, error) }, err error, format string, args ...any) (bool, error) {
	if err != nil {
		return false, fmt.Errorf(format+": %w", append(args, err)...)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf(format+": %w", append(args, err)...)
	}
	return n > 0, nil
}
