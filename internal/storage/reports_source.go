package storage

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/reports"
)

// The monthly report's data (reports.Source) over the other capabilities'
// tables:
//
//   - registrations: directory_snapshots (collectors, issue 5);
//   - mail, traffic, spam/virus, greylisting, logins: the hourly rows of
//     mail_rollups (issue 5), summed into local days, so that days follow
//     the report's time zone across DST changes;
//   - distinct users per day: the daily unique_users rollup (UTC days);
//   - active users of a period and top domains: the raw mail_logins,
//     mail_messages and mail_tx logs (kept 90 days);
//   - outages: notices (issue 7; outage = unplanned, maintenance = planned)
//     and critical incidents with a service label (issue 6);
//   - tickets: tickets and their response clock in ticket_clocks (issue 7);
//   - pages: oncall_pages with the incident's acknowledgement (issue 6).
//     Shifts come from the rota, which is configuration, not a table:
//     internal/app adds them.
var _ reports.Source = (*DB)(nil)

// Registrations implements reports.Source: the last directory snapshot of
// a day before at. ExtraBytes is −1: snapshots do not keep it.
func (db *DB) Registrations(ctx context.Context, at time.Time) (reports.Registrations, error) {
	var r reports.Registrations
	var day int64
	err := db.QueryRow(ctx, `SELECT day, domains, mailboxes, allotted_bytes FROM directory_snapshots
		WHERE day < ? ORDER BY day DESC LIMIT 1`, Micros(at)).Scan(&day, &r.Domains, &r.Mailboxes, &r.AllottedBytes)
	if err == sql.ErrNoRows {
		return r, fmt.Errorf("directory snapshot before %s: %w", at.Format(time.RFC3339), reports.ErrNoData)
	}
	if err != nil {
		return r, fmt.Errorf("directory snapshot: %w", err)
	}
	r.At, r.ExtraBytes = FromMicros(day), -1
	return r, nil
}

