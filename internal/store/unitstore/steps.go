package unitstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Survey links, checklist steps, DNS checks and work orders.

func scanLink(r storage.RowScanner) (units.SurveyLink, error) {
	var (
		l                units.SurveyLink
		created, expires int64
		used             sql.NullInt64
	)
	err := r.Scan(&l.ID, &l.UnitID, &l.TokenHash, &created, &l.CreatedBy, &expires, &used)
	l.CreatedAt, l.ExpiresAt, l.UsedAt = storage.FromMicros(created), storage.FromMicros(expires), nullTime(used)
	return l, err
}

const linkCols = `id, unit_id, token_hash, created_at, created_by, expires_at, used_at`

// CreateLink implements units.Store.
func (s *Store) CreateLink(ctx context.Context, l units.SurveyLink) (units.SurveyLink, error) {
	err := s.db.QueryRow(ctx, `INSERT INTO unit_survey_links (unit_id, token_hash, created_at, created_by, expires_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`, l.UnitID, l.TokenHash, storage.Micros(l.CreatedAt), l.CreatedBy,
		storage.Micros(l.ExpiresAt)).Scan(&l.ID)
	if err != nil {
		return l, fmt.Errorf("create survey link: %w", err)
	}
	return l, nil
}

// LinkByHash implements units.Store.
func (s *Store) LinkByHash(ctx context.Context, hash string) (units.SurveyLink, error) {
	l, err := scanLink(s.db.QueryRow(ctx, `SELECT `+linkCols+` FROM unit_survey_links WHERE token_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return l, units.ErrLinkInvalid
	}
	return l, err
}

// UseLink implements units.Store: one UPDATE, so two submissions at once
// cannot both use the link.
func (s *Store) UseLink(ctx context.Context, hash string, now time.Time) (units.SurveyLink, error) {
	l, err := scanLink(s.db.QueryRow(ctx, `UPDATE unit_survey_links SET used_at = ?
		WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING `+linkCols, storage.Micros(now), hash, storage.Micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return l, units.ErrLinkInvalid
	}
	return l, err
}

// Links implements units.Store: newest first.
func (s *Store) Links(ctx context.Context, unitID int64) ([]units.SurveyLink, error) {
	return storage.QueryAll(ctx, s.db, scanLink, `SELECT `+linkCols+` FROM unit_survey_links WHERE unit_id = ? ORDER BY id DESC`, unitID)
}

const stepCols = `id, unit_id, kind, seq, label, due_at, assignee, state, reminded_at, checked_at, done_at, done_by, outcome`

func scanStep(r storage.RowScanner) (units.Step, error) {
	var (
		st                    units.Step
		due                   int64
		reminded, chk, doneAt sql.NullInt64
	)
	err := r.Scan(&st.ID, &st.UnitID, &st.Kind, &st.Seq, &st.Label, &due, &st.Assignee, &st.State, &reminded, &chk, &doneAt, &st.DoneBy, &st.Outcome)
	st.DueAt, st.RemindedAt, st.CheckedAt, st.DoneAt = storage.FromMicros(due), nullTime(reminded), nullTime(chk), nullTime(doneAt)
	return st, err
}

func insertStep(ctx context.Context, q storage.Querier, st units.Step) (units.Step, error) {
	err := q.QueryRow(ctx, `INSERT INTO unit_steps (unit_id, kind, seq, label, due_at, assignee, state, reminded_at, checked_at,
		done_at, done_by, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, st.UnitID, st.Kind, st.Seq, st.Label,
		storage.Micros(st.DueAt), st.Assignee, st.State, storage.NullMicros(st.RemindedAt), storage.NullMicros(st.CheckedAt),
		storage.NullMicros(st.DoneAt), st.DoneBy, st.Outcome).Scan(&st.ID)
	return st, err
}

// ReplaceOpenSteps implements units.Store.
func (s *Store) ReplaceOpenSteps(ctx context.Context, unitID int64, steps []units.Step) ([]units.Step, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM unit_steps WHERE unit_id = ? AND state = ?`, unitID, units.StepOpen); err != nil {
			return err
		}
		for _, st := range steps {
			st.UnitID = unitID
			if _, err := insertStep(ctx, tx, st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unit %d steps: %w", unitID, err)
	}
	return s.Steps(ctx, unitID)
}

// AddStep implements units.Store.
func (s *Store) AddStep(ctx context.Context, st units.Step) (units.Step, error) {
	return insertStep(ctx, s.db, st)
}

// GetStep implements units.Store.
func (s *Store) GetStep(ctx context.Context, id int64) (units.Step, error) {
	st, err := scanStep(s.db.QueryRow(ctx, `SELECT `+stepCols+` FROM unit_steps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return st, fmt.Errorf("step %d: %w", id, storage.NotFound(units.ErrNotFound))
	}
	return st, err
}

// Steps implements units.Store: by due time.
func (s *Store) Steps(ctx context.Context, unitID int64) ([]units.Step, error) {
	return storage.QueryAll(ctx, s.db, scanStep, `SELECT `+stepCols+` FROM unit_steps WHERE unit_id = ? ORDER BY due_at, id`, unitID)
}

// DueSteps implements units.Store.
func (s *Store) DueSteps(ctx context.Context, q units.DueQuery) ([]units.Step, error) {
	kinds := []string{""} // IN () is not SQL
	for _, k := range q.Recheck {
		kinds = append(kinds, string(k))
	}
	args := []any{units.StepOpen, storage.Micros(q.Now)}
	for _, k := range kinds {
		args = append(args, k)
	}
	args = append(args, storage.Micros(q.CheckedBefore))
	return storage.QueryAll(ctx, s.db, scanStep, `SELECT `+stepCols+` FROM unit_steps WHERE state = ? AND due_at <= ?
		AND (reminded_at IS NULL OR (kind IN (?`+strings.Repeat(", ?", len(kinds)-1)+`) AND (checked_at IS NULL OR checked_at <= ?)))
		ORDER BY due_at, id LIMIT 1000`, args...)
}

// ClaimReminder implements units.Store.
func (s *Store) ClaimReminder(ctx context.Context, stepID int64, now time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE unit_steps SET reminded_at = ? WHERE id = ? AND reminded_at IS NULL AND state = ?`,
		storage.Micros(now), stepID, units.StepOpen)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// UnclaimReminder implements units.Store.
func (s *Store) UnclaimReminder(ctx context.Context, stepID int64) error {
	_, err := s.db.Exec(ctx, `UPDATE unit_steps SET reminded_at = NULL WHERE id = ? AND state = ?`, stepID, units.StepOpen)
	return err
}

// FinishStep implements units.Store.
func (s *Store) FinishStep(ctx context.Context, st units.Step, ev units.Event) (units.Step, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE unit_steps SET state = ?, done_at = ?, done_by = ?, outcome = ? WHERE id = ? AND state = ?`,
			st.State, storage.Micros(st.DoneAt), st.DoneBy, st.Outcome, st.ID, units.StepOpen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("step %d: %w", st.ID, units.ErrTransition)
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return st, err
	}
	return s.GetStep(ctx, st.ID)
}

