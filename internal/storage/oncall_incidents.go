package storage

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
)

var (
	_ incident.Store  = (*DB)(nil)
	_ page.Log        = (*DB)(nil)
	_ heartbeat.Store = (*DB)(nil)
)

const incidentCols = `id, ikey, source, title, summary, severity, status, policy, round, step, round_start, next_at,
	opened_at, acked_at, acked_by, resolved_at, resolved_by, ticket_id, labels, external_url, updated_at`

func scanIncident(s RowScanner) (incident.Incident, error) {
	var (
		inc                     incident.Incident
		status, labels          string
		roundStart, opened, upd int64
		next, acked, resolved   sql.NullInt64
	)
	err := s.Scan(&inc.ID, &inc.Key, &inc.Source, &inc.Title, &inc.Summary, &inc.Severity, &status, &inc.Policy,
		&inc.State.Round, &inc.State.Step, &roundStart, &next, &opened, &acked, &inc.AckedBy, &resolved, &inc.ResolvedBy,
		&inc.TicketID, &labels, &inc.ExternalURL, &upd)
	if err != nil {
		return inc, err
	}
	inc.Status = incident.Status(status)
	inc.State.RoundStart, inc.NextAt, inc.OpenedAt = FromMicros(roundStart), FromNullMicros(next), FromMicros(opened)
	inc.AckedAt, inc.ResolvedAt, inc.UpdatedAt = FromNullMicros(acked), FromNullMicros(resolved), FromMicros(upd)
	if labels != "" && labels != "{}" {
		_ = json.Unmarshal([]byte(labels), &inc.Labels)
	}
	return inc, nil
}

func jsonMap(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

// CreateIncident stores a new incident; an unresolved one with the same
// key makes it fail with incident.ErrConflict.
func (db *DB) CreateIncident(ctx context.Context, inc incident.Incident) (incident.Incident, error) {
	err := db.QueryRow(ctx, `INSERT INTO oncall_incidents (ikey, source, title, summary, severity, status, policy, round, step,
		round_start, next_at, opened_at, labels, external_url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		inc.Key, inc.Source, inc.Title, inc.Summary, inc.Severity, string(inc.Status), inc.Policy, inc.State.Round, inc.State.Step,
		Micros(inc.State.RoundStart), NullMicros(inc.NextAt), Micros(inc.OpenedAt), jsonMap(inc.Labels), inc.ExternalURL, Micros(inc.UpdatedAt)).Scan(&inc.ID)
	if err != nil {
		if IsUniqueViolation(err) {
			return inc, fmt.Errorf("create incident %s: %w", inc.Key, errors.Join(ErrConflict, incident.ErrConflict))
		}
		return inc, fmt.Errorf("create incident: %w", err)
	}
	return inc, nil
}

// OpenIncidentByKey returns the unresolved incident with key.
func (db *DB) OpenIncidentByKey(ctx context.Context, key string) (incident.Incident, error) {
	inc, err := scanIncident(db.QueryRow(ctx, `SELECT `+incidentCols+` FROM oncall_incidents WHERE ikey = ? AND status <> 'resolved'`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, notFound("incident "+key, incident.ErrNotFound)
	}
	return inc, err
}

// GetIncident returns an incident with its alerts.
func (db *DB) GetIncident(ctx context.Context, id int64) (incident.Incident, error) {
	inc, err := scanIncident(db.QueryRow(ctx, `SELECT `+incidentCols+` FROM oncall_incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, notFound(fmt.Sprintf("incident %d", id), incident.ErrNotFound)
	}
	if err != nil {
		return inc, err
	}
	rows, err := db.Query(ctx, `SELECT fingerprint, status, labels, annotations, starts_at, ends_at
		FROM oncall_incident_alerts WHERE incident_id = ? ORDER BY fingerprint`, id)
	if err != nil {
		return inc, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			a            incident.Alert
			labels, anns string
			s, e         int64
		)
		if err := rows.Scan(&a.Fingerprint, &a.Status, &labels, &anns, &s, &e); err != nil {
			return inc, err
		}
		_ = json.Unmarshal([]byte(labels), &a.Labels)
		_ = json.Unmarshal([]byte(anns), &a.Annotations)
		a.StartsAt, a.EndsAt = FromMicros(s), FromMicros(e)
		inc.Alerts = append(inc.Alerts, a)
	}
	return inc, rows.Err()
}

