package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
)

var (
	_ auth.TokenStore = (*DB)(nil)
	_ auth.AuditLog   = (*DB)(nil)
)

// CreateToken stores a token under the hash of its secret.
func (db *DB) CreateToken(ctx context.Context, t auth.Token, hash string) (auth.Token, error) {
	err := db.QueryRow(ctx, `INSERT INTO api_tokens (name, role, hash, prefix, created_at, created_by, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		t.Name, string(t.Role), hash, t.Prefix, Micros(t.CreatedAt), t.CreatedBy, NullMicros(t.ExpiresAt)).Scan(&t.ID)
	if err != nil {
		if IsUniqueViolation(err) {
			return auth.Token{}, fmt.Errorf("create token: %w", ErrConflict)
		}
		return auth.Token{}, fmt.Errorf("create token: %w", err)
	}
	return t, nil
}

const tokenCols = `id, name, role, prefix, created_at, created_by, expires_at, last_used_at, revoked_at`

func scanToken(s RowScanner) (auth.Token, error) {
	var (
		t                  auth.Token
		role               string
		created            int64
		exp, used, revoked sql.NullInt64
	)
	if err := s.Scan(&t.ID, &t.Name, &role, &t.Prefix, &created, &t.CreatedBy, &exp, &used, &revoked); err != nil {
		return t, err
	}
	t.Role = auth.Role(role)
	t.CreatedAt, t.ExpiresAt = FromMicros(created), FromNullMicros(exp)
	t.LastUsedAt, t.RevokedAt = FromNullMicros(used), FromNullMicros(revoked)
	return t, nil
}

// TokenByHash finds a token by the hash of its secret.
func (db *DB) TokenByHash(ctx context.Context, hash string) (auth.Token, error) {
	t, err := scanToken(db.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	return t, err
}

// ListTokens lists every token, newest first.
func (db *DB) ListTokens(ctx context.Context) ([]auth.Token, error) {
	list, err := QueryAll(ctx, db, scanToken, `SELECT `+tokenCols+` FROM api_tokens ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return list, nil
}

// RevokeToken revokes a token; revoking twice keeps the first time.
func (db *DB) RevokeToken(ctx context.Context, id int64, at time.Time) error {
	res, err := db.Exec(ctx, `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?`, Micros(at), id)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("revoke token %d: %w", id, errors.Join(ErrNotFound, auth.ErrNoToken))
	}
	return nil
}

// TouchToken records when a token was last used.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	_, err := db.Exec(ctx, `UPDATE api_tokens SET last_used_at = ? WHERE id = ?`, Micros(at), id)
	return err
}

// Audit appends one entry to the audit log.
func (db *DB) Audit(ctx context.Context, e auth.AuditEntry) error {
	_, err := db.Exec(ctx, `INSERT INTO audit_log (at, actor, action, target, detail, remote) VALUES (?, ?, ?, ?, ?, ?)`,
		Micros(e.At), e.Actor, e.Action, e.Target, e.Detail, e.Remote)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit lists audit entries at or after since, newest first.
func (db *DB) ListAudit(ctx context.Context, since time.Time, limit int) ([]auth.AuditEntry, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := db.Query(ctx, `SELECT id, at, actor, action, target, detail, remote FROM audit_log
		WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?`, Micros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("list audit: %w", err)
	}
	defer rows.Close()
	var out []auth.AuditEntry
	for rows.Next() {
		var e auth.AuditEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.Remote); err != nil {
			return nil, err
		}
		e.At = FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
