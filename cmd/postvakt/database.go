package main

import (
	"context"
	"os"

	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
)

// openOptions say how a command opens the database.
type openOptions struct {
	// prepare runs on the loaded configuration before anything is opened:
	// a command applies flags that override keys there, or refuses to run
	// when its capability is not configured. nil: nothing to prepare.
	prepare func(cfg *config.Config) error
	// noMigrate leaves the migrations alone whatever
	// database.migrate_on_start says: the migrate commands apply them.
	noMigrate bool
}

// openDatabase is how every command gets its database: it loads the
// configuration (--config, --log-level), runs o.prepare, creates the data
// directory, opens database.url (SQLite at DATA_DIR/postvakt.db when it is
// empty) and applies pending migrations when database.migrate_on_start is
// set (docs/configuration.md, database). The caller closes the database.
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
	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, nil, err
	}
	db, err := app.OpenDatabase(ctx, cfg, e.logger, cfg.Database.MigrateOnStart && !o.noMigrate)
	if err != nil {
		return nil, nil, err
	}
	return cfg, db, nil
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
