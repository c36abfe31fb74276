package ticketstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// The Message-IDs of a ticket's mail (ticket_messages), which thread
// replies into it.

// TicketByMessageID implements tickets.Store.
func (s *Store) TicketByMessageID(ctx context.Context, messageID string) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT ticket_id FROM ticket_messages WHERE message_id = ?`, messageID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, tickets.ErrNotFound
	}
	return id, err
}

// TicketAddMessageIDs implements tickets.Store.
func (s *Store) TicketAddMessageIDs(ctx context.Context, id int64, messageIDs []string, at time.Time) error {
	for _, m := range messageIDs {
		if _, err := s.db.Exec(ctx, `INSERT INTO ticket_messages (message_id, ticket_id, at) VALUES (?, ?, ?)
			ON CONFLICT (message_id) DO NOTHING`, m, id, storage.Micros(at)); err != nil {
			return fmt.Errorf("ticket %d message ID: %w", id, err)
		}
	}
	return nil
}