// ActiveUsers implements reports.Source from the login log. ErrNoData when
// the log no longer reaches back to from (retention).
func (db *DB) ActiveUsers(ctx context.Context, from, to time.Time) (int64, error) {
	var first sql.NullInt64
	if err := db.QueryRow(ctx, `SELECT MIN(ts) FROM mail_logins`).Scan(&first); err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	if !first.Valid || FromMicros(first.Int64).After(from.Add(24*time.Hour)) {
		return 0, fmt.Errorf("active users: login log does not reach back to %s: %w", from.Format(time.DateOnly), reports.ErrNoData)
	}
	var n int64
	err := db.QueryRow(ctx, `SELECT COUNT(DISTINCT username) FROM mail_logins WHERE ts >= ? AND ts < ? AND ok = 1
		AND source <> 'dovecot-auth' AND username <> ''`, Micros(from), Micros(to)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	return n, nil
}

type rollupRow struct {
	bucket   time.Time
	dim      string
	n, bytes int64
}

// hourly reads one metric's hourly rollups in [from, to).
func (db *DB) rollupRows(ctx context.Context, period, metric string, from, to time.Time) ([]rollupRow, error) {
	rows, err := db.Query(ctx, `SELECT bucket, dim, n, bytes FROM mail_rollups WHERE period = ? AND metric = ?
		AND bucket >= ? AND bucket < ? ORDER BY bucket`, period, metric, Micros(from), Micros(to))
	if err != nil {
		return nil, fmt.Errorf("rollups %s: %w", metric, err)
	}
	defer rows.Close()
	var out []rollupRow
	for rows.Next() {
		var r rollupRow
		var b int64
		if err := rows.Scan(&b, &r.dim, &r.n, &r.bytes); err != nil {
			return nil, fmt.Errorf("rollups %s: %w", metric, err)
		}
		r.bucket = FromMicros(b)
		out = append(out, r)
	}
	return out, rows.Err()
}

func localMidnight(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// MailDays implements reports.Source: received is mail delivered into
// local mailboxes (inbound and internal), sent is mail that left for
// outside (outbound and relayed), from the hourly "messages" rollup.
func (db *DB) MailDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.MailDay, error) {
	rows, err := db.rollupRows(ctx, "hour", "messages", from, to)
	if err != nil {
		return nil, err
	}
	byDay := map[time.Time]*reports.MailDay{}
	for _, r := range rows {
		d := localMidnight(r.bucket, loc)
		m := byDay[d]
		if m == nil {
			m = &reports.MailDay{Day: d}
			byDay[d] = m
		}
		switch r.dim {
		case "inbound", "internal":
			m.ReceivedCount += r.n
			m.ReceivedBytes += r.bytes
		case "outbound", "relayed":
			m.SentCount += r.n
			m.SentBytes += r.bytes
		}
	}
	out := make([]reports.MailDay, 0, len(byDay))
	for _, m := range byDay {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b reports.MailDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// scanVerdict maps a content filter's verdict as the collectors store it
// (amavis "Passed CLEAN", "Blocked SPAM", …; rspamd "rspamd reject", …) to
// the report's verdict and action.
func scanVerdict(v string) (verdict, action string) {
	if rest, ok := strings.CutPrefix(v, "rspamd "); ok {
		switch rest {
		case "no action":
			return reports.VerdictClean, reports.ActionDelivered
		case "reject":
			return reports.VerdictSpam, reports.ActionRejected
		case "soft reject":
			return reports.VerdictSpam, reports.ActionDeferred
		case "greylist":
			return reports.VerdictGreylisted, reports.ActionDeferred
		default: // add header, rewrite subject
			return reports.VerdictSpam, reports.ActionTagged
		}
	}
	act, cat, _ := strings.Cut(v, " ")
	switch cat {
	case "CLEAN":
		verdict = reports.VerdictClean
	case "SPAM", "SPAMMY":
		verdict = reports.VerdictSpam
	case "INFECTED":
		verdict = reports.VerdictVirus
	case "BANNED":
		verdict = reports.VerdictBanned
	default:
		verdict = strings.ToLower(strings.ReplaceAll(cat, "-", "_"))
		if verdict == "" {
			verdict = "other"
		}
	}
	switch {
	case act == "Blocked":
		action = reports.ActionQuarantined
	case verdict == reports.VerdictSpam:
		action = reports.ActionTagged
	default:
		action = reports.ActionDelivered
	}
	return verdict, action
}

// ScanDays implements reports.Source from the hourly "verdicts" and
// "greylist" rollups.
func (db *DB) ScanDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.ScanCount, error) {
	type key struct {
		day             time.Time
		verdict, action string
	}
	acc := map[key]int64{}
	verdicts, err := db.rollupRows(ctx, "hour", "verdicts", from, to)
	if err != nil {
		return nil, err
	}
	for _, r := range verdicts {
		v, a := scanVerdict(r.dim)
		acc[key{localMidnight(r.bucket, loc), v, a}] += r.n
	}
	grey, err := db.rollupRows(ctx, "hour", "greylist", from, to)
	if err != nil {
		return nil, err
	}
	for _, r := range grey {
		if r.dim == "greylisted" {
			acc[key{localMidnight(r.bucket, loc), reports.VerdictGreylisted, reports.ActionDeferred}] += r.n
		}
	}
	out := make([]reports.ScanCount, 0, len(acc))
	for k, n := range acc {
		out = append(out, reports.ScanCount{Day: k.day, Verdict: k.verdict, Action: k.action, Count: n})
	}
	slices.SortFunc(out, func(a, b reports.ScanCount) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Verdict, b.Verdict), cmp.Compare(a.Action, b.Action))
	})
	return out, nil
}

// loginProtocol maps a login service of the collectors to the report's
// protocol: SMTP AUTH is logged as smtp or submission.
func loginProtocol(service string) string {
	switch service {
	case "imap":
		return reports.ProtocolIMAP
	case "pop3", "pop":
		return reports.ProtocolPOP
	case "webmail":
		return reports.ProtocolWebmail
	case "smtp", "submission":
		return reports.ProtocolSMTPAuth
	}
	return service
}

// LoginDays implements reports.Source from the hourly "logins" rollup;
// distinct users per day come from the daily "unique_users" rollup (UTC
// days) as rows with reports.AllProtocols.
func (db *DB) LoginDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.LoginDay, error) {
	type key struct {
		day   time.Time
		proto string
	}
	acc := map[key]*reports.LoginDay{}
	get := func(k key) *reports.LoginDay {
		if acc[k] == nil {
			acc[k] = &reports.LoginDay{Day: k.day, Protocol: k.proto}
		}
		return acc[k]
	}
	rows, err := db.rollupRows(ctx, "hour", "logins", from, to)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		svc, result, _ := strings.Cut(r.dim, "|")
		d := get(key{localMidnight(r.bucket, loc), loginProtocol(svc)})
		if result == "ok" {
			d.OK += r.n
		} else {
			d.Failed += r.n
		}
	}
	users, err := db.rollupRows(ctx, "day", "unique_users", from.Add(-12*time.Hour), to.Add(-12*time.Hour))
	if err != nil {
		return nil, err
	}
	for _, r := range users {
		// A UTC day is attributed to the local day of its middle.
		get(key{localMidnight(r.bucket.Add(12*time.Hour), loc), reports.AllProtocols}).Users += r.n
	}
	out := make([]reports.LoginDay, 0, len(acc))
	for _, d := range acc {
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b reports.LoginDay) int {
		return cmp.Or(a.Day.Compare(b.Day), cmp.Compare(a.Protocol, b.Protocol))
	})
	return out, nil
}

