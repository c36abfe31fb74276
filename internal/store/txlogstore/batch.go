package txlogstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// copyBufs holds the encoding buffers of concurrent batch writers.
var copyBufs = sync.Pool{New: func() any { return new(copyBuf) }}

// The collectors' logs, partitioned by day on PostgreSQL.
var collectorLogTables = []string{"mail_tx", "mail_messages", "mail_logins", "mail_sessions"}

var txColumns = []string{"ts", "node", "source", "direction", "msg_key", "queue_id", "message_id", "mail_from", "rcpt",
	"orig_rcpt", "header_from", "subject", "header_date", "size", "client_ip", "client_name", "helo", "auth_user",
	"spam_score", "av_verdict", "status", "stage", "code", "dsn", "reply", "relay", "agent", "handoff", "delay", "delays"}

var msgColumns = []string{"ts", "last_seen", "node", "source", "direction", "msg_key", "origin", "service", "state",
	"queue_ids", "first_queue_id", "message_id", "mail_from", "header_from", "subject", "header_date", "size", "nrcpt",
	"client_ip", "client_name", "helo", "auth_user", "spam_score", "av_verdict", "received", "auth_results", "original_from"}

var loginColumns = []string{"ts", "node", "source", "service", "username", "remote_ip", "method", "session", "tls", "ok", "reason"}

func b2i(b bool) int16 {
	if b {
		return 1
	}
	return 0
}

// appendTx appends r's values in the order of txColumns.
func appendTx(dst []any, r *txlog.Row) []any {
	return append(dst, storage.Micros(r.Time), r.Node, r.Source, string(r.Direction), r.MsgKey, r.QueueID, r.MessageID,
		strings.ToLower(r.MailFrom), strings.ToLower(r.Rcpt), strings.ToLower(r.OrigRcpt), r.HeaderFrom, r.Subject,
		r.HeaderDate, r.Size, r.ClientIP, r.ClientName, r.Helo, r.AuthUser, r.SpamScore, r.AVVerdict, r.Status,
		r.Stage, int32(r.Code), r.DSN, r.Reply, r.Relay, r.Agent, b2i(r.Handoff), r.Delay, r.Delays)
}

// appendMsg appends m's values in the order of msgColumns.
func appendMsg(dst []any, m *txlog.MessageRow) []any {
	first := ""
	if len(m.QueueIDs) > 0 {
		first = m.QueueIDs[0]
	}
	return append(dst, storage.Micros(m.FirstSeen), storage.Micros(m.LastSeen), m.Node, m.Source, string(m.Direction), m.MsgKey, m.Origin,
		m.Service, m.State, strings.Join(m.QueueIDs, " "), first, m.MessageID, strings.ToLower(m.MailFrom),
		m.HeaderFrom, m.Subject, m.HeaderDate, m.Size, int32(m.NRcpt), m.ClientIP, m.ClientName, m.Helo,
		m.AuthUser, m.SpamScore, m.AVVerdict, int32(m.Received), m.AuthResults, m.OriginalFrom)
}

// appendLogin appends l's values in the order of loginColumns.
func appendLogin(dst []any, l *txlog.Login) []any {
	return append(dst, storage.Micros(l.Time), l.Node, l.Source, l.Service, l.User, l.RemoteIP, l.Method, l.Session,
		b2i(l.TLS), b2i(l.OK), l.Reason)
}

