package txlogstore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/internal/storage"
)

var _ abusedetect.History = (*Store)(nil)

// LoadKnownAddresses returns every address abuse detection remembers.
func (s *Store) LoadKnownAddresses(ctx context.Context) ([]abusedetect.KnownAddress, error) {
	rows, err := s.db.Query(ctx, `SELECT account, address, first_seen, last_seen FROM abuse_known_addresses`)
	if err != nil {
		return nil, fmt.Errorf("load known addresses: %w", err)
	}
	defer rows.Close()
	var out []abusedetect.KnownAddress
	for rows.Next() {
		var a abusedetect.KnownAddress
		var first, last int64
		if err := rows.Scan(&a.Account, &a.Address, &first, &last); err != nil {
			return nil, fmt.Errorf("load known addresses: %w", err)
		}
		a.FirstSeen, a.LastSeen = storage.FromMicros(first), storage.FromMicros(last)
		out = append(out, a)
	}
	return out, rows.Err()
}

// SaveKnownAddresses stores addresses; one already stored keeps the
// earlier first and the later last sighting.
func (s *Store) SaveKnownAddresses(ctx context.Context, addrs []abusedetect.KnownAddress) error {
	if len(addrs) == 0 {
		return nil
	}
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		for _, a := range addrs {
			_, err := tx.Exec(ctx, `INSERT INTO abuse_known_addresses (account, address, first_seen, last_seen) VALUES (?, ?, ?, ?)
				ON CONFLICT (account, address) DO UPDATE SET
				first_seen = CASE WHEN excluded.first_seen < abuse_known_addresses.first_seen THEN excluded.first_seen ELSE abuse_known_addresses.first_seen END,
				last_seen = CASE WHEN excluded.last_seen > abuse_known_addresses.last_seen THEN excluded.last_seen ELSE abuse_known_addresses.last_seen END`,
				a.Account, a.Address, storage.Micros(a.FirstSeen), storage.Micros(a.LastSeen))
			if err != nil {
				return fmt.Errorf("save known address: %w", err)
			}
		}
		return nil
	})
}

// ForgetKnownAddresses removes the addresses last seen before a time.
func (s *Store) ForgetKnownAddresses(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.Exec(ctx, `DELETE FROM abuse_known_addresses WHERE last_seen < ?`, storage.Micros(before))
	if err != nil {
		return 0, fmt.Errorf("forget known addresses: %w", err)
	}
	return res.RowsAffected()
}
