// Package unitstore keeps the units capability's data in the database:
// units and their domains (units, unit_domains), the one-time survey links
// by token hash (unit_survey_links), the migration checklist
// (unit_steps), DNS check history (unit_checks), work orders
// (unit_work_orders), each unit's history (unit_events) and the tickets
// and notices scoped to units (unit_refs). It implements units.Store; it
// loads and saves, and the rules (statuses, the schedule, what is due)
// live in oncall/units.
package unitstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Store is the units capability's store on one database.
type Store struct{ db *storage.DB }

// New returns the units store on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var (
	_ units.Store  = (*Store)(nil)
	_ units.Reader = (*Store)(nil)
)

const unitCols = `id, name, status, assignee, migration_at, leader, net_admin, contacts, people, quota, services, notes, survey, created_at, updated_at`

func scanUnit(s storage.RowScanner) (units.Unit, error) {
	var (
		u                                                units.Unit
		mig                                              sql.NullInt64
		leader, admin, contacts, people, quota, services string
		survey                                           sql.NullString
		created, updated                                 int64
	)
	if err := s.Scan(&u.ID, &u.Name, &u.Status, &u.Assignee, &mig, &leader, &admin, &contacts, &people, &quota, &services,
		&u.Notes, &survey, &created, &updated); err != nil {
		return u, err
	}
	for _, j := range []struct {
		s string
		v any
	}{{leader, &u.Leader}, {admin, &u.NetAdmin}, {contacts, &u.Contacts}, {people, &u.People}, {quota, &u.Quota}, {services, &u.Services}} {
		if err := json.Unmarshal([]byte(j.s), j.v); err != nil {
			return u, fmt.Errorf("unit %d: %w", u.ID, err)
		}
	}
	if survey.Valid {
		u.Survey = new(units.Survey)
		if err := json.Unmarshal([]byte(survey.String), u.Survey); err != nil {
			return u, fmt.Errorf("unit %d survey: %w", u.ID, err)
		}
	}
	u.MigrationAt, u.CreatedAt, u.UpdatedAt = storage.FromNullMicros(mig), storage.FromMicros(created), storage.FromMicros(updated)
	return u, nil
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // plain structs of strings and numbers
	}
	return string(b)
}

func surveyJSON(s *units.Survey) sql.NullString {
	if s == nil {
		return sql.NullString{}
	}
	return sql.NullString{String: js(s), Valid: true}
}

func domains(ctx context.Context, q storage.Querier, id int64) ([]string, error) {
	out, err := storage.QueryAll(ctx, q, func(r storage.RowScanner) (string, error) {
		var d string
		return d, r.Scan(&d)
	}, `SELECT domain FROM unit_domains WHERE unit_id = ? ORDER BY pos`, id)
	if out == nil {
		out = []string{}
	}
	return out, err
}

// setDomains replaces the unit's domains; a domain of another unit is a
// conflict naming that unit.
func setDomains(ctx context.Context, tx *storage.Tx, id int64, ds []string) error {
	if _, err := tx.Exec(ctx, `DELETE FROM unit_domains WHERE unit_id = ?`, id); err != nil {
		return err
	}
	for i, d := range ds {
		var other int64
		err := tx.QueryRow(ctx, `SELECT unit_id FROM unit_domains WHERE domain = ?`, d).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w: domain %s belongs to unit %d: %w", units.ErrConflict, d, other, storage.ErrConflict)
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO unit_domains (domain, unit_id, pos) VALUES (?, ?, ?)`, d, id, i); err != nil {
			if storage.IsUniqueViolation(err) {
				return fmt.Errorf("%w: domain %s belongs to another unit: %w", units.ErrConflict, d, storage.ErrConflict)
			}
			return err
		}
	}
	return nil
}

func getUnit(ctx context.Context, q storage.Querier, id int64, lock bool) (units.Unit, error) {
	sfx := ""
	if lock {
		sfx = storage.ForUpdate(q)
	}
	u, err := scanUnit(q.QueryRow(ctx, `SELECT `+unitCols+` FROM units WHERE id = ?`+sfx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return u, fmt.Errorf("unit %d: %w", id, storage.NotFound(units.ErrNotFound))
	}
	if err != nil {
		return u, fmt.Errorf("unit %d: %w", id, err)
	}
	u.Domains, err = domains(ctx, q, id)
	return u, err
}

func insertEvents(ctx context.Context, q storage.Querier, evs ...units.Event) error {
	for _, e := range evs {
		if _, err := q.Exec(ctx, `INSERT INTO unit_events (unit_id, at, actor, kind, step_id, text) VALUES (?, ?, ?, ?, ?, ?)`,
			e.UnitID, storage.Micros(e.At), e.Actor, e.Kind, e.StepID, e.Text); err != nil {
			return fmt.Errorf("unit %d event: %w", e.UnitID, err)
		}
	}
	return nil
}

// CreateUnit implements units.Store.
func (s *Store) CreateUnit(ctx context.Context, u units.Unit, ev units.Event) (units.Unit, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO units (name, status, assignee, migration_at, leader, net_admin, contacts, people,
			quota, services, notes, survey, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.Name, u.Status, u.Assignee, storage.NullMicros(u.MigrationAt), js(u.Leader), js(u.NetAdmin), js(u.Contacts), js(u.People),
			js(u.Quota), js(u.Services), u.Notes, surveyJSON(u.Survey), storage.Micros(u.CreatedAt), storage.Micros(u.UpdatedAt)).Scan(&u.ID); err != nil {
			return err
		}
		if err := setDomains(ctx, tx, u.ID, u.Domains); err != nil {
			return err
		}
		ev.UnitID = u.ID
		return insertEvents(ctx, tx, ev)
	})
	if err != nil {
		return u, fmt.Errorf("create unit: %w", err)
	}
	return s.GetUnit(ctx, u.ID)
}

// GetUnit implements units.Store.
func (s *Store) GetUnit(ctx context.Context, id int64) (units.Unit, error) {
	return getUnit(ctx, s.db, id, false)
}

// ListUnits implements units.Store: by name.
func (s *Store) ListUnits(ctx context.Context, f units.Filter) ([]units.Unit, error) {
	q := `SELECT ` + unitCols + ` FROM units WHERE 1=1`
	var args []any
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.Domain != "" {
		q += ` AND id IN (SELECT unit_id FROM unit_domains WHERE domain = ?)`
		args = append(args, f.Domain)
	}
	list, err := storage.QueryAll(ctx, s.db, scanUnit, q+` ORDER BY name, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list units: %w", err)
	}
	for i := range list {
		if list[i].Domains, err = domains(ctx, s.db, list[i].ID); err != nil {
			return nil, err
		}
	}
	return list, nil
}

