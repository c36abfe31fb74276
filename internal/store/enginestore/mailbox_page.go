package enginestore

import (
	"context"
	"fmt"
	"strings"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
)

// DirMailboxPage returns one page of mailboxes in address order whose
// address, nickname or display name contains q (case-insensitive; "" all),
// only locked ones when locked, and how many match in all. The search and
// the paging run in the database, so a page of a large directory does not
// read every mailbox.
func (s *Store) DirMailboxPage(ctx context.Context, q string, locked bool, offset, limit int) ([]directory.Mailbox, int, error) {
	where, args := "1 = 1", []any{}
	if q = strings.ToLower(strings.TrimSpace(q)); q != "" {
		pat := "%" + storage.LikeEscaper.Replace(q) + "%"
		where += ` AND (lower(address) LIKE ? ESCAPE '\' OR lower(nickname) LIKE ? ESCAPE '\' OR lower(display_name) LIKE ? ESCAPE '\')`
		args = append(args, pat, pat, pat)
	}
	if locked {
		where += " AND locked = ?"
		args = append(args, true)
	}
	var total int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM engine_mailboxes WHERE `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("mailbox search: %w", err)
	}
	page, err := storage.QueryAll(ctx, s.db, scanMailbox, `SELECT `+mailboxCols+` FROM engine_mailboxes WHERE `+where+` ORDER BY address LIMIT ? OFFSET ?`,
		append(args, limit, offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("mailbox search: %w", err)
	}
	return page, total, nil
}
