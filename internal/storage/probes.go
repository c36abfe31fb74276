package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
)

var _ probe.Store = (*DB)(nil)

// SaveProbeResult implements probe.Store: the run, the probe's state row,
// and a change when the status differs from the stored one, in one
// transaction (the state row is locked on PostgreSQL, so two replicas
// cannot both record the same change).
func (db *DB) SaveProbeResult(ctx context.Context, r probe.Result, replica string) (probe.Change, bool, error) {
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
	err = db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO probe_results (probe, service, node, kind, at, duration_us, ok, attempts, error, warning, steps, cert_expiry, loop_delivery_us, replica)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.Probe, r.Service, r.Node, string(r.Kind), Micros(r.At), r.Duration.Microseconds(), BoolInt(r.OK), max(r.Attempts, 1),
			r.Error, r.Warning, string(steps), NullMicros(r.CertExpiry), loop, replica); err != nil {
			return fmt.Errorf("probe result: %w", err)
		}
		lock := ForUpdate(tx)
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
			since = Micros(r.At)
			if _, err := tx.Exec(ctx, `INSERT INTO probe_changes (probe, service, node, kind, status, at, error) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				c.Probe, c.Service, c.Node, string(c.Kind), string(c.Status), Micros(c.At), c.Error); err != nil {
				return fmt.Errorf("probe change: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO probe_states (probe, service, node, kind, status, since, last_at, last_ok, last_error, last_duration_us, warning, cert_expiry, replica)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (probe) DO UPDATE SET service = excluded.service, node = excluded.node, kind = excluded.kind,
				status = excluded.status, since = excluded.since, last_at = excluded.last_at, last_ok = excluded.last_ok,
				last_error = excluded.last_error, last_duration_us = excluded.last_duration_us, warning = excluded.warning,
				cert_expiry = excluded.cert_expiry, replica = excluded.replica`,
			r.Probe, r.Service, r.Node, string(r.Kind), string(status), since, Micros(r.At), BoolInt(r.OK), r.Error,
			r.Duration.Microseconds(), r.Warning, NullMicros(r.CertExpiry), replica)
		if err != nil {
			return fmt.Errorf("probe state: %w", err)
		}
		return nil
	})
	return c, changed, err
}

// ProbeStates implements probe.Store.
func (db *DB) ProbeStates(ctx context.Context) ([]probe.State, error) {
	out, err := QueryAll(ctx, db, func(r RowScanner) (probe.State, error) {
		var s probe.State
		var kind, status string
		var since, last, dur int64
		var ok int
		var cert sql.NullInt64
		err := r.Scan(&s.Probe, &s.Service, &s.Node, &kind, &status, &since, &last, &ok, &s.LastError, &dur, &s.Warning, &cert, &s.Replica)
		s.Kind, s.Status, s.Since, s.LastAt, s.LastOK = probe.Kind(kind), probe.Status(status), FromMicros(since), FromMicros(last), ok != 0
		s.LastLatency, s.CertExpiry = time.Duration(dur)*time.Microsecond, FromNullMicros(cert)
		return s, err
	}, `SELECT probe, service, node, kind, status, since, last_at, last_ok, last_error, last_duration_us, warning, cert_expiry, replica
		FROM probe_states ORDER BY service, probe`)
	if err != nil {
		return nil, fmt.Errorf("probe states: %w", err)
	}
	return out, nil
}

func scanChange(r RowScanner) (probe.Change, error) {
	var c probe.Change
	var kind, status string
	var at int64
	err := r.Scan(&c.Probe, &c.Service, &c.Node, &kind, &status, &at, &c.Error)
	c.Kind, c.Status, c.At = probe.Kind(kind), probe.Status(status), FromMicros(at)
	return c, err
}

