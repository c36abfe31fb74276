package txlogstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// TopDomains returns the n busiest domains of external mail in [from, to)
// by message count: the sender domains of mail received from outside
// (mail_messages, inbound) and the recipient domains of mail delivered
// outside (mail_tx, outbound and sent, hand-offs to a filter left out),
// lower-cased, busiest first.
func (s *Store) TopDomains(ctx context.Context, from, to time.Time, n int) (senders, recipients []txlog.DomainCount, err error) {
	dom := func(col string) string {
		if s.db.Dialect() == storage.Postgres {
			return "lower(split_part(" + col + ", '@', 2))"
		}
		return "lower(substr(" + col + ", instr(" + col + ", '@') + 1))"
	}
	query := func(q string) ([]txlog.DomainCount, error) {
		rows, err := s.db.Query(ctx, q, storage.Micros(from), storage.Micros(to), n)
		if err != nil {
			return nil, fmt.Errorf("top domains: %w", err)
		}
		defer rows.Close()
		var out []txlog.DomainCount
		for rows.Next() {
			var d txlog.DomainCount
			if err := rows.Scan(&d.Domain, &d.Count); err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, rows.Err()
	}
	senders, err = query(`SELECT ` + dom("mail_from") + ` AS d, COUNT(*) AS n FROM mail_messages
		WHERE ts >= ? AND ts < ? AND direction = 'inbound' AND mail_from LIKE '%@%'
		GROUP BY d ORDER BY n DESC, d LIMIT ?`)
	if err != nil {
		return nil, nil, err
	}
	recipients, err = query(`SELECT ` + dom("rcpt") + ` AS d, COUNT(*) AS n FROM mail_tx
		WHERE ts >= ? AND ts < ? AND direction = 'outbound' AND status = 'sent' AND handoff = 0 AND rcpt LIKE '%@%'
		GROUP BY d ORDER BY n DESC, d LIMIT ?`)
	return senders, recipients, err
}
