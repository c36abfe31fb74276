package unitstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/units"
)

const reqCols = `id, unit_id, kind, title, body, state, opened_at, opened_by, answer, answered_at, answered_by, updated_at`

func scanReq(r storage.RowScanner) (units.Requirement, error) {
	var (
		q               units.Requirement
		opened, updated int64
		answered        sql.NullInt64
	)
	err := r.Scan(&q.ID, &q.UnitID, &q.Kind, &q.Title, &q.Body, &q.State, &opened, &q.OpenedBy, &q.Answer, &answered, &q.AnsweredBy, &updated)
	q.OpenedAt, q.AnsweredAt, q.UpdatedAt = storage.FromMicros(opened), nullTime(answered), storage.FromMicros(updated)
	return q, err
}

// CreateRequirement implements units.Store.
func (s *Store) CreateRequirement(ctx context.Context, q units.Requirement) (units.Requirement, error) {
	err := s.db.QueryRow(ctx, `INSERT INTO unit_requirements (unit_id, kind, title, body, state, opened_at, opened_by, answer, answered_at, answered_by, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, q.UnitID, q.Kind, q.Title, q.Body, q.State, storage.Micros(q.OpenedAt), q.OpenedBy,
		q.Answer, storage.NullMicros(q.AnsweredAt), q.AnsweredBy, storage.Micros(q.UpdatedAt)).Scan(&q.ID)
	return q, err
}

// GetRequirement implements units.Store.
func (s *Store) GetRequirement(ctx context.Context, id int64) (units.Requirement, error) {
	q, err := scanReq(s.db.QueryRow(ctx, `SELECT `+reqCols+` FROM unit_requirements WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return q, fmt.Errorf("requirement %d: %w", id, storage.NotFound(units.ErrNotFound))
	}
	return q, err
}

// UpdateRequirement implements units.Store.
func (s *Store) UpdateRequirement(ctx context.Context, q units.Requirement, from units.RequirementState) (units.Requirement, error) {
	res, err := s.db.Exec(ctx, `UPDATE unit_requirements SET state = ?, answer = ?, answered_at = ?, answered_by = ?, updated_at = ?
		WHERE id = ? AND state = ?`, q.State, q.Answer, storage.NullMicros(q.AnsweredAt), q.AnsweredBy, storage.Micros(q.UpdatedAt), q.ID, from)
	if err != nil {
		return q, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return q, fmt.Errorf("requirement %d changed meanwhile: %w", q.ID, units.ErrTransition)
	}
	return s.GetRequirement(ctx, q.ID)
}

// Requirements implements units.Store.
func (s *Store) Requirements(ctx context.Context, unitID int64) ([]units.Requirement, error) {
	return storage.QueryAll(ctx, s.db, scanReq, `SELECT `+reqCols+` FROM unit_requirements WHERE unit_id = ? ORDER BY id`, unitID)
}

// RequirementsBetween are all units' requirements opened or answered in
// [from, to), oldest first — what the monthly report counts.
func (s *Store) RequirementsBetween(ctx context.Context, from, to time.Time) ([]units.Requirement, error) {
	f, t := storage.Micros(from), storage.Micros(to)
	return storage.QueryAll(ctx, s.db, scanReq, `SELECT `+reqCols+` FROM unit_requirements
		WHERE (opened_at >= ? AND opened_at < ?) OR (answered_at >= ? AND answered_at < ?) ORDER BY id`, f, t, f, t)
}
