package accessstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
)

// CreateToken stores a token under the hash of its secret.
func (s *Store) CreateToken(ctx context.Context, t auth.Token, hash string) (auth.Token, error) {
	err := s.db.QueryRow(ctx, `INSERT INTO api_tokens (name, role, hash, prefix, created_at, created_by, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.Name, string(t.Role), hash, t.Prefix, storage.Micros(t.CreatedAt), t.CreatedBy, storage.NullMicros(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		if storage.IsUniqueViolation(err) {
			return auth.Token{}, fmt.Errorf("create token: %w", storage.ErrConflict)
		}
		return auth.Token{}, fmt.Errorf("create token: %w", err)
	}
	return t, nil
}

const tokenCols = `id, name, role, prefix, created_at, created_by, expires_at, last_used_at, revoked_at`

func scanToken(row storage.RowScanner) (auth.Token, error) {
	var (
		t                  auth.Token
		role               string
		created            int64
		exp, used, revoked sql.NullInt64
	)
	if err := row.Scan(&t.ID, &t.Name, &role, &t.Prefix, &created, &t.CreatedBy, &exp, &used, &revoked); err != nil {
		return t, err
	}
	t.Role = auth.Role(role)
	t.CreatedAt, t.ExpiresAt = storage.FromMicros(created), storage.FromNullMicros(exp)
	t.LastUsedAt, t.RevokedAt = storage.FromNullMicros(used), storage.FromNullMicros(revoked)
	return t, nil
}

// TokenByHash finds a token by the hash of its secret.
func (s *Store) TokenByHash(ctx context.Context, hash string) (auth.Token, error) {
	t, err := scanToken(s.db.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, storage.ErrNotFound
	}
	return t, err
}

// ListTokens lists every token, newest first.
func (s *Store) ListTokens(ctx context.Context) ([]auth.Token, error) {
	list, err := storage.QueryAll(ctx, s.db, scanToken, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return list, nil
}

// RevokeToken revokes a token; revoking twice keeps the first time.
func (s *Store) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.Exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, storage.Micros(at), id)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke token %d: %w", id, storage.NotFound(auth.ErrNoToken))
	}
	return nil
}

// TouchToken records when a token was last used.
func (s *Store) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, storage.Micros(at), id)
	return err
}
