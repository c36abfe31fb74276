package accessstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// CreateUser stores a new web user; a taken name is storage.ErrConflict.
func (s *Store) CreateUser(ctx context.Context, u webauth.User) (webauth.User, error) {
	err := s.db.QueryRow(ctx, `INSERT INTO web_users (name, display_name, role, password_hash, disabled, created_at)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Name, u.DisplayName, string(u.Role), u.PasswordHash, storage.BoolInt(u.Disabled), storage.Micros(u.CreatedAt)).Scan(&u.ID)
	if err != nil {
		if storage.IsUniqueViolation(err) {
			return webauth.User{}, fmt.Errorf("create user %q: %w", u.Name, storage.ErrConflict)
		}
		return webauth.User{}, fmt.Errorf("create user %q: %w", u.Name, err)
	}
	return u, nil
}

const userCols = `u.id, u.name, u.display_name, u.role, u.password_hash, u.disabled, u.failed_count,
	u.failed_since, u.locked_until, u.created_at, u.last_login_at`

func scanUser(row interface{ Scan(...any) error }, extra ...any) (webauth.User, error) {
	var (
		u                          webauth.User
		role                       string
		disabled                   int
		created                    int64
		failedSince, locked, login sql.NullInt64
	)
	dst := append([]any{&u.ID, &u.Name, &u.DisplayName, &role, &u.PasswordHash, &disabled, &u.FailedCount,
		&failedSince, &locked, &created, &login}, extra...)
	if err := row.Scan(dst...); err != nil {
		return u, err
	}
	u.Role, u.Disabled = auth.Role(role), disabled != 0
	u.FailedSince, u.LockedUntil = storage.FromNullMicros(failedSince), storage.FromNullMicros(locked)
	u.CreatedAt, u.LastLoginAt = storage.FromMicros(created), storage.FromNullMicros(login)
	return u, nil
}

func noUser(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return storage.NotFound(webauth.ErrNoUser)
	}
	return err
}

// UserByName finds a web user by name.
func (s *Store) UserByName(ctx context.Context, name string) (webauth.User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM web_users u WHERE u.name = ?`, name))
	if err != nil {
		return u, fmt.Errorf("user %q: %w", name, noUser(err))
	}
	return u, nil
}

// ListUsers lists the web users by name.
func (s *Store) ListUsers(ctx context.Context) ([]webauth.User, error) {
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM web_users u ORDER BY u.name`)
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

// UpdateUser writes the display name, role, password hash and disabled of
// u.ID. The sign-in state (failures, lockout, last sign-in) is written only
// by the conditional updates of login.go, never from a copy read earlier.
func (s *Store) UpdateUser(ctx context.Context, u webauth.User) error {
	res, err := s.db.Exec(ctx, `UPDATE web_users SET display_name = ?, role = ?, password_hash = ?, disabled = ? WHERE id = ?`,
		u.DisplayName, string(u.Role), u.PasswordHash, storage.BoolInt(u.Disabled), u.ID)
	if err != nil {
		return fmt.Errorf("update user %d: %w", u.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("update user %d: %w", u.ID, storage.NotFound(webauth.ErrNoUser))
	}
	return nil
}
