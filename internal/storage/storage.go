// Package storage owns postvakt's database plumbing: opening SQLite
// (modernc.org/sqlite, the embedded default) or PostgreSQL (pgx/v5 pool),
// the embedded goose migrations per dialect, transactions and the statement
// cache, advisory locks for single-flight jobs and the scheduler's job runs
// (job_runs). It holds no capability's SQL: each capability keeps its own
// in a store package under internal/store, which implements the store
// interfaces that its domain packages define.
//
// Conventions, the same on both engines:
//   - SQL is written once with ? placeholders; Rebind turns them into $n for
//     PostgreSQL.
//   - Instants are stored as BIGINT microseconds since the Unix epoch (UTC),
//     converted with Micros and FromMicros, so comparisons and ranges behave
//     identically on both engines.
//   - Every store method is covered by the conformance suite
//     (storagetest.ForEach), which runs the same cases against SQLite and a
//     real PostgreSQL.
package storage

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Dialect is the database engine behind a DB.
type Dialect int

// The two engines.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// ErrNotFound is returned by store methods when a row does not exist.
var ErrNotFound = errors.New("not found")

// NotFound is a store's not-found error: it wraps ErrNotFound and the
// domain package's own sentinel (tickets.ErrNotFound, …), so that either
// matches with errors.Is, and it reads as the domain's sentinel alone —
// errors.Join of the two would print "not found" on a second line.
func NotFound(domain error) error { return notFoundError{domain} }

type notFoundError struct{ domain error }

func (e notFoundError) Error() string   { return e.domain.Error() }
func (e notFoundError) Unwrap() []error { return []error{e.domain, ErrNotFound} }

// ErrConflict is returned when a unique constraint rejects a write.
var ErrConflict = errors.New("conflict")

// DB is an open database of either dialect.
type DB struct {
	// SQL is the database/sql handle; on PostgreSQL it is backed by Pool.
	SQL     *sql.DB
	dialect Dialect
	// Pool is the pgx pool on PostgreSQL (COPY, advisory locks); nil on SQLite.
	Pool *pgxpool.Pool

	mu    sync.Mutex
	locks map[int64]bool // in-process advisory locks on SQLite

	// stmts caches prepared statements on SQLite (see stmt).
	stmts  sync.Map // query text → *sql.Stmt
	nstmts atomic.Int32

	// mailConn is the connection the engine's group commits run on, on
	// SQLite (see InMailTx).
	mailMu    sync.Mutex
	mailConn  *sql.Conn
	mailPages int // written on mailConn since its last checkpoint (estimate)

	// warm is Options.WarmUp's background work on PostgreSQL (see warm.go).
	warm *warmer
}

// maxCachedStmts bounds the statement cache: queries whose text varies
// (IN lists of any length) beyond it are prepared per call as before.
const maxCachedStmts = 512

// Options tune Open.
type Options struct {
	MaxConns int
	// Bulk tunes SQLite for one long stream of large write transactions
	// (postvakt import): a page cache of BulkCacheKiB per connection
	// instead of SQLite's 2 MiB, so that a transaction does not spill
	// pages to the WAL before its commit and the indexes' pages are not
	// read back, and a WAL checkpoint every BulkWALPages pages instead of
	// 1,000, so that a page written by many batches is copied to the
	// database file fewer times. Neither weakens durability: every commit
	// is still synced (synchronous=FULL). No effect on PostgreSQL. A
	// database opened without Bulk first builds the indexes an
	// unfinished bulk load left deferred (app.OpenDatabaseWith,
	// DeferIndexes); the import, which opens with Bulk, starts such a
	// load over instead.
	Bulk bool
	// WarmUp are statements each new PostgreSQL connection runs, in the
	// background, before its first use by a search (see warm.go): serve
	// gives the EXPLAINs of the trace search, whose first plan on a new
	// connection reads every daily partition and its indexes from the
	// catalog. With WarmUp the pool keeps WarmConns connections open.
	// No effect on SQLite.
	WarmUp []string
}

// BulkCacheKiB and BulkWALPages are the SQLite settings of Options.Bulk.
const (
	BulkCacheKiB = 64 << 10
	BulkWALPages = 10000
)

// Open opens the database named by url: "sqlite:PATH" or "postgres://…". It
// does not run migrations.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	if opts.MaxConns <= 0 {
		opts.MaxConns = 8
	}
	switch {
	case strings.HasPrefix(rawURL, "sqlite:"):
		return openSQLite(ctx, strings.TrimPrefix(rawURL, "sqlite:"), opts)
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		return openPostgres(ctx, rawURL, opts)
	}
	return nil, fmt.Errorf("open database: unsupported URL scheme in %q (want sqlite: or postgres://)", redact(rawURL))
}

