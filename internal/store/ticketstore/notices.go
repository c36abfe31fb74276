package ticketstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// Outage and maintenance notices and their updates (notices,
// notice_updates): notice.Store.

const noticeCols = `id, kind, title, services, state, public, symptoms, impact, handling_plan, started_at,
	planned_end, next_update_at, ended_at, language, thread_id, ticket_id, created_at, updated_at, created_by,
	withdrawn_at, withdrawn_by`

func scanNotice(s storage.RowScanner) (notice.Notice, error) {
	var (
		n                     notice.Notice
		services              string
		public                int
		started, created, upd int64
		end, next, ended      sql.NullInt64
		withdrawn             sql.NullInt64
	)
	err := s.Scan(&n.ID, &n.Kind, &n.Title, &services, &n.State, &public, &n.Symptoms, &n.Impact, &n.HandlingPlan,
		&started, &end, &next, &ended, &n.Language, &n.ThreadID, &n.TicketID, &created, &upd, &n.CreatedBy,
		&withdrawn, &n.WithdrawnBy)
	if err != nil {
		return n, err
	}
	if err := json.Unmarshal([]byte(services), &n.Services); err != nil {
		return n, fmt.Errorf("notice %d services: %w", n.ID, err)
	}
	n.Public = public == 1
	n.StartedAt, n.CreatedAt, n.UpdatedAt = storage.FromMicros(started), storage.FromMicros(created), storage.FromMicros(upd)
	n.PlannedEnd, n.NextUpdateAt, n.EndedAt = storage.FromNullMicros(end), storage.FromNullMicros(next), storage.FromNullMicros(ended)
	n.WithdrawnAt = storage.FromNullMicros(withdrawn)
	return n, nil
}

func noticeUpdates(ctx context.Context, q storage.Querier, id int64) ([]notice.Update, error) {
	rows, err := q.Query(ctx, `SELECT id, seq, at, actor, kind, tag, state, body, announce, message_id, sent_at,
		attempts, last_error FROM notice_updates WHERE notice_id = ? ORDER BY seq`, id)
	if err != nil {
		return nil, fmt.Errorf("notice %d updates: %w", id, err)
	}
	defer rows.Close()
	var out []notice.Update
	for rows.Next() {
		u := notice.Update{NoticeID: id}
		var (
			at       int64
			announce int
			sent     sql.NullInt64
		)
		if err := rows.Scan(&u.ID, &u.Seq, &at, &u.Actor, &u.Kind, &u.Tag, &u.State, &u.Body, &announce,
			&u.MessageID, &sent, &u.Attempts, &u.LastError); err != nil {
			return nil, err
		}
		u.At, u.SentAt, u.Announce = storage.FromMicros(at), storage.FromNullMicros(sent), announce == 1
		out = append(out, u)
	}
	return out, rows.Err()
}

