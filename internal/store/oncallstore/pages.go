package oncallstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
)

// The page log (oncall_pages): page.Log, and the members an incident
// paged for incident.Store.

// PagedMembers lists the members a page reached for an incident.
func (s *Store) PagedMembers(ctx context.Context, id int64) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT DISTINCT member FROM oncall_pages
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
func (s *Store) ClaimPage(ctx context.Context, r page.Record) (bool, error) {
	_, err := s.db.Exec(ctx, `INSERT INTO oncall_pages (pkey, incident_id, member, channel, kind, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.Key, r.IncidentID, r.Member, r.Channel, string(r.Kind), storage.Micros(r.CreatedAt))
	if storage.IsUniqueViolation(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim page: %w", err)
	}
	return true, nil
}

// FinishPage records a page's outcome.
func (s *Store) FinishPage(ctx context.Context, key, result string, attempts int, errText string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE oncall_pages SET result = ?, attempts = ?, error = ?, finished_at = ? WHERE pkey = ?`,
		result, attempts, errText, storage.Micros(at), key)
	return err
}

// PagesSince lists pages created at or after since, oldest first.
func (s *Store) PagesSince(ctx context.Context, since time.Time) ([]page.Record, error) {
	rows, err := s.db.Query(ctx, `SELECT pkey, incident_id, member, channel, kind, created_at, finished_at, result, attempts, error
		FROM oncall_pages WHERE created_at >= ? ORDER BY created_at, pkey`, storage.Micros(since))
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
		r.Kind, r.CreatedAt, r.FinishedAt = page.Kind(kind), storage.FromMicros(c), storage.FromNullMicros(finished)
		out = append(out, r)
	}
	return out, rows.Err()
}

// MemberPages returns each member paged for an incident in [from, to), in
// the order they were first paged: a page is one member paged for one
// incident (several channels count once), at the first attempt, with the
// incident's acknowledgement.
func (s *Store) MemberPages(ctx context.Context, from, to time.Time) ([]page.Paged, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (page.Paged, error) {
		var p page.Paged
		var at int64
		var acked sql.NullInt64
		if err := r.Scan(&p.IncidentID, &p.Member, &at, &acked); err != nil {
			return p, err
		}
		p.At, p.IncidentAckedAt = storage.FromMicros(at), storage.FromNullMicros(acked)
		return p, nil
	}, `SELECT p.incident_id, p.member, MIN(p.created_at), MIN(i.acked_at)
		FROM oncall_pages p LEFT JOIN oncall_incidents i ON i.id = p.incident_id
		WHERE p.kind = 'page' AND p.created_at >= ? AND p.created_at < ?
		GROUP BY p.incident_id, p.member ORDER BY MIN(p.created_at)`, storage.Micros(from), storage.Micros(to))
	if err != nil {
		return nil, fmt.Errorf("pages: %w", err)
	}
	return out, nil
}

// IncidentDeliveries lists the page log of an incident, oldest first
// (at most 1000 messages).
func (s *Store) IncidentDeliveries(ctx context.Context, id int64) ([]incident.Delivery, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (incident.Delivery, error) {
		var (
			d        incident.Delivery
			c        int64
			finished sql.NullInt64
		)
		if err := r.Scan(&d.Member, &d.Channel, &d.Kind, &c, &finished, &d.Result, &d.Attempts, &d.Error); err != nil {
			return d, err
		}
		d.At, d.FinishedAt = storage.FromMicros(c), storage.FromNullMicros(finished)
		return d, nil
	}, `SELECT member, channel, kind, created_at, finished_at, result, attempts, error
		FROM oncall_pages WHERE incident_id = ? ORDER BY created_at, pkey LIMIT 1000`, id)
	if err != nil {
		return nil, fmt.Errorf("pages of incident %d: %w", id, err)
	}
	return out, nil
}

// RecentPageResults lists the channel, result and error of at most limit
// pages created at or after since, newest first (the paging health check).
func (s *Store) RecentPageResults(ctx context.Context, since time.Time, limit int) ([]page.Record, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (page.Record, error) {
		var p page.Record
		err := r.Scan(&p.Channel, &p.Result, &p.Error)
		return p, err
	}, `SELECT channel, result, error FROM oncall_pages WHERE created_at >= ? ORDER BY created_at DESC LIMIT ?`, storage.Micros(since), limit)
	if err != nil {
		return nil, fmt.Errorf("recent pages: %w", err)
	}
	return out, nil
}