// ListIncidents lists incidents, newest first.
func (db *DB) ListIncidents(ctx context.Context, f incident.Filter) ([]incident.Incident, error) {
	q := `SELECT ` + incidentCols + ` FROM oncall_incidents WHERE opened_at >= ?`
	args := []any{Micros(f.Since)}
	if len(f.Status) > 0 {
		q += ` AND status IN (?` + strings.Repeat(", ?", len(f.Status)-1) + `)`
		for _, s := range f.Status {
			args = append(args, string(s))
		}
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q += fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit)
	out, err := QueryAll(ctx, db, scanIncident, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// UpsertAlerts stores alerts of an incident by fingerprint.
func (db *DB) UpsertAlerts(ctx context.Context, id int64, alerts []incident.Alert, now time.Time) error {
	return db.InTx(ctx, func(tx *Tx) error {
		for _, a := range alerts {
			_, err := tx.Exec(ctx, `INSERT INTO oncall_incident_alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status, labels = excluded.labels,
				annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = excluded.updated_at`,
				id, a.Fingerprint, a.Status, jsonMap(a.Labels), jsonMap(a.Annotations), Micros(a.StartsAt), Micros(a.EndsAt), Micros(now))
			if err != nil {
				return fmt.Errorf("upsert alert %s: %w", a.Fingerprint, err)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE oncall_incidents SET updated_at = ? WHERE id = ?`, Micros(now), id)
		return err
	})
}

// DueIncidents lists triggered incidents with a timer at or before now.
func (db *DB) DueIncidents(ctx context.Context, now time.Time, limit int) ([]incident.Incident, error) {
	out, err := QueryAll(ctx, db, scanIncident, `SELECT `+incidentCols+` FROM oncall_incidents
		WHERE status = 'triggered' AND next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT `+fmt.Sprint(max(limit, 1)), Micros(now))
	if err != nil {
		return nil, fmt.Errorf("due incidents: %w", err)
	}
	return out, nil
}

// AdvanceIncident moves the escalation state with a conditional UPDATE.
func (db *DB) AdvanceIncident(ctx context.Context, id int64, from, to incident.State, nextAt, now time.Time) (bool, error) {
	res, err := db.Exec(ctx, `UPDATE oncall_incidents SET round = ?, step = ?, round_start = ?, next_at = ?, updated_at = ?
		WHERE id = ? AND status = 'triggered' AND round = ? AND step = ?`,
		to.Round, to.Step, Micros(to.RoundStart), NullMicros(nextAt), Micros(now), id, from.Round, from.Step)
	if err != nil {
		return false, fmt.Errorf("advance incident %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AckIncident acknowledges a triggered incident.
func (db *DB) AckIncident(ctx context.Context, id int64, by string, at time.Time) (bool, error) {
	res, err := db.Exec(ctx, `UPDATE oncall_incidents SET status = 'acknowledged', acked_at = ?, acked_by = ?, next_at = NULL, updated_at = ?
		WHERE id = ? AND status = 'triggered'`, Micros(at), by, Micros(at), id)
	if err != nil {
		return false, fmt.Errorf("ack incident %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		if _, err := db.GetIncident(ctx, id); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

// ResolveIncident resolves an unresolved incident.
func (db *DB) ResolveIncident(ctx context.Context, id int64, by string, at time.Time) (bool, error) {
	res, err := db.Exec(ctx, `UPDATE oncall_incidents SET status = 'resolved', resolved_at = ?, resolved_by = ?, next_at = NULL, updated_at = ?
		WHERE id = ? AND status <> 'resolved'`, Micros(at), by, Micros(at), id)
	if err != nil {
		return false, fmt.Errorf("resolve incident %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		if _, err := db.GetIncident(ctx, id); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

// SetIncidentTicket records the fault ticket of an incident.
func (db *DB) SetIncidentTicket(ctx context.Context, id int64, ticketID string) error {
	_, err := db.Exec(ctx, `UPDATE oncall_incidents SET ticket_id = ? WHERE id = ?`, ticketID, id)
	return err
}

// AddIncidentEvent appends to an incident's timeline.
func (db *DB) AddIncidentEvent(ctx context.Context, e incident.Event) error {
	_, err := db.Exec(ctx, `INSERT INTO oncall_incident_events (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)`,
		e.IncidentID, Micros(e.At), e.Kind, e.Actor, e.Detail)
	return err
}

// IncidentEvents returns an incident's timeline, oldest first.
func (db *DB) IncidentEvents(ctx context.Context, id int64) ([]incident.Event, error) {
	rows, err := db.Query(ctx, `SELECT incident_id, at, kind, actor, detail FROM oncall_incident_events WHERE incident_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []incident.Event
	for rows.Next() {
		var (
			e  incident.Event
			at int64
		)
		if err := rows.Scan(&e.IncidentID, &at, &e.Kind, &e.Actor, &e.Detail); err != nil {
			return nil, err
		}
		e.At = FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// CountIncidents counts incidents by status.
func (db *DB) CountIncidents(ctx context.Context) (map[incident.Status]int, error) {
	rows, err := db.Query(ctx, `SELECT status, COUNT(*) FROM oncall_incidents WHERE status <> 'resolved' GROUP BY status`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[incident.Status]int{}
	for rows.Next() {
		var (
			s string
			n int
		)
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[incident.Status(s)] = n
	}
	return out, rows.Err()
}

// PagedMembers lists the members a page reached for an incident.
func (db *DB) PagedMembers(ctx context.Context, id int64) ([]string, error) {
	rows, err := db.Query(ctx, `SELECT DISTINCT member FROM oncall_pages
		WHERE incident_id = ? AND kind = 'page' AND member <> '' AND result = 'sent' ORDER BY member`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var m string
		if err := rows.Scan(&m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// ClaimPage stores a pending page unless its key exists.
func (db *DB) ClaimPage(ctx context.Context, r page.Record) (bool, error) {
	_, err := db.Exec(ctx, `INSERT INTO oncall_pages (pkey, incident_id, member, channel, kind, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Key, r.IncidentID, r.Member, r.Channel, string(r.Kind), Micros(r.CreatedAt))
	if IsUniqueViolation(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim page: %w", err)
	}
	return true, nil
}

// FinishPage records a page's outcome.
func (db *DB) FinishPage(ctx context.Context, key, result string, attempts int, errText string, at time.Time) error {
	_, err := db.Exec(ctx, `UPDATE oncall_pages SET result = ?, attempts = ?, error = ?, finished_at = ? WHERE pkey = ?`,
		result, attempts, errText, Micros(at), key)
	return err
}

// PagesSince lists pages created at or after since, oldest first.
func (db *DB) PagesSince(ctx context.Context, since time.Time) ([]page.Record, error) {
	rows, err := db.Query(ctx, `SELECT pkey, incident_id, member, channel, kind, created_at, finished_at, result, attempts, error
		FROM oncall_pages WHERE created_at >= ? ORDER BY created_at, pkey`, Micros(since))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []page.Record
	for rows.Next() {
		var (
			r        page.Record
			kind     string
			c        int64
			finished sql.NullInt64
		)
		if err := rows.Scan(&r.Key, &r.IncidentID, &r.Member, &r.Channel, &kind, &c, &finished, &r.Result, &r.Attempts, &r.Error); err != nil {
			return nil, err
		}
		r.Kind, r.CreatedAt, r.FinishedAt = page.Kind(kind), FromMicros(c), FromNullMicros(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// EnsureHeartbeat creates a heartbeat's row, first seen at at, if missing.
func (db *DB) EnsureHeartbeat(ctx context.Context, name string, at time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO oncall_heartbeats (name, first_seen, last_seen) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, Micros(at), Micros(at))
	return err
}

// Beat records that a heartbeat arrived at at.
func (db *DB) Beat(ctx context.Context, name string, at time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO oncall_heartbeats (name, first_seen, last_seen) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET last_seen = CASE WHEN excluded.last_seen > oncall_heartbeats.last_seen
		THEN excluded.last_seen ELSE oncall_heartbeats.last_seen END`, name, Micros(at), Micros(at))
	return err
}

// Heartbeats lists every heartbeat's state.
func (db *DB) Heartbeats(ctx context.Context) ([]heartbeat.State, error) {
	rows, err := db.Query(ctx, `SELECT name, first_seen, last_seen, late FROM oncall_heartbeats ORDER BY name`)
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
		s.FirstSeen, s.LastSeen, s.Late = FromMicros(f), FromMicros(l), late != 0
		out = append(out, s)
	}
	return out, rows.Err()
}

// SetHeartbeatLate flips a heartbeat's late flag from from to to, only if
// it is still from; it reports whether it did.
func (db *DB) SetHeartbeatLate(ctx context.Context, name string, from, to bool) (bool, error) {
	b := func(v bool) int {
		if v {
			return 1
		}
		return 0
	}
	res, err := db.Exec(ctx, `UPDATE oncall_heartbeats SET late = ? WHERE name = ? AND late = ?`, b(to), name, b(from))
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ClaimHandover claims the announcement of a rota's handover at at.
func (db *DB) ClaimHandover(ctx context.Context, rotaName string, at time.Time, node string, now time.Time) (bool, error) {
	_, err := db.Exec(ctx, `INSERT INTO oncall_handovers (rota, at, node, sent_at) VALUES (?, ?, ?, ?)`, rotaName, Micros(at), node, Micros(now))
	if IsUniqueViolation(err) {
		return false, nil
	}
	return err == nil, err
}
