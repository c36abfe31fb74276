package oncallstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// The team as data (oncall_team_members, oncall_rotas,
// oncall_rota_versions, oncall_team_revision) and the record of shifts
// held (oncall_shift_log): team.RotaStore.

var _ team.RotaStore = (*Store)(nil)

// conflict wraps storage.ErrConflict and team.ErrConflict.
func conflict(what string) error {
	return fmt.Errorf("%s: %w", what, errors.Join(storage.ErrConflict, team.ErrConflict))
}

// TeamRevision implements team.RotaStore.
func (s *Store) TeamRevision(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT n FROM oncall_team_revision WHERE id = 1`).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}

const memberCols = `id, name, email, slack_id, phone, time_zone, config_hash, created_at, created_by, updated_at, updated_by, removed_at, removed_by`

func scanMember(sc storage.RowScanner) (team.MemberRecord, error) {
	var (
		m       team.MemberRecord
		c, u    int64
		removed sql.NullInt64
	)
	err := sc.Scan(&m.ID, &m.Name, &m.Email, &m.SlackID, &m.Phone, &m.TimeZone, &m.ConfigHash, &c, &m.CreatedBy, &u, &m.UpdatedBy, &removed, &m.RemovedBy)
	m.CreatedAt, m.UpdatedAt, m.RemovedAt = storage.FromMicros(c), storage.FromMicros(u), storage.FromNullMicros(removed)
	return m, err
}

const versionCols = `id, rota, from_at, members, first_member, start_date, every, handover_weekday, handover_time, time_zone, cover,
	reason, created_at, created_by, cancelled_at, cancelled_by`

func scanVersion(sc storage.RowScanner) (team.RotaVersion, error) {
	var (
		v             team.RotaVersion
		id, from, c   int64
		members       string
		cancelled     sql.NullInt64
		spec          rota.Spec
		start, zone   string
		every, wd, hm string
	)
	if err := sc.Scan(&id, &v.Rota, &from, &members, &v.First, &start, &every, &wd, &hm, &zone, &spec.Cover,
		&v.Reason, &c, &v.CreatedBy, &cancelled, &v.CancelledBy); err != nil {
		return v, err
	}
	if err := json.Unmarshal([]byte(members), &spec.Members); err != nil {
		return v, fmt.Errorf("rota version %d: members: %w", id, err)
	}
	spec.Name, spec.Start, spec.Every, spec.HandoverWeekday, spec.HandoverTime, spec.TimeZone = v.Rota, start, every, wd, hm, zone
	v.ID, v.Spec, v.From, v.CreatedAt, v.CancelledAt = strconv.FormatInt(id, 10), spec, storage.FromMicros(from), storage.FromMicros(c), storage.FromNullMicros(cancelled)
	return v, nil
}

// LoadTeam implements team.RotaStore. It reads the revision before and
// after, and reads again when a write came between.
func (s *Store) LoadTeam(ctx context.Context) (team.StoredTeam, error) {
	for attempt := 0; ; attempt++ {
		before, err := s.TeamRevision(ctx)
		if err != nil {
			return team.StoredTeam{}, err
		}
		t, err := s.loadTeam(ctx)
		if err != nil {
			return t, err
		}
		after, err := s.TeamRevision(ctx)
		if err != nil {
			return t, err
		}
		if before == after || attempt == 4 {
			t.Revision = before
			if before != after {
				t.Revision = -1 // torn: make the next question load again
			}
			return t, nil
		}
	}
}

func (s *Store) loadTeam(ctx context.Context) (team.StoredTeam, error) {
	var t team.StoredTeam
	var err error
	if t.Members, err = storage.QueryAll(ctx, s.db, scanMember, `SELECT `+memberCols+` FROM oncall_team_members ORDER BY created_at, id`); err != nil {
		return t, fmt.Errorf("members: %w", err)
	}
	t.Rotas, err = storage.QueryAll(ctx, s.db, func(sc storage.RowScanner) (team.RotaRecord, error) {
		var r team.RotaRecord
		var c int64
		err := sc.Scan(&r.Name, &r.ConfigHash, &c, &r.CreatedBy)
		r.CreatedAt = storage.FromMicros(c)
		return r, err
	}, `SELECT name, config_hash, created_at, created_by FROM oncall_rotas ORDER BY created_at, name`)
	if err != nil {
		return t, fmt.Errorf("rotas: %w", err)
	}
	versions, err := storage.QueryAll(ctx, s.db, scanVersion, `SELECT `+versionCols+` FROM oncall_rota_versions WHERE cancelled_at IS NULL ORDER BY rota, from_at`)
	if err != nil {
		return t, fmt.Errorf("rota versions: %w", err)
	}
	for i := range t.Rotas {
		for _, v := range versions {
			if v.Rota == t.Rotas[i].Name {
				t.Rotas[i].Versions = append(t.Rotas[i].Versions, v)
			}
		}
	}
	return t, nil
}

// RotaVersions implements team.RotaStore.
func (s *Store) RotaVersions(ctx context.Context, rotaName string) ([]team.RotaVersion, error) {
	out, err := storage.QueryAll(ctx, s.db, scanVersion, `SELECT `+versionCols+` FROM oncall_rota_versions WHERE rota = ? ORDER BY id`, rotaName)
	if err != nil {
		return nil, fmt.Errorf("rota versions of %s: %w", rotaName, err)
	}
	return out, nil
}

// WriteTeam implements team.RotaStore: one transaction that first moves
// the revision on from w.Revision (a conditional UPDATE, so that of two
// writers planned on one revision only the first writes).
func (s *Store) WriteTeam(ctx context.Context, w team.TeamWrite) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE oncall_team_revision SET n = n + 1 WHERE id = 1 AND n = ?`, w.Revision)
		if err != nil {
			return fmt.Errorf("team revision: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return conflict(fmt.Sprintf("team revision %d", w.Revision))
		}
		for _, m := range w.Members {
			_, err := tx.Exec(ctx, `INSERT INTO oncall_team_members (`+memberCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = excluded.email, slack_id = excluded.slack_id,
				phone = excluded.phone, time_zone = excluded.time_zone, config_hash = excluded.config_hash,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by, removed_at = excluded.removed_at, removed_by = excluded.removed_by`,
				m.ID, m.Name, m.Email, m.SlackID, m.Phone, m.TimeZone, m.ConfigHash, storage.Micros(m.CreatedAt), m.CreatedBy,
				storage.Micros(m.UpdatedAt), m.UpdatedBy, storage.NullMicros(m.RemovedAt), m.RemovedBy)
			if err != nil {
				return fmt.Errorf("member %s: %w", m.ID, err)
			}
		}
		for _, r := range w.Rotas {
			_, err := tx.Exec(ctx, `INSERT INTO oncall_rotas (name, config_hash, created_at, created_by) VALUES (?, ?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET config_hash = excluded.config_hash`, r.Name, r.ConfigHash, storage.Micros(r.CreatedAt), r.CreatedBy)
			if err != nil {
				return fmt.Errorf("rota %s: %w", r.Name, err)
			}
		}
		for _, id := range w.Cancel {
			res, err := tx.Exec(ctx, `UPDATE oncall_rota_versions SET cancelled_at = ?, cancelled_by = ? WHERE id = ? AND cancelled_at IS NULL`,
				storage.Micros(w.CancelledAt), w.CancelledBy, id)
			if err != nil {
				return fmt.Errorf("cancel rota version %s: %w", id, err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return conflict("rota version " + id)
			}
		}
		for _, v := range w.Versions {
			members, _ := json.Marshal(v.Spec.Members)
			_, err := tx.Exec(ctx, `INSERT INTO oncall_rota_versions (rota, from_at, members, first_member, start_date, every,
				handover_weekday, handover_time, time_zone, cover, reason, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				v.Rota, storage.Micros(v.From), string(members), v.First, v.Spec.Start, v.Spec.Every, v.Spec.HandoverWeekday,
				v.Spec.HandoverTime, v.Spec.TimeZone, v.Spec.Cover, v.Reason, storage.Micros(v.CreatedAt), v.CreatedBy)
			if storage.IsUniqueViolation(err) {
				return conflict(fmt.Sprintf("rota %s version from %s", v.Rota, v.From.Format(time.RFC3339)))
			}
			if err != nil {
				return fmt.Errorf("rota %s version: %w", v.Rota, err)
			}
		}
		return nil
	})
}

