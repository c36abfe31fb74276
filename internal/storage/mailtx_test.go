package storage_test

import (
	"context"
	"errors"
	"testing"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
)

// TestConformanceInMailTx: the engine's group-commit transaction (on
// PostgreSQL one pipelined batch) commits every statement, or none when
// one of them fails, however late in the transaction.
func TestConformanceInMailTx(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, `CREATE TABLE mailtx_probe (id BIGINT PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			t.Helper()
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM mailtx_probe`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		err := db.InMailTx(ctx, 1, func(tx *storage.Tx) error {
			for _, id := range []int64{1, 2, 3} {
				if _, err := tx.Exec(ctx, `INSERT INTO mailtx_probe (id, v) VALUES (?, ?)`, id, "a"); err != nil {
					return err
				}
			}
			_, err := tx.Exec(ctx, `UPDATE mailtx_probe SET v = ? WHERE id = ?`, "b", int64(2))
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRow(ctx, `SELECT v FROM mailtx_probe WHERE id = 2`).Scan(&v); err != nil || v != "b" || count() != 3 {
			t.Fatalf("after the commit: v=%q, %d rows, %v", v, count(), err)
		}
		// The last statement fails (a duplicate key): the rows before it
		// are not kept.
		err = db.InMailTx(ctx, 1, func(tx *storage.Tx) error {
			for _, id := range []int64{4, 5, 1} {
				if _, err := tx.Exec(ctx, `INSERT INTO mailtx_probe (id, v) VALUES (?, ?)`, id, "c"); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			t.Fatal("a duplicate key committed")
		}
		if n := count(); n != 3 {
			t.Fatalf("%d rows after the failed commit, want 3", n)
		}
		// fn's own error: nothing is written.
		boom := errors.New("boom")
		err = db.InMailTx(ctx, 1, func(tx *storage.Tx) error {
			if _, err := tx.Exec(ctx, `INSERT INTO mailtx_probe (id, v) VALUES (?, ?)`, int64(6), "d"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || count() != 3 {
			t.Fatalf("fn's error: %v, %d rows", err, count())
		}
		// A pipelined transaction has no query to answer before its commit.
		if db.Dialect() == storage.Postgres {
			err = db.InMailTx(ctx, 1, func(tx *storage.Tx) error {
				_, err := tx.Query(ctx, `SELECT id FROM mailtx_probe`)
				return err
			})
			if !errors.Is(err, storage.ErrPipelined) {
				t.Fatalf("query in a pipelined transaction: %v", err)
			}
		}
		// The connection is usable after the failure.
		if err := db.InMailTx(ctx, 1, func(tx *storage.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO mailtx_probe (id, v) VALUES (?, ?)`, int64(7), "e")
			return err
		}); err != nil || count() != 4 {
			t.Fatalf("after the failure: %v, %d rows", err, count())
		}
	})
}
