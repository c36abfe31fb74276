package storage_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite"

	"github.com/uni-mail/postvakt/internal/storage"
)

// TestIsBusy: a write that finds another writer holding SQLite's lock past
// the busy timeout is busy; other errors are not.
func TestIsBusy(t *testing.T) {
	dsn := "file:" + filepath.Join(t.TempDir(), "busy.db") + "?_pragma=busy_timeout(50)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	holder, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	_, err = db.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	if err == nil {
		t.Fatal("a second writer got the lock")
	}
	if !storage.IsBusy(err) {
		t.Fatalf("IsBusy(%v) = false", err)
	}
	_, err = db.ExecContext(ctx, "SELECT * FROM nosuchtable")
	if storage.IsBusy(err) || storage.IsBusy(errors.New("database is locked")) || storage.IsBusy(nil) {
		t.Error("IsBusy is true for an error that is not SQLite's busy")
	}
}
