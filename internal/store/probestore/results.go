package probestore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Probe runs (probe_results) and the probe.Store write that records a run
// with its state and change.

// SaveProbeResult implements probe.Store: the run, the probe's state row,
// and a change when the status differs from the stored one, in one
// transaction (the state row is locked on PostgreSQL, so two replicas
// cannot both record the same change).
func (s *Store) SaveProbeResult(ctx context.Context, r probe.Result, replica string) (probe.Change, bool, error) {
	status := probe.StatusDown
	if r.OK {
		status = probe.StatusUp
	}
	steps, err := json.Marshal(r.Steps)
	if err != nil {
		return probe.Change{}, false, fmt.Errorf("probe result: steps: %w", err)
	}
	var loop sql.NullInt64
	if r.LoopDelivery > 0 {
		loop = sql.NullInt64{Int64: r.LoopDelivery.Microseconds(), Valid: true}
	}
	c := probe.Change{Probe: r.Probe, Service: r.Service, Node: r.Node, Kind: r.Kind, Status: status, At: r.At, Error: r.Error}
	var changed bool
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO probe_results (probe, service, node, kind, at, duration_us, ok, attempts, error, warning, steps, cert_expiry, loop_delivery_us, replica)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Probe, r.Service, r.Node, string(r.Kind), storage.Micros(r.At), r.Duration.Microseconds(), storage.BoolInt(r.OK), max(r.Attempts, 1),
			r.Error, r.Warning, string(steps), storage.NullMicros(r.CertExpiry), loop, replica); err != nil {
			return fmt.Errorf("probe result: %w", err)
		}
		lock := storage.ForUpdate(tx)
		var prev string
		var since int64
		err := tx.QueryRow(ctx, `SELECT status, since FROM probe_states WHERE probe = ?`+lock, r.Probe).Scan(&prev, &since)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			changed = true
		case err != nil:
			return fmt.Errorf("probe state: %w", err)
		default:
			changed = prev != string(status)
		}
		if changed {
			since = storage.Micros(r.At)
			if _, err := tx.Exec(ctx, `INSERT INTO probe_changes (probe, service, node, kind, status, at, error) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				c.Probe, c.Service, c.Node, string(c.Kind), string(c.Status), storage.Micros(c.At), c.Error); err != nil {
				return fmt.Errorf("probe change: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO probe_states (probe, service, node, kind, status, since, last_at, last_ok, last_error, last_duration_us, warning, cert_expiry, replica)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (probe) DO UPDATE SET service = excluded.service, node = excluded.node, kind = excluded.kind,
				status = excluded.status, since = excluded.since, last_at = excluded.last_at, last_ok = excluded.last_ok,
				last_error = excluded.last_error, last_duration_us = excluded.last_duration_us, warning = excluded.warning,
				cert_expiry = excluded.cert_expiry, replica = excluded.replica`,
			r.Probe, r.Service, r.Node, string(r.Kind), string(status), since, storage.Micros(r.At), storage.BoolInt(r.OK), r.Error,
			r.Duration.Microseconds(), r.Warning, storage.NullMicros(r.CertExpiry), replica)
		if err != nil {
			return fmt.Errorf("probe state: %w", err)
		}
		return nil
	})
	return c, changed, err
}

// ProbeResults implements probe.Store.
func (s *Store) ProbeResults(ctx context.Context, name string, from, to time.Time, limit int) ([]probe.Result, error) {
	if limit <= 0 {
		limit = 100
	}
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (probe.Result, error) {
		var res probe.Result
		var kind, steps string
		var at, dur int64
		var ok int
		var cert, loop sql.NullInt64
		if err := r.Scan(&res.Probe, &res.Service, &res.Node, &kind, &at, &dur, &ok, &res.Attempts, &res.Error, &res.Warning, &steps, &cert, &loop); err != nil {
			return res, err
		}
		res.Kind, res.At, res.Duration, res.OK = probe.Kind(kind), storage.FromMicros(at), time.Duration(dur)*time.Microsecond, ok != 0
		res.CertExpiry, res.LoopDelivery = storage.FromNullMicros(cert), time.Duration(loop.Int64)*time.Microsecond
		if err := json.Unmarshal([]byte(steps), &res.Steps); err != nil {
			return res, fmt.Errorf("steps of %s at %s: %w", res.Probe, res.At.Format(time.RFC3339), err)
		}
		return res, nil
	}, `SELECT probe, service, node, kind, at, duration_us, ok, attempts, error, warning, steps, cert_expiry, loop_delivery_us
		FROM probe_results WHERE probe = ? AND at >= ? AND at < ? ORDER BY at DESC, id DESC LIMIT ?`, name, storage.Micros(from), storage.Micros(to), limit)
	if err != nil {
		return nil, fmt.Errorf("probe results: %w", err)
	}
	return out, nil
}

// DeleteProbeResults removes runs older than before, in batches, and
// returns how many went. State changes are kept: availability needs them.
func (s *Store) DeleteProbeResults(ctx context.Context, before time.Time) (int64, error) {
	n, err := s.db.DeleteBatches(ctx, `DELETE FROM probe_results WHERE id IN (SELECT id FROM probe_results WHERE at < ? LIMIT ?)`, 5000, storage.Micros(before))
	if err != nil {
		return n, fmt.Errorf("probe retention: %w", err)
	}
	return n, nil
}
