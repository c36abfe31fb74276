package enginestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/engine/greylist"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Greylisting state (engine/greylist.Store), shared by every engine node
// using the database.

// GreyTriplet implements greylist.Store.
func (s *Store) GreyTriplet(ctx context.Context, k greylist.Key) (greylist.Triplet, bool, error) {
	t := greylist.Triplet{Key: k}
	var first, last, passed int64
	err := s.db.QueryRow(ctx, `SELECT first_seen, last_seen, passed_at, attempts FROM engine_greylist
		WHERE net = ? AND sender = ? AND rcpt = ?`, k.Net, k.Sender, k.Rcpt).Scan(&first, &last, &passed, &t.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("greylist triplet: %w", err)
	}
	t.FirstSeen, t.LastSeen, t.PassedAt = storage.FromMicros(first), storage.FromMicros(last), storage.FromMicros(passed)
	return t, true, nil
}

// GreyPutTriplet implements greylist.Store.
func (s *Store) GreyPutTriplet(ctx context.Context, t greylist.Triplet) error {
	_, err := s.db.Exec(ctx, `INSERT INTO engine_greylist (net, sender, rcpt, first_seen, last_seen, passed_at, attempts)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (net, sender, rcpt) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
			passed_at = excluded.passed_at, attempts = excluded.attempts`,
		t.Net, t.Sender, t.Rcpt, storage.Micros(t.FirstSeen), storage.Micros(t.LastSeen), storage.Micros(t.PassedAt), t.Attempts)
	if err != nil {
		return fmt.Errorf("greylist put: %w", err)
	}
	return nil
}

// GreyClientPasses implements greylist.Store.
func (s *Store) GreyClientPasses(ctx context.Context, net string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT passes FROM engine_greylist_clients WHERE net = ?`, net).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("greylist client: %w", err)
	}
	return n, nil
}

// GreyAddClientPass implements greylist.Store.
func (s *Store) GreyAddClientPass(ctx context.Context, net string, now time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO engine_greylist_clients (net, passes, updated_at) VALUES (?, 1, ?)
		ON CONFLICT (net) DO UPDATE SET passes = engine_greylist_clients.passes + 1, updated_at = excluded.updated_at`,
		net, storage.Micros(now))
	if err != nil {
		return fmt.Errorf("greylist client pass: %w", err)
	}
	return nil
}

// GreyExpire implements greylist.Store.
func (s *Store) GreyExpire(ctx context.Context, passedBefore, pendingBefore time.Time) (int64, error) {
	var total int64
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`DELETE FROM engine_greylist WHERE passed_at <> 0 AND last_seen < ?`, []any{storage.Micros(passedBefore)}},
		{`DELETE FROM engine_greylist WHERE passed_at = 0 AND first_seen < ?`, []any{storage.Micros(pendingBefore)}},
		{`DELETE FROM engine_greylist_clients WHERE updated_at < ?`, []any{storage.Micros(passedBefore)}},
	} {
		res, err := s.db.Exec(ctx, st.q, st.args...)
		if err != nil {
			return total, fmt.Errorf("greylist expire: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
