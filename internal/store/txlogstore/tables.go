package txlogstore

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/storage"
)

var _ txlog.TablesStore = (*Store)(nil)

// maxReasons bounds the distinct reasons grouped per table.
const maxReasons = 10000

// quarter is the bucket of the hourly table in microseconds: quarter
// hours, so that zones 30 or 45 minutes off UTC get whole local hours.
const quarter = int64(15 * time.Minute / time.Microsecond)

// SummaryTables computes pflogsumm's detail tables over [since, until)
// from the stored logs (see txlog.Tables for the definitions).
func (s *Store) SummaryTables(ctx context.Context, since, until time.Time, top int, loc *time.Location) (txlog.Tables, error) {
	if loc == nil {
		loc = time.UTC
	}
	if top <= 0 {
		top = 10
	}
	lo, hi := timeBounds(since, until)
	t := txlog.Tables{Since: since, Until: until, Top: top, Zone: timezone.Name(loc)}
	dom := func(col string) string {
		if s.db.Dialect() == storage.Postgres {
			return "lower(split_part(" + col + ", '@', 2))"
		}
		return "lower(substr(" + col + ", instr(" + col + ", '@') + 1))"
	}
	traffic := func(what, q string, args ...any) ([]txlog.Traffic, error) {
		rows, err := s.db.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("summary tables %s: %w", what, err)
		}
		defer rows.Close()
		out := []txlog.Traffic{}
		for rows.Next() {
			var tr txlog.Traffic
			if err := rows.Scan(&tr.Key, &tr.Count, &tr.Bytes, &tr.Deferred, &tr.Bounced); err != nil {
				return nil, fmt.Errorf("summary tables %s: %w", what, err)
			}
			if tr.Key == "" {
				tr.Key = "<>"
			}
			out = append(out, tr)
		}
		return out, rows.Err()
	}
	received := `FROM mail_messages WHERE ts >= ? AND ts < ? AND received > 0 AND state <> 'refused'`
	var err error
	if t.TopSenders, err = traffic("senders", `SELECT mail_from, COUNT(*) AS n, COALESCE(SUM(size), 0), 0, 0 `+received+`
		GROUP BY mail_from ORDER BY n DESC, mail_from LIMIT ?`, lo, hi, top); err != nil {
		return t, err
	}
	if t.SendingDomains, err = traffic("sending domains", `SELECT `+dom("mail_from")+` AS d, COUNT(*) AS n, COALESCE(SUM(size), 0), 0, 0 `+received+`
		GROUP BY d ORDER BY n DESC, d LIMIT ?`, lo, hi, top); err != nil {
		return t, err
	}
	delivered := `FROM mail_tx WHERE ts >= ? AND ts < ? AND status = 'sent' AND handoff = 0`
	if t.TopRecipients, err = traffic("recipients", `SELECT rcpt, COUNT(*) AS n, COALESCE(SUM(size), 0), 0, 0 `+delivered+`
		GROUP BY rcpt ORDER BY n DESC, rcpt LIMIT ?`, lo, hi, top); err != nil {
		return t, err
	}
	if t.ReceivingDomains, err = traffic("receiving domains", `SELECT `+dom("rcpt")+` AS d,
		SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS n,
		COALESCE(SUM(CASE WHEN status = 'sent' THEN size ELSE 0 END), 0),
		SUM(CASE WHEN status = 'deferred' THEN 1 ELSE 0 END),
		SUM(CASE WHEN status = 'bounced' THEN 1 ELSE 0 END)
		FROM mail_tx WHERE ts >= ? AND ts < ? AND handoff = 0 AND status IN ('sent', 'deferred', 'bounced') AND rcpt <> ''
		GROUP BY d ORDER BY n DESC, d LIMIT ?`, lo, hi, top); err != nil {
		return t, err
	}
	if t.DeferralReasons, err = s.reasons(ctx, lo, hi, top, `status = 'deferred' AND handoff = 0`); err != nil {
		return t, err
	}
	if t.BounceReasons, err = s.reasons(ctx, lo, hi, top, `status = 'bounced' AND handoff = 0`); err != nil {
		return t, err
	}
	if t.RejectReasons, err = s.reasons(ctx, lo, hi, top, `status = 'rejected'`); err != nil {
		return t, err
	}
	if err := s.hourly(ctx, &t, lo, hi, loc); err != nil {
		return t, err
	}
	rows, err := s.db.Query(ctx, `SELECT severity, program, text_key, COUNT(*) AS n, MIN(text) FROM mail_warnings
		WHERE ts >= ? AND ts < ? GROUP BY severity, program, text_key ORDER BY n DESC, severity, program, text_key LIMIT ?`, lo, hi, top)
	if err != nil {
		return t, fmt.Errorf("summary tables warnings: %w", err)
	}
	defer rows.Close()
	t.Warnings = []txlog.WarningCount{}
	for rows.Next() {
		var w txlog.WarningCount
		if err := rows.Scan(&w.Severity, &w.Program, &w.Text, &w.Count, &w.Example); err != nil {
			return t, fmt.Errorf("summary tables warnings: %w", err)
		}
		t.Warnings = append(t.Warnings, w)
	}
	return t, rows.Err()
}

