package oncallstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// Incidents, their alerts and timelines (oncall_incidents, oncall_incident_alerts,
// oncall_incident_events): incident.Store.

const incidentCols = `id, ikey, source, title, summary, severity, status, policy, round, step, round_start, next_at,
	opened_at, acked_at, acked_by, resolved_at, resolved_by, ticket_id, labels, external_url, updated_at, assignee`

func scanIncident(s storage.RowScanner) (incident.Incident, error) {
	var (
		inc                     incident.Incident
		status, labels          string
		roundStart, opened, upd int64
		next, acked, resolved   sql.NullInt64
	)
	err := s.Scan(&inc.ID, &inc.Key, &inc.Source, &inc.Title, &inc.Summary, &inc.Severity, &status, &inc.Policy,
		&inc.State.Round, &inc.State.Step, &roundStart, &next, &opened, &acked, &inc.AckedBy, &resolved, &inc.ResolvedBy,
		&inc.TicketID, &labels, &inc.ExternalURL, &upd, &inc.Assignee)
	if err != nil {
		return inc, err
	}
	inc.Status = incident.Status(status)
	inc.State.RoundStart, inc.NextAt, inc.OpenedAt = storage.FromMicros(roundStart), storage.FromNullMicros(next), storage.FromMicros(opened)
	inc.AckedAt, inc.ResolvedAt, inc.UpdatedAt = storage.FromNullMicros(acked), storage.FromNullMicros(resolved), storage.FromMicros(upd)
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
func (s *Store) CreateIncident(ctx context.Context, inc incident.Incident) (incident.Incident, error) {
	err := s.db.QueryRow(ctx, `INSERT INTO oncall_incidents (ikey, source, title, summary, severity, status, policy, round, step,
		round_start, next_at, opened_at, labels, external_url, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		inc.Key, inc.Source, inc.Title, inc.Summary, inc.Severity, string(inc.Status), inc.Policy, inc.State.Round, inc.State.Step,
		storage.Micros(inc.State.RoundStart), storage.NullMicros(inc.NextAt), storage.Micros(inc.OpenedAt), jsonMap(inc.Labels), inc.ExternalURL, storage.Micros(inc.UpdatedAt)).Scan(&inc.ID)
	if err != nil {
		if storage.IsUniqueViolation(err) {
			return inc, fmt.Errorf("create incident %s: %w", inc.Key, errors.Join(storage.ErrConflict, incident.ErrConflict))
		}
		return inc, fmt.Errorf("create incident: %w", err)
	}
	return inc, nil
}

// OpenIncidentByKey returns the unresolved incident with key.
func (s *Store) OpenIncidentByKey(ctx context.Context, key string) (incident.Incident, error) {
	inc, err := scanIncident(s.db.QueryRow(ctx, `SELECT `+incidentCols+` FROM oncall_incidents WHERE ikey = ? AND status <> 'resolved'`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, notFound("incident "+key, incident.ErrNotFound)
	}
	return inc, err
}

// GetIncident returns an incident with its alerts.
func (s *Store) GetIncident(ctx context.Context, id int64) (incident.Incident, error) {
	inc, err := scanIncident(s.db.QueryRow(ctx, `SELECT `+incidentCols+` FROM oncall_incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return inc, notFound(fmt.Sprintf("incident %d", id), incident.ErrNotFound)
	}
	if err != nil {
		return inc, err
	}
	rows, err := s.db.Query(ctx, `SELECT fingerprint, status, labels, annotations, starts_at, ends_at
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
		a.StartsAt, a.EndsAt = storage.FromMicros(s), storage.FromMicros(e)
		inc.Alerts = append(inc.Alerts, a)
	}
	return inc, rows.Err()
}

// ListIncidents lists incidents, newest first.
func (s *Store) ListIncidents(ctx context.Context, f incident.Filter) ([]incident.Incident, error) {
	q := `SELECT ` + incidentCols + ` FROM oncall_incidents WHERE opened_at >= ?`
	args := []any{storage.Micros(f.Since)}
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
	out, err := storage.QueryAll(ctx, s.db, scanIncident, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	return out, nil
}

// UpsertAlerts stores alerts of an incident by fingerprint.
func (s *Store) UpsertAlerts(ctx context.Context, id int64, alerts []incident.Alert, now time.Time) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		for _, a := range alerts {
			_, err := tx.Exec(ctx, `INSERT INTO oncall_incident_alerts (incident_id, fingerprint, status, labels, annotations, starts_at, ends_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (incident_id, fingerprint) DO UPDATE SET status = excluded.status, labels = excluded.labels,
				annotations = excluded.annotations, starts_at = excluded.starts_at, ends_at = excluded.ends_at, updated_at = excluded.updated_at`,
				id, a.Fingerprint, a.Status, jsonMap(a.Labels), jsonMap(a.Annotations), storage.Micros(a.StartsAt), storage.Micros(a.EndsAt), storage.Micros(now))
			if err != nil {
				return fmt.Errorf("upsert alert %s: %w", a.Fingerprint, err)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE oncall_incidents SET updated_at = ? WHERE id = ?`, storage.Micros(now), id)
		return err
	})
}