// dayStart is the UTC midnight at or before t.
func dayStart(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func partitionName(table string, day time.Time) string {
	return table + "_p" + day.Format("20060102")
}

// EnsureLogPartitions creates the daily partitions of the collectors' logs
// for every day from `from` to `to` inclusive (PostgreSQL; a no-op on
// SQLite). It is idempotent and safe to run from several replicas.
func (s *Store) EnsureLogPartitions(ctx context.Context, from, to time.Time) error {
	if s.db.Dialect() != storage.Postgres {
		return nil
	}
	for d := dayStart(from); !d.After(to); d = d.AddDate(0, 0, 1) {
		if err := s.ensureDay(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) ensureDay(ctx context.Context, day time.Time) error {
	lo, hi := storage.Micros(day), storage.Micros(day.AddDate(0, 0, 1))
	for _, t := range collectorLogTables {
		name := partitionName(t, day)
		q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF %s FOR VALUES FROM (%d) TO (%d)`, name, t, lo, hi)
		if _, err := s.db.Pool.Exec(ctx, q); err != nil {
			// Two replicas may race on the same day; the loser sees the
			// partition now exists.
			var exists bool
			if qerr := s.db.Pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&exists); qerr == nil && exists {
				continue
			}
			return fmt.Errorf("create partition %s: %w", name, err)
		}
	}
	return nil
}

// batchDays returns the distinct UTC days of the records in b.
func batchDays(b *txlog.Batch) []time.Time {
	seen := map[time.Time]bool{}
	var out []time.Time
	add := func(t time.Time) {
		d := dayStart(t)
		if !seen[d] {
			seen[d] = true
			out = append(out, d)
		}
	}
	for i := range b.Rows {
		add(b.Rows[i].Time)
	}
	for i := range b.Messages {
		add(b.Messages[i].FirstSeen)
	}
	for i := range b.Logins {
		add(b.Logins[i].Time)
	}
	for i := range b.Sessions {
		add(b.Sessions[i].Time)
	}
	return out
}

// WriteBatch writes b and the checkpoints in one transaction: COPY on
// PostgreSQL (into daily partitions, created on demand), multi-row INSERT
// on SQLite.
func (s *Store) WriteBatch(ctx context.Context, b *txlog.Batch, cps []txlog.Checkpoint) error {
	if b.Len() == 0 && len(cps) == 0 {
		return nil
	}
	if s.db.Dialect() == storage.Postgres {
		return s.writeBatchPG(ctx, b, cps)
	}
	inTx := s.db.InTx
	if s.bulk.Load() {
		// a bulk load's writers take turns on the load's own connection
		// (SQLite has one writer at a time; the turns keep them from
		// waiting in the busy handler), each with its batch made ready
		// before its turn (bulkwrite.go)
		var bb *bulkBatch
		if len(cps) == 0 {
			var err error
			if bb, err = prepareBulk(b); err != nil {
				return err
			}
			defer bb.release()
		}
		s.bulkMu.Lock()
		defer s.bulkMu.Unlock()
		if c := s.bulkConn; c != nil {
			if bb != nil {
				return s.writeBulk(ctx, c, bb)
			}
			inTx = func(ctx context.Context, fn func(tx *storage.Tx) error) error { return s.db.InConnTx(ctx, c, fn) }
		}
	}
	return inTx(ctx, func(tx *storage.Tx) error {
		for _, t := range batchTables(b) {
			if err := insertRows(ctx, tx, t); err != nil {
				return err
			}
		}
		for _, cp := range cps {
			for _, st := range checkpointStatements(cp, false) {
				if _, err := tx.Exec(ctx, st.q, st.args...); err != nil {
					return fmt.Errorf("save checkpoint %s: %w", cp.Source, err)
				}
			}
		}
		return nil
	})
}

// WriteBatchTx writes b inside tx, a transaction another store began on
// the same database: the engine's journal writes the records of its mail
// in the mail's own commit (docs/collectors.md, "The engine"). The
// records go in with multi-row INSERTs on both engines; on PostgreSQL the
// daily partitions they need are made first, each once per Store, on a
// connection of their own (the partition job makes them a week ahead, so
// this is rare).
func (s *Store) WriteBatchTx(ctx context.Context, tx *storage.Tx, b *txlog.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	if s.db.Dialect() == storage.Postgres {
		for _, d := range batchDays(b) {
			if _, ok := s.days.Load(d); ok {
				continue
			}
			if err := s.ensureDay(ctx, d); err != nil {
				return err
			}
			s.days.Store(d, true)
		}
	}
	tables := batchTables(b)
	for _, t := range tables[:3] { // the engine's records: rows, messages, logins
		if err := insertRows(ctx, tx, t); err != nil {
			return err
		}
	}
	return nil
}

// tableRows is one table's part of a batch: its n rows, row appending the
// values of row i in the order of cols.
type tableRows struct {
	table string
	cols  []string
	n     int
	row   func(dst []any, i int) []any
}

// batchTables is b by table, in the order every writer inserts them.
func batchTables(b *txlog.Batch) [5]tableRows {
	return [5]tableRows{
		{"mail_tx", txColumns, len(b.Rows), func(dst []any, i int) []any { return appendTx(dst, &b.Rows[i]) }},
		{"mail_messages", msgColumns, len(b.Messages), func(dst []any, i int) []any { return appendMsg(dst, &b.Messages[i]) }},
		{"mail_logins", loginColumns, len(b.Logins), func(dst []any, i int) []any { return appendLogin(dst, &b.Logins[i]) }},
		{"mail_warnings", warningColumns, len(b.Warnings), func(dst []any, i int) []any { return appendWarning(dst, &b.Warnings[i]) }},
		{"mail_sessions", sessionColumns, len(b.Sessions), func(dst []any, i int) []any { return appendSession(dst, &b.Sessions[i]) }},
	}
}

// chunks calls fn with the bounds of each multi-row statement writing n
// rows: up to maxChunk rows (SQLite allows 32766 parameters per
// statement), each of a power-of-two size (see chunkSize).
func chunks(n int, fn func(start, end int) error) error {
	for start := 0; start < n; {
		end := start + chunkSize(n-start)
		if err := fn(start, end); err != nil {
			return err
		}
		start = end
	}
	return nil
}

// insertRows inserts t's rows with multi-row INSERT statements (chunks).
func insertRows(ctx context.Context, tx *storage.Tx, t tableRows) error {
	return chunks(t.n, func(start, end int) error {
		args := make([]any, 0, (end-start)*len(t.cols))
		for i := start; i < end; i++ {
			args = t.row(args, i)
		}
		if _, err := tx.Exec(ctx, insertSQL(t.table, t.cols, end-start), args...); err != nil {
			return fmt.Errorf("insert into %s: %w", t.table, err)
		}
		return nil
	})
}

// maxChunk is the most rows (or state items) one multi-row statement on
// SQLite writes.
const maxChunk = 512

// chunkSize is how many of n rows the next multi-row statement writes
// (storage.ChunkRows: powers of two up to maxChunk).
func chunkSize(n int) int { return storage.ChunkRows(n, maxChunk) }

// upsertCheckpoint writes a checkpoint; replay and open_keys, columns of
// an earlier design, get the offset and nothing.
const upsertCheckpoint = `INSERT INTO collector_checkpoints (source, inode, head_hash, off, replay, open_keys, state, updated)
	VALUES (?, ?, ?, ?, ?, '', ?, ?)
	ON CONFLICT (source) DO UPDATE SET inode = excluded.inode, head_hash = excluded.head_hash, off = excluded.off,
	replay = excluded.replay, open_keys = '', state = excluded.state, updated = excluded.updated`

func checkpointArgs(cp txlog.Checkpoint) []any {
	state := cp.State
	if state == nil {
		state = []byte{}
	}
	return []any{cp.Source, int64(cp.Inode), cp.HeadHash, cp.Offset, cp.Offset, state, storage.Micros(cp.Updated)}
}

type statement struct {
	q    string
	args []any
}

// checkpointStatements write cp: its row, and the state's items it
// replaces, drops and puts (collector_state_items), a few statements
// however many items: on PostgreSQL one DELETE and one INSERT over arrays,
// on SQLite multi-row statements of up to maxChunk items (32766
// parameters), of the sizes chunkSize gives.
func checkpointStatements(cp txlog.Checkpoint, pg bool) []statement {
	out := []statement{{upsertCheckpoint, checkpointArgs(cp)}}
	if cp.ReplaceItems {
		out = append(out, statement{`DELETE FROM collector_state_items WHERE source = ?`, []any{cp.Source}})
	} else if len(cp.Drop) > 0 {
		if pg {
			out = append(out, statement{`DELETE FROM collector_state_items WHERE source = ? AND item = ANY(?::text[])`,
				[]any{cp.Source, cp.Drop}})
		} else {
			for start := 0; start < len(cp.Drop); {
				part := cp.Drop[start : start+chunkSize(len(cp.Drop)-start)]
				start += len(part)
				args := make([]any, 0, len(part)+1)
				args = append(args, cp.Source)
				for _, k := range part {
					args = append(args, k)
				}
				out = append(out, statement{`DELETE FROM collector_state_items WHERE source = ? AND item IN (` +
					strings.TrimSuffix(strings.Repeat("?,", len(part)), ",") + `)`, args})
			}
		}
	}
	if len(cp.Items) == 0 {
		return out
	}
	keys := make([]string, 0, len(cp.Items))
	for k := range cp.Items {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	const upsert = ` ON CONFLICT (source, item) DO UPDATE SET data = excluded.data`
	if pg {
		data := make([][]byte, len(keys))
		for i, k := range keys {
			data[i] = cp.Items[k]
		}
		return append(out, statement{`INSERT INTO collector_state_items (source, item, data)
			SELECT ?, k, d FROM unnest(?::text[], ?::bytea[]) AS t(k, d)` + upsert, []any{cp.Source, keys, data}})
	}
	for start := 0; start < len(keys); {
		part := keys[start : start+chunkSize(len(keys)-start)]
		start += len(part)
		args := make([]any, 0, 3*len(part))
		for _, k := range part {
			args = append(args, cp.Source, k, cp.Items[k])
		}
		out = append(out, statement{`INSERT INTO collector_state_items (source, item, data) VALUES ` +
			strings.TrimSuffix(strings.Repeat("(?, ?, ?),", len(part)), ",") + upsert, args})
	}
	return out
}

func (s *Store) writeBatchPG(ctx context.Context, b *txlog.Batch, cps []txlog.Checkpoint) error {
	for _, d := range batchDays(b) {
		if err := s.ensureDay(ctx, d); err != nil {
			return err
		}
	}
	tx, err := s.db.Pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if s.bulk.Load() {
		// a bulk load that stops short is started over
		// (BeginBulkLoad): its commits need not wait for the WAL flush
		if _, err := tx.Exec(ctx, "SET LOCAL synchronous_commit = off"); err != nil {
			return fmt.Errorf("write batch: %w", err)
		}
	}
	cb := copyBufs.Get().(*copyBuf)
	defer copyBufs.Put(cb)
	copyIn := func(table string, cols []string, n int, row func(i int)) error {
		if n == 0 {
			return nil
		}
		cb.reset()
		for i := 0; i < n; i++ {
			row(i)
		}
		q := "COPY " + table + " (" + strings.Join(cols, ", ") + ") FROM STDIN WITH (FORMAT binary)"
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, cb.reader(), q); err != nil {
			return fmt.Errorf("copy into %s: %w", table, err)
		}
		return nil
	}
	if err := copyIn("mail_tx", txColumns, len(b.Rows), func(i int) { cb.txRow(&b.Rows[i]) }); err != nil {
		return err
	}
	if err := copyIn("mail_messages", msgColumns, len(b.Messages), func(i int) { cb.msgRow(&b.Messages[i]) }); err != nil {
		return err
	}
	if err := copyIn("mail_logins", loginColumns, len(b.Logins), func(i int) { cb.loginRow(&b.Logins[i]) }); err != nil {
		return err
	}
	if err := insertWarningsPG(ctx, tx, b.Warnings); err != nil {
		return err
	}
	if err := copyIn("mail_sessions", sessionColumns, len(b.Sessions), func(i int) { cb.sessionRow(&b.Sessions[i]) }); err != nil {
		return err
	}
	for _, cp := range cps {
		for _, st := range checkpointStatements(cp, true) {
			if _, err := tx.Exec(ctx, storage.RebindDollar(st.q), st.args...); err != nil {
				return fmt.Errorf("save checkpoint %s: %w", cp.Source, err)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("write batch: %w", err)
	}
	return nil
}

// Checkpoint returns the saved reading position of a source, or
// txlog.ErrNoCheckpoint.
func (s *Store) Checkpoint(ctx context.Context, source string) (txlog.Checkpoint, error) {
	var cp txlog.Checkpoint
	var inode, updated int64
	err := s.db.QueryRow(ctx, `SELECT source, inode, head_hash, off, state, updated FROM collector_checkpoints WHERE source = ?`, source).
		Scan(&cp.Source, &inode, &cp.HeadHash, &cp.Offset, &cp.State, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return cp, txlog.ErrNoCheckpoint
	}
	if err != nil {
		return cp, fmt.Errorf("load checkpoint %s: %w", source, err)
	}
	cp.Inode, cp.Updated = uint64(inode), storage.FromMicros(updated)
	if len(cp.State) == 0 {
		cp.State = nil
	}
	rows, err := s.db.Query(ctx, `SELECT item, data FROM collector_state_items WHERE source = ?`, source)
	if err != nil {
		return cp, fmt.Errorf("load state %s: %w", source, err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return cp, fmt.Errorf("load state %s: %w", source, err)
		}
		if cp.Items == nil {
			cp.Items = map[string][]byte{}
		}
		cp.Items[k] = v
	}
	return cp, rows.Err()
}
