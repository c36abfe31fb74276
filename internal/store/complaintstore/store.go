// Package complaintstore keeps spam complaints and the filter rules they
// propose in the database (spam_complaints, spam_rules,
// spam_rule_complaints). It implements complaint.Store; it loads and
// saves, and what a complaint proposes and who may decide live in
// engine/complaint.
package complaintstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Store is the complaints' store on one database.
type Store struct{ db *storage.DB }

// New returns the store on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var _ complaint.Store = (*Store)(nil)

// AddComplaint implements complaint.Store.
func (s *Store) AddComplaint(ctx context.Context, c complaint.Complaint, rules []complaint.Rule) (complaint.Complaint, error) {
	parsed, err := json.Marshal(c.Parsed)
	if err != nil {
		return c, err
	}
	c.Rules = []int64{}
	err = s.db.InTx(ctx, func(tx *storage.Tx) error {
		c.Rules = c.Rules[:0]
		if err := tx.QueryRow(ctx, `INSERT INTO spam_complaints (received_at, reporter, subject, parsed) VALUES (?, ?, ?, ?) RETURNING id`,
			storage.Micros(c.ReceivedAt), c.Reporter, c.Subject, string(parsed)).Scan(&c.ID); err != nil {
			return err
		}
		for _, r := range rules {
			if _, err := tx.Exec(ctx, `INSERT INTO spam_rules (kind, header, value, score, state, proposed_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (kind, header, value) DO NOTHING`, r.Kind, r.Header, r.Value, r.Score, r.State, storage.Micros(r.ProposedAt)); err != nil {
				return err
			}
			var id int64
			if err := tx.QueryRow(ctx, `SELECT id FROM spam_rules WHERE kind = ? AND header = ? AND value = ?`, r.Kind, r.Header, r.Value).Scan(&id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO spam_rule_complaints (rule_id, complaint_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, id, c.ID); err != nil {
				return err
			}
			c.Rules = append(c.Rules, id)
		}
		return nil
	})
	return c, err
}

func ids(ctx context.Context, q storage.Querier, query string, id int64) ([]int64, error) {
	out, err := storage.QueryAll(ctx, q, func(r storage.RowScanner) (int64, error) {
		var v int64
		return v, r.Scan(&v)
	}, query, id)
	if out == nil {
		out = []int64{}
	}
	return out, err
}

func scanComplaint(r storage.RowScanner) (complaint.Complaint, error) {
	var (
		c        complaint.Complaint
		received int64
		parsed   string
	)
	if err := r.Scan(&c.ID, &received, &c.Reporter, &c.Subject, &parsed); err != nil {
		return c, err
	}
	c.ReceivedAt = storage.FromMicros(received)
	if err := json.Unmarshal([]byte(parsed), &c.Parsed); err != nil {
		return c, fmt.Errorf("complaint %d: %w", c.ID, err)
	}
	return c, nil
}

// Complaint implements complaint.Store.
func (s *Store) Complaint(ctx context.Context, id int64) (complaint.Complaint, error) {
	c, err := scanComplaint(s.db.QueryRow(ctx, `SELECT id, received_at, reporter, subject, parsed FROM spam_complaints WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return c, fmt.Errorf("complaint %d: %w", id, storage.NotFound(complaint.ErrNotFound))
	}
	if err != nil {
		return c, err
	}
	c.Rules, err = ids(ctx, s.db, `SELECT rule_id FROM spam_rule_complaints WHERE complaint_id = ? ORDER BY rule_id`, id)
	return c, err
}

// Complaints implements complaint.Store.
func (s *Store) Complaints(ctx context.Context, limit int) ([]complaint.Complaint, error) {
	cs, err := storage.QueryAll(ctx, s.db, scanComplaint, `SELECT id, received_at, reporter, subject, parsed FROM spam_complaints ORDER BY id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, err
	}
	for i := range cs {
		if cs[i].Rules, err = ids(ctx, s.db, `SELECT rule_id FROM spam_rule_complaints WHERE complaint_id = ? ORDER BY rule_id`, cs[i].ID); err != nil {
			return nil, err
		}
	}
	return cs, nil
}

const ruleCols = `id, kind, header, value, score, state, proposed_at, decided_at, decided_by`

func scanRule(r storage.RowScanner) (complaint.Rule, error) {
	var (
		x        complaint.Rule
		proposed int64
		decided  sql.NullInt64
	)
	err := r.Scan(&x.ID, &x.Kind, &x.Header, &x.Value, &x.Score, &x.State, &proposed, &decided, &x.DecidedBy)
	x.ProposedAt, x.DecidedAt = storage.FromMicros(proposed), storage.FromNullMicros(decided)
	return x, err
}

// Rule implements complaint.Store.
func (s *Store) Rule(ctx context.Context, id int64) (complaint.Rule, error) {
	r, err := scanRule(s.db.QueryRow(ctx, `SELECT `+ruleCols+` FROM spam_rules WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("rule %d: %w", id, storage.NotFound(complaint.ErrNotFound))
	}
	if err != nil {
		return r, err
	}
	r.Complaints, err = ids(ctx, s.db, `SELECT complaint_id FROM spam_rule_complaints WHERE rule_id = ? ORDER BY complaint_id`, id)
	return r, err
}

// Rules implements complaint.Store.
func (s *Store) Rules(ctx context.Context, state complaint.RuleState) ([]complaint.Rule, error) {
	q, args := `SELECT `+ruleCols+` FROM spam_rules`, []any{}
	if state != "" {
		q += ` WHERE state = ?`
		args = append(args, state)
	}
	rs, err := storage.QueryAll(ctx, s.db, scanRule, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	for i := range rs {
		if rs[i].Complaints, err = ids(ctx, s.db, `SELECT complaint_id FROM spam_rule_complaints WHERE rule_id = ? ORDER BY complaint_id`, rs[i].ID); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// DecideRules implements complaint.Store.
func (s *Store) DecideRules(ctx context.Context, ruleIDs []int64, from, to complaint.RuleState, at time.Time, by string) (int, error) {
	if len(ruleIDs) == 0 {
		return 0, nil
	}
	args := []any{to, storage.Micros(at), by, from}
	for _, id := range ruleIDs {
		args = append(args, id)
	}
	res, err := s.db.Exec(ctx, `UPDATE spam_rules SET state = ?, decided_at = ?, decided_by = ? WHERE state = ? AND id IN (?`+
		strings.Repeat(", ?", len(ruleIDs)-1)+`)`, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// CountComplaints implements complaint.Store.
func (s *Store) CountComplaints(ctx context.Context, since time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM spam_complaints WHERE received_at >= ?`, storage.Micros(since)).Scan(&n)
	return n, err
}