// DueIncidents lists triggered incidents with a timer at or before now.
func (s *Store) DueIncidents(ctx context.Context, now time.Time, limit int) ([]incident.Incident, error) {
	out, err := storage.QueryAll(ctx, s.db, scanIncident, `SELECT `+incidentCols+` FROM oncall_incidents
		WHERE status = 'triggered' AND next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT `+fmt.Sprint(max(limit, 1)), storage.Micros(now))
	if err != nil {
		return nil, fmt.Errorf("due incidents: %w", err)
	}
	return out, nil
}

// AdvanceIncident moves the escalation state with a conditional UPDATE.
func (s *Store) AdvanceIncident(ctx context.Context, id int64, from, to incident.State, nextAt, now time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE oncall_incidents SET round = ?, step = ?, round_start = ?, next_at = ?, updated_at = ?
		WHERE id = ? AND status = 'triggered' AND round = ? AND step = ?`,
		to.Round, to.Step, storage.Micros(to.RoundStart), storage.NullMicros(nextAt), storage.Micros(now), id, from.Round, from.Step)
	if err != nil {
		return false, fmt.Errorf("advance incident %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AckIncident acknowledges a triggered incident.
func (s *Store) AckIncident(ctx context.Context, id int64, by string, at time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE oncall_incidents SET status = 'acknowledged', acked_at = ?, acked_by = ?, next_at = NULL, updated_at = ?
		WHERE id = ? AND status = 'triggered'`, storage.Micros(at), by, storage.Micros(at), id)
	if err != nil {
		return false, fmt.Errorf("ack incident %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		if _, err := s.GetIncident(ctx, id); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

// ResolveIncident resolves an unresolved incident.
func (s *Store) ResolveIncident(ctx context.Context, id int64, by string, at time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE oncall_incidents SET status = 'resolved', resolved_at = ?, resolved_by = ?, next_at = NULL, updated_at = ?
		WHERE id = ? AND status <> 'resolved'`, storage.Micros(at), by, storage.Micros(at), id)
	if err != nil {
		return false, fmt.Errorf("resolve incident %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		if _, err := s.GetIncident(ctx, id); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

// SetIncidentTicket records the fault ticket of an incident.
func (s *Store) SetIncidentTicket(ctx context.Context, id int64, ticketID string) error {
	_, err := s.db.Exec(ctx, `UPDATE oncall_incidents SET ticket_id = ? WHERE id = ?`, ticketID, id)
	return err
}

// AddIncidentEvent appends to an incident's timeline.
func (s *Store) AddIncidentEvent(ctx context.Context, e incident.Event) error {
	_, err := s.db.Exec(ctx, `INSERT INTO oncall_incident_events (incident_id, at, kind, actor, detail) VALUES (?, ?, ?, ?, ?)`,
		e.IncidentID, storage.Micros(e.At), e.Kind, e.Actor, e.Detail)
	return err
}

// IncidentEvents returns an incident's timeline, oldest first.
func (s *Store) IncidentEvents(ctx context.Context, id int64) ([]incident.Event, error) {
	rows, err := s.db.Query(ctx, `SELECT incident_id, at, kind, actor, detail FROM oncall_incident_events WHERE incident_id = ? ORDER BY id`, id)
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
		e.At = storage.FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// SetIncidentAssignee names the owner of an unresolved incident.
func (s *Store) SetIncidentAssignee(ctx context.Context, id int64, member string, at time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE oncall_incidents SET assignee = ?, updated_at = ? WHERE id = ? AND status <> 'resolved'`,
		member, storage.Micros(at), id)
	if err != nil {
		return false, fmt.Errorf("reassign incident %d: %w", id, err)
	}
	n, _ := res.RowsAffected()
	if n == 0 {
		if _, err := s.GetIncident(ctx, id); err != nil {
			return false, err
		}
	}
	return n == 1, nil
}

// CountIncidents counts incidents by status.
func (s *Store) CountIncidents(ctx context.Context) (map[incident.Status]int, error) {
	rows, err := s.db.Query(ctx, `SELECT status, COUNT(*) FROM oncall_incidents WHERE status <> 'resolved' GROUP BY status`)
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

// CriticalIncidents returns the critical incidents not raised by the
// probes (the probes' own down time is measured, not counted again) that
// were open at some time in [from, to): their ID, title, labels, and when
// they were opened and resolved. The monthly report takes those labelled
// with a service as outages.
func (s *Store) CriticalIncidents(ctx context.Context, from, to time.Time) ([]incident.Incident, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (incident.Incident, error) {
		var inc incident.Incident
		var opened int64
		var labels string
		var resolved sql.NullInt64
		if err := r.Scan(&inc.ID, &inc.Title, &labels, &opened, &resolved); err != nil {
			return inc, err
		}
		_ = json.Unmarshal([]byte(labels), &inc.Labels)
		inc.Severity, inc.OpenedAt, inc.ResolvedAt = incident.SeverityCritical, storage.FromMicros(opened), storage.FromNullMicros(resolved)
		return inc, nil
	}, `SELECT id, title, labels, opened_at, resolved_at FROM oncall_incidents
		WHERE severity = 'critical' AND source <> 'probe' AND opened_at < ? AND (resolved_at IS NULL OR resolved_at > ?)`, storage.Micros(to), storage.Micros(from))
	if err != nil {
		return nil, fmt.Errorf("incidents: %w", err)
	}
	return out, nil
}
