package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/webauth"
)

var _ webauth.Store = (*DB)(nil)

// CreateUser stores a new web user; a taken name is ErrConflict.
func (db *DB) CreateUser(ctx context.Context, u webauth.User) (webauth.User, error) {
	err := db.QueryRow(ctx, `INSERT INTO web_users (name, display_name, role, password_hash, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Name, u.DisplayName, string(u.Role), u.PasswordHash, BoolInt(u.Disabled), Micros(u.CreatedAt)).Scan(&u.ID)
	if err != nil {
		if IsUniqueViolation(err) {
			return webauth.User{}, fmt.Errorf("create user %q: %w", u.Name, ErrConflict)
		}
		return webauth.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	return u, nil
}

const userCols = `u.id, u.name, u.display_name, u.role, u.password_hash, u.disabled, u.failed_count,
	u.failed_since, u.locked_until, u.created_at, u.last_login_at`

func scanUser(s interface{ Scan(...any) error }, extra ...any) (webauth.User, error) {
	var (
		u                          webauth.User
		role                       string
		disabled                   int
		created                    int64
		failedSince, locked, login sql.NullInt64
	)
	dst := append([]any{&u.ID, &u.Name, &u.DisplayName, &role, &u.PasswordHash, &disabled, &u.FailedCount,
		&failedSince, &locked, &created, &login}, extra...)
	if err := s.Scan(dst...); err != nil {
		return u, err
	}
	u.Role, u.Disabled = auth.Role(role), disabled != 0
	u.FailedSince, u.LockedUntil = FromNullMicros(failedSince), FromNullMicros(locked)
	u.CreatedAt, u.LastLoginAt = FromMicros(created), FromNullMicros(login)
	return u, nil
}

func noUser(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return errors.Join(ErrNotFound, webauth.ErrNoUser)
	}
	return err
}

// UserByName finds a web user by name.
func (db *DB) UserByName(ctx context.Context, name string) (webauth.User, error) {
	u, err := scanUser(db.QueryRow(ctx, `SELECT `+userCols+` FROM web_users u WHERE u.name = ?`, name))
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, noUser(err))
	}
	return u, nil
}

// ListUsers lists the web users by name.
func (db *DB) ListUsers(ctx context.Context) ([]webauth.User, error) {
	rows, err := db.Query(ctx, `SELECT `+userCols+` FROM web_users u ORDER BY u.name`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []webauth.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// UpdateUser writes every changeable field of u.ID.
func (db *DB) UpdateUser(ctx context.Context, u webauth.User) error {
	res, err := db.Exec(ctx, `UPDATE web_users SET display_name = ?, role = ?, password_hash = ?, disabled = ?,
		failed_count = ?, failed_since = ?, locked_until = ?, last_login_at = ? WHERE id = ?`,
		u.DisplayName, string(u.Role), u.PasswordHash, BoolInt(u.Disabled), u.FailedCount,
		NullMicros(u.FailedSince), NullMicros(u.LockedUntil), NullMicros(u.LastLoginAt), u.ID)
	if err != nil {
		return fmt.Errorf("update user %d: %w", u.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update user %d: %w", u.ID, errors.Join(ErrNotFound, webauth.ErrNoUser))
	}
	return nil
}

// CreateSession stores a session under the hash of its cookie secret.
func (db *DB) CreateSession(ctx context.Context, hash string, s webauth.Session) error {
	_, err := db.Exec(ctx, `INSERT INTO web_sessions (hash, user_id, csrf, created_at, last_seen_at, expires_at, remote, via)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, hash, s.UserID, s.CSRF, Micros(s.CreatedAt), Micros(s.LastSeen),
		Micros(s.ExpiresAt), s.Remote, s.Via)
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	return nil
}

// SessionByHash returns a session and its user.
func (db *DB) SessionByHash(ctx context.Context, hash string) (webauth.Session, webauth.User, error) {
	var (
		s                      webauth.Session
		created, seen, expires int64
	)
	u, err := scanUser(db.QueryRow(ctx, `SELECT `+userCols+`, s.user_id, s.csrf, s.created_at, s.last_seen_at, s.expires_at, s.remote, s.via
		FROM web_sessions s JOIN web_users u ON u.id = s.user_id WHERE s.hash = ?`, hash),
		&s.UserID, &s.CSRF, &created, &seen, &expires, &s.Remote, &s.Via)
	if errors.Is(err, sql.ErrNoRows) {
		return s, u, errors.Join(ErrNotFound, webauth.ErrNoSession)
	}
	if err != nil {
		return s, u, fmt.Errorf("session: %w", err)
	}
	s.CreatedAt, s.LastSeen, s.ExpiresAt = FromMicros(created), FromMicros(seen), FromMicros(expires)
	return s, u, nil
}

// TouchSession records a session's last use.
func (db *DB) TouchSession(ctx context.Context, hash string, at time.Time) error {
	_, err := db.Exec(ctx, `UPDATE web_sessions SET last_seen_at = ? WHERE hash = ?`, Micros(at), hash)
	return err
}

// DeleteSession ends one session.
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	_, err := db.Exec(ctx, `DELETE FROM web_sessions WHERE hash = ?`, hash)
	return err
}

// DeleteUserSessions ends every session of a user.
func (db *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	_, err := db.Exec(ctx, `DELETE FROM web_sessions WHERE user_id = ?`, userID)
	return err
}

// PruneSessions deletes sessions expired at now or unused since idleSince.
func (db *DB) PruneSessions(ctx context.Context, now, idleSince time.Time) (int64, error) {
	res, err := db.Exec(ctx, `DELETE FROM web_sessions WHERE expires_at <= ? OR last_seen_at < ?`, Micros(now), Micros(idleSince))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return res.RowsAffected()
}
