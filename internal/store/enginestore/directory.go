package enginestore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/storage"
)

// The engine's directory (engine/directory.Store): domains, mailboxes, and
// one engine_addresses row per address whatever it is.

const mailboxCols = `id, address, nickname, display_name, quota_bytes, used_bytes, forward_to, keep_copy,
	external_forward, password_hash, locked, locked_reason, created_at, updated_at`

func scanMailbox(r storage.RowScanner) (directory.Mailbox, error) {
	var m directory.Mailbox
	var created, updated int64
	err := r.Scan(&m.ID, &m.Address, &m.Nickname, &m.DisplayName, &m.QuotaBytes, &m.UsedBytes, &m.ForwardTo,
		&m.KeepCopy, &m.ExternalForwardAllowed, &m.PasswordHash, &m.Locked, &m.LockedReason, &created, &updated)
	m.CreatedAt, m.UpdatedAt = storage.FromMicros(created), storage.FromMicros(updated)
	return m, err
}

// DirLookup implements directory.Store. It joins the mailbox, so resolving
// a plain recipient costs one query.
func (s *Store) DirLookup(ctx context.Context, address string) (directory.Entry, error) {
	var e directory.Entry
	var mb, rel, mid sql.NullInt64
	var m directory.Mailbox
	var addr, nick, name, fwd, hash, reason sql.NullString
	var quota, used, created, updated sql.NullInt64
	var keep, ext, locked sql.NullBool
	err := s.db.QueryRow(ctx, `SELECT a.address, a.kind, a.mailbox_id, a.released_at,
		m.id, m.address, m.nickname, m.display_name, m.quota_bytes, m.used_bytes, m.forward_to, m.keep_copy,
		m.external_forward, m.password_hash, m.locked, m.locked_reason, m.created_at, m.updated_at
		FROM engine_addresses a LEFT JOIN engine_mailboxes m ON m.id = a.mailbox_id AND a.kind IN ('mailbox', 'nickname')
		WHERE a.address = ?`, address).
		Scan(&e.Address, &e.Kind, &mb, &rel, &mid, &addr, &nick, &name, &quota, &used, &fwd, &keep, &ext, &hash, &locked, &reason, &created, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return e, fmt.Errorf("address %s: %w", address, directory.ErrNotFound)
	}
	if err != nil {
		return e, fmt.Errorf("lookup %s: %w", address, err)
	}
	e.MailboxID = mb.Int64
	e.ReleasedAt = storage.FromNullMicros(rel)
	if mid.Valid {
		m = directory.Mailbox{ID: mid.Int64, Address: addr.String, Nickname: nick.String, DisplayName: name.String,
			QuotaBytes: quota.Int64, UsedBytes: used.Int64, ForwardTo: fwd.String, KeepCopy: keep.Bool,
			ExternalForwardAllowed: ext.Bool, PasswordHash: hash.String, Locked: locked.Bool, LockedReason: reason.String,
			CreatedAt: storage.FromMicros(created.Int64), UpdatedAt: storage.FromMicros(updated.Int64)}
		e.Mailbox = &m
	}
	return e, nil
}

// DirMailbox implements directory.Store.
func (s *Store) DirMailbox(ctx context.Context, id int64) (directory.Mailbox, error) {
	return dirMailbox(ctx, s.db, id)
}

