package txlogstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
)

// The login log (mail_logins) as the monthly report reads it.

// FirstLogin returns the time of the oldest line of the login log; ok is
// false when the log is empty.
func (s *Store) FirstLogin(ctx context.Context) (first time.Time, ok bool, err error) {
	var ts sql.NullInt64
	if err := s.db.QueryRow(ctx, `SELECT MIN(ts) FROM mail_logins`).Scan(&ts); err != nil {
		return time.Time{}, false, fmt.Errorf("first login: %w", err)
	}
	if !ts.Valid {
		return time.Time{}, false, nil
	}
	return storage.FromMicros(ts.Int64), true, nil
}

// LoginUsers counts the distinct users with a successful login in
// [from, to). Lines of source dovecot-auth are no logins
// (docs/collectors.md), and a line without a user names nobody.
func (s *Store) LoginUsers(ctx context.Context, from, to time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT username) FROM mail_logins WHERE ts >= ? AND ts < ? AND ok = 1
		AND source <> 'dovecot-auth' AND username <> ''`, storage.Micros(from), storage.Micros(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("login users: %w", err)
	}
	return n, nil
}
