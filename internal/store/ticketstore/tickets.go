package ticketstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// Fault tickets with their links, SLA clocks and timelines (tickets,
// ticket_links, ticket_clocks, ticket_events).

const ticketCols = `id, title, service, severity, source, reporter, reporter_email, assignee, state, symptoms,
	handling_plan, language, policy, policy_version, notified_at, opened_at, updated_at, responded_at,
	resolved_at, closed_at, last_reminder_at`

func scanTicket(s storage.RowScanner) (tickets.Ticket, error) {
	var (
		t                                  tickets.Ticket
		notified, opened, updated          int64
		responded, resolved, closed, remin sql.NullInt64
	)
	err := s.Scan(&t.ID, &t.Title, &t.Service, &t.Severity, &t.Source, &t.Reporter, &t.ReporterEmail,
		&t.Assignee, &t.State, &t.Symptoms, &t.HandlingPlan, &t.Language, &t.Policy, &t.PolicyVersion,
		&notified, &opened, &updated, &responded, &resolved, &closed, &remin)
	if err != nil {
		return t, err
	}
	t.NotifiedAt, t.OpenedAt, t.UpdatedAt = storage.FromMicros(notified), storage.FromMicros(opened), storage.FromMicros(updated)
	t.RespondedAt, t.ResolvedAt = storage.FromNullMicros(responded), storage.FromNullMicros(resolved)
	t.ClosedAt, t.LastReminderAt = storage.FromNullMicros(closed), storage.FromNullMicros(remin)
	t.Links, t.Clocks = []tickets.Link{}, []tickets.Clock{}
	return t, nil
}