func dirMailbox(ctx context.Context, q storage.Querier, id int64) (directory.Mailbox, error) {
	m, err := scanMailbox(q.QueryRow(ctx, `SELECT `+mailboxCols+` FROM engine_mailboxes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("mailbox %d: %w", id, directory.ErrNotFound)
	}
	if err != nil {
		return m, fmt.Errorf("mailbox %d: %w", id, err)
	}
	return m, nil
}

// DirAliasTargets implements directory.Store.
func (s *Store) DirAliasTargets(ctx context.Context, address string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT target FROM engine_alias_targets WHERE address = ? ORDER BY target`, address)
	if err != nil {
		return nil, fmt.Errorf("alias targets %s: %w", address, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DirDomainExists implements directory.Store.
func (s *Store) DirDomainExists(ctx context.Context, domain string) (bool, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM engine_domains WHERE name = ?`, domain).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("domain %s: %w", domain, err)
	}
	return n > 0, nil
}

// DirPutDomain implements directory.Store.
func (s *Store) DirPutDomain(ctx context.Context, d directory.Domain) error {
	_, err := s.db.Exec(ctx, `INSERT INTO engine_domains (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, d.Name, storage.Micros(d.CreatedAt))
	if err != nil {
		return fmt.Errorf("put domain %s: %w", d.Name, err)
	}
	return nil
}

// DirDomains implements directory.Store.
func (s *Store) DirDomains(ctx context.Context) ([]directory.Domain, error) {
	rows, err := s.db.Query(ctx, `SELECT name, created_at FROM engine_domains ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("domains: %w", err)
	}
	defer rows.Close()
	var out []directory.Domain
	for rows.Next() {
		var d directory.Domain
		var at int64
		if err := rows.Scan(&d.Name, &at); err != nil {
			return nil, err
		}
		d.CreatedAt = storage.FromMicros(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// DirUpsertMailboxes implements directory.Store.
func (s *Store) DirUpsertMailboxes(ctx context.Context, mbs []directory.Mailbox, now time.Time) ([]int64, error) {
	ids := make([]int64, 0, len(mbs))
	err := s.db.InTx(ctx, func(tx *storage.Tx) error {
		for _, m := range mbs {
			var kind string
			var mbID sql.NullInt64
			err := tx.QueryRow(ctx, `SELECT kind, mailbox_id FROM engine_addresses WHERE address = ?`, m.Address).Scan(&kind, &mbID)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				var id int64
				err := tx.QueryRow(ctx, `INSERT INTO engine_mailboxes (address, display_name, quota_bytes, forward_to, keep_copy,
					external_forward, password_hash, locked, locked_reason, created_at, updated_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
					m.Address, m.DisplayName, m.QuotaBytes, m.ForwardTo, m.KeepCopy, m.ExternalForwardAllowed,
					m.PasswordHash, m.Locked, m.LockedReason, storage.Micros(now), storage.Micros(now)).Scan(&id)
				if err != nil {
					return fmt.Errorf("insert mailbox %s: %w", m.Address, err)
				}
				if _, err := tx.Exec(ctx, `INSERT INTO engine_addresses (address, kind, mailbox_id) VALUES (?, ?, ?)`,
					m.Address, string(directory.KindMailbox), id); err != nil {
					return fmt.Errorf("register %s: %w", m.Address, err)
				}
				ids = append(ids, id)
			case err != nil:
				return fmt.Errorf("lookup %s: %w", m.Address, err)
			case kind != string(directory.KindMailbox):
				return fmt.Errorf("mailbox %s: address is a %s: %w", m.Address, kind, directory.ErrExists)
			default:
				// Update; keep the stored hash when none is given, so a
				// re-import without passwords does not lock users out.
				if _, err := tx.Exec(ctx, `UPDATE engine_mailboxes SET display_name = ?, quota_bytes = ?, forward_to = ?,
					keep_copy = ?, external_forward = ?, password_hash = CASE WHEN ? = '' THEN password_hash ELSE ? END,
					locked = ?, locked_reason = ?, updated_at = ? WHERE id = ?`,
					m.DisplayName, m.QuotaBytes, m.ForwardTo, m.KeepCopy, m.ExternalForwardAllowed, m.PasswordHash,
					m.PasswordHash, m.Locked, m.LockedReason, storage.Micros(now), mbID.Int64); err != nil {
					return fmt.Errorf("update mailbox %s: %w", m.Address, err)
				}
				ids = append(ids, mbID.Int64)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// DirUpdateMailbox implements directory.Store.
func (s *Store) DirUpdateMailbox(ctx context.Context, id int64, now time.Time, fn func(*directory.Mailbox) error) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		m, err := dirMailbox(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(&m); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE engine_mailboxes SET display_name = ?, quota_bytes = ?, forward_to = ?, keep_copy = ?,
			external_forward = ?, password_hash = ?, locked = ?, locked_reason = ?, updated_at = ? WHERE id = ?`,
			m.DisplayName, m.QuotaBytes, m.ForwardTo, m.KeepCopy, m.ExternalForwardAllowed, m.PasswordHash,
			m.Locked, m.LockedReason, storage.Micros(now), id)
		if err != nil {
			return fmt.Errorf("update mailbox %d: %w", id, err)
		}
		return nil
	})
}

// DirSetNickname implements directory.Store.
func (s *Store) DirSetNickname(ctx context.Context, id int64, nickname string, now time.Time, quarantine time.Duration) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		m, err := dirMailbox(ctx, tx, id)
		if err != nil {
			return err
		}
		if m.Nickname == nickname {
			return nil
		}
		if nickname != "" {
			var kind string
			var owner, rel sql.NullInt64
			err := tx.QueryRow(ctx, `SELECT kind, mailbox_id, released_at FROM engine_addresses WHERE address = ?`, nickname).Scan(&kind, &owner, &rel)
			switch {
			case errors.Is(err, sql.ErrNoRows):
			case err != nil:
				return err
			case kind != string(directory.KindReleased):
				return fmt.Errorf("nickname %s: %w", nickname, directory.ErrExists)
			case owner.Int64 != id && storage.FromNullMicros(rel).Add(quarantine).After(now):
				return fmt.Errorf("nickname %s released %s: %w", nickname, storage.FromNullMicros(rel).Format(time.RFC3339), directory.ErrQuarantined)
			default:
				if _, err := tx.Exec(ctx, `DELETE FROM engine_addresses WHERE address = ?`, nickname); err != nil {
					return err
				}
			}
		}
		if m.Nickname != "" {
			// The freed nickname stays reserved to its previous owner for
			// the quarantine period; mail to it is refused meanwhile.
			if _, err := tx.Exec(ctx, `UPDATE engine_addresses SET kind = ?, released_at = ? WHERE address = ?`,
				string(directory.KindReleased), storage.Micros(now), m.Nickname); err != nil {
				return err
			}
		}
		if nickname != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO engine_addresses (address, kind, mailbox_id) VALUES (?, ?, ?)`,
				nickname, string(directory.KindNickname), id); err != nil {
				if storage.IsUniqueViolation(err) {
					return fmt.Errorf("nickname %s: %w", nickname, directory.ErrExists)
				}
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE engine_mailboxes SET nickname = ?, updated_at = ? WHERE id = ?`, nickname, storage.Micros(now), id)
		return err
	})
}

// DirPutAlias implements directory.Store.
func (s *Store) DirPutAlias(ctx context.Context, a directory.Alias) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		var kind string
		err := tx.QueryRow(ctx, `SELECT kind FROM engine_addresses WHERE address = ?`, a.Address).Scan(&kind)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if _, err := tx.Exec(ctx, `INSERT INTO engine_addresses (address, kind) VALUES (?, ?)`, a.Address, string(a.Kind)); err != nil {
				return fmt.Errorf("put alias %s: %w", a.Address, err)
			}
		case err != nil:
			return err
		case kind == string(directory.KindAlias) || kind == string(directory.KindList) || kind == string(directory.KindFunction):
			if _, err := tx.Exec(ctx, `UPDATE engine_addresses SET kind = ? WHERE address = ?`, string(a.Kind), a.Address); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `DELETE FROM engine_alias_targets WHERE address = ?`, a.Address); err != nil {
				return err
			}
		default:
			return fmt.Errorf("alias %s: address is a %s: %w", a.Address, kind, directory.ErrExists)
		}
		seen := map[string]bool{}
		for _, t := range a.Targets {
			if seen[t] {
				continue
			}
			seen[t] = true
			if _, err := tx.Exec(ctx, `INSERT INTO engine_alias_targets (address, target) VALUES (?, ?)`, a.Address, t); err != nil {
				return fmt.Errorf("alias %s target %s: %w", a.Address, t, err)
			}
		}
		return nil
	})
}

// DirDeleteAlias implements directory.Store.
func (s *Store) DirDeleteAlias(ctx context.Context, address string) error {
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM engine_alias_targets WHERE address = ?`, address); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM engine_addresses WHERE address = ? AND kind IN ('alias', 'list', 'function')`, address)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("alias %s: %w", address, directory.ErrNotFound)
		}
		return nil
	})
}

// DirMailboxes implements directory.Store.
func (s *Store) DirMailboxes(ctx context.Context) ([]directory.Mailbox, error) {
	out, err := storage.QueryAll(ctx, s.db, scanMailbox, `SELECT `+mailboxCols+` FROM engine_mailboxes ORDER BY address`)
	if err != nil {
		return nil, fmt.Errorf("mailboxes: %w", err)
	}
	return out, nil
}

// DirAliases implements directory.Store.
func (s *Store) DirAliases(ctx context.Context) ([]directory.Alias, error) {
	out, err := s.queryAliases(ctx, `SELECT a.address, a.kind, t.target FROM engine_addresses a
		JOIN engine_alias_targets t ON t.address = a.address
		WHERE a.kind IN ('alias', 'list', 'function') ORDER BY a.address, t.target`)
	if err != nil {
		return nil, fmt.Errorf("aliases: %w", err)
	}
	return out, nil
}

// DirAliasesTargeting implements directory.Store. Targets are stored in
// Key form (lower-case), so target is lower-cased here and compared with
// plain equality, which engine_alias_targets_target serves.
func (s *Store) DirAliasesTargeting(ctx context.Context, target string) ([]directory.Alias, error) {
	out, err := s.queryAliases(ctx, `SELECT a.address, a.kind, t.target FROM engine_addresses a
		JOIN engine_alias_targets t ON t.address = a.address
		WHERE a.kind IN ('alias', 'list', 'function')
		AND a.address IN (SELECT m.address FROM engine_alias_targets m WHERE m.target = ?)
		ORDER BY a.address, t.target`, strings.ToLower(target))
	if err != nil {
		return nil, fmt.Errorf("aliases targeting %s: %w", target, err)
	}
	return out, nil
}

// queryAliases reads rows of (address, kind, target) ordered by address
// into aliases with their targets.
func (s *Store) queryAliases(ctx context.Context, query string, args ...any) ([]directory.Alias, error) {
	rows, err := s.db.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []directory.Alias
	for rows.Next() {
		var addr, kind, target string
		if err := rows.Scan(&addr, &kind, &target); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].Address != addr {
			out = append(out, directory.Alias{Address: addr, Kind: directory.EntryKind(kind)})
		}
		out[len(out)-1].Targets = append(out[len(out)-1].Targets, target)
	}
	return out, rows.Err()
}