func openSQLite(ctx context.Context, path string, opts Options) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("open sqlite: create directory: %w", err)
		}
	}
	// WAL lets readers run beside the one writer; synchronous=FULL makes a
	// commit durable before it returns (a 250 reply depends on it);
	// _txlock=immediate takes the write lock at BEGIN so two writers never
	// deadlock on a lock upgrade.
	q := url.Values{}
	for _, p := range []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(FULL)",
		"foreign_keys(ON)",
	} {
		q.Add("_pragma", p)
	}
	if opts.Bulk {
		q.Add("_pragma", fmt.Sprintf("cache_size(-%d)", BulkCacheKiB))
		q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", BulkWALPages))
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	sqldb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sqldb.SetMaxOpenConns(opts.MaxConns)
	sqldb.SetMaxIdleConns(opts.MaxConns)
	sqldb.SetConnMaxIdleTime(0)
	if err := sqldb.PingContext(ctx); err != nil {
		sqldb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return &DB{SQL: sqldb, dialect: SQLite, locks: map[int64]bool{}}, nil
}

func openPostgres(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
	}
	cfg.MaxConns = int32(opts.MaxConns)
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "postvakt"
	if len(opts.WarmUp) > 0 {
		cfg.MinConns = min(WarmConns, cfg.MaxConns)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(rawURL), err)
	}
	db := &DB{SQL: stdlib.OpenDBFromPool(pool), dialect: Postgres, Pool: pool}
	if len(opts.WarmUp) > 0 {
		db.warm = startWarmer(pool, opts.WarmUp)
	}
	return db, nil
}

// Close closes the database.
func (db *DB) Close() error {
	if db.warm != nil {
		db.warm.stop()
	}
	db.stmts.Range(func(k, v any) bool {
		if st, ok := v.(*sql.Stmt); ok {
			_ = st.Close()
		}
		db.stmts.Delete(k)
		return true
	})
	db.mailMu.Lock()
	if db.mailConn != nil {
		_ = db.mailConn.Close()
		db.mailConn = nil
	}
	db.mailMu.Unlock()
	err := db.SQL.Close()
	if db.Pool != nil {
		db.Pool.Close()
	}
	return err
}

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.SQL.PingContext(ctx) }

// Rebind rewrites ? placeholders as $1, $2, … on PostgreSQL. Question marks
// inside single-quoted strings are left alone.
func (db *DB) Rebind(q string) string {
	if db.dialect != Postgres {
		return q
	}
	return RebindDollar(q)
}

func RebindDollar(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 8)
	n, inStr := 0, false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteByte(c)
		case c == '?' && !inStr:
			n++
			fmt.Fprintf(&b, "$%d", n)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Querier is what both *DB and *Tx offer: ?-placeholder queries.
type Querier interface {
	Exec(ctx context.Context, q string, args ...any) (sql.Result, error)
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
	Dialect() Dialect
}

// stmt returns the cached prepared statement for q (already rebound), or
// nil when statements are not cached: on PostgreSQL, where pgx keeps its
// own statement cache per connection, and once the cache is full.
//
// modernc's SQLite driver parses and plans a statement on every
// db.Query/Exec that is not prepared; that was 14 % of the MX's CPU
// (docs/performance.md, "Engine"). A *sql.Stmt is prepared once per
// connection of the pool and reused; SQLite re-prepares it by itself
// after a schema change.
func (db *DB) stmt(ctx context.Context, q string) *sql.Stmt {
	if db.dialect != SQLite {
		return nil
	}
	if v, ok := db.stmts.Load(q); ok {
		st, _ := v.(*sql.Stmt) // nil while another goroutine prepares it
		return st
	}
	if db.nstmts.Load() >= maxCachedStmts {
		return nil
	}
	return db.prepareCached(ctx, q)
}

// stmtPending marks a statement being prepared.
type stmtPending struct{}

func (db *DB) prepareCached(ctx context.Context, q string) *sql.Stmt {
	if _, loaded := db.stmts.LoadOrStore(q, stmtPending{}); loaded {
		return nil
	}
	st, err := db.SQL.PrepareContext(ctx, q)
	if err != nil {
		db.stmts.Delete(q) // the unprepared call reports the error
		return nil
	}
	db.stmts.Store(q, st)
	db.nstmts.Add(1)
	return st
}

