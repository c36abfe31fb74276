package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MarkDemo is the mark of a database made by `postvakt serve --demo`
// (docs/demo.md).
const MarkDemo = "demo"

// Marked reports whether the database carries the mark name
// (instance_marks). A database without the table — never migrated, or
// from before it — carries no mark. It creates nothing.
func (db *DB) Marked(ctx context.Context, name string) (bool, error) {
	var exists bool
	switch db.dialect {
	case SQLite:
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'instance_marks'`).Scan(&n); err != nil {
			return false, fmt.Errorf("read marks: %w", err)
		}
		exists = n > 0
	case Postgres:
		if err := db.SQL.QueryRowContext(ctx, `SELECT to_regclass('instance_marks') IS NOT NULL`).Scan(&exists); err != nil {
			return false, fmt.Errorf("read marks: %w", err)
		}
	default:
		return false, fmt.Errorf("read marks: unknown dialect %v", db.dialect)
	}
	if !exists {
		return false, nil
	}
	var v string
	err := db.SQL.QueryRowContext(ctx, db.Rebind(`SELECT value FROM instance_marks WHERE name = ?`), name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read marks: %w", err)
	}
	return true, nil
}

// SetMark puts the mark name on the (migrated) database; setting it again
// changes nothing.
func (db *DB) SetMark(ctx context.Context, name, value string, at time.Time) error {
	_, err := db.Exec(ctx, `INSERT INTO instance_marks (name, value, set_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`,
		name, value, Micros(at))
	if err != nil {
		return fmt.Errorf("set mark %s: %w", name, err)
	}
	return nil
}
