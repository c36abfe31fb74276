package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/engine/greylist"
)

// Greylisting state (engine/greylist.Store), shared by every engine node
// using the database.

var _ greylist.Store = (*DB)(nil)

// GreyTriplet implements greylist.Store.
func (db *DB) GreyTriplet(ctx context.Context, k greylist.Key) (greylist.Triplet, bool, error) {
	t := greylist.Triplet{Key: k}
	var first, last, passed int64
	err := db.QueryRow(ctx, `SELECT first_seen, last_seen, passed_at, attempts FROM engine_greylist
		WHERE net = ? AND sender = ? AND rcpt = ?`, k.Net, k.Sender, k.Rcpt).Scan(&first, &last, &passed, &t.Attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("greylist triplet: %w", err)
	}
	t.FirstSeen, t.LastSeen, t.PassedAt = FromMicros(first), FromMicros(last), FromMicros(passed)
	return t, true, nil
}

// GreyPutTriplet implements greylist.Store.
func (db *DB) GreyPutTriplet(ctx context.Context, t greylist.Triplet) error {
	_, err := db.Exec(ctx, `INSERT INTO engine_greylist (net, sender, rcpt, first_seen, last_seen, passed_at, attempts)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (net, sender, rcpt) DO UPDATE SET first_seen = excluded.first_seen, last_seen = excluded.last_seen,
			passed_at = excluded.passed_at, attempts = excluded.attempts`,
		t.Net, t.Sender, t.Rcpt, Micros(t.FirstSeen), Micros(t.LastSeen), Micros(t.PassedAt), t.Attempts)
	if err != nil {
		return fmt.Errorf("greylist put: %w", err)
	}
	return nil
}

// GreyClientPasses implements greylist.Store.
func (db *DB) GreyClientPasses(ctx context.Context, net string) (int, error) {
	var n int
	err := db.QueryRow(ctx, `SELECT passes FROM engine_greylist_clients WHERE net = ?`, net).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("greylist client: %w", err)
	}
	return n, nil
}

// GreyAddClientPass implements greylist.Store.
func (db *DB) GreyAddClientPass(ctx context.Context, net string, now time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO engine_greylist_clients (net, passes, updated_at) VALUES (?, 1, ?)
		ON CONFLICT (net) DO UPDATE SET passes = engine_greylist_clients.passes + 1, updated_at = excluded.updated_at`,
		net, Micros(now))
	if err != nil {
		return fmt.Errorf("greylist client pass: %w", err)
	}
	return nil
}

// GreyExpire implements greylist.Store.
func (db *DB) GreyExpire(ctx context.Context, passedBefore, pendingBefore time.Time) (int64, error) {
	var total int64
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`DELETE FROM engine_greylist WHERE passed_at <> 0 AND last_seen < ?`, []any{Micros(passedBefore)}},
		{`DELETE FROM engine_greylist WHERE passed_at = 0 AND first_seen < ?`, []any{Micros(pendingBefore)}},
		{`DELETE FROM engine_greylist_clients WHERE updated_at < ?`, []any{Micros(passedBefore)}},
	} {
		res, err := db.Exec(ctx, st.q, st.args...)
		if err != nil {
			return total, fmt.Errorf("greylist expire: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
