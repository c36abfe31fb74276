package oncallstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// The team's run-time changes (oncall_overrides, oncall_swaps,
// oncall_unavailability): team.Store.

// AddOverride stores an override and returns it with its ID.
func (s *Store) AddOverride(ctx context.Context, o team.OverrideRecord) (team.OverrideRecord, error) {
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO oncall_overrides (rota, member, start_at, end_at, reason, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		o.Rota, o.Member, storage.Micros(o.Start), storage.Micros(o.End), o.Reason, storage.Micros(o.CreatedAt), o.CreatedBy).Scan(&id)
	if err != nil {
		return o, fmt.Errorf("add override: %w", err)
	}
	o.ID = strconv.FormatInt(id, 10)
	return o, nil
}

// DeleteOverride marks an override deleted.
func (s *Store) DeleteOverride(ctx context.Context, id int64, at time.Time) error {
	res, err := s.db.Exec(ctx, `UPDATE oncall_overrides SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, storage.Micros(at), id)
	if err != nil {
		return fmt.Errorf("delete override %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound(fmt.Sprintf("override %d", id), team.ErrNotFound)
	}
	return nil
}

// ListOverrides lists a rota's live overrides in creation order (later wins).
func (s *Store) ListOverrides(ctx context.Context, rotaName string) ([]team.OverrideRecord, error) {
	rows, err := s.db.Query(ctx, `SELECT id, rota, member, start_at, end_at, reason, created_at, created_by
		FROM oncall_overrides WHERE rota = ? AND deleted_at IS NULL ORDER BY id`, rotaName)
	if err != nil {
		return nil, fmt.Errorf("list overrides: %w", err)
	}
	defer rows.Close()
	var out []team.OverrideRecord
	for rows.Next() {
		var (
			o           team.OverrideRecord
			id, s, e, c int64
		)
		if err := rows.Scan(&id, &o.Rota, &o.Member, &s, &e, &o.Reason, &c, &o.CreatedBy); err != nil {
			return nil, err
		}
		o.ID, o.Start, o.End, o.CreatedAt = strconv.FormatInt(id, 10), storage.FromMicros(s), storage.FromMicros(e), storage.FromMicros(c)
		out = append(out, o)
	}
	return out, rows.Err()
}

const swapCols = `id, rota, requester, counterpart, turn_a, turn_b, state, note, created_at, created_by, decided_at, decided_by`

func scanSwap(s storage.RowScanner) (team.SwapRecord, error) {
	var (
		r       team.SwapRecord
		id, c   int64
		decided sql.NullInt64
		state   string
	)
	if err := s.Scan(&id, &r.Rota, &r.Requester, &r.Counterpart, &r.TurnA, &r.TurnB, &state, &r.Note, &c, &r.CreatedBy, &decided, &r.DecidedBy); err != nil {
		return r, err
	}
	r.ID, r.State, r.CreatedAt, r.DecidedAt = strconv.FormatInt(id, 10), rota.SwapState(state), storage.FromMicros(c), storage.FromNullMicros(decided)
	return r, nil
}

// AddSwap stores a swap request.
func (s *Store) AddSwap(ctx context.Context, sw team.SwapRecord) (team.SwapRecord, error) {
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO oncall_swaps (rota, requester, counterpart, turn_a, turn_b, state, note, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		sw.Rota, sw.Requester, sw.Counterpart, sw.TurnA, sw.TurnB, string(sw.State), sw.Note, storage.Micros(sw.CreatedAt), sw.CreatedBy).Scan(&id)
	if err != nil {
		return sw, fmt.Errorf("add swap: %w", err)
	}
	sw.ID = strconv.FormatInt(id, 10)
	return sw, nil
}

// GetSwap returns a swap.
func (s *Store) GetSwap(ctx context.Context, id int64) (team.SwapRecord, error) {
	sw, err := scanSwap(s.db.QueryRow(ctx, `SELECT `+swapCols+` FROM oncall_swaps WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return sw, notFound(fmt.Sprintf("swap %d", id), team.ErrNotFound)
	}
	return sw, err
}

// DecideSwap changes a swap's state only if it is still from.
func (s *Store) DecideSwap(ctx context.Context, id int64, from, to rota.SwapState, by string, at time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE oncall_swaps SET state = ?, decided_at = ?, decided_by = ? WHERE id = ? AND state = ?`,
		string(to), storage.Micros(at), by, id, string(from))
	if err != nil {
		return false, fmt.Errorf("decide swap %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ListSwaps lists a rota's swaps in creation order (accepted swaps apply in it).
func (s *Store) ListSwaps(ctx context.Context, rotaName string) ([]team.SwapRecord, error) {
	out, err := storage.QueryAll(ctx, s.db, scanSwap, `SELECT `+swapCols+` FROM oncall_swaps WHERE rota = ? ORDER BY id`, rotaName)
	if err != nil {
		return nil, fmt.Errorf("list swaps: %w", err)
	}
	return out, nil
}

// AddUnavailability stores a span in which a member cannot be reached.
func (s *Store) AddUnavailability(ctx context.Context, u rota.Unavailability, reason, by string, at time.Time) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO oncall_unavailability (member, start_at, end_at, reason, created_at, created_by)
		VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, u.Member, storage.Micros(u.Start), storage.Micros(u.End), reason, storage.Micros(at), by).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add unavailability: %w", err)
	}
	return id, nil
}

// ListUnavailability lists every live unavailability span.
func (s *Store) ListUnavailability(ctx context.Context) ([]rota.Unavailability, error) {
	rows, err := s.db.Query(ctx, `SELECT member, start_at, end_at FROM oncall_unavailability WHERE deleted_at IS NULL ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list unavailability: %w", err)
	}
	defer rows.Close()
	var out []rota.Unavailability
	for rows.Next() {
		var (
			u    rota.Unavailability
			s, e int64
		)
		if err := rows.Scan(&u.Member, &s, &e); err != nil {
			return nil, err
		}
		u.Start, u.End = storage.FromMicros(s), storage.FromMicros(e)
		out = append(out, u)
	}
	return out, rows.Err()
}
