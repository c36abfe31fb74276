package txlogstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/storage"
)

// What the monthly report reads of the collectors beyond their own
// figures (docs/reports.md, "Definitions"): the rollups of the mail flow,
// the rejects, the mailbox reads and the data coverage; the record of
// active users per day; the directory census; the busiest senders,
// recipients and domains and the reply texts of rejects, deferrals and
// bounces. The rules that classify, group and name these live in the
// reports package; the SQL here loads and sums.

// reportRollupQueries are computed with rollupQueries, hour and day:
//
//   - flow: accepted messages (received > 0) by the sender's side (dim
//     "outside", "local" or "unknown", from the message's direction) and
//     their outcome, counted as txlog.Summary counts received messages;
//     the outcome comes from the message's final recipient lines and its
//     content-filter verdict, in the order of the CASE (reports.FlowOutcomes
//     names them);
//   - rejects: refusals during the SMTP dialogue and by header/body checks
//     (status rejected) by "stage|code";
//   - reads: messages read and their bytes by service (mail_sessions);
//   - coverage: records of each source and host ("source|node"), so that
//     the report can tell the days each log reached the database.
//
// flow finds each message's outcome from its recipient lines, message by
// message, through the message-key index (mail_tx_key, a partial index of
// the lines with a key: the query states that condition so that the
// planner may use it): SQLite reads the period's messages in time order
// and looks up each one's lines. It read the whole transaction log every run
// when it looked the lines up by a list of the period's keys without that
// condition (16.6 s for an hour's rollup at 90 days, against 0.08 s), and
// with it still built that list and a table of the keys' sums (2.3 s and
// 20 MB for 320,000 messages in the lookback). The lines are bounded below
// by messageRowsBefore so that PostgreSQL reads only the daily partitions
// they can be in.
var reportRollupQueries = []rollupQuery{
	{"flow", `SELECT b, side || '|' || outcome, SUM(received), COALESCE(SUM(size), 0) FROM (
		SELECT m.ts - m.ts % BUCKET AS b, m.received, m.size,
			CASE WHEN m.direction IN ('inbound', 'relayed') THEN 'outside' WHEN m.direction IN ('internal', 'outbound') THEN 'local' ELSE 'unknown' END AS side,
			(SELECT CASE
				WHEN SUM(` + sentLocal + `) + SUM(` + sentRemote + `) > 0 AND SUM(` + failed + `) > 0 THEN 'partly_bounced'
				WHEN SUM(` + sentLocal + `) > 0 AND SUM(` + sentRemote + `) > 0 THEN 'delivered_both'
				WHEN SUM(` + sentLocal + `) > 0 THEN 'delivered_local'
				WHEN SUM(` + sentRemote + `) > 0 THEN 'delivered_remote'
				WHEN m.av_verdict LIKE 'Blocked %' OR m.av_verdict = 'rspamd reject' THEN 'blocked'
				WHEN SUM(` + failed + `) > 0 THEN 'bounced'
				WHEN SUM(CASE WHEN status = 'discarded' THEN 1 ELSE 0 END) > 0 THEN 'discarded'
				WHEN SUM(CASE WHEN status = 'deferred' THEN 1 ELSE 0 END) > 0 THEN 'queued'
				WHEN m.state = 'removed' THEN 'removed'
				ELSE 'no_outcome'
			END FROM mail_tx t WHERE t.msg_key = m.msg_key AND t.msg_key <> '' AND t.ts >= ?) AS outcome
		FROM mail_messages m
		WHERE m.ts >= ? AND m.ts < ? AND m.received > 0) x
		GROUP BY 1, 2`, func(lo, hi int64) []any { return []any{lo - messageRowsBefore, lo, hi} }, false},
	{"rejects", `SELECT ts - ts % BUCKET, stage || '|' || CAST(code AS TEXT), COUNT(*), 0 FROM mail_tx
		WHERE ts >= ? AND ts < ? AND status = 'rejected' GROUP BY 1, 2`, nil, false},
	{"reads", `SELECT ts - ts % BUCKET, service, COALESCE(SUM(reads), 0), COALESCE(SUM(read_bytes), 0) FROM mail_sessions
		WHERE ts >= ? AND ts < ? GROUP BY 1, 2`, nil, false},
	{"coverage", `SELECT b, src, COUNT(*), 0 FROM (
			SELECT ts - ts % BUCKET AS b, source || '|' || node AS src FROM mail_tx WHERE ts >= ? AND ts < ?
			UNION ALL SELECT ts - ts % BUCKET, source || '|' || node FROM mail_messages WHERE ts >= ? AND ts < ?
			UNION ALL SELECT ts - ts % BUCKET, source || '|' || node FROM mail_logins WHERE ts >= ? AND ts < ?
			UNION ALL SELECT ts - ts % BUCKET, source || '|' || node FROM mail_sessions WHERE ts >= ? AND ts < ?
		) x GROUP BY b, src`, pairs(4), false},
}

