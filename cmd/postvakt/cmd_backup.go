package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
)

// backupCmd writes a consistent copy of the database while postvakt runs
// (docs/install.md, Back up and restore). Everything postvakt keeps is in
// the database: the mailbox store, the relay queue, the transaction log,
// incidents, tickets, reports, collector positions.
func backupCmd() *command {
	var out, pgDump string
	return &command{
		name:    "backup",
		summary: "write a consistent copy of the database (SQLite: VACUUM INTO; PostgreSQL: pg_dump)",
		help: `Writes a copy of the configured database to --out while postvakt keeps
running. On SQLite it is a new SQLite file made by VACUUM INTO: one read
transaction, so it is consistent. On PostgreSQL it runs pg_dump in its custom
format (restore with pg_restore); the password of database.url goes to pg_dump
through PGPASSWORD, never on its command line. --out must not exist: a backup
never overwrites another. Restore: docs/install.md, Back up and restore.`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&out, "out", "", "the backup `file` to write (required; must not exist)")
			fs.StringVar(&pgDump, "pg-dump", "pg_dump", "the pg_dump `program` (PostgreSQL)")
		},
		run: withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
			if len(args) > 0 {
				return usagef("backup takes no arguments")
			}
			if out == "" {
				return usagef("--out is required")
			}
			abs, err := filepath.Abs(out)
			if err != nil {
				return err
			}
			if _, err := os.Lstat(abs); err == nil {
				return fmt.Errorf("%s exists: a backup does not overwrite; choose a new name", abs)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if db.Dialect() == storage.Postgres {
				if err := pgBackup(ctx, pgDump, cfg.DatabaseURL(), abs); err != nil {
					return err
				}
			} else if _, err := db.SQL.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
				_ = os.Remove(abs)
				return fmt.Errorf("backup: VACUUM INTO %s: %w", abs, err)
			}
			if err := os.Chmod(abs, 0o600); err != nil {
				return err
			}
			st, err := os.Stat(abs)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "backup of %s written to %s (%d bytes)\n", config.RedactURL(cfg.DatabaseURL()), abs, st.Size())
			return nil
		}),
	}
}

// pgBackup runs pg_dump on dbURL into out, with the password in the
// environment rather than in the process list.
func pgBackup(ctx context.Context, pgDump, dbURL, out string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("database.url: %w", err)
	}
	env := os.Environ()
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			env = append(env, "PGPASSWORD="+pw)
			u.User = url.User(u.User.Username())
		}
	}
	cmd := exec.CommandContext(ctx, pgDump, "--format=custom", "--no-owner", "--file="+out, "--dbname="+u.String())
	cmd.Env = env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = os.Remove(out)
		return fmt.Errorf("backup: %s: %w: %s", pgDump, err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
