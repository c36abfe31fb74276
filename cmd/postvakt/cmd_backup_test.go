package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
)

// tableCounts returns the rows of every table of a postvakt database.
func tableCounts(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(ctx, dbURL, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	if db.Dialect() == storage.Postgres {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`
	}
	rows, err := db.SQL.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int{}
	for _, n := range names {
		var c int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM "`+n+`"`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

func sameCounts(t *testing.T, src, dst map[string]int) {
	t.Helper()
	if len(src) < 10 {
		t.Fatalf("only %d tables in the source", len(src))
	}
	for n, c := range src {
		if dst[n] != c {
			t.Errorf("table %s: %d rows in the database, %d in the backup", n, c, dst[n])
		}
	}
	for _, n := range []string{"goose_db_version", "engine_domains"} {
		if _, ok := src[n]; ok && src[n] == 0 {
			t.Errorf("table %s is empty: the test checks nothing there", n)
		}
	}
}

// TestBackupSQLite: `postvakt backup` writes a SQLite copy with every row,
// refuses to overwrite, and the copy opens as a postvakt database.
func TestBackupSQLite(t *testing.T) {
	t.Parallel()
	cfg := dataConfig(t, "data_dir: DATADIR\n")
	for _, d := range []string{"uni.example", "student.uni.example"} {
		if code, _, errOut := runCLI(t, "directory", "add-domain", "--config", cfg, d); code != exitOK {
			t.Fatalf("add-domain: %s", errOut)
		}
	}
	out := filepath.Join(t.TempDir(), "postvakt-backup.db")
	code, stdout, errOut := runCLI(t, "backup", "--config", cfg, "--out", out)
	if code != exitOK || !strings.Contains(stdout, out) {
		t.Fatalf("backup: %d %s %s", code, stdout, errOut)
	}
	if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v %v", st, err)
	}
	src := tableCounts(t, "sqlite:"+filepath.Join(filepath.Dir(cfg), "data", "postvakt.db"))
	sameCounts(t, src, tableCounts(t, "sqlite:"+out))
	if src["engine_domains"] != 2 {
		t.Errorf("engine_domains: %d, want 2", src["engine_domains"])
	}
	if code, _, errOut := runCLI(t, "backup", "--config", cfg, "--out", out); code == exitOK || !strings.Contains(errOut, "exists") {
		t.Errorf("second backup to the same file: %d %s", code, errOut)
	}
}

// TestBackupPostgres: pg_dump's custom format, restored with pg_restore into
// an empty database, holds every row.
func TestBackupPostgres(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("pg_restore"); err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("pg_dump/pg_restore required (postgresql-client)")
		}
		t.Skip("pg_dump/pg_restore not installed (postgresql-client)")
	}
	src, dst := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	cfg := dataConfig(t, "data_dir: DATADIR\ndatabase:\n  url: "+src+"\n")
	if code, _, errOut := runCLI(t, "directory", "add-domain", "--config", cfg, "uni.example"); code != exitOK {
		t.Fatalf("add-domain: %s", errOut)
	}
	out := filepath.Join(t.TempDir(), "postvakt.dump")
	if code, stdout, errOut := runCLI(t, "backup", "--config", cfg, "--out", out); code != exitOK {
		t.Fatalf("backup: %d %s %s", code, stdout, errOut)
	}
	if b, err := exec.Command("pg_restore", "--no-owner", "--exit-on-error", "--dbname="+dst, out).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, b)
	}
	s := tableCounts(t, src)
	sameCounts(t, s, tableCounts(t, dst))
	if s["engine_domains"] != 1 {
		t.Errorf("engine_domains: %d, want 1", s["engine_domains"])
	}
}