// The recipient lines that make a message's outcome (in flow): delivered
// to a local mailbox, delivered out, failed for good.
const (
	sentLocal  = `CASE WHEN status = 'sent' AND handoff = 0 AND direction IN ('inbound', 'internal') THEN 1 ELSE 0 END`
	sentRemote = `CASE WHEN status = 'sent' AND handoff = 0 AND direction IN ('outbound', 'relayed') THEN 1 ELSE 0 END`
	failed     = `CASE WHEN status IN ('bounced', 'expired') THEN 1 ELSE 0 END`
)

// messageRowsBefore is how long before its message's first record (the
// message's ts) one of its lines may be dated: none is, by the correlator's
// construction; the day allows for the clocks of different hosts.
const messageRowsBefore = int64(24 * time.Hour / time.Microsecond)

var _ rollup.UserDayStore = (*Store)(nil)
var _ rollup.CensusStore = (*Store)(nil)

func localMidnight(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// ComputeUserDays adds to login_user_days, for every day of loc that
// overlaps [from, to), the accounts with a successful login on it per
// login service (lines of source dovecot-auth are no logins, and a line
// without a user names nobody). A day is identified by its local
// midnight. Rows are only added: a day recomputed after the raw log was
// purged keeps what it had.
func (s *Store) ComputeUserDays(ctx context.Context, loc *time.Location, from, to time.Time) error {
	if loc == nil {
		loc = time.UTC
	}
	for d := localMidnight(from, loc); d.Before(to); {
		next := time.Date(d.Year(), d.Month(), d.Day()+1, 0, 0, 0, 0, loc)
		_, err := s.db.Exec(ctx, `INSERT INTO login_user_days (day, service, username)
			SELECT DISTINCT CAST(? AS BIGINT), service, username FROM mail_logins
			WHERE ts >= ? AND ts < ? AND ok = 1 AND source <> 'dovecot-auth' AND username <> ''
			ON CONFLICT (day, service, username) DO NOTHING`, storage.Micros(d), storage.Micros(d), storage.Micros(next))
		if err != nil {
			return fmt.Errorf("active users of %s: %w", d.Format(time.DateOnly), err)
		}
		d = next
	}
	return nil
}

// UserDayServices returns the login services of login_user_days on the
// days (their local midnights) in [from, to), and the number of those days
// with any row.
func (s *Store) UserDayServices(ctx context.Context, from, to time.Time) (services []string, days int64, err error) {
	lo, hi := storage.Micros(from), storage.Micros(to)
	rows, err := s.db.Query(ctx, `SELECT DISTINCT service FROM login_user_days WHERE day >= ? AND day < ? ORDER BY service`, lo, hi)
	if err != nil {
		return nil, 0, fmt.Errorf("active users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var svc string
		if err := rows.Scan(&svc); err != nil {
			return nil, 0, fmt.Errorf("active users: %w", err)
		}
		services = append(services, svc)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("active users: %w", err)
	}
	if err := s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT day) FROM login_user_days WHERE day >= ? AND day < ?`, lo, hi).Scan(&days); err != nil {
		return nil, 0, fmt.Errorf("active users: %w", err)
	}
	return services, days, nil
}

// ActiveUsersIn counts the distinct accounts of login_user_days on the
// days (their local midnights) in [from, to) over the login services
// given (the report counts SMTP AUTH over "smtp" and "submission" as one
// protocol); nil counts over every service.
func (s *Store) ActiveUsersIn(ctx context.Context, from, to time.Time, services []string) (int64, error) {
	q := `SELECT COUNT(DISTINCT username) FROM login_user_days WHERE day >= ? AND day < ?`
	args := []any{storage.Micros(from), storage.Micros(to)}
	if services != nil {
		if len(services) == 0 {
			return 0, nil
		}
		q += ` AND service IN (` + strings.TrimSuffix(strings.Repeat("?,", len(services)), ",") + `)`
		for _, v := range services {
			args = append(args, v)
		}
	}
	var n int64
	if err := s.db.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	return n, nil
}

// SaveDirectoryCensus records what the directory census of the snapshot
// day holding day says: the extra capacity beside the day's snapshot, and
// which domains and mailboxes are present (directory_members: a name
// present opens an interval at the day, a name gone closes its open
// interval at the day). A census of a day older than the newest recorded
// changes only the extra capacity.
func (s *Store) SaveDirectoryCensus(ctx context.Context, day time.Time, domains, mailboxes []string, extraBytes int64) error {
	d := storage.Micros(dayStart(day))
	return s.db.InTx(ctx, func(tx *storage.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE directory_snapshots SET extra_bytes = ? WHERE day = ?`, extraBytes, d); err != nil {
			return fmt.Errorf("directory census: %w", err)
		}
		var newest sql.NullInt64
		if err := tx.QueryRow(ctx, `SELECT MAX(CASE WHEN until_day IS NOT NULL AND until_day > since_day THEN until_day ELSE since_day END)
			FROM directory_members`).Scan(&newest); err != nil {
			return fmt.Errorf("directory census: %w", err)
		}
		if newest.Valid && newest.Int64 > d {
			return nil
		}
		for _, k := range []struct {
			kind  string
			names []string
		}{{"domain", domains}, {"mailbox", mailboxes}} {
			present := map[string]bool{}
			for _, n := range k.names {
				present[strings.ToLower(n)] = true
			}
			rows, err := tx.Query(ctx, `SELECT name FROM directory_members WHERE kind = ? AND until_day IS NULL`, k.kind)
			if err != nil {
				return fmt.Errorf("directory census: %w", err)
			}
			open := map[string]bool{}
			for rows.Next() {
				var n string
				if err := rows.Scan(&n); err != nil {
					rows.Close()
					return fmt.Errorf("directory census: %w", err)
				}
				open[n] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("directory census: %w", err)
			}
			for n := range open {
				if !present[n] {
					if _, err := tx.Exec(ctx, `UPDATE directory_members SET until_day = ? WHERE kind = ? AND name = ? AND until_day IS NULL`, d, k.kind, n); err != nil {
						return fmt.Errorf("directory census: %w", err)
					}
				}
			}
			for n := range present {
				if open[n] {
					continue
				}
				if _, err := tx.Exec(ctx, `INSERT INTO directory_members (kind, name, since_day, until_day) VALUES (?, ?, ?, NULL)
					ON CONFLICT (kind, name, since_day) DO UPDATE SET until_day = NULL`, k.kind, n, d); err != nil {
					return fmt.Errorf("directory census: %w", err)
				}
			}
		}
		return nil
	})
}

