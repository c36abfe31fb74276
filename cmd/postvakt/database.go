package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
)

// openOptions say how a command opens the database.
type openOptions struct {
	// bulk opens the database for a long stream of large writes
	// (storage.Options.Bulk): only `import` asks for it.
	bulk bool
	// prepare runs on the loaded configuration before anything is opened:
	// a command applies flags that override keys there, or refuses to run
	// when its capability is not configured. nil: nothing to prepare.
	prepare func(cfg *config.Config) error
	// noMigrate leaves the migrations alone whatever
	// database.migrate_on_start says: the migrate commands apply them.
	noMigrate bool
	// create lets the command make the database when there is none (the
	// data directory, the SQLite file, the schema): only `migrate` and
	// `import --create-database` do; `serve` makes it through app.Run.
	// Every other command refuses, so that a mistyped --config or a
	// command run in the wrong directory never answers from a new, empty
	// database.
	create bool
	// anySchema opens an existing database whatever it holds (the
	// migrate status and down commands look at an empty one too); it
	// still refuses one that does not exist.
	anySchema bool
}

// openDatabase is how every command gets its database: it loads the
// configuration (--config, POSTVAKT_CONFIG or /etc/postvakt/postvakt.yaml;
// --log-level), runs o.prepare and opens database.url (SQLite at
// DATA_DIR/postvakt.db when it is empty). Unless o.create, a database
// that does not exist or holds no postvakt schema is refused with
// errNoDatabase (exit 4) naming the configuration it came from, and
// nothing is created. Pending migrations of an existing database are
// applied when database.migrate_on_start is set (docs/configuration.md,
// database). The caller closes the database.
func (e *cmdEnv) openDatabase(ctx context.Context, o openOptions) (*config.Config, *storage.DB, error) {
	cfg, err := e.loadConfig()
	if err != nil {
		return nil, nil, err
	}
	if o.prepare != nil {
		if err := o.prepare(cfg); err != nil {
			return nil, nil, err
		}
	}
	url := cfg.DatabaseURL()
	shown := config.RedactURL(url)
	if o.create {
		if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
			return nil, nil, err
		}
	} else if path, ok := strings.CutPrefix(url, "sqlite:"); ok {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, e.noDatabase(shown, "does not exist")
		} else if err != nil {
			return nil, nil, fmt.Errorf("database %s: %w", shown, err)
		}
	}
	db, err := app.OpenDatabaseWith(ctx, cfg, e.logger, false, storage.Options{Bulk: o.bulk})
	if err != nil {
		return nil, nil, err
	}
	fresh := false
	if o.anySchema {
		return cfg, db, nil
	}
	if ok, err := db.Initialized(ctx); err != nil {
		db.Close()
		return nil, nil, err
	} else if !ok {
		if !o.create {
			db.Close()
			return nil, nil, e.noDatabase(shown, "holds no postvakt schema (no migration applied)")
		}
		fresh = true
	}
	if !o.noMigrate && (fresh || cfg.Database.MigrateOnStart) {
		n, err := db.MigrateUp(ctx, nil)
		if err != nil {
			db.Close()
			return nil, nil, err
		}
		if n > 0 {
			e.logger.Info("database migrated", "applied", n)
		}
	}
	return cfg, db, nil
}

// noDatabase is the refusal of a command that needs a database when there
// is none: it names the database, the configuration it came from and how
// to make one.
func (e *cmdEnv) noDatabase(db, what string) error {
	return fmt.Errorf("%w: %s %s (database.url from %s); nothing was created. "+
		"Give the right --config (or POSTVAKT_CONFIG), or create the database with 'postvakt migrate up' or by starting 'postvakt serve'",
		errNoDatabase, db, what, e.configSource())
}

// withDatabase makes a command's run function that gets the configuration
// and the database from openDatabase and closes the database when fn
// returns.
func withDatabase(fn func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error) func(context.Context, *cmdEnv, []string) error {
	return func(ctx context.Context, e *cmdEnv, args []string) error {
		cfg, db, err := e.openDatabase(ctx, openOptions{})
		if err != nil {
			return err
		}
		defer db.Close()
		return fn(ctx, e, cfg, db, args)
	}
}
