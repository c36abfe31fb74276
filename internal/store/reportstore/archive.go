package reportstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/reports"
)

// The report archive (report_archive) and the comments of the periods
// (report_comments): reports.Archive.

// PutReport implements reports.Archive: one row per period (the primary
// key), so that two replicas generating the same period store one report.
func (s *Store) PutReport(ctx context.Context, a reports.Archived, replace bool) (bool, error) {
	args := []any{a.Period, storage.Micros(a.Start), storage.Micros(a.End), a.Lang, storage.Micros(a.GeneratedAt), a.GeneratedBy, a.Comment,
		a.PDFEngine, nonNil(a.HTML), nonNil(a.PDF), nonNil(a.CSV), nonNil(a.Model)}
	q := `INSERT INTO report_archive (period, period_start, period_end, lang, generated_at, generated_by, comment,
		pdf_engine, html, pdf, csv, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (period) DO NOTHING`
	if replace {
		q = `INSERT INTO report_archive (period, period_start, period_end, lang, generated_at, generated_by, comment,
		pdf_engine, html, pdf, csv, model) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (period) DO UPDATE SET
		period_start = excluded.period_start, period_end = excluded.period_end, lang = excluded.lang,
		generated_at = excluded.generated_at, generated_by = excluded.generated_by, comment = excluded.comment,
		pdf_engine = excluded.pdf_engine, html = excluded.html, pdf = excluded.pdf, csv = excluded.csv, model = excluded.model`
	}
	res, err := s.db.Exec(ctx, q, args...)
	if err != nil {
		return false, fmt.Errorf("archive report %s: %w", a.Period, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const archiveCols = `period, period_start, period_end, lang, generated_at, generated_by, comment, pdf_engine, sent_at, sent_to`

func scanArchived(sc interface{ Scan(...any) error }, extra ...any) (reports.Archived, error) {
	var a reports.Archived
	var start, end, gen int64
	var sent sql.NullInt64
	dest := append([]any{&a.Period, &start, &end, &a.Lang, &gen, &a.GeneratedBy, &a.Comment, &a.PDFEngine, &sent, &a.SentTo}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return a, err
	}
	a.Start, a.End, a.GeneratedAt, a.SentAt = storage.FromMicros(start), storage.FromMicros(end), storage.FromMicros(gen), storage.FromNullMicros(sent)
	return a, nil
}

// GetReport implements reports.Archive.
func (s *Store) GetReport(ctx context.Context, period string, bodies bool) (reports.Archived, error) {
	if !bodies {
		a, err := scanArchived(s.db.QueryRow(ctx, `SELECT `+archiveCols+` FROM report_archive WHERE period = ?`, period))
		if errors.Is(err, sql.ErrNoRows) {
			return a, fmt.Errorf("report %s: %w", period, reports.ErrNotArchived)
		}
		return a, err
	}
	var html, pdf, csv, model []byte
	a, err := scanArchived(s.db.QueryRow(ctx, `SELECT `+archiveCols+`, html, pdf, csv, model FROM report_archive WHERE period = ?`, period),
		&html, &pdf, &csv, &model)
	if errors.Is(err, sql.ErrNoRows) {
		return a, fmt.Errorf("report %s: %w", period, reports.ErrNotArchived)
	}
	a.HTML, a.PDF, a.CSV, a.Model = html, pdf, csv, model
	return a, err
}

// ListReports implements reports.Archive.
func (s *Store) ListReports(ctx context.Context, limit int) ([]reports.Archived, error) {
	if limit <= 0 {
		limit = 120
	}
	rows, err := s.db.Query(ctx, `SELECT `+archiveCols+` FROM report_archive ORDER BY period_start DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	defer rows.Close()
	var out []reports.Archived
	for rows.Next() {
		a, err := scanArchived(rows)
		if err != nil {
			return nil, fmt.Errorf("list reports: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// ClaimSend implements reports.Archive with one conditional UPDATE: only
// one replica can move the row from unclaimed (or stale) to claimed.
func (s *Store) ClaimSend(ctx context.Context, period, node string, now, staleBefore time.Time) (bool, error) {
	res, err := s.db.Exec(ctx, `UPDATE report_archive SET send_claimed_at = ?, send_claimed_by = ?
		WHERE period = ? AND sent_at IS NULL AND (send_claimed_at IS NULL OR send_claimed_at < ?)`,
		storage.Micros(now), node, period, storage.Micros(staleBefore))
	if err != nil {
		return false, fmt.Errorf("claim sending of report %s: %w", period, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// MarkSent implements reports.Archive.
func (s *Store) MarkSent(ctx context.Context, period, to string, at time.Time) error {
	res, err := s.db.Exec(ctx, `UPDATE report_archive SET sent_at = ?, sent_to = ?, send_claimed_at = NULL WHERE period = ?`,
		storage.Micros(at), to, period)
	if err != nil {
		return fmt.Errorf("mark report %s sent: %w", period, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("report %s: %w", period, reports.ErrNotArchived)
	}
	return nil
}

// ReleaseSend implements reports.Archive.
func (s *Store) ReleaseSend(ctx context.Context, period string) error {
	_, err := s.db.Exec(ctx, `UPDATE report_archive SET send_claimed_at = NULL, send_claimed_by = '', sent_at = NULL, sent_to = ''
		WHERE period = ?`, period)
	if err != nil {
		return fmt.Errorf("release report %s: %w", period, err)
	}
	return nil
}

// SetComment implements reports.Archive. The comment of an archived
// report is updated too, so that a resend or a download carries it once
// the report is regenerated.
func (s *Store) SetComment(ctx context.Context, period, comment, by string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO report_comments (period, comment, updated_at, updated_by) VALUES (?, ?, ?, ?)
		ON CONFLICT (period) DO UPDATE SET comment = excluded.comment, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		period, comment, storage.Micros(at), by)
	if err != nil {
		return fmt.Errorf("comment on report %s: %w", period, err)
	}
	return nil
}

// Comment implements reports.Archive.
func (s *Store) Comment(ctx context.Context, period string) (string, error) {
	var c string
	err := s.db.QueryRow(ctx, `SELECT comment FROM report_comments WHERE period = ?`, period).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("comment on report %s: %w", period, err)
	}
	return c, nil
}
