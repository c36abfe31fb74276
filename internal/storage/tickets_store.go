package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/oncall/tickets"
)

// Fault tickets, their timelines, links, SLA clocks and frozen policy
// versions (oncall/tickets.Store).

var _ tickets.Store = (*DB)(nil)

// TicketSavePolicy implements tickets.Store.
func (db *DB) TicketSavePolicy(ctx context.Context, name, version string, spec []byte, at time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO sla_policies (version, name, spec, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (version) DO NOTHING`, version, name, string(spec), Micros(at))
	if err != nil {
		return fmt.Errorf("save SLA policy %s: %w", version, err)
	}
	return nil
}

// TicketPolicy implements tickets.Store.
func (db *DB) TicketPolicy(ctx context.Context, version string) ([]byte, error) {
	var spec string
	err := db.QueryRow(ctx, `SELECT spec FROM sla_policies WHERE version = ?`, version).Scan(&spec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("SLA policy %s: %w", version, ErrNotFound)
	}
	return []byte(spec), err
}

const ticketCols = `id, title, service, severity, source, reporter, reporter_email, assignee, state, symptoms,
	handling_plan, language, policy, policy_version, notified_at, opened_at, updated_at, responded_at,
	resolved_at, closed_at, last_reminder_at`

type ticketScanner interface{ Scan(dest ...any) error }

func scanTicket(s ticketScanner) (tickets.Ticket, error) {
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
	t.NotifiedAt, t.OpenedAt, t.UpdatedAt = FromMicros(notified), FromMicros(opened), FromMicros(updated)
	t.RespondedAt, t.ResolvedAt = FromNullMicros(responded), FromNullMicros(resolved)
	t.ClosedAt, t.LastReminderAt = FromNullMicros(closed), FromNullMicros(remin)
	t.Links, t.Clocks = []tickets.Link{}, []tickets.Clock{}
	return t, nil
}

func ticketExtras(ctx context.Context, q Querier, t *tickets.Ticket) error {
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
		c.Start, c.Due, c.Stopped = FromMicros(start), FromNullMicros(due), FromNullMicros(stopped)
		c.WarnedAt, c.BreachedAt, c.UpdatedAt = FromNullMicros(warned), FromNullMicros(breached), FromMicros(updated)
		t.Clocks = append(t.Clocks, c)
	}
	sortClocks(t.Clocks)
	return rows.Err()
}

func sortClocks(cs []tickets.Clock) {
	order := map[string]int{"response": 0, "update": 1, "resolution": 2}
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && order[cs[j].Kind] < order[cs[j-1].Kind]; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

func writeTicketExtras(ctx context.Context, tx *Tx, t tickets.Ticket) error {
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
			t.ID, c.Kind, c.Status, BoolInt(c.InsideHours), c.Target.Microseconds(), Micros(c.Start),
			NullMicros(c.Due), NullMicros(c.Stopped), c.Raw.Microseconds(), c.Business.Microseconds(),
			c.Counted.Microseconds(), c.Paused.Microseconds(), c.Percent, NullMicros(c.WarnedAt),
			NullMicros(c.BreachedAt), Micros(c.UpdatedAt)); err != nil {
			return err
		}
	}
	return nil
}

func insertEvents(ctx context.Context, tx *Tx, id int64, evs []tickets.Event) error {
	for _, e := range evs {
		if _, err := tx.Exec(ctx, `INSERT INTO ticket_events (ticket_id, at, actor, kind, from_state, to_state, body)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, Micros(e.At), e.Actor, e.Kind, e.FromState, e.ToState, e.Body); err != nil {
			return err
		}
	}
	return nil
}