func ticketExtras(ctx context.Context, q storage.Querier, t *tickets.Ticket) error {
	rows, err := q.Query(ctx, `SELECT kind, ref, title FROM ticket_links WHERE ticket_id = ? ORDER BY kind, ref`, t.ID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var l tickets.Link
		if err := rows.Scan(&l.Kind, &l.Ref, &l.Title); err != nil {
			rows.Close()
			return err
		}
		t.Links = append(t.Links, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.Query(ctx, `SELECT kind, status, inside_hours, target_us, start_at, due_at, stopped_at, raw_us,
		business_us, counted_us, paused_us, percent, warned_at, breached_at, updated_at
		FROM ticket_clocks WHERE ticket_id = ?`, t.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			c                                  tickets.Clock
			inside                             int
			target, start, raw, bus, cnt, paus int64
			updated                            int64
			due, stopped, warned, breached     sql.NullInt64
		)
		if err := rows.Scan(&c.Kind, &c.Status, &inside, &target, &start, &due, &stopped, &raw, &bus, &cnt, &paus,
			&c.Percent, &warned, &breached, &updated); err != nil {
			return err
		}
		us := func(v int64) time.Duration { return time.Duration(v) * time.Microsecond }
		c.InsideHours = inside == 1
		c.Target, c.Raw, c.Business, c.Counted, c.Paused = us(target), us(raw), us(bus), us(cnt), us(paus)
		c.Start, c.Due, c.Stopped = storage.FromMicros(start), storage.FromNullMicros(due), storage.FromNullMicros(stopped)
		c.WarnedAt, c.BreachedAt, c.UpdatedAt = storage.FromNullMicros(warned), storage.FromNullMicros(breached), storage.FromMicros(updated)
		t.Clocks = append(t.Clocks, c)
	}
	return rows.Err()
}

func writeTicketExtras(ctx context.Context, tx *storage.Tx, t tickets.Ticket) error {
	if _, err := tx.Exec(ctx, `DELETE FROM ticket_links WHERE ticket_id = ?`, t.ID); err != nil {
		return err
	}
	for _, l := range t.Links {
		if _, err := tx.Exec(ctx, `INSERT INTO ticket_links (ticket_id, kind, ref, title) VALUES (?, ?, ?, ?)
			ON CONFLICT (ticket_id, kind, ref) DO NOTHING`, t.ID, l.Kind, l.Ref, l.Title); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM ticket_clocks WHERE ticket_id = ?`, t.ID); err != nil {
		return err
	}
	for _, c := range t.Clocks {
		if _, err := tx.Exec(ctx, `INSERT INTO ticket_clocks (ticket_id, kind, status, inside_hours, target_us, start_at,
			due_at, stopped_at, raw_us, business_us, counted_us, paused_us, percent, warned_at, breached_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			t.ID, c.Kind, c.Status, storage.BoolInt(c.InsideHours), c.Target.Microseconds(), storage.Micros(c.Start),
			storage.NullMicros(c.Due), storage.NullMicros(c.Stopped), c.Raw.Microseconds(), c.Business.Microseconds(),
			c.Counted.Microseconds(), c.Paused.Microseconds(), c.Percent, storage.NullMicros(c.WarnedAt),
			storage.NullMicros(c.BreachedAt), storage.Micros(c.UpdatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func insertEvents(ctx context.Context, tx *storage.Tx, id int64, evs []tickets.Event) error {
	for _, e := range evs {
		if _, err := tx.Exec(ctx, `INSERT INTO ticket_events (ticket_id, at, actor, kind, from_state, to_state, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, storage.Micros(e.At), e.Actor, e.Kind, e.FromState, e.ToState, e.Body); err != nil {
			return err
		}
	}
	return nil
}

// TicketCreate implements tickets.Store.
func (s *Store) TicketCreate(ctx context.Context, t tickets.Ticket, events []tickets.Event) (tickets.Ticket, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO tickets (title, service, severity, source, reporter, reporter_email,
			assignee, state, symptoms, handling_plan, language, policy, policy_version, notified_at, opened_at,
			updated_at, responded_at, resolved_at, closed_at, last_reminder_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			t.Title, t.Service, t.Severity, t.Source, t.Reporter, t.ReporterEmail, t.Assignee, t.State,
			t.Symptoms, t.HandlingPlan, t.Language, t.Policy, t.PolicyVersion, storage.Micros(t.NotifiedAt),
			storage.Micros(t.OpenedAt), storage.Micros(t.UpdatedAt), storage.NullMicros(t.RespondedAt), storage.NullMicros(t.ResolvedAt),
			storage.NullMicros(t.ClosedAt), storage.NullMicros(t.LastReminderAt)).Scan(&t.ID)
		if err != nil {
			return err
		}
		if err := writeTicketExtras(ctx, tx, t); err != nil {
			return err
		}
		return insertEvents(ctx, tx, t.ID, events)
	})
	if err != nil {
		return tickets.Ticket{}, fmt.Errorf("create ticket: %w", err)
	}
	return s.TicketGet(ctx, t.ID)
}

func getTicket(ctx context.Context, q storage.Querier, id int64, lock bool) (tickets.Ticket, error) {
	sfx := ""
	if lock {
		sfx = storage.ForUpdate(q)
	}
	t, err := scanTicket(q.QueryRow(ctx, `SELECT `+ticketCols+` FROM tickets WHERE id = ?`+sfx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("ticket %d: %w", id, storage.NotFound(tickets.ErrNotFound))
	}
	if err != nil {
		return t, fmt.Errorf("ticket %d: %w", id, err)
	}
	if err := ticketExtras(ctx, q, &t); err != nil {
		return t, fmt.Errorf("ticket %d: %w", id, err)
	}
	return t, nil
}

// TicketGet implements tickets.Store.
func (s *Store) TicketGet(ctx context.Context, id int64) (tickets.Ticket, error) {
	return getTicket(ctx, s.db, id, false)
}

// TicketList implements tickets.Store.
func (s *Store) TicketList(ctx context.Context, f tickets.Filter) ([]tickets.Ticket, error) {
	var (
		where []string
		args  []any
	)
	if len(f.States) > 0 {
		where = append(where, "state IN (?"+strings.Repeat(", ?", len(f.States)-1)+")")
		for _, s := range f.States {
			args = append(args, s)
		}
	} else if !f.All {
		where = append(where, "state <> 'closed'")
	}
	for _, c := range []struct{ col, v string }{{"service", f.Service}, {"severity", f.Severity}, {"assignee", f.Assignee}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + ticketCols + ` FROM tickets`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 200
	}
	q += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	var out []tickets.Ticket
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("list tickets: %w", err)
		}
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tickets: %w", err)
	}
	for i := range out {
		if err := ticketExtras(ctx, s.db, &out[i]); err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
	}
	return out, nil
}

func ticketEvents(ctx context.Context, q storage.Querier, id int64) ([]tickets.Event, error) {
	rows, err := q.Query(ctx, `SELECT id, at, actor, kind, from_state, to_state, body FROM ticket_events
		WHERE ticket_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("ticket %d timeline: %w", id, err)
	}
	defer rows.Close()
	var out []tickets.Event
	for rows.Next() {
		e := tickets.Event{TicketID: id}
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Kind, &e.FromState, &e.ToState, &e.Body); err != nil {
			return nil, err
		}
		e.At = storage.FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// TicketEvents implements tickets.Store.
func (s *Store) TicketEvents(ctx context.Context, id int64) ([]tickets.Event, error) {
	return ticketEvents(ctx, s.db, id)
}

// TicketChange implements tickets.Store. The ticket row is locked (FOR
// UPDATE on PostgreSQL; SQLite transactions take the write lock at BEGIN).
func (s *Store) TicketChange(ctx context.Context, id int64, fn func(t *tickets.Ticket, timeline []tickets.Event) ([]tickets.Event, error)) (tickets.Ticket, error) {
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		t, err := getTicket(ctx, tx, id, true)
		if err != nil {
			return err
		}
		timeline, err := ticketEvents(ctx, tx, id)
		if err != nil {
			return err
		}
		evs, err := fn(&t, timeline)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE tickets SET title = ?, service = ?, severity = ?, source = ?, reporter = ?,
			reporter_email = ?, assignee = ?, state = ?, symptoms = ?, handling_plan = ?, language = ?,
			updated_at = ?, responded_at = ?, resolved_at = ?, closed_at = ?, last_reminder_at = ? WHERE id = ?`,
			t.Title, t.Service, t.Severity, t.Source, t.Reporter, t.ReporterEmail, t.Assignee, t.State,
			t.Symptoms, t.HandlingPlan, t.Language, storage.Micros(t.UpdatedAt), storage.NullMicros(t.RespondedAt),
			storage.NullMicros(t.ResolvedAt), storage.NullMicros(t.ClosedAt), storage.NullMicros(t.LastReminderAt), id)
		if err != nil {
			return err
		}
		if err := writeTicketExtras(ctx, tx, t); err != nil {
			return err
		}
		return insertEvents(ctx, tx, id, evs)
	})
	if err != nil {
		return tickets.Ticket{}, err
	}
	return s.TicketGet(ctx, id)
}

// TicketByLink implements tickets.Store.
func (s *Store) TicketByLink(ctx context.Context, kind, ref string) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT ticket_id FROM ticket_links WHERE kind = ? AND ref = ?
		ORDER BY ticket_id DESC LIMIT 1`, kind, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, tickets.ErrNotFound
	}
	return id, err
}

// TicketActiveIDs implements tickets.Store.
func (s *Store) TicketActiveIDs(ctx context.Context) ([]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT id FROM tickets WHERE state <> 'closed' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("active tickets: %w", err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// PeriodTickets returns the tickets notified in [from, to) and the older
// ones still open at from, in the order they were notified, as the
// monthly report reads them: ID, service, severity, title, when notified,
// responded to and resolved, and the response clock (the only one read)
// with its status, service hours, target and breach.
func (s *Store) PeriodTickets(ctx context.Context, from, to time.Time) ([]tickets.Ticket, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (tickets.Ticket, error) {
		var t tickets.Ticket
		var notified int64
		var responded, resolved, inside, target, breached sql.NullInt64
		var status sql.NullString
		if err := r.Scan(&t.ID, &t.Service, &t.Severity, &t.Title, &notified, &responded, &resolved,
			&inside, &target, &status, &breached); err != nil {
			return t, err
		}
		t.NotifiedAt, t.RespondedAt, t.ResolvedAt = storage.FromMicros(notified), storage.FromNullMicros(responded), storage.FromNullMicros(resolved)
		if status.Valid {
			t.Clocks = []tickets.Clock{{Kind: sla.KindResponse, Status: status.String, InsideHours: inside.Int64 != 0,
				Target: time.Duration(target.Int64) * time.Microsecond, BreachedAt: storage.FromNullMicros(breached)}}
		}
		return t, nil
	}, `SELECT t.id, t.service, t.severity, t.title, t.notified_at, t.responded_at, t.resolved_at,
		c.inside_hours, c.target_us, c.status, c.breached_at
		FROM tickets t LEFT JOIN ticket_clocks c ON c.ticket_id = t.id AND c.kind = 'response'
		WHERE (t.notified_at >= ? AND t.notified_at < ?) OR (t.notified_at < ? AND (t.resolved_at IS NULL OR t.resolved_at >= ?))
		ORDER BY t.notified_at, t.id`, storage.Micros(from), storage.Micros(to), storage.Micros(from), storage.Micros(from))
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	return out, nil
}