func getNotice(ctx context.Context, q storage.Querier, id int64, lock bool) (notice.Notice, error) {
	sfx := ""
	if lock {
		sfx = storage.ForUpdate(q)
	}
	n, err := scanNotice(q.QueryRow(ctx, `SELECT `+noticeCols+` FROM notices WHERE id = ?`+sfx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("notice %d: %w", id, storage.NotFound(notice.ErrNotFound))
	}
	if err != nil {
		return n, fmt.Errorf("notice %d: %w", id, err)
	}
	n.Updates, err = noticeUpdates(ctx, q, id)
	return n, err
}

func insertUpdate(ctx context.Context, tx *storage.Tx, id int64, seq int, u notice.Update) error {
	_, err := tx.Exec(ctx, `INSERT INTO notice_updates (notice_id, seq, at, actor, kind, tag, state, body, announce,
		message_id, sent_at, attempts, last_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		id, seq, storage.Micros(u.At), u.Actor, u.Kind, u.Tag, u.State, u.Body, storage.BoolInt(u.Announce), u.MessageID,
		storage.NullMicros(u.SentAt), u.Attempts, u.LastError)
	return err
}

// NoticeCreate implements notice.Store.
func (s *Store) NoticeCreate(ctx context.Context, n notice.Notice, first notice.Update) (notice.Notice, error) {
	services, err := json.Marshal(n.Services)
	if err != nil {
		return n, err
	}
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO notices (kind, title, services, state, public, symptoms, impact,
			handling_plan, started_at, planned_end, next_update_at, ended_at, language, thread_id, ticket_id,
			created_at, updated_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			n.Kind, n.Title, string(services), n.State, storage.BoolInt(n.Public), n.Symptoms, n.Impact, n.HandlingPlan,
			storage.Micros(n.StartedAt), storage.NullMicros(n.PlannedEnd), storage.NullMicros(n.NextUpdateAt), storage.NullMicros(n.EndedAt),
			n.Language, n.ThreadID, n.TicketID, storage.Micros(n.CreatedAt), storage.Micros(n.UpdatedAt), n.CreatedBy).Scan(&n.ID); err != nil {
			return err
		}
		return insertUpdate(ctx, tx, n.ID, 1, first)
	})
	if err != nil {
		return n, fmt.Errorf("create notice: %w", err)
	}
	return s.NoticeGet(ctx, n.ID)
}

// NoticeChange implements notice.Store. A nil update from fn changes nothing.
func (s *Store) NoticeChange(ctx context.Context, id int64, fn func(n *notice.Notice) (*notice.Update, error)) (notice.Notice, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		n, err := getNotice(ctx, tx, id, true)
		if err != nil {
			return err
		}
		u, err := fn(&n)
		if err != nil || u == nil {
			return err
		}
		services, err := json.Marshal(n.Services)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE notices SET title = ?, services = ?, state = ?, public = ?, symptoms = ?,
			impact = ?, handling_plan = ?, started_at = ?, planned_end = ?, next_update_at = ?, ended_at = ?,
			updated_at = ?, withdrawn_at = ?, withdrawn_by = ? WHERE id = ?`, n.Title, string(services), n.State, storage.BoolInt(n.Public), n.Symptoms,
			n.Impact, n.HandlingPlan, storage.Micros(n.StartedAt), storage.NullMicros(n.PlannedEnd), storage.NullMicros(n.NextUpdateAt),
			storage.NullMicros(n.EndedAt), storage.Micros(n.UpdatedAt), storage.NullMicros(n.WithdrawnAt), n.WithdrawnBy, id); err != nil {
			return err
		}
		return insertUpdate(ctx, tx, id, len(n.Updates)+1, *u)
	})
	if err != nil {
		return notice.Notice{}, err
	}
	return s.NoticeGet(ctx, id)
}

// NoticeGet implements notice.Store.
func (s *Store) NoticeGet(ctx context.Context, id int64) (notice.Notice, error) {
	return getNotice(ctx, s.db, id, false)
}

func (s *Store) noticesWhere(ctx context.Context, where string, limit int, args ...any) ([]notice.Notice, error) {
	rows, err := s.db.Query(ctx, `SELECT `+noticeCols+` FROM notices`+where+fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("list notices: %w", err)
	}
	var out []notice.Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if err := s.listUpdates(ctx, out); err != nil {
		return nil, err
	}
	return out, nil
}

// listUpdates fills in the updates of list in one query, not one a notice
// (the notices page lists up to 200).
func (s *Store) listUpdates(ctx context.Context, list []notice.Notice) error {
	if len(list) == 0 {
		return nil
	}
	at := make(map[int64]int, len(list))
	marks, args := make([]string, len(list)), make([]any, len(list))
	for i, n := range list {
		at[n.ID], marks[i], args[i] = i, "?", n.ID
	}
	rows, err := s.db.Query(ctx, `SELECT notice_id, id, seq, at, actor, kind, tag, state, body, announce, message_id, sent_at,
		attempts, last_error FROM notice_updates WHERE notice_id IN (`+strings.Join(marks, ", ")+`) ORDER BY notice_id, seq`, args...)
	if err != nil {
		return fmt.Errorf("notice updates: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			u        notice.Update
			t        int64
			announce int
			sent     sql.NullInt64
		)
		if err := rows.Scan(&u.NoticeID, &u.ID, &u.Seq, &t, &u.Actor, &u.Kind, &u.Tag, &u.State, &u.Body, &announce,
			&u.MessageID, &sent, &u.Attempts, &u.LastError); err != nil {
			return err
		}
		u.At, u.SentAt, u.Announce = storage.FromMicros(t), storage.FromNullMicros(sent), announce == 1
		if i, ok := at[u.NoticeID]; ok {
			list[i].Updates = append(list[i].Updates, u)
		}
	}
	return rows.Err()
}