const shiftCols = `id, rota, member, start_at, end_at, source, turn, ref, recorded_at, late`

func scanShift(sc storage.RowScanner) (team.RecordedShift, error) {
	var (
		r          team.RecordedShift
		id, s, rec int64
		end        sql.NullInt64
		source     string
		turn       int64
		late       int
	)
	err := sc.Scan(&id, &r.Rota, &r.Member, &s, &end, &source, &turn, &r.Ref, &rec, &late)
	r.ID, r.Start, r.End, r.Source, r.Turn = strconv.FormatInt(id, 10), storage.FromMicros(s), storage.FromNullMicros(end), rota.Source(source), int(turn)
	r.RecordedAt, r.Late = storage.FromMicros(rec), late != 0
	return r, err
}

// LastShift implements team.RotaStore.
func (s *Store) LastShift(ctx context.Context, rotaName string) (team.RecordedShift, bool, error) {
	r, err := scanShift(s.db.QueryRow(ctx, `SELECT `+shiftCols+` FROM oncall_shift_log WHERE rota = ? ORDER BY start_at DESC LIMIT 1`, rotaName))
	if errors.Is(err, sql.ErrNoRows) {
		return r, false, nil
	}
	return r, err == nil, err
}

// RecordShifts implements team.RotaStore.
func (s *Store) RecordShifts(ctx context.Context, w team.RecordWrite) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		if w.Close != "" {
			res, err := tx.Exec(ctx, `UPDATE oncall_shift_log SET end_at = ? WHERE id = ? AND end_at IS NULL`, storage.Micros(w.CloseAt), w.Close)
			if err != nil {
				return fmt.Errorf("close shift %s: %w", w.Close, err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return conflict("shift " + w.Close)
			}
		}
		for _, r := range w.Add {
			_, err := tx.Exec(ctx, `INSERT INTO oncall_shift_log (rota, member, start_at, end_at, source, turn, ref, recorded_at, late)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, w.Rota, r.Member, storage.Micros(r.Start), storage.NullMicros(r.End), string(r.Source),
				r.Turn, r.Ref, storage.Micros(r.RecordedAt), storage.BoolInt(r.Late))
			if storage.IsUniqueViolation(err) {
				return conflict(fmt.Sprintf("shift of %s from %s", w.Rota, r.Start.Format(time.RFC3339)))
			}
			if err != nil {
				return fmt.Errorf("record shift: %w", err)
			}
		}
		return nil
	})
}

// RecordedShifts implements team.RotaStore.
func (s *Store) RecordedShifts(ctx context.Context, rotaName string, from, to time.Time) ([]team.RecordedShift, error) {
	out, err := storage.QueryAll(ctx, s.db, scanShift, `SELECT `+shiftCols+` FROM oncall_shift_log
		WHERE rota = ? AND start_at < ? AND (end_at IS NULL OR end_at > ?) ORDER BY start_at`, rotaName, storage.Micros(to), storage.Micros(from))
	if err != nil {
		return nil, fmt.Errorf("recorded shifts of %s: %w", rotaName, err)
	}
	return out, nil
}

// GetOverride implements team.Store.
func (s *Store) GetOverride(ctx context.Context, id int64) (team.OverrideRecord, error) {
	var (
		o          team.OverrideRecord
		oid, st, e int64
		c          int64
	)
	err := s.db.QueryRow(ctx, `SELECT id, rota, member, start_at, end_at, reason, created_at, created_by
		FROM oncall_overrides WHERE id = ? AND deleted_at IS NULL`, id).Scan(&oid, &o.Rota, &o.Member, &st, &e, &o.Reason, &c, &o.CreatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return o, notFound(fmt.Sprintf("override %d", id), team.ErrNotFound)
	}
	o.ID, o.Start, o.End, o.CreatedAt = strconv.FormatInt(oid, 10), storage.FromMicros(st), storage.FromMicros(e), storage.FromMicros(c)
	return o, err
}

// EndOverride implements team.Store.
func (s *Store) EndOverride(ctx context.Context, id int64, end time.Time) error {
	res, err := s.db.Exec(ctx, `UPDATE oncall_overrides SET end_at = ? WHERE id = ? AND deleted_at IS NULL`, storage.Micros(end), id)
	if err != nil {
		return fmt.Errorf("end override %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(fmt.Sprintf("override %d", id), team.ErrNotFound)
	}
	return nil
}

// HeldShifts is the record of shifts for readers of other capabilities
// (the monthly report): the shifts of a rota that overlap [from, to) as
// they were held, by start; the one in progress has a zero End.
func (s *Store) HeldShifts(ctx context.Context, rotaName string, from, to time.Time) ([]rota.Shift, error) {
	rec, err := s.RecordedShifts(ctx, rotaName, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]rota.Shift, len(rec))
	for i, r := range rec {
		out[i] = r.Shift
	}
	return out, nil
}

// MemberNames returns the stored members' names by ID (removed members
// too), for readers of other capabilities.
func (s *Store) MemberNames(ctx context.Context) (map[string]string, error) {
	rows, err := s.db.Query(ctx, `SELECT id, name FROM oncall_team_members`)
	if err != nil {
		return nil, fmt.Errorf("member names: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}
