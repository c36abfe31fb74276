package storage

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// DeferredIndex is an index dropped for a bulk load (DeferIndexes) and not
// built again yet.
type DeferredIndex struct {
	Name, Table, DDL, Owner string
	Deferred                time.Time
}

// DeferIndexes drops the secondary indexes of tables (not those behind a
// primary key or unique constraint) and records their definitions in
// storage_deferred_indexes, in one transaction, for a bulk load: rows
// appended to a table without indexes cost a fraction of rows inserted
// into every index's B-tree one by one, and an index built afterwards
// sorts all its keys once. RestoreIndexes builds them again; as long as it
// has not, the record says so: a bulk load cut short leaves it, and the
// next RestoreIndexes (every command's open but import's) builds what is
// missing. owner says who deferred them (e.g. "import"). It returns the
// indexes dropped.
func (db *DB) DeferIndexes(ctx context.Context, owner string, tables ...string) ([]string, error) {
	var names []string
	err := db.InTx(ctx, func(tx *Tx) error {
		type idx struct{ name, table, ddl string }
		var found []idx
		for _, t := range tables {
			var q string
			switch db.dialect {
			case SQLite:
				// sql is NULL for the automatic indexes of PRIMARY KEY and
				// UNIQUE
				q = `SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL ORDER BY name`
			case Postgres:
				q = `SELECT i.indexname, i.indexdef FROM pg_indexes i
					WHERE i.schemaname = current_schema() AND i.tablename = ?
					AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = (quote_ident(i.schemaname) || '.' || quote_ident(i.indexname))::regclass)
					ORDER BY i.indexname`
			default:
				return fmt.Errorf("defer indexes: unknown dialect %v", db.dialect)
			}
			rows, err := tx.Query(ctx, q, t)
			if err != nil {
				return fmt.Errorf("defer indexes of %s: %w", t, err)
			}
			for rows.Next() {
				var x idx
				if err := rows.Scan(&x.name, &x.ddl); err != nil {
					rows.Close()
					return fmt.Errorf("defer indexes of %s: %w", t, err)
				}
				x.table = t
				found = append(found, x)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("defer indexes of %s: %w", t, err)
			}
		}
		now := Micros(time.Now())
		for _, x := range found {
			if _, err := tx.Exec(ctx, `INSERT INTO storage_deferred_indexes (name, tbl, ddl, owner, deferred) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (name) DO UPDATE SET tbl = excluded.tbl, ddl = excluded.ddl, owner = excluded.owner, deferred = excluded.deferred`,
				x.name, x.table, x.ddl, owner, now); err != nil {
				return fmt.Errorf("defer index %s: %w", x.name, err)
			}
			if _, err := tx.Exec(ctx, `DROP INDEX `+quoteIdent(x.name)); err != nil {
				return fmt.Errorf("defer index %s: %w", x.name, err)
			}
			names = append(names, x.name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return names, nil
}

// DeferredIndexes lists the indexes deferred and not built again, by name;
// none on a database without the table (not migrated yet).
func (db *DB) DeferredIndexes(ctx context.Context) ([]DeferredIndex, error) {
	if ok, err := db.hasTable(ctx, "storage_deferred_indexes"); err != nil || !ok {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT name, tbl, ddl, owner, deferred FROM storage_deferred_indexes ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("deferred indexes: %w", err)
	}
	defer rows.Close()
	var out []DeferredIndex
	for rows.Next() {
		var d DeferredIndex
		var at int64
		if err := rows.Scan(&d.Name, &d.Table, &d.DDL, &d.Owner, &at); err != nil {
			return nil, fmt.Errorf("deferred indexes: %w", err)
		}
		d.Deferred = FromMicros(at)
		out = append(out, d)
	}
	return out, rows.Err()
}

// RestoreIndexes builds every deferred index again and forgets it, all in
// one transaction (a build that fails leaves every record in place). On
// SQLite the WAL is checkpointed afterwards, so that what a bulk load with
// a relaxed synchronous setting wrote is on disk. It returns the indexes
// built.
func (db *DB) RestoreIndexes(ctx context.Context) ([]string, error) {
	return db.RestoreIndexesOn(ctx, nil)
}

// RestoreIndexesOn is RestoreIndexes on the connection c (from
// db.SQL.Conn; nil: the pool): a bulk load builds the indexes on its own
// connection, whose page cache holds the tables' last pages.
func (db *DB) RestoreIndexesOn(ctx context.Context, c *sql.Conn) ([]string, error) {
	defs, err := db.DeferredIndexes(ctx)
	if err != nil || len(defs) == 0 {
		return nil, err
	}
	var built []string
	build := func(tx *Tx) error {
		built = built[:0]
		if db.dialect == Postgres {
			// each build sorts all its keys: in memory rather than in
			// temporary files where it fits (the default is 64 MB)
			if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
				return fmt.Errorf("build deferred indexes: %w", err)
			}
		}
		for _, d := range defs {
			ddl := ifNotExists(d.DDL)
			if db.dialect == Postgres {
				// pg_indexes shows a partitioned table's index as created
				// ON ONLY the parent (its partitions' indexes attached one
				// by one); built again, it must reach the partitions too
				ddl = strings.Replace(ddl, " ON ONLY ", " ON ", 1)
			}
			if _, err := tx.Exec(ctx, ddl); err != nil {
				return fmt.Errorf("build deferred index %s: %w", d.Name, err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM storage_deferred_indexes WHERE name = ?`, d.Name); err != nil {
				return fmt.Errorf("build deferred index %s: %w", d.Name, err)
			}
			built = append(built, d.Name)
		}
		return nil
	}
	if c != nil {
		err = db.InConnTx(ctx, c, build)
	} else {
		err = db.InTx(ctx, build)
	}
	if err != nil {
		return nil, err
	}
	if db.dialect == SQLite {
		q := `PRAGMA wal_checkpoint(FULL)`
		if c != nil {
			_, err = c.ExecContext(ctx, q)
		} else {
			_, err = db.SQL.ExecContext(ctx, q)
		}
		if err != nil {
			return built, fmt.Errorf("checkpoint after building indexes: %w", err)
		}
	}
	return built, nil
}

// ifNotExists turns "CREATE [UNIQUE] INDEX name …" into "CREATE [UNIQUE]
// INDEX IF NOT EXISTS name …", so that building a deferred index that
// another process built already changes nothing.
func ifNotExists(ddl string) string {
	for _, p := range []string{"CREATE INDEX ", "CREATE UNIQUE INDEX "} {
		if rest, ok := strings.CutPrefix(ddl, p); ok && !strings.HasPrefix(rest, "IF NOT EXISTS ") {
			return p + "IF NOT EXISTS " + rest
		}
	}
	return ddl
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func (db *DB) hasTable(ctx context.Context, name string) (bool, error) {
	var exists bool
	switch db.dialect {
	case SQLite:
		var n int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n); err != nil {
			return false, fmt.Errorf("look for table %s: %w", name, err)
		}
		exists = n > 0
	case Postgres:
		if err := db.SQL.QueryRowContext(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); err != nil {
			return false, fmt.Errorf("look for table %s: %w", name, err)
		}
	}
	return exists, nil
}
