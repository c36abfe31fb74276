package ticketstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
)

// Frozen SLA policy versions (sla_policies): the copy a ticket's clocks run on.

// TicketSavePolicy implements tickets.Store.
func (s *Store) TicketSavePolicy(ctx context.Context, name, version string, spec []byte, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO sla_policies (version, name, spec, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (version) DO NOTHING`, version, name, string(spec), storage.Micros(at))
	if err != nil {
		return fmt.Errorf("save SLA policy %s: %w", version, err)
	}
	return nil
}

// TicketPolicy implements tickets.Store.
func (s *Store) TicketPolicy(ctx context.Context, version string) ([]byte, error) {
	var spec string
	err := s.db.QueryRow(ctx, `SELECT spec FROM sla_policies WHERE version = ?`, version).Scan(&spec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("SLA policy %s: %w", version, storage.ErrNotFound)
	}
	return []byte(spec), err
}