// DirectorySnapshotAt returns the last snapshot of a day before at, with
// the bytes used and the extra capacity (−1 when the snapshot did not
// record it); ok is false when there is none.
func (s *Store) DirectorySnapshotAt(ctx context.Context, at time.Time) (snap rollup.DirectorySnapshot, ok bool, err error) {
	var day, taken int64
	var extra sql.NullInt64
	err = s.db.QueryRow(ctx, `SELECT day, domains, mailboxes, allotted_bytes, used_bytes, extra_bytes, taken_at FROM directory_snapshots
		WHERE day < ? ORDER BY day DESC LIMIT 1`, storage.Micros(at)).
		Scan(&day, &snap.Domains, &snap.Mailboxes, &snap.AllottedBytes, &snap.UsedBytes, &extra, &taken)
	if errors.Is(err, sql.ErrNoRows) {
		return snap, false, nil
	}
	if err != nil {
		return snap, false, fmt.Errorf("directory snapshot: %w", err)
	}
	snap.Day, snap.TakenAt = storage.FromMicros(day), storage.FromMicros(taken)
	snap.ExtraBytes = -1
	if extra.Valid {
		snap.ExtraBytes = extra.Int64
	}
	return snap, true, nil
}

// DirectoryChanges compares the names of kind ("domain", "mailbox")
// present at the snapshot day before with those present at the snapshot
// day after: added are present after and not before, removed the reverse,
// sorted. known is false when the census record starts after before, so
// that the names present then are not known.
func (s *Store) DirectoryChanges(ctx context.Context, kind string, before, after time.Time) (added, removed []string, known bool, err error) {
	var first sql.NullInt64
	if err := s.db.QueryRow(ctx, `SELECT MIN(since_day) FROM directory_members`).Scan(&first); err != nil {
		return nil, nil, false, fmt.Errorf("directory changes: %w", err)
	}
	b, a := storage.Micros(dayStart(before)), storage.Micros(dayStart(after))
	if !first.Valid || first.Int64 > b {
		return nil, nil, false, nil
	}
	names := func(at int64) (map[string]bool, error) {
		rows, err := s.db.Query(ctx, `SELECT name FROM directory_members WHERE kind = ? AND since_day <= ? AND (until_day IS NULL OR until_day > ?)`,
			kind, at, at)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, err
			}
			out[n] = true
		}
		return out, rows.Err()
	}
	nb, err := names(b)
	if err != nil {
		return nil, nil, false, fmt.Errorf("directory changes: %w", err)
	}
	na, err := names(a)
	if err != nil {
		return nil, nil, false, fmt.Errorf("directory changes: %w", err)
	}
	for n := range na {
		if !nb[n] {
			added = append(added, n)
		}
	}
	for n := range nb {
		if !na[n] {
			removed = append(removed, n)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	return added, removed, true, nil
}

// FirstLogRecord returns the time of the oldest record of the message
// log: the raw logs reach back to it (retention); ok is false when the log
// is empty.
func (s *Store) FirstLogRecord(ctx context.Context) (first time.Time, ok bool, err error) {
	var ts sql.NullInt64
	if err := s.db.QueryRow(ctx, `SELECT MIN(ts) FROM mail_messages`).Scan(&ts); err != nil {
		return time.Time{}, false, fmt.Errorf("first record: %w", err)
	}
	if !ts.Valid {
		return time.Time{}, false, nil
	}
	return storage.FromMicros(ts.Int64), true, nil
}

func (s *Store) domainOf(col string) string {
	if s.db.Dialect() == storage.Postgres {
		return "lower(split_part(" + col + ", '@', 2))"
	}
	return "lower(substr(" + col + ", instr(" + col + ", '@') + 1))"
}

// TopNames returns the n busiest names of kind (txlog.TopSenders, …) in
// [from, to), busiest first (ties by name), and the total over every name
// so that a table of the first n can show the rest:
//
//   - senders: the envelope sender of each accepted message (received >
//     0), counted as txlog.Summary counts received messages, with its
//     size; the null sender is "<>";
//   - recipients: the recipient of each final delivery (status sent, not a
//     hand-off to a content filter), with the message's size;
//   - sender and recipient domains: the part after the "@" of those,
//     lower-cased; addresses without one are left out of the domains.
func (s *Store) TopNames(ctx context.Context, kind string, from, to time.Time, n int) (top []txlog.NameCount, total txlog.NameCount, err error) {
	var name, count, where, table string
	switch kind {
	case txlog.TopSenders:
		table, name, count, where = "mail_messages", "CASE WHEN mail_from = '' THEN '<>' ELSE lower(mail_from) END", "received", "received > 0"
	case txlog.TopSenderDomains:
		table, name, count, where = "mail_messages", s.domainOf("mail_from"), "received", "received > 0 AND mail_from LIKE '%@%'"
	case txlog.TopRecipients:
		table, name, count, where = "mail_tx", "lower(rcpt)", "1", "status = 'sent' AND handoff = 0"
	case txlog.TopRecipientDomains:
		table, name, count, where = "mail_tx", s.domainOf("rcpt"), "1", "status = 'sent' AND handoff = 0 AND rcpt LIKE '%@%'"
	default:
		return nil, total, fmt.Errorf("top names: unknown kind %q", kind)
	}
	lo, hi := storage.Micros(from), storage.Micros(to)
	rows, err := s.db.Query(ctx, `SELECT `+name+` AS nm, SUM(`+count+`) AS c, COALESCE(SUM(size), 0) FROM `+table+`
		WHERE ts >= ? AND ts < ? AND `+where+` GROUP BY nm ORDER BY c DESC, nm LIMIT ?`, lo, hi, n)
	if err != nil {
		return nil, total, fmt.Errorf("top %s: %w", kind, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r txlog.NameCount
		if err := rows.Scan(&r.Name, &r.Count, &r.Bytes); err != nil {
			return nil, total, fmt.Errorf("top %s: %w", kind, err)
		}
		top = append(top, r)
	}
	if err := rows.Err(); err != nil {
		return nil, total, fmt.Errorf("top %s: %w", kind, err)
	}
	var names int64
	if err := s.db.QueryRow(ctx, `SELECT COUNT(DISTINCT `+name+`), COALESCE(SUM(`+count+`), 0), COALESCE(SUM(size), 0) FROM `+table+`
		WHERE ts >= ? AND ts < ? AND `+where, lo, hi).Scan(&names, &total.Count, &total.Bytes); err != nil {
		return nil, total, fmt.Errorf("top %s: %w", kind, err)
	}
	total.Name = fmt.Sprint(names)
	return top, total, nil
}

// ReplyCounts counts the outcomes of status (rejected, deferred, bounced,
// expired) in [from, to) by stage, code, enhanced code and reply text as
// logged, most frequent first. Rejects by header/body checks are stage
// "header" or "body".
func (s *Store) ReplyCounts(ctx context.Context, status string, from, to time.Time) ([]txlog.ReplyCount, error) {
	rows, err := s.db.Query(ctx, `SELECT stage, code, dsn, reply, COUNT(*) AS c FROM mail_tx WHERE ts >= ? AND ts < ? AND status = ?
		GROUP BY stage, code, dsn, reply ORDER BY c DESC, stage, code, reply`, storage.Micros(from), storage.Micros(to), status)
	if err != nil {
		return nil, fmt.Errorf("%s replies: %w", status, err)
	}
	defer rows.Close()
	var out []txlog.ReplyCount
	for rows.Next() {
		r := txlog.ReplyCount{Status: status}
		if err := rows.Scan(&r.Stage, &r.Code, &r.DSN, &r.Reply, &r.Count); err != nil {
			return nil, fmt.Errorf("%s replies: %w", status, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
