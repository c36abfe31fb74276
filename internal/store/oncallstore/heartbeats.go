package oncallstore

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
)

// Heartbeats (oncall_heartbeats): heartbeat.Store.

// EnsureHeartbeat creates a heartbeat's row, first seen at at, if missing.
func (s *Store) EnsureHeartbeat(ctx context.Context, name string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO oncall_heartbeats (name, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, storage.Micros(at), storage.Micros(at))
	return err
}

// Beat records that a heartbeat arrived at at.
func (s *Store) Beat(ctx context.Context, name string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO oncall_heartbeats (name, first_seen, last_seen) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET last_seen = CASE WHEN excluded.last_seen > oncall_heartbeats.last_seen
		THEN excluded.last_seen ELSE oncall_heartbeats.last_seen END`, name, storage.Micros(at), storage.Micros(at))
	return err
}

// Heartbeats lists every heartbeat's state.
func (s *Store) Heartbeats(ctx context.Context) ([]heartbeat.State, error) {
	rows, err := s.db.Query(ctx, `SELECT name, first_seen, last_seen, late FROM oncall_heartbeats ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []heartbeat.State
	for rows.Next() {
		var (
			s    heartbeat.State
			f, l int64
			late int
		)
		if err := rows.Scan(&s.Name, &f, &l, &late); err != nil {
			return nil, err
		}
		s.FirstSeen, s.LastSeen, s.Late = storage.FromMicros(f), storage.FromMicros(l), late != 0
		out = append(out, s)
	}
	return out, rows.Err()
}

// SetHeartbeatLate flips a heartbeat's late flag from from to to, only if
// it is still from; it reports whether it did.
func (s *Store) SetHeartbeatLate(ctx context.Context, name string, from, to bool) (bool, error) {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	res, err := s.db.Exec(ctx, `UPDATE oncall_heartbeats SET late = ? WHERE name = ? AND late = ?`, b(to), name, b(from))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
