package txlogstore_test

import (
	"context"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// TestConformanceBulkLoadStoresWhatWriteBatchStores: batches written by a
// bulk load into empty logs (on SQLite through the driver's statements,
// an empty text bound as NULL and stored as the empty string) leave the
// same rows, value for value and of the same SQL types, as the same
// batches written as serve writes them; a batch written with a
// checkpoint during the load takes the other path on the load's
// connection and is stored as well.
func TestConformanceBulkLoadStoresWhatWriteBatchStores(t *testing.T) {
	t.Parallel()
	batches := func() []*txlog.Batch {
		var out []*txlog.Batch
		for i, n := range []int{1, 300, 700} { // 700: statements of 512, 128, 32, … rows
			b := sampleBatch(t0.Add(time.Duration(i)*time.Hour), n)
			b.Rows[0].Rcpt = "Bad\xffuser\x00@uni.example"
			b.Rows[0].OrigRcpt = "Orig@Uni.example"
			b.Messages[0].Subject = "Pr\xf8ve\x00 results"
			b.Messages[0].AuthUser = "" // an empty text among full ones
			b.Warnings = append(b.Warnings,
				txlog.Warning{Time: t0, Node: "mx", Program: "postfix/smtpd", Severity: "warning", Text: fmt.Sprintf("hostname %d does not resolve", i)},
				txlog.Warning{Time: t0, Node: "", Program: "postfix/qmgr", Severity: "fatal", Text: "", Key: "k"})
			b.Sessions = append(b.Sessions,
				txlog.Session{Time: t0, Node: "mx", Source: "dovecot", Service: "imap", User: "u@uni.example", Session: "s1", RemoteIP: "10.0.0.1", Reads: 3, ReadBytes: 4096},
				txlog.Session{Time: t0, Node: "mx", Source: "dovecot", Service: "pop3", Session: "s2"})
			out = append(out, b)
		}
		return out
	}
	storagetest.ForEach(t, func(t *testing.T, plainDB *storage.DB) {
		ctx := context.Background()
		plain := txlogstore.New(plainDB)
		for _, b := range batches() {
			if err := plain.WriteBatch(ctx, b, nil); err != nil {
				t.Fatal(err)
			}
		}
		bulkDB := storagetest.Open(t, plainDB.Dialect())
		bulk := txlogstore.New(bulkDB)
		bl, err := bulk.BeginBulkLoad(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bl.On {
			t.Fatal("no bulk load into empty logs")
		}
		for i, b := range batches() {
			var cps []txlog.Checkpoint
			if i == 1 {
				cps = []txlog.Checkpoint{{Source: "file:/var/log/mail.log", Inode: 7, HeadHash: "h", Offset: 100, Updated: t0}}
			}
			if err := bulk.WriteBatch(ctx, b, cps); err != nil {
				t.Fatal(err)
			}
		}
		if err := bulk.FinishBulkLoad(ctx); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"mail_tx", "mail_messages", "mail_logins", "mail_warnings", "mail_sessions"} {
			want, got := tableRows(t, plainDB, table), tableRows(t, bulkDB, table)
			if len(want) == 0 {
				t.Fatalf("%s: no rows written", table)
			}
			if !reflect.DeepEqual(got, want) {
				i := 0
				for i < min(len(got), len(want))-1 && got[i] == want[i] {
					i++
				}
				t.Errorf("%s: bulk load stored %d rows, WriteBatch %d; the first that differ, bulk load's:\n%s\nWriteBatch's:\n%s",
					table, len(got), len(want), got[i], want[i])
			}
		}
		if cp, err := bulk.Checkpoint(ctx, "file:/var/log/mail.log"); err != nil || cp.Offset != 100 {
			t.Errorf("checkpoint written during the bulk load: %+v, %v", cp, err)
		}
	})
}

// tableRows returns every row of table as text, each value with its SQL
// type on SQLite, sorted.
func tableRows(t *testing.T, db *storage.DB, table string) []string {
	t.Helper()
	ctx := context.Background()
	rows, err := db.Query(ctx, "SELECT * FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	var sel []string
	for _, c := range cols {
		sel = append(sel, c)
		if db.Dialect() == storage.SQLite {
			sel = append(sel, "typeof("+c+")")
		} else {
			sel = append(sel, "pg_typeof("+c+")::text")
		}
	}
	rows, err = db.Query(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, len(sel))
		ptrs := make([]any, len(sel))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var sb strings.Builder
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			fmt.Fprintf(&sb, "%s=%#v ", sel[i], v)
		}
		out = append(out, sb.String())
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// TestBulkLoadSmallPools: a bulk load into SQLite finishes with a pool of
// two, three or eight connections (database.max_conns; the configuration
// asks for at least two): the checkpoints
// beside the load take a connection of their own only when two more are
// free, so the load never waits for a connection it holds itself; and
// with more commits than a checkpoint is asked for after, the rows are in
// the database file once the load is finished (the WAL checkpointed).
func TestBulkLoadSmallPools(t *testing.T) {
	t.Parallel()
	for _, conns := range []int{2, 3, 8} {
		t.Run(fmt.Sprintf("max_conns=%d", conns), func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			db, err := storage.Open(ctx, storagetest.URL(t, storage.SQLite), storage.Options{MaxConns: conns, Bulk: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.MigrateUp(ctx, nil); err != nil {
				t.Fatal(err)
			}
			st := txlogstore.New(db)
			if bl, err := st.BeginBulkLoad(ctx); err != nil || !bl.On {
				t.Fatalf("BeginBulkLoad: %+v, %v", bl, err)
			}
			const batches = 20
			for i := range batches {
				if err := st.WriteBatch(ctx, sampleBatch(t0.Add(time.Duration(i)*time.Hour), 10), nil); err != nil {
					t.Fatal(err)
				}
			}
			if err := st.FinishBulkLoad(ctx); err != nil {
				t.Fatal(err)
			}
			var n, busy, log, done int
			if err := db.QueryRow(ctx, `SELECT count(*) FROM mail_tx`).Scan(&n); err != nil || n != batches*50 {
				t.Fatalf("mail_tx holds %d rows (%v), want %d", n, err, batches*50)
			}
			if err := db.QueryRow(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &log, &done); err != nil || log != done {
				t.Errorf("after the load the WAL holds %d frames, %d of them checkpointed (%v)", log, done, err)
			}
		})
	}
}
