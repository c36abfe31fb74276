package ticketstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// Counts of open tickets and of met and breached clocks, which the
// ticket metrics read at scrape time.

// TicketCounts implements tickets.Store.
func (s *Store) TicketCounts(ctx context.Context) ([]tickets.Count, error) {
	rows, err := s.db.Query(ctx, `SELECT service, severity, state, COUNT(*) FROM tickets WHERE state <> 'closed'
		GROUP BY service, severity, state ORDER BY service, severity, state`)
	if err != nil {
		return nil, fmt.Errorf("count tickets: %w", err)
	}
	defer rows.Close()
	var out []tickets.Count
	for rows.Next() {
		var c tickets.Count
		if err := rows.Scan(&c.Service, &c.Severity, &c.State, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// TicketCompliance implements tickets.Store.
func (s *Store) TicketCompliance(ctx context.Context, since time.Time) ([]tickets.Compliance, error) {
	rows, err := s.db.Query(ctx, `SELECT t.policy, c.kind,
		SUM(CASE WHEN c.status = 'met' THEN 1 ELSE 0 END),
		SUM(CASE WHEN c.status = 'breached' THEN 1 ELSE 0 END)
		FROM ticket_clocks c JOIN tickets t ON t.id = c.ticket_id
		WHERE t.notified_at >= ? AND c.status IN ('met', 'breached')
		GROUP BY t.policy, c.kind ORDER BY t.policy, c.kind`, storage.Micros(since))
	if err != nil {
		return nil, fmt.Errorf("SLA compliance: %w", err)
	}
	defer rows.Close()
	var out []tickets.Compliance
	for rows.Next() {
		var c tickets.Compliance
		if err := rows.Scan(&c.Policy, &c.Clock, &c.Met, &c.Breached); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