// Exec runs a statement written with ? placeholders.
func (db *DB) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = db.Rebind(q)
	if st := db.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.SQL.ExecContext(ctx, q, args...)
}

// Query runs a query written with ? placeholders.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	q = db.Rebind(q)
	if st := db.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.SQL.QueryContext(ctx, q, args...)
}

// QueryRow runs a one-row query written with ? placeholders.
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	q = db.Rebind(q)
	if st := db.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.SQL.QueryRowContext(ctx, q, args...)
}

// Tx is a transaction with the same ?-placeholder helpers as DB.
type Tx struct {
	*sql.Tx
	db    *DB
	stmts map[string]*sql.Stmt // cached statements bound to this transaction
	// batch, in a pipelined transaction (InMailTx on PostgreSQL), queues
	// what Exec is given; the transaction is sent in one round trip when
	// fn returns. Tx.Tx is nil then.
	batch *pgx.Batch
}

// ErrPipelined is returned by Query in a pipelined transaction: its
// statements run only once the transaction function has returned.
var ErrPipelined = errors.New("storage: no query in a pipelined transaction")

// pipelined is the result of an Exec in a pipelined transaction: not
// known before the commit.
type pipelined struct{}

func (pipelined) LastInsertId() (int64, error) { return 0, ErrPipelined }
func (pipelined) RowsAffected() (int64, error) { return 0, ErrPipelined }

// Exec runs a statement in the transaction. On SQLite it uses the
// database's cached statement, bound to the transaction's connection
// (database/sql reuses what that connection already prepared).
//
// Query and QueryRow in a transaction are not cached: one SQLite statement
// serves one cursor at a time, and a transaction may run the same query
// again while the rows of the first are still open (on the pool, a
// connection with open rows is never handed out, so DB.Query is safe).
//
// In a pipelined transaction the statement is queued: its error, if any,
// is the commit's, and its result is unknown (pipelined).
func (tx *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	q = tx.db.Rebind(q)
	if tx.batch != nil {
		tx.batch.Queue(q, args...)
		return pipelined{}, nil
	}
	if st := tx.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.Tx.ExecContext(ctx, q, args...)
}

func (tx *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	db := tx.db
	if db.dialect != SQLite {
		return nil
	}
	if st, ok := tx.stmts[q]; ok {
		return st
	}
	v, ok := db.stmts.Load(q)
	if !ok {
		// Preparing on the pool needs a second connection, which a full
		// pool of open transactions would never free: prepare it in the
		// background and run this call unprepared.
		if db.nstmts.Load() < maxCachedStmts {
			go db.prepareCached(context.WithoutCancel(ctx), q)
		}
		return nil
	}
	st, _ := v.(*sql.Stmt)
	if st == nil {
		return nil
	}
	txst := tx.Tx.StmtContext(ctx, st) // closed with the transaction
	if tx.stmts == nil {
		tx.stmts = map[string]*sql.Stmt{}
	}
	tx.stmts[q] = txst
	return txst
}

// Query runs a query in the transaction (ErrPipelined in a pipelined
// one).
func (tx *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if tx.batch != nil {
		return nil, ErrPipelined
	}
	return tx.Tx.QueryContext(ctx, tx.db.Rebind(q), args...)
}

// QueryRow runs a one-row query in the transaction; a pipelined
// transaction has none to run it in (it panics).
func (tx *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return tx.Tx.QueryRowContext(ctx, tx.db.Rebind(q), args...)
}

// Dialect is the engine of the transaction's database.
func (tx *Tx) Dialect() Dialect { return tx.db.dialect }

var (
	_ Querier = (*DB)(nil)
	_ Querier = (*Tx)(nil)
)

// InTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	sqlTx, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return db.runTx(sqlTx, fn)
}

// InConnTx is InTx on the connection c (from db.SQL.Conn): a writer that
// keeps a connection of its own, with settings of its own (an import's
// bulk load on SQLite).
func (db *DB) InConnTx(ctx context.Context, c *sql.Conn, fn func(tx *Tx) error) error {
	sqlTx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	return db.runTx(sqlTx, fn)
}

// WithoutForeignKeys runs fn in a transaction on a connection of its own
// with SQLite's foreign-key enforcement off (only outside a transaction
// can it be switched). The connection is thrown away if it cannot be
// switched back.
func (db *DB) WithoutForeignKeys(ctx context.Context, fn func(q Querier) error) error {
	c, err := db.SQL.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if _, err := c.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys=ON"); err != nil {
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
		}
		_ = c.Close()
	}()
	if _, err := c.ExecContext(ctx, "PRAGMA foreign_keys=OFF"); err != nil {
		return err
	}
	sqlTx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	return db.runTx(sqlTx, func(tx *Tx) error { return fn(tx) })
}