// TrafficHours implements reports.Source from the hourly "messages"
// rollup: in is what arrived from outside (inbound, relayed), out what
// left (outbound, relayed).
func (db *DB) TrafficHours(ctx context.Context, from, to time.Time) ([]reports.TrafficHour, error) {
	rows, err := db.rollupRows(ctx, "hour", "messages", from, to)
	if err != nil {
		return nil, err
	}
	byHour := map[time.Time]*reports.TrafficHour{}
	for _, r := range rows {
		h := byHour[r.bucket]
		if h == nil {
			h = &reports.TrafficHour{Hour: r.bucket}
			byHour[r.bucket] = h
		}
		switch r.dim {
		case "inbound":
			h.InBytes += r.bytes
		case "outbound":
			h.OutBytes += r.bytes
		case "relayed":
			h.InBytes += r.bytes
			h.OutBytes += r.bytes
		}
	}
	out := make([]reports.TrafficHour, 0, len(byHour))
	for _, h := range byHour {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b reports.TrafficHour) int { return a.Hour.Compare(b.Hour) })
	return out, nil
}

// Outages implements reports.Source: outage and maintenance notices for
// each service they name, the down intervals the probes measured, and
// critical incidents (other than the probes' own) labelled with a service.
func (db *DB) Outages(ctx context.Context, from, to time.Time) ([]reports.Outage, error) {
	// One read of the notices serves the report's rows and the
	// maintenance windows of the measured availability below (what
	// MaintenanceWindows would read again).
	var out []reports.Outage
	var windows []probe.Window
	rows, err := db.Query(ctx, `SELECT id, kind, title, services, started_at, ended_at, planned_end FROM notices
		WHERE started_at < ? AND (ended_at IS NULL OR ended_at > ?) AND kind IN ('outage', 'maintenance') AND state <> 'cancelled'
		ORDER BY started_at, id`, Micros(to), Micros(from))
	if err != nil {
		return nil, fmt.Errorf("outages: notices: %w", err)
	}
	for rows.Next() {
		var id, start int64
		var kind, title, services string
		var end, planned sql.NullInt64
		if err := rows.Scan(&id, &kind, &title, &services, &start, &end, &planned); err != nil {
			rows.Close()
			return nil, fmt.Errorf("outages: notices: %w", err)
		}
		svcs := noticeServices(services)
		for _, s := range svcs {
			out = append(out, reports.Outage{Service: s, Ref: "N-" + strconv.FormatInt(id, 10), Title: title,
				Start: FromMicros(start), End: FromNullMicros(end), Planned: kind == "maintenance"})
		}
		if kind == "maintenance" {
			windows = append(windows, maintenanceWindow(id, svcs, start, end, planned))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("outages: notices: %w", err)
	}
	// Measured downtime: each probed service's unplanned down intervals
	// (probes' incidents are not counted again below).
	figs, err := db.serviceAvailability(ctx, from, to, nil, windows)
	if err != nil {
		return nil, fmt.Errorf("outages: %w", err)
	}
	for _, f := range figs {
		for _, iv := range f.Outages {
			out = append(out, reports.Outage{Service: f.Service, Ref: "probe", Title: "Probes failed: " + strings.Join(f.Probes, ", "),
				Start: iv.Start, End: iv.End})
		}
	}
	rows, err = db.Query(ctx, `SELECT id, title, labels, opened_at, resolved_at FROM oncall_incidents
		WHERE severity = 'critical' AND source <> 'probe' AND opened_at < ? AND (resolved_at IS NULL OR resolved_at > ?)`, Micros(to), Micros(from))
	if err != nil {
		return nil, fmt.Errorf("outages: incidents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, opened int64
		var title, labels string
		var resolved sql.NullInt64
		if err := rows.Scan(&id, &title, &labels, &opened, &resolved); err != nil {
			return nil, fmt.Errorf("outages: incidents: %w", err)
		}
		var l map[string]string
		_ = json.Unmarshal([]byte(labels), &l)
		if l["service"] == "" {
			continue
		}
		out = append(out, reports.Outage{Service: l["service"], Ref: "INC-" + strconv.FormatInt(id, 10), Title: title,
			Start: FromMicros(opened), End: FromNullMicros(resolved)})
	}
	return out, rows.Err()
}

// Tickets implements reports.Source: tickets opened in [from, to) and
// older ones still open at from, with their response clock. The ID is
// shown as "#42", as in ticket mail subjects.
func (db *DB) Tickets(ctx context.Context, from, to time.Time) ([]reports.Ticket, error) {
	rows, err := db.Query(ctx, `SELECT t.id, t.service, t.severity, t.title, t.notified_at, t.responded_at, t.resolved_at,
		c.inside_hours, c.target_us, c.status, c.breached_at
		FROM tickets t LEFT JOIN ticket_clocks c ON c.ticket_id = t.id AND c.kind = 'response'
		WHERE (t.notified_at >= ? AND t.notified_at < ?) OR (t.notified_at < ? AND (t.resolved_at IS NULL OR t.resolved_at >= ?))
		ORDER BY t.notified_at, t.id`, Micros(from), Micros(to), Micros(from), Micros(from))
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	defer rows.Close()
	var out []reports.Ticket
	for rows.Next() {
		var t reports.Ticket
		var id, opened int64
		var responded, resolved, inside, target, breached sql.NullInt64
		var status sql.NullString
		if err := rows.Scan(&id, &t.Service, &t.Severity, &t.Title, &opened, &responded, &resolved,
			&inside, &target, &status, &breached); err != nil {
			return nil, fmt.Errorf("tickets: %w", err)
		}
		t.ID = "#" + strconv.FormatInt(id, 10)
		t.OpenedAt, t.RespondedAt, t.ResolvedAt = FromMicros(opened), FromNullMicros(responded), FromNullMicros(resolved)
		t.InHours = inside.Valid && inside.Int64 != 0
		if t.InHours && target.Valid {
			t.ResponseTarget = time.Duration(target.Int64) * time.Microsecond
		}
		t.ResponseBreached = status.String == "breached" || breached.Valid
		out = append(out, t)
	}
	return out, rows.Err()
}

// OnCall implements reports.Source with the pages only: a page is one
// member paged for one incident (several channels count once), at the
// first attempt; its acknowledgement is the incident's.
func (db *DB) OnCall(ctx context.Context, from, to time.Time) (reports.OnCall, error) {
	rows, err := db.Query(ctx, `SELECT p.incident_id, p.member, MIN(p.created_at), MIN(i.acked_at)
		FROM oncall_pages p LEFT JOIN oncall_incidents i ON i.id = p.incident_id
		WHERE p.kind = 'page' AND p.created_at >= ? AND p.created_at < ?
		GROUP BY p.incident_id, p.member ORDER BY MIN(p.created_at)`, Micros(from), Micros(to))
	if err != nil {
		return reports.OnCall{}, fmt.Errorf("pages: %w", err)
	}
	defer rows.Close()
	var oc reports.OnCall
	for rows.Next() {
		var inc, at int64
		var member string
		var acked sql.NullInt64
		if err := rows.Scan(&inc, &member, &at, &acked); err != nil {
			return oc, fmt.Errorf("pages: %w", err)
		}
		p := reports.Page{At: FromMicros(at), Member: member, Ref: "INC-" + strconv.FormatInt(inc, 10)}
		if acked.Valid && acked.Int64 >= at {
			p.AckedAt = FromMicros(acked.Int64)
		}
		oc.Pages = append(oc.Pages, p)
	}
	return oc, rows.Err()
}

// TopDomains implements reports.Source from the message log: sender
// domains of mail received from outside and recipient domains of mail
// sent outside.
func (db *DB) TopDomains(ctx context.Context, from, to time.Time, n int) (senders, recipients []reports.DomainCount, err error) {
	dom := func(col string) string {
		if db.dialect == Postgres {
			return "lower(split_part(" + col + ", '@', 2))"
		}
		return "lower(substr(" + col + ", instr(" + col + ", '@') + 1))"
	}
	query := func(q string) ([]reports.DomainCount, error) {
		rows, err := db.Query(ctx, q, Micros(from), Micros(to), n)
		if err != nil {
			return nil, fmt.Errorf("top domains: %w", err)
		}
		defer rows.Close()
		var out []reports.DomainCount
		for rows.Next() {
			var d reports.DomainCount
			if err := rows.Scan(&d.Domain, &d.Count); err != nil {
				return nil, err
			}
			out = append(out, d)
		}
		return out, rows.Err()
	}
	senders, err = query(`SELECT ` + dom("mail_from") + ` AS d, COUNT(*) AS n FROM mail_messages
		WHERE ts >= ? AND ts < ? AND direction = 'inbound' AND mail_from LIKE '%@%'
		GROUP BY d ORDER BY n DESC, d LIMIT ?`)
	if err != nil {
		return nil, nil, err
	}
	recipients, err = query(`SELECT ` + dom("rcpt") + ` AS d, COUNT(*) AS n FROM mail_tx
		WHERE ts >= ? AND ts < ? AND direction = 'outbound' AND status = 'sent' AND handoff = 0 AND rcpt LIKE '%@%'
		GROUP BY d ORDER BY n DESC, d LIMIT ?`)
	return senders, recipients, err
}
