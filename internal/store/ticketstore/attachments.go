package ticketstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// Ticket attachments (ticket_attachments).

var _ tickets.AttachmentStore = (*Store)(nil)

const attCols = `id, ticket_id, name, content_type, size, sha256, at, sender, scan`

func scanAtt(r storage.RowScanner, extra ...any) (tickets.Attachment, error) {
	var (
		a  tickets.Attachment
		at int64
	)
	err := r.Scan(append([]any{&a.ID, &a.TicketID, &a.Name, &a.ContentType, &a.Size, &a.SHA256, &at, &a.From, &a.Scan}, extra...)...)
	a.At = storage.FromMicros(at)
	return a, err
}

// TicketAddAttachment implements tickets.AttachmentStore: the sum of the
// ticket's sizes is checked in the same transaction as the insert, under
// the ticket's row lock.
func (s *Store) TicketAddAttachment(ctx context.Context, a tickets.Attachment, data []byte, maxTotal int64) (tickets.Attachment, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := getTicket(ctx, tx, a.TicketID, true); err != nil {
			return err
		}
		var total sql.NullInt64
		if err := tx.QueryRow(ctx, `SELECT SUM(size) FROM ticket_attachments WHERE ticket_id = ?`, a.TicketID).Scan(&total); err != nil {
			return err
		}
		if total.Int64+int64(len(data)) > maxTotal {
			return tickets.ErrAttachmentsFull
		}
		return tx.QueryRow(ctx, `INSERT INTO ticket_attachments (ticket_id, name, content_type, size, sha256, at, sender, scan, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, a.TicketID, a.Name, a.ContentType, a.Size, a.SHA256, storage.Micros(a.At),
			a.From, a.Scan, data).Scan(&a.ID)
	})
	return a, err
}

// TicketAttachments implements tickets.AttachmentStore.
func (s *Store) TicketAttachments(ctx context.Context, ticketID int64) ([]tickets.Attachment, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (tickets.Attachment, error) { return scanAtt(r) },
		`SELECT `+attCols+` FROM ticket_attachments WHERE ticket_id = ? ORDER BY id`, ticketID)
	if out == nil {
		out = []tickets.Attachment{}
	}
	return out, err
}

// TicketAttachment implements tickets.AttachmentStore.
func (s *Store) TicketAttachment(ctx context.Context, id int64) (tickets.Attachment, []byte, error) {
	var data []byte
	a, err := scanAtt(s.db.QueryRow(ctx, `SELECT `+attCols+`, data FROM ticket_attachments WHERE id = ?`, id), &data)
	if errors.Is(err, sql.ErrNoRows) {
		return a, nil, fmt.Errorf("attachment %d: %w", id, storage.NotFound(tickets.ErrNotFound))
	}
	return a, data, err
}