// runTx runs fn in the begun sqlTx, committing when fn returns nil and
// rolling back otherwise.
func (db *DB) runTx(sqlTx *sql.Tx, fn func(tx *Tx) error) error {
	if err := fn(&Tx{Tx: sqlTx, db: db}); err != nil {
		_ = sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// InMailTx is InTx for the engine's group commits, which write about
// pages pages. On SQLite they run on one connection of their own: SQLite
// drops a connection's whole page cache when another connection has written
// since its last transaction, so on the shared pool every commit re-read the
// index pages it appends to (pread and page parsing); SQLite has one writer
// at a time anyway. That connection does not checkpoint inside a commit
// (wal_autocheckpoint=0): after about mailCheckpointPages pages it
// checkpoints once the commit has returned, so the sessions waiting for that
// commit's 250 do not wait for the copy and the database sync; the next
// commit waits for it, and with no writer in between the checkpoint
// empties the WAL, which the next commit then starts over.
//
// On PostgreSQL (where several commit workers run in parallel) the
// transaction is pipelined: fn's Execs are queued, and sent when it
// returns nil as one pgx batch, one round trip, that the server runs as one
// implicit transaction (everything up to the batch's single Sync message):
// all of it is committed, durably with synchronous_commit on, before the
// reply, or none of it. fn can only Exec (Query returns ErrPipelined). A
// batch the process had sent when it died still commits: none of its
// senders was answered, so at worst a message arrives twice, as when a 250
// reply is lost.
func (db *DB) InMailTx(ctx context.Context, pages int, fn func(tx *Tx) error) error {
	if db.dialect != SQLite {
		return db.inPipelinedTx(ctx, fn)
	}
	db.mailMu.Lock()
	unlock := true
	defer func() {
		if unlock {
			db.mailMu.Unlock()
		}
	}()
	if db.mailConn == nil {
		c, err := db.SQL.Conn(ctx)
		if err != nil {
			return fmt.Errorf("begin: %w", err)
		}
		if _, err := c.ExecContext(ctx, "PRAGMA wal_autocheckpoint=0"); err != nil {
			_ = c.Close()
			return fmt.Errorf("begin: %w", err)
		}
		db.mailConn = c
	}
	sqlTx, err := db.mailConn.BeginTx(ctx, nil)
	if err != nil {
		// a broken connection is not kept: the next commit takes a new one
		_ = db.mailConn.Close()
		db.mailConn = nil
		return fmt.Errorf("begin: %w", err)
	}
	if err := db.runTx(sqlTx, fn); err != nil {
		return err
	}
	if db.mailPages += pages; db.mailPages >= mailCheckpointPages {
		db.mailPages = 0
		unlock = false
		go func() {
			defer db.mailMu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// PASSIVE never waits for readers; what it cannot copy now
			// the next one copies
			_, _ = db.mailConn.ExecContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)")
		}()
	}
	return nil
}

// inPipelinedTx runs fn's statements as one batch on PostgreSQL.
func (db *DB) inPipelinedTx(ctx context.Context, fn func(tx *Tx) error) error {
	tx := &Tx{db: db, batch: &pgx.Batch{}}
	if err := fn(tx); err != nil {
		return err
	}
	n := tx.batch.Len()
	if n == 0 {
		return nil
	}
	br := db.Pool.SendBatch(ctx, tx.batch)
	for range n {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return fmt.Errorf("commit: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// mailCheckpointPages is SQLite's own autocheckpoint threshold.
const mailCheckpointPages = 1000

// Micros converts t to the stored form: microseconds since the Unix epoch.
// The zero time is stored as 0.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros converts a stored instant back, in UTC; 0 is the zero time.
func FromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// NullMicros is Micros for optional instants: the zero time is NULL.
func NullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// FromNullMicros converts an optional stored instant back.
func FromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return FromMicros(v.Int64)
}

// IsUniqueViolation reports whether err is a unique-constraint violation on
// either engine.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.Contains(s, "UNIQUE constraint failed") || // SQLite
		strings.Contains(s, "SQLSTATE 23505") // PostgreSQL unique_violation
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Dialect is the engine behind the database.
func (db *DB) Dialect() Dialect { return db.dialect }

// QueryAll runs a ?-placeholder query on q and scans every row with scan.
// No rows give a nil slice.
func QueryAll[T any](ctx context.Context, q Querier, scan func(RowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