// NoticeList implements notice.Store.
func (s *Store) NoticeList(ctx context.Context, f notice.Filter) ([]notice.Notice, error) {
	var (
		where []string
		args  []any
	)
	if f.PublicOnly {
		where = append(where, "public = 1 AND withdrawn_at IS NULL")
	}
	if !f.Since.IsZero() {
		where = append(where, "(ended_at IS NULL OR ended_at >= ?)")
		args = append(args, storage.Micros(f.Since))
	}
	if f.Kind != "" {
		where = append(where, "kind = ?")
		args = append(args, f.Kind)
	}
	w := ""
	if len(where) > 0 {
		w = " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	return s.noticesWhere(ctx, w, limit, args...)
}

// NoticeUnsent implements notice.Store.
func (s *Store) NoticeUnsent(ctx context.Context, maxAttempts int) ([]notice.Notice, error) {
	return s.noticesWhere(ctx, ` WHERE withdrawn_at IS NULL AND id IN (SELECT notice_id FROM notice_updates
		WHERE announce = 1 AND sent_at IS NULL AND attempts < ?)`, 100, maxAttempts)
}

// NoticeMarkSent implements notice.Store.
func (s *Store) NoticeMarkSent(ctx context.Context, updateID int64, sentAt time.Time, lastError string) error {
	_, err := s.db.Exec(ctx, `UPDATE notice_updates SET sent_at = ?, last_error = ?, attempts = attempts + 1 WHERE id = ?`,
		storage.NullMicros(sentAt), lastError, updateID)
	if err != nil {
		return fmt.Errorf("notice update %d: %w", updateID, err)
	}
	return nil
}

// The notices as other capabilities read them: the probes' maintenance
// windows and the monthly report's outages.

// MaintenanceNotices returns the maintenance notices, not cancelled nor
// withdrawn, that
// overlap [from, to), oldest first, with their ID, services, start, end and
// planned end (notice.Notice.Window is the time they plan down).
func (s *Store) MaintenanceNotices(ctx context.Context, from, to time.Time) ([]notice.Notice, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (notice.Notice, error) {
		n := notice.Notice{Kind: notice.KindMaintenance}
		var start int64
		var services string
		var end, planned sql.NullInt64
		if err := r.Scan(&n.ID, &services, &start, &end, &planned); err != nil {
			return n, err
		}
		n.Services, n.StartedAt, n.EndedAt, n.PlannedEnd = noticeServices(services), storage.FromMicros(start), storage.FromNullMicros(end), storage.FromNullMicros(planned)
		return n, nil
	}, `SELECT id, services, started_at, ended_at, planned_end FROM notices
		WHERE kind = 'maintenance' AND state <> 'cancelled' AND withdrawn_at IS NULL AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)
		ORDER BY started_at, id`, storage.Micros(to), storage.Micros(from))
	if err != nil {
		return nil, fmt.Errorf("maintenance windows: %w", err)
	}
	return out, nil
}

// OutageNotices returns the outage and maintenance notices, not
// cancelled nor withdrawn, that overlap [from, to), oldest first, with their ID, kind,
// title, services, start, end and planned end.
func (s *Store) OutageNotices(ctx context.Context, from, to time.Time) ([]notice.Notice, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (notice.Notice, error) {
		var n notice.Notice
		var start int64
		var services string
		var end, planned sql.NullInt64
		if err := r.Scan(&n.ID, &n.Kind, &n.Title, &services, &start, &end, &planned); err != nil {
			return n, err
		}
		n.Services, n.StartedAt, n.EndedAt, n.PlannedEnd = noticeServices(services), storage.FromMicros(start), storage.FromNullMicros(end), storage.FromNullMicros(planned)
		return n, nil
	}, `SELECT id, kind, title, services, started_at, ended_at, planned_end FROM notices
		WHERE started_at < ? AND (ended_at IS NULL OR ended_at > ?) AND kind IN ('outage', 'maintenance') AND state <> 'cancelled'
		AND withdrawn_at IS NULL ORDER BY started_at, id`, storage.Micros(to), storage.Micros(from))
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	return out, nil
}

// noticeServices parses a notice's services column (a JSON array, or a
// comma-separated list), each trimmed.
func noticeServices(services string) []string {
	var out []string
	if err := json.Unmarshal([]byte(services), &out); err != nil {
		out = strings.Split(services, ",")
	}
	for i := range out {
		out[i] = strings.TrimSpace(out[i])
	}
	return out
}