// reasons groups the replies of the rows that match cond by
// txlog.ReasonKey, busiest first.
func (s *Store) reasons(ctx context.Context, lo, hi int64, top int, cond string) ([]txlog.ReasonCount, error) {
	rows, err := s.db.Query(ctx, `SELECT reply, COUNT(*) FROM mail_tx WHERE ts >= ? AND ts < ? AND `+cond+` GROUP BY reply`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("summary tables reasons: %w", err)
	}
	defer rows.Close()
	by := map[string]*txlog.ReasonCount{}
	for rows.Next() {
		var reply string
		var n int64
		if err := rows.Scan(&reply, &n); err != nil {
			return nil, fmt.Errorf("summary tables reasons: %w", err)
		}
		k := txlog.ReasonKey(reply)
		if k == "" {
			k = "(no reply logged)"
		}
		rc := by[k]
		if rc == nil {
			if len(by) >= maxReasons {
				k = "(other)"
				rc = by[k]
			}
			if rc == nil {
				rc = &txlog.ReasonCount{Reason: k, Example: reply}
				by[k] = rc
			}
		}
		rc.Count += n
		if reply < rc.Example {
			rc.Example = reply // the same example whatever order the rows come in
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("summary tables reasons: %w", err)
	}
	out := make([]txlog.ReasonCount, 0, len(by))
	for _, rc := range by {
		out = append(out, *rc)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Reason < out[j].Reason
	})
	if len(out) > top {
		out = out[:top]
	}
	return out, nil
}

// hourly fills the per-hour tables from quarter-hour buckets.
func (s *Store) hourly(ctx context.Context, t *txlog.Tables, lo, hi int64, loc *time.Location) error {
	hours := map[time.Time]*txlog.HourTraffic{}
	hour := func(q int64) *txlog.HourTraffic {
		at := storage.FromMicros(q * quarter).In(loc)
		h := time.Date(at.Year(), at.Month(), at.Day(), at.Hour(), 0, 0, 0, loc)
		ht := hours[h]
		if ht == nil {
			ht = &txlog.HourTraffic{Hour: h}
			hours[h] = ht
		}
		return ht
	}
	// the bucket as a literal: PostgreSQL matches GROUP BY expressions by
	// their text, and two parameters are two expressions
	q := strconv.FormatInt(quarter, 10)
	rows, err := s.db.Query(ctx, `SELECT ts / `+q+`, COALESCE(SUM(received), 0) FROM mail_messages
		WHERE ts >= ? AND ts < ? AND received > 0 AND state <> 'refused' GROUP BY ts / `+q, lo, hi)
	if err != nil {
		return fmt.Errorf("summary tables hourly: %w", err)
	}
	for rows.Next() {
		var b, n int64
		if err := rows.Scan(&b, &n); err != nil {
			rows.Close()
			return fmt.Errorf("summary tables hourly: %w", err)
		}
		hour(b).Received += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("summary tables hourly: %w", err)
	}
	rows, err = s.db.Query(ctx, `SELECT ts / `+q+`, status, COUNT(*) FROM mail_tx
		WHERE ts >= ? AND ts < ? AND handoff = 0 AND status IN ('sent', 'deferred', 'bounced', 'rejected') AND stage NOT IN ('header', 'body')
		GROUP BY ts / `+q+`, status`, lo, hi)
	if err != nil {
		return fmt.Errorf("summary tables hourly: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var b, n int64
		var status string
		if err := rows.Scan(&b, &status, &n); err != nil {
			return fmt.Errorf("summary tables hourly: %w", err)
		}
		h := hour(b)
		switch status {
		case txlog.StatusSent:
			h.Delivered += n
		case txlog.StatusDeferred:
			h.Deferred += n
		case txlog.StatusBounced:
			h.Bounced += n
		case txlog.StatusRejected:
			h.Rejected += n
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("summary tables hourly: %w", err)
	}
	t.Hourly = make([]txlog.HourTraffic, 0, len(hours))
	for _, h := range hours {
		t.Hourly = append(t.Hourly, *h)
	}
	sort.Slice(t.Hourly, func(i, j int) bool { return t.Hourly[i].Hour.Before(t.Hourly[j].Hour) })
	t.ByHourOfDay = make([]txlog.HourOfDay, 24)
	for i := range t.ByHourOfDay {
		t.ByHourOfDay[i].Hour = i
	}
	for _, h := range t.Hourly {
		d := &t.ByHourOfDay[h.Hour.Hour()]
		d.Days++
		d.Received += h.Received
		d.Delivered += h.Delivered
		d.Deferred += h.Deferred
		d.Bounced += h.Bounced
		d.Rejected += h.Rejected
	}
	return nil
}
