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
		// SQLite's LIKE ignores ASCII case, as lower() folds only ASCII
		// there; PostgreSQL's ILIKE folds by the locale, as its lower().
		like := "LIKE"
		if s.db.Dialect() == storage.Postgres {
			like = "ILIKE"
		}
		where += ` AND (address ` + like + ` ? ESCAPE '\' OR nickname ` + like + ` ? ESCAPE '\' OR display_name ` + like + ` ? ESCAPE '\')`
		args = append(args, pat, pat, pat)
	}
	if locked {
		where += " AND locked = ?"
		args = append(args, true)
	}
	total := 0
	if where == "1 = 1" { // no filter: the count and the page each walk an index
		if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM engine_mailboxes`).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("mailbox search: %w", err)
		}
		page, err := storage.QueryAll(ctx, s.db, scanMailbox, `SELECT `+mailboxCols+` FROM engine_mailboxes ORDER BY address LIMIT ? OFFSET ?`, limit, offset)
		if err != nil {
			return nil, 0, fmt.Errorf("mailbox search: %w", err)
		}
		return page, total, nil
	}
	// A filter scans the table once: each match carries the count of all
	// and its place in address order, and the first match comes along
	// with the page, so a page past the end still has the count.
	var places []int64
	rows, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (directory.Mailbox, error) {
		var rn int64
		m, err := scanMailboxCounted(r, &total, &rn)
		places = append(places, rn)
		return m, err
	}, `SELECT `+mailboxCols+`, n, rn FROM (SELECT `+mailboxCols+`, COUNT(*) OVER () AS n, ROW_NUMBER() OVER (ORDER BY address) AS rn
		FROM engine_mailboxes WHERE `+where+`) hits WHERE rn = 1 OR (rn > ? AND rn <= ?) ORDER BY rn`,
		append(args, offset, offset+limit)...)
	if err != nil {
		return nil, 0, fmt.Errorf("mailbox search: %w", err)
	}
	page := rows[:0]
	for i, m := range rows {
		if places[i] > int64(offset) {
			page = append(page, m)
		}
	}
	return page, total, nil
}

// scanMailboxCounted scans a mailbox row followed by a count and a row
// number.
func scanMailboxCounted(r storage.RowScanner, count *int, rn *int64) (directory.Mailbox, error) {
	var m directory.Mailbox
	var created, updated int64
	err := r.Scan(&m.ID, &m.Address, &m.Nickname, &m.DisplayName, &m.QuotaBytes, &m.UsedBytes, &m.ForwardTo,
		&m.KeepCopy, &m.ExternalForwardAllowed, &m.PasswordHash, &m.Locked, &m.LockedReason, &created, &updated, count, rn)
	m.CreatedAt, m.UpdatedAt = storage.FromMicros(created), storage.FromMicros(updated)
	return m, err
}