// ChangeUnit implements units.Store.
func (s *Store) ChangeUnit(ctx context.Context, id int64, fn func(u *units.Unit) ([]units.Event, error)) (units.Unit, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		u, err := getUnit(ctx, tx, id, true)
		if err != nil {
			return err
		}
		evs, err := fn(&u)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE units SET name = ?, status = ?, assignee = ?, migration_at = ?, leader = ?, net_admin = ?,
			contacts = ?, people = ?, quota = ?, services = ?, notes = ?, survey = ?, updated_at = ? WHERE id = ?`,
			u.Name, u.Status, u.Assignee, storage.NullMicros(u.MigrationAt), js(u.Leader), js(u.NetAdmin), js(u.Contacts), js(u.People),
			js(u.Quota), js(u.Services), u.Notes, surveyJSON(u.Survey), storage.Micros(u.UpdatedAt), id); err != nil {
			return err
		}
		if err := setDomains(ctx, tx, id, u.Domains); err != nil {
			return err
		}
		return insertEvents(ctx, tx, evs...)
	})
	if err != nil {
		return units.Unit{}, err
	}
	return s.GetUnit(ctx, id)
}

// AddEvents implements units.Store.
func (s *Store) AddEvents(ctx context.Context, evs ...units.Event) error {
	return insertEvents(ctx, s.db, evs...)
}

// Events implements units.Store: oldest first.
func (s *Store) Events(ctx context.Context, unitID int64) ([]units.Event, error) {
	return storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (units.Event, error) {
		var (
			e  units.Event
			at int64
		)
		err := r.Scan(&e.ID, &e.UnitID, &at, &e.Actor, &e.Kind, &e.StepID, &e.Text)
		e.At = storage.FromMicros(at)
		return e, err
	}, `SELECT id, unit_id, at, actor, kind, step_id, text FROM unit_events WHERE unit_id = ? ORDER BY id`, unitID)
}

// AddRef implements units.Store; scoping the same thing twice is one ref.
func (s *Store) AddRef(ctx context.Context, r units.Ref) error {
	_, err := s.db.Exec(ctx, `INSERT INTO unit_refs (unit_id, kind, ref_id, at, actor) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (unit_id, kind, ref_id) DO NOTHING`, r.UnitID, r.Kind, r.RefID, storage.Micros(r.At), r.Actor)
	return err
}

func scanRef(r storage.RowScanner) (units.Ref, error) {
	var (
		x  units.Ref
		at int64
	)
	err := r.Scan(&x.UnitID, &x.Kind, &x.RefID, &at, &x.Actor)
	x.At = storage.FromMicros(at)
	return x, err
}

// Refs implements units.Store.
func (s *Store) Refs(ctx context.Context, unitID int64) ([]units.Ref, error) {
	return storage.QueryAll(ctx, s.db, scanRef, `SELECT unit_id, kind, ref_id, at, actor FROM unit_refs WHERE unit_id = ? ORDER BY at, kind, ref_id`, unitID)
}

// RefUnits implements units.Reader.
func (s *Store) RefUnits(ctx context.Context, kind string, refID int64) ([]units.Unit, error) {
	ids, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (int64, error) {
		var id int64
		return id, r.Scan(&id)
	}, `SELECT unit_id FROM unit_refs WHERE kind = ? AND ref_id = ? ORDER BY unit_id`, kind, refID)
	if err != nil {
		return nil, err
	}
	var out []units.Unit
	for _, id := range ids {
		u, err := s.GetUnit(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}

func nullTime(v sql.NullInt64) time.Time { return storage.FromNullMicros(v) }

func jsonInto(s string, v any) error { return json.Unmarshal([]byte(s), v) }