// ProbeChanges implements probe.Store.
func (db *DB) ProbeChanges(ctx context.Context, from, to time.Time, probes ...string) ([]probe.Change, error) {
	filter, args := "", []any{}
	if len(probes) > 0 {
		filter = " AND probe IN (?" + strings.Repeat(", ?", len(probes)-1) + ")"
		for _, p := range probes {
			args = append(args, p)
		}
	}
	const cols = `probe, service, node, kind, status, at, error`
	in, err := QueryAll(ctx, db, scanChange, `SELECT `+cols+` FROM probe_changes WHERE at >= ? AND at < ?`+filter+` ORDER BY at, id`,
		append([]any{Micros(from), Micros(to)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("probe changes: %w", err)
	}
	// The state at from: each probe's last change before it.
	before, err := QueryAll(ctx, db, scanChange, `SELECT `+cols+` FROM probe_changes c
		WHERE at = (SELECT MAX(at) FROM probe_changes b WHERE b.probe = c.probe AND b.at < ?)`+filter+` ORDER BY at, id`,
		append([]any{Micros(from)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("probe changes before %s: %w", from.Format(time.RFC3339), err)
	}
	// Two changes of one probe at the same instant keep only the later id.
	last := map[string]probe.Change{}
	for _, c := range before {
		last[c.Probe] = c
	}
	before = before[:0]
	for _, c := range last {
		before = append(before, c)
	}
	slices.SortFunc(before, func(a, b probe.Change) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Probe, b.Probe)) })
	return append(before, in...), nil
}

// ProbeResults implements probe.Store.
func (db *DB) ProbeResults(ctx context.Context, name string, from, to time.Time, limit int) ([]probe.Result, error) {
	if limit <= 0 {
		limit = 100
	}
	out, err := QueryAll(ctx, db, func(r RowScanner) (probe.Result, error) {
		var res probe.Result
		var kind, steps string
		var at, dur int64
		var ok int
		var cert, loop sql.NullInt64
		if err := r.Scan(&res.Probe, &res.Service, &res.Node, &kind, &at, &dur, &ok, &res.Attempts, &res.Error, &res.Warning, &steps, &cert, &loop); err != nil {
			return res, err
		}
		res.Kind, res.At, res.Duration, res.OK = probe.Kind(kind), FromMicros(at), time.Duration(dur)*time.Microsecond, ok != 0
		res.CertExpiry, res.LoopDelivery = FromNullMicros(cert), time.Duration(loop.Int64)*time.Microsecond
		if err := json.Unmarshal([]byte(steps), &res.Steps); err != nil {
			return res, fmt.Errorf("steps of %s at %s: %w", res.Probe, res.At.Format(time.RFC3339), err)
		}
		return res, nil
	}, `SELECT probe, service, node, kind, at, duration_us, ok, attempts, error, warning, steps, cert_expiry, loop_delivery_us
		FROM probe_results WHERE probe = ? AND at >= ? AND at < ? ORDER BY at DESC, id DESC LIMIT ?`, name, Micros(from), Micros(to), limit)
	if err != nil {
		return nil, fmt.Errorf("probe results: %w", err)
	}
	return out, nil
}

// DeleteProbeResults removes runs older than before, in batches, and
// returns how many went. State changes are kept: availability needs them.
func (db *DB) DeleteProbeResults(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.DeleteBatches(ctx, `DELETE FROM probe_results WHERE id IN (SELECT id FROM probe_results WHERE at < ? LIMIT ?)`, 5000, Micros(before))
	if err != nil {
		return n, fmt.Errorf("probe retention: %w", err)
	}
	return n, nil
}

// MaintenanceWindows returns the maintenance notices (not cancelled) that
// overlap [from, to), as probe windows: their services, from the start to
// the end (or the planned end while still running).
func (db *DB) MaintenanceWindows(ctx context.Context, from, to time.Time) ([]probe.Window, error) {
	out, err := QueryAll(ctx, db, func(r RowScanner) (probe.Window, error) {
		var id, start int64
		var services string
		var end, planned sql.NullInt64
		if err := r.Scan(&id, &services, &start, &end, &planned); err != nil {
			return probe.Window{}, err
		}
		return maintenanceWindow(id, noticeServices(services), start, end, planned), nil
	}, `SELECT id, services, started_at, ended_at, planned_end FROM notices
		WHERE kind = 'maintenance' AND state <> 'cancelled' AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)
		ORDER BY started_at, id`, Micros(to), Micros(from))
	if err != nil {
		return nil, fmt.Errorf("maintenance windows: %w", err)
	}
	return out, nil
}

// noticeServices parses a notice's services column (a JSON array, or a
// comma-separated list), each trimmed.
func noticeServices(services string) []string {
	var out []string
	if err := json.Unmarshal([]byte(services), &out); err != nil {
		out = strings.Split(services, ",")
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}

// maintenanceWindow is a maintenance notice as a probe window: it ends
// when the notice ended or, while still running, at its planned end.
func maintenanceWindow(id int64, services []string, start int64, end, planned sql.NullInt64) probe.Window {
	w := probe.Window{Services: services, Start: FromMicros(start), End: FromNullMicros(end), Ref: fmt.Sprintf("N-%d", id)}
	if w.End.IsZero() {
		w.End = FromNullMicros(planned)
	}
	return w
}

// ServiceAvailability computes each probed service's availability over
// [from, to) from the stored state changes and maintenance windows.
func (db *DB) ServiceAvailability(ctx context.Context, from, to time.Time) ([]probe.Figures, error) {
	windows, err := db.MaintenanceWindows(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return db.serviceAvailability(ctx, from, to, nil, windows)
}

// ServiceAvailabilityDaily is ServiceAvailability for each calendar day
// of [from, to) in loc, by service and then day.
func (db *DB) ServiceAvailabilityDaily(ctx context.Context, from, to time.Time, loc *time.Location) ([]probe.Figures, error) {
	windows, err := db.MaintenanceWindows(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return db.serviceAvailability(ctx, from, to, loc, windows)
}

// serviceAvailability computes the figures over [from, to) (per day in
// daily when not nil) with the maintenance windows the caller read
// (MaintenanceWindows, or Outages with its own read of the notices).
func (db *DB) serviceAvailability(ctx context.Context, from, to time.Time, daily *time.Location, windows []probe.Window) ([]probe.Figures, error) {
	changes, err := db.ProbeChanges(ctx, from, to)
	if err != nil {
		return nil, err
	}
	byService := map[string][]probe.Change{}
	for _, c := range changes {
		byService[c.Service] = append(byService[c.Service], c)
	}
	var out []probe.Figures
	for _, svc := range slices.Sorted(maps.Keys(byService)) {
		if daily != nil {
			out = append(out, probe.Daily(svc, byService[svc], windows, from, to, daily)...)
			continue
		}
		out = append(out, probe.Availability(svc, byService[svc], windows, from, to))
	}
	return out, nil
}

// ProbeMailSeen finds the message stored in the probe mailbox of address
// that carries token (the mail loop puts it in the Subject, the
// Message-ID and the X-Postvakt-Probe header), among the 50 newest. It
// looks at the Subject and Message-ID the engine recorded for each
// message's transaction, and reads the header block of a body only for a
// message without one (released from quarantine, or older than the
// transaction log's retention). When found it removes the message, so the
// probe mailbox stays empty, and returns when it was stored. The body
// stays: the message's transaction record refers to it until retention.
func (db *DB) ProbeMailSeen(ctx context.Context, address, token string) (time.Time, bool, error) {
	type msg struct {
		id, mailbox, size, at int64
		hash                  string
		messageID, subject    sql.NullString // NULL: no transaction row
	}
	msgs, err := QueryAll(ctx, db, func(r RowScanner) (msg, error) {
		var m msg
		return m, r.Scan(&m.id, &m.mailbox, &m.size, &m.at, &m.hash, &m.messageID, &m.subject)
	}, `SELECT m.id, m.mailbox_id, m.size, m.received_at, m.body_hash, t.message_id, t.subject
		FROM (SELECT m.id, m.mailbox_id, m.size, m.received_at, m.body_hash, m.queue_id FROM engine_messages m
			JOIN engine_mailboxes b ON b.id = m.mailbox_id WHERE b.address = ? ORDER BY m.id DESC LIMIT 50) m
		LEFT JOIN engine_transactions t ON t.queue_id = m.queue_id
		ORDER BY m.id DESC`, strings.ToLower(address))
	if err != nil {
		return time.Time{}, false, fmt.Errorf("probe mailbox %s: %w", address, err)
	}
	for _, m := range msgs {
		found := strings.Contains(m.messageID.String, token) || strings.Contains(m.subject.String, token)
		if !found && !m.messageID.Valid {
			var body []byte
			if err := db.QueryRow(ctx, `SELECT data FROM engine_bodies WHERE hash = ?`, m.hash).Scan(&body); err != nil {
				return time.Time{}, false, fmt.Errorf("body %s: %w", m.hash, err)
			}
			head := body
			if i := strings.Index(string(body), "\r\n\r\n"); i >= 0 {
				head = body[:i]
			}
			found = strings.Contains(string(head), token)
		}
		if !found {
			continue
		}
		err = db.InTx(ctx, func(tx *Tx) error {
			if _, err := tx.Exec(ctx, `DELETE FROM engine_messages WHERE id = ?`, m.id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE engine_mailboxes SET used_bytes = CASE WHEN used_bytes > ? THEN used_bytes - ? ELSE 0 END WHERE id = ?`,
				m.size, m.size, m.mailbox); err != nil {
				return err
			}
			return nil
		})
		if err != nil {
			return time.Time{}, false, fmt.Errorf("probe mailbox %s: remove probe message: %w", address, err)
		}
		return FromMicros(m.at), true, nil
	}
	return time.Time{}, false, nil
}