// TicketCreate implements tickets.Store.
func (db *DB) TicketCreate(ctx context.Context, t tickets.Ticket, events []tickets.Event) (tickets.Ticket, error) {
	err := db.InTx(ctx, func(tx *Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO tickets (title, service, severity, source, reporter, reporter_email,
			assignee, state, symptoms, handling_plan, language, policy, policy_version, notified_at, opened_at,
			updated_at, responded_at, resolved_at, closed_at, last_reminder_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			t.Title, t.Service, t.Severity, t.Source, t.Reporter, t.ReporterEmail, t.Assignee, t.State,
			t.Symptoms, t.HandlingPlan, t.Language, t.Policy, t.PolicyVersion, Micros(t.NotifiedAt),
			Micros(t.OpenedAt), Micros(t.UpdatedAt), NullMicros(t.RespondedAt), NullMicros(t.ResolvedAt),
			NullMicros(t.ClosedAt), NullMicros(t.LastReminderAt)).Scan(&t.ID)
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
	return db.TicketGet(ctx, t.ID)
}

func getTicket(ctx context.Context, q Querier, id int64, lock bool) (tickets.Ticket, error) {
	sfx := ""
	if lock {
		sfx = ForUpdate(q)
	}
	t, err := scanTicket(q.QueryRow(ctx, `SELECT `+ticketCols+` FROM tickets WHERE id = ?`+sfx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return t, fmt.Errorf("ticket %d: %w", id, errors.Join(tickets.ErrNotFound, ErrNotFound))
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
func (db *DB) TicketGet(ctx context.Context, id int64) (tickets.Ticket, error) {
	return getTicket(ctx, db, id, false)
}

// TicketList implements tickets.Store.
func (db *DB) TicketList(ctx context.Context, f tickets.Filter) ([]tickets.Ticket, error) {
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
	rows, err := db.Query(ctx, q, args...)
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
		if err := ticketExtras(ctx, db, &out[i]); err != nil {
			return nil, fmt.Errorf("list tickets: %w", err)
		}
	}
	return out, nil
}

func ticketEvents(ctx context.Context, q Querier, id int64) ([]tickets.Event, error) {
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
		e.At = FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// TicketEvents implements tickets.Store.
func (db *DB) TicketEvents(ctx context.Context, id int64) ([]tickets.Event, error) {
	return ticketEvents(ctx, db, id)
}

// TicketChange implements tickets.Store. The ticket row is locked (FOR
// UPDATE on PostgreSQL; SQLite transactions take the write lock at BEGIN).
func (db *DB) TicketChange(ctx context.Context, id int64, fn func(t *tickets.Ticket, timeline []tickets.Event) ([]tickets.Event, error)) (tickets.Ticket, error) {
	err := db.InTx(ctx, func(tx *Tx) error {
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
			t.Symptoms, t.HandlingPlan, t.Language, Micros(t.UpdatedAt), NullMicros(t.RespondedAt),
			NullMicros(t.ResolvedAt), NullMicros(t.ClosedAt), NullMicros(t.LastReminderAt), id)
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
	return db.TicketGet(ctx, id)
}

// TicketByMessageID implements tickets.Store.
func (db *DB) TicketByMessageID(ctx context.Context, messageID string) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `SELECT ticket_id FROM ticket_messages WHERE message_id = ?`, messageID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, tickets.ErrNotFound
	}
	return id, err
}

// TicketAddMessageIDs implements tickets.Store.
func (db *DB) TicketAddMessageIDs(ctx context.Context, id int64, messageIDs []string, at time.Time) error {
	for _, m := range messageIDs {
		if _, err := db.Exec(ctx, `INSERT INTO ticket_messages (message_id, ticket_id, at) VALUES (?, ?, ?)
			ON CONFLICT (message_id) DO NOTHING`, m, id, Micros(at)); err != nil {
			return fmt.Errorf("ticket %d message ID: %w", id, err)
		}
	}
	return nil
}

// TicketByLink implements tickets.Store.
func (db *DB) TicketByLink(ctx context.Context, kind, ref string) (int64, error) {
	var id int64
	err := db.QueryRow(ctx, `SELECT ticket_id FROM ticket_links WHERE kind = ? AND ref = ?
		ORDER BY ticket_id DESC LIMIT 1`, kind, ref).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, tickets.ErrNotFound
	}
	return id, err
}

// TicketActiveIDs implements tickets.Store.
func (db *DB) TicketActiveIDs(ctx context.Context) ([]int64, error) {
	rows, err := db.Query(ctx, `SELECT id FROM tickets WHERE state <> 'closed' ORDER BY id`)
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

// TicketCounts implements tickets.Store.
func (db *DB) TicketCounts(ctx context.Context) ([]tickets.Count, error) {
	rows, err := db.Query(ctx, `SELECT service, severity, state, COUNT(*) FROM tickets WHERE state <> 'closed'
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
func (db *DB) TicketCompliance(ctx context.Context, since time.Time) ([]tickets.Compliance, error) {
	rows, err := db.Query(ctx, `SELECT t.policy, c.kind,
		SUM(CASE WHEN c.status = 'met' THEN 1 ELSE 0 END),
		SUM(CASE WHEN c.status = 'breached' THEN 1 ELSE 0 END)
		FROM ticket_clocks c JOIN tickets t ON t.id = c.ticket_id
		WHERE t.notified_at >= ? AND c.status IN ('met', 'breached')
		GROUP BY t.policy, c.kind ORDER BY t.policy, c.kind`, Micros(since))
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
