package reportstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/reports"
)

// The questions and tips of each period (report_tips): reports.Archive.

// SetTips implements reports.Archive: the period's entries are replaced
// in one transaction.
func (s *Store) SetTips(ctx context.Context, period string, tips []reports.Tip, by string, at time.Time) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM report_tips WHERE period = ?`, period); err != nil {
			return fmt.Errorf("questions and tips of %s: %w", period, err)
		}
		for i, t := range tips {
			if _, err := tx.Exec(ctx, `INSERT INTO report_tips (period, pos, question, answer, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)`,
				period, i, t.Question, t.Answer, storage.Micros(at), by); err != nil {
				return fmt.Errorf("questions and tips of %s: %w", period, err)
			}
		}
		return nil
	})
}

// Tips implements reports.Archive.
func (s *Store) Tips(ctx context.Context, period string) ([]reports.Tip, error) {
	rows, err := s.db.Query(ctx, `SELECT question, answer FROM report_tips WHERE period = ? ORDER BY pos`, period)
	if err != nil {
		return nil, fmt.Errorf("questions and tips of %s: %w", period, err)
	}
	defer rows.Close()
	var out []reports.Tip
	for rows.Next() {
		var t reports.Tip
		if err := rows.Scan(&t.Question, &t.Answer); err != nil {
			return nil, fmt.Errorf("questions and tips of %s: %w", period, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
