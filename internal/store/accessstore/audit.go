package accessstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Audit appends one entry to the audit log.
func (s *Store) Audit(ctx context.Context, e auth.AuditEntry) error {
	_, err := s.db.Exec(ctx, `INSERT INTO audit_log (at, actor, action, target, detail, remote) VALUES (?, ?, ?, ?, ?, ?)`,
		storage.Micros(e.At), e.Actor, e.Action, e.Target, e.Detail, e.Remote)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

// ListAudit lists audit entries at or after since, newest first.
func (s *Store) ListAudit(ctx context.Context, since time.Time, limit int) ([]auth.AuditEntry, error) {
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	rows, err := s.db.Query(ctx, `SELECT id, at, actor, action, target, detail, remote FROM audit_log
		WHERE at >= ? ORDER BY at DESC, id DESC LIMIT ?`, storage.Micros(since), limit)
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
		e.At = storage.FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}
