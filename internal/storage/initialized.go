package storage

import (
	"context"
	"fmt"
)

// Initialized reports whether the database holds postvakt's schema: at
// least one migration applied. It creates nothing (goose's own status
// would create its version table), so the CLI can refuse to work on a
// database that was never set up instead of making an empty one.
func (db *DB) Initialized(ctx context.Context) (bool, error) {
	var exists bool
	switch db.dialect {
	case SQLite:
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'goose_db_version'`).Scan(&n); err != nil {
			return false, fmt.Errorf("check schema: %w", err)
		}
		exists = n > 0
	case Postgres:
		if err := db.SQL.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&exists); err != nil {
			return false, fmt.Errorf("check schema: %w", err)
		}
	default:
		return false, fmt.Errorf("check schema: unknown dialect %v", db.dialect)
	}
	if !exists {
		return false, nil
	}
	var applied int
	if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM goose_db_version WHERE version_id > 0 AND is_applied`).Scan(&applied); err != nil {
		return false, fmt.Errorf("check schema: %w", err)
	}
	return applied > 0, nil
}