// SetStepChecked implements units.Store.
func (s *Store) SetStepChecked(ctx context.Context, stepID int64, at time.Time, outcome string) error {
	_, err := s.db.Exec(ctx, `UPDATE unit_steps SET checked_at = ?, outcome = ? WHERE id = ? AND state = ?`,
		storage.Micros(at), outcome, stepID, units.StepOpen)
	return err
}

const checkCols = `id, unit_id, step_id, at, actor, domain, ok, ttl, result, explained`

func scanCheck(r storage.RowScanner) (units.Check, error) {
	var (
		c             units.Check
		at            int64
		ok, explained int
		ttl           sql.NullInt64
		result        string
	)
	if err := r.Scan(&c.ID, &c.UnitID, &c.StepID, &at, &c.Actor, &c.Domain, &ok, &ttl, &result, &explained); err != nil {
		return c, err
	}
	c.At, c.OK, c.Explained = storage.FromMicros(at), ok == 1, explained == 1
	if ttl.Valid {
		v := uint32(ttl.Int64)
		c.TTL = &v
	}
	return c, jsonInto(result, &c.Result)
}

// AddCheck implements units.Store.
func (s *Store) AddCheck(ctx context.Context, c units.Check) (units.Check, error) {
	var ttl sql.NullInt64
	if c.TTL != nil {
		ttl = sql.NullInt64{Int64: int64(*c.TTL), Valid: true}
	}
	err := s.db.QueryRow(ctx, `INSERT INTO unit_checks (unit_id, step_id, at, actor, domain, ok, ttl, result, explained)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, c.UnitID, c.StepID, storage.Micros(c.At), c.Actor, c.Domain,
		storage.BoolInt(c.OK), ttl, js(c.Result), storage.BoolInt(c.Explained)).Scan(&c.ID)
	return c, err
}

// Checks implements units.Store: newest first.
func (s *Store) Checks(ctx context.Context, unitID int64, limit int) ([]units.Check, error) {
	return storage.QueryAll(ctx, s.db, scanCheck, `SELECT `+checkCols+` FROM unit_checks WHERE unit_id = ? ORDER BY id DESC LIMIT ?`, unitID, limit)
}

// LastExplained implements units.Store.
func (s *Store) LastExplained(ctx context.Context, unitID int64, domain string) (units.Check, bool, error) {
	c, err := scanCheck(s.db.QueryRow(ctx, `SELECT `+checkCols+` FROM unit_checks WHERE unit_id = ? AND domain = ? AND explained = 1
		ORDER BY id DESC LIMIT 1`, unitID, domain))
	if errors.Is(err, sql.ErrNoRows) {
		return c, false, nil
	}
	return c, err == nil, err
}

// MarkExplained implements units.Store.
func (s *Store) MarkExplained(ctx context.Context, checkID int64) error {
	_, err := s.db.Exec(ctx, `UPDATE unit_checks SET explained = 1 WHERE id = ?`, checkID)
	return err
}

const woCols = `id, unit_id, state, title, body, opened_at, opened_by, sent_to, result, result_at, result_by`

func scanWO(r storage.RowScanner) (units.WorkOrder, error) {
	var (
		w      units.WorkOrder
		opened int64
		res    sql.NullInt64
	)
	err := r.Scan(&w.ID, &w.UnitID, &w.State, &w.Title, &w.Body, &opened, &w.OpenedBy, &w.SentTo, &w.Result, &res, &w.ResultBy)
	w.OpenedAt, w.ResultAt = storage.FromMicros(opened), nullTime(res)
	return w, err
}

// CreateWorkOrder implements units.Store.
func (s *Store) CreateWorkOrder(ctx context.Context, w units.WorkOrder) (units.WorkOrder, error) {
	err := s.db.QueryRow(ctx, `INSERT INTO unit_work_orders (unit_id, state, title, body, opened_at, opened_by, sent_to)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, w.UnitID, w.State, w.Title, w.Body, storage.Micros(w.OpenedAt), w.OpenedBy, w.SentTo).Scan(&w.ID)
	return w, err
}

// GetWorkOrder implements units.Store.
func (s *Store) GetWorkOrder(ctx context.Context, id int64) (units.WorkOrder, error) {
	w, err := scanWO(s.db.QueryRow(ctx, `SELECT `+woCols+` FROM unit_work_orders WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return w, fmt.Errorf("work order %d: %w", id, storage.NotFound(units.ErrNotFound))
	}
	return w, err
}

// WorkOrders implements units.Store.
func (s *Store) WorkOrders(ctx context.Context, unitID int64) ([]units.WorkOrder, error) {
	return storage.QueryAll(ctx, s.db, scanWO, `SELECT `+woCols+` FROM unit_work_orders WHERE unit_id = ? ORDER BY id`, unitID)
}

// FinishWorkOrder implements units.Store.
func (s *Store) FinishWorkOrder(ctx context.Context, w units.WorkOrder) (units.WorkOrder, error) {
	res, err := s.db.Exec(ctx, `UPDATE unit_work_orders SET state = ?, result = ?, result_at = ?, result_by = ?
		WHERE id = ? AND state = ?`, w.State, w.Result, storage.Micros(w.ResultAt), w.ResultBy, w.ID, units.WorkOrderOpen)
	if err != nil {
		return w, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return w, fmt.Errorf("work order %d already has a result: %w", w.ID, units.ErrTransition)
	}
	return s.GetWorkOrder(ctx, w.ID)
}

// SetWorkOrderSent implements units.Store.
func (s *Store) SetWorkOrderSent(ctx context.Context, id int64, to string) error {
	_, err := s.db.Exec(ctx, `UPDATE unit_work_orders SET sent_to = ? WHERE id = ?`, to, id)
	return err
}

var _ units.Counts = (*Store)(nil)

// CountUnits implements units.Counts.
func (s *Store) CountUnits(ctx context.Context) (map[units.Status]int, error) {
	rows, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (struct {
		st units.Status
		n  int
	}, error) {
		var v struct {
			st units.Status
			n  int
		}
		return v, r.Scan(&v.st, &v.n)
	}, `SELECT status, COUNT(*) FROM units GROUP BY status`)
	out := map[units.Status]int{}
	for _, v := range rows {
		out[v.st] = v.n
	}
	return out, err
}

// CountOverdue implements units.Counts.
func (s *Store) CountOverdue(ctx context.Context, dueBefore time.Time) (map[units.StepKind]int, error) {
	rows, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (struct {
		k units.StepKind
		n int
	}, error) {
		var v struct {
			k units.StepKind
			n int
		}
		return v, r.Scan(&v.k, &v.n)
	}, `SELECT kind, COUNT(*) FROM unit_steps WHERE state = ? AND due_at < ? GROUP BY kind`, units.StepOpen, storage.Micros(dueBefore))
	out := map[units.StepKind]int{}
	for _, v := range rows {
		out[v.k] = v.n
	}
	return out, err
}

// AssignStep implements units.Store.
func (s *Store) AssignStep(ctx context.Context, stepID int64, assignee string, ev units.Event) (units.Step, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE unit_steps SET assignee = ? WHERE id = ? AND state = ?`, assignee, stepID, units.StepOpen)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fmt.Errorf("step %d: %w", stepID, units.ErrTransition)
		}
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return units.Step{}, err
	}
	return s.GetStep(ctx, stepID)
}
