package reportstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/reports"
)

// TxLogReader is what the report reads of the transaction log
// (internal/store/txlogstore implements it).
type TxLogReader interface {
	// DirectorySnapshotAt returns the last daily snapshot of the directory
	// before at, with its used and extra capacity; ok is false when there
	// is none.
	DirectorySnapshotAt(ctx context.Context, at time.Time) (snap rollup.DirectorySnapshot, ok bool, err error)
	// DirectoryChanges names the domains or mailboxes (kind) present at
	// the snapshot day of after and not of before, and the reverse; known
	// is false when the record of names starts after before.
	DirectoryChanges(ctx context.Context, kind string, before, after time.Time) (added, removed []string, known bool, err error)
	// UserDayServices and ActiveUsersIn count the distinct accounts with a
	// successful login on the days [from, to) of the record of active
	// users, over the given login services (nil: all).
	UserDayServices(ctx context.Context, from, to time.Time) (services []string, days int64, err error)
	ActiveUsersIn(ctx context.Context, from, to time.Time, services []string) (int64, error)
	// RollupMetric returns one metric's rollups of period, oldest first.
	RollupMetric(ctx context.Context, period rollup.Period, metric string, from, to time.Time) ([]rollup.Point, error)
	// TopNames returns the n busiest names of a kind and the total.
	TopNames(ctx context.Context, kind string, from, to time.Time, n int) (top []txlog.NameCount, total txlog.NameCount, err error)
	// ReplyCounts counts the outcomes of a status by reply as logged.
	ReplyCounts(ctx context.Context, status string, from, to time.Time) ([]txlog.ReplyCount, error)
	// TxSummary computes the raw logs' grand totals (txlog.Summary).
	TxSummary(ctx context.Context, since, until time.Time) (txlog.Summary, error)
	// FirstLogRecord returns the time of the message log's oldest record.
	FirstLogRecord(ctx context.Context) (first time.Time, ok bool, err error)
}

// RollupRefresher recomputes the rollups of [from, to) from the raw logs
// that still cover it (collectors/rollup.Jobs.Refresh).
type RollupRefresher interface {
	Refresh(ctx context.Context, from, to time.Time) error
}

// TicketReader is what the report reads of the tickets capability
// (internal/store/ticketstore implements it).
type TicketReader interface {
	// PeriodTickets returns the tickets notified in [from, to) and those
	// still open at from, with their response clock.
	PeriodTickets(ctx context.Context, from, to time.Time) ([]tickets.Ticket, error)
	// OutageNotices returns the outage and maintenance notices, not
	// cancelled, that overlap [from, to).
	OutageNotices(ctx context.Context, from, to time.Time) ([]notice.Notice, error)
}

// OnCallReader is what the report reads of the on-call capability
// (internal/store/oncallstore implements it).
type OnCallReader interface {
	// CriticalIncidents returns the critical incidents not raised by the
	// probes that were open in [from, to).
	CriticalIncidents(ctx context.Context, from, to time.Time) ([]incident.Incident, error)
	// MemberPages returns each member paged for an incident in [from, to).
	MemberPages(ctx context.Context, from, to time.Time) ([]page.Paged, error)
	// HeldShifts returns the record of a rota's shifts as they were held
	// that overlap [from, to), by start; the one in progress has a zero End.
	HeldShifts(ctx context.Context, rota string, from, to time.Time) ([]rota.Shift, error)
	// MemberNames returns the members' names by ID.
	MemberNames(ctx context.Context) (map[string]string, error)
}

// ProbeReader is what the report reads of the probes
// (internal/store/probestore implements it).
type ProbeReader interface {
	// ServiceAvailabilityWith computes each probed service's availability
	// over [from, to) with the maintenance windows of notices.
	ServiceAvailabilityWith(ctx context.Context, from, to time.Time, notices []notice.Notice) ([]probe.Figures, error)
}

// Source is the monthly report's data (reports.Source) from the
// capabilities that own it:
//
//   - registrations: the directory snapshots of the transaction log;
//   - mail, traffic, spam/virus, greylisting, logins: its hourly rollups,
//     summed into local days (reports.MailDaysOf and the others), so that
//     days follow the report's time zone across DST changes; distinct
//     users per day: its daily unique_users rollup (UTC days);
//   - active users of a period and top domains: its raw login, message and
//     transaction logs (kept 90 days);
//   - outages: outage and maintenance notices (planned: maintenance), the
//     down intervals the probes measured, and critical incidents with a
//     service label;
//   - tickets: the tickets and their response clock;
//   - on call: the record of the shifts of Rota as they were held
//     (oncall_shift_log, written by the on-call loop; docs/oncall.md, "The
//     record of shifts"), never recomputed from the rota as it is now, and
//     the page log with the incident's acknowledgement; members by name.
type Source struct {
	TxLogData  TxLogReader
	TicketData TicketReader
	OnCallData OnCallReader
	ProbeData  ProbeReader
	// Rota names the rota whose shifts the report shows; empty shows none.
	Rota string
	// Rollups, when set, refreshes the rollups before a report is built
	// (reports.Refresher).
	Rollups RollupRefresher
}

// Refresh implements reports.Refresher: the rollups of [from, to) are
// recomputed where the raw logs still cover them.
func (s Source) Refresh(ctx context.Context, from, to time.Time) error {
	if s.Rollups == nil {
		return nil
	}
	return s.Rollups.Refresh(ctx, from, to)
}

// Registrations implements reports.Source: the last directory snapshot of
// a day before at, with the extra capacity when the snapshot recorded it
// (−1 otherwise).
func (s Source) Registrations(ctx context.Context, at time.Time) (reports.Registrations, error) {
	snap, ok, err := s.TxLogData.DirectorySnapshotAt(ctx, at)
	if err != nil {
		return reports.Registrations{}, err
	}
	if !ok {
		return reports.Registrations{}, fmt.Errorf("directory snapshot before %s: %w", at.Format(time.RFC3339), reports.ErrNoData)
	}
	return reports.Registrations{At: snap.Day, Domains: snap.Domains, Mailboxes: snap.Mailboxes,
		AllottedBytes: snap.AllottedBytes, UsedBytes: snap.UsedBytes, ExtraBytes: snap.ExtraBytes}, nil
}

// DirectoryChanges implements reports.Source from the record of names
// the daily snapshots keep (directory_members).
func (s Source) DirectoryChanges(ctx context.Context, before, after time.Time) (reports.DirectoryChanges, error) {
	var ch reports.DirectoryChanges
	// The snapshot days the report's Registrations read.
	b, okb, err := s.TxLogData.DirectorySnapshotAt(ctx, before)
	if err != nil {
		return ch, err
	}
	a, oka, err := s.TxLogData.DirectorySnapshotAt(ctx, after)
	if err != nil {
		return ch, err
	}
	if !okb || !oka {
		return ch, fmt.Errorf("directory changes: %w", reports.ErrNoData)
	}
	for _, k := range []struct {
		kind           string
		added, removed *[]string
	}{{"domain", &ch.AddedDomains, &ch.RemovedDomains}, {"mailbox", &ch.AddedMailboxes, &ch.RemovedMailboxes}} {
		add, rem, known, err := s.TxLogData.DirectoryChanges(ctx, k.kind, b.Day, a.Day)
		if err != nil {
			return ch, err
		}
		if !known {
			return ch, fmt.Errorf("directory changes: names recorded after %s: %w", b.Day.Format(time.DateOnly), reports.ErrNoData)
		}
		*k.added, *k.removed = add, rem
	}
	return ch, nil
}

// ActiveUsers implements reports.Source from the record of active users
// per day (login_user_days): the services of each report protocol
// (reports.LoginProtocol) counted together, and all of them.
func (s Source) ActiveUsers(ctx context.Context, from, to time.Time) (reports.ActiveUsers, error) {
	out := reports.ActiveUsers{ByProtocol: map[string]int64{}}
	services, days, err := s.TxLogData.UserDayServices(ctx, from, to)
	if err != nil {
		return out, err
	}
	out.Days = int(days)
	byProto := map[string][]string{}
	for _, svc := range services {
		p := reports.LoginProtocol(svc)
		byProto[p] = append(byProto[p], svc)
	}
	for p, svcs := range byProto {
		n, err := s.TxLogData.ActiveUsersIn(ctx, from, to, svcs)
		if err != nil {
			return out, err
		}
		out.ByProtocol[p] = n
	}
	n, err := s.TxLogData.ActiveUsersIn(ctx, from, to, nil)
	if err != nil {
		return out, err
	}
	out.ByProtocol[reports.AllProtocols] = n
	return out, nil
}

// buckets reads one metric's rollups of period in [from, to).
func (s Source) buckets(ctx context.Context, period rollup.Period, metric string, from, to time.Time) ([]reports.Bucket, error) {
	points, err := s.TxLogData.RollupMetric(ctx, period, metric, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]reports.Bucket, len(points))
	for i, p := range points {
		out[i] = reports.Bucket{Start: p.Bucket, Dim: p.Dim, Count: p.Count, Bytes: p.Bytes}
	}
	return out, nil
}

// MailDays implements reports.Source from the hourly "messages" rollup.
func (s Source) MailDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.MailDay, error) {
	rows, err := s.buckets(ctx, rollup.Hour, "messages", from, to)
	if err != nil {
		return nil, err
	}
	return reports.MailDaysOf(loc, rows), nil
}

// Flow implements reports.Source from the hourly "flow" rollup.
func (s Source) Flow(ctx context.Context, from, to time.Time) ([]reports.FlowCount, error) {
	rows, err := s.buckets(ctx, rollup.Hour, "flow", from, to)
	if err != nil {
		return nil, err
	}
	return reports.FlowOf(rows), nil
}

// Rejects implements reports.Source from the hourly "rejects" rollup.
func (s Source) Rejects(ctx context.Context, from, to time.Time) ([]reports.RejectCount, error) {
	rows, err := s.buckets(ctx, rollup.Hour, "rejects", from, to)
	if err != nil {
		return nil, err
	}
	return reports.RejectsOf(rows), nil
}

// ReadDays implements reports.Source from the hourly "reads" rollup.
func (s Source) ReadDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.ReadDay, error) {
	rows, err := s.buckets(ctx, rollup.Hour, "reads", from, to)
	if err != nil {
		return nil, err
	}
	return reports.ReadDaysOf(loc, rows), nil
}

// Coverage implements reports.Source from the hourly "coverage" rollup.
func (s Source) Coverage(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.CoverageDay, error) {
	rows, err := s.buckets(ctx, rollup.Hour, "coverage", from, to)
	if err != nil {
		return nil, err
	}
	return reports.CoverageOf(loc, rows), nil
}

// Totals implements reports.Source from the raw logs' summary, while
// they reach back to the first day of [from, to) (retention).
func (s Source) Totals(ctx context.Context, from, to time.Time) (reports.Totals, error) {
	first, ok, err := s.TxLogData.FirstLogRecord(ctx)
	if err != nil {
		return reports.Totals{}, err
	}
	// The raw logs cover the period when their oldest record is within its
	// first day: older records may never have existed, but a later start
	// means retention may have purged part of the period.
	if !ok || first.After(from.Add(24*time.Hour)) {
		return reports.Totals{}, fmt.Errorf("raw totals: the logs start after %s: %w", from.Format(time.DateOnly), reports.ErrNoData)
	}
	sum, err := s.TxLogData.TxSummary(ctx, from, to)
	if err != nil {
		return reports.Totals{}, err
	}
	return reports.Totals{Received: sum.Received, BytesReceived: sum.BytesReceived, Rejected: sum.RejectedTotal,
		CleanupRejected: sum.CleanupRejected}, nil
}

// MailTables implements reports.Source from the message and transaction
// logs (kept collectors.retention_days).
func (s Source) MailTables(ctx context.Context, from, to time.Time, n int, addresses bool) (reports.MailTables, error) {
	var t reports.MailTables
	tables := []struct {
		kind string
		dst  *reports.NameTable
	}{{txlog.TopSenderDomains, &t.SenderDomains}, {txlog.TopRecipientDomains, &t.RecipientDomains}}
	if addresses {
		tables = append(tables, struct {
			kind string
			dst  *reports.NameTable
		}{txlog.TopSenders, &t.Senders}, struct {
			kind string
			dst  *reports.NameTable
		}{txlog.TopRecipients, &t.Recipients})
	}
	for _, k := range tables {
		top, total, err := s.TxLogData.TopNames(ctx, k.kind, from, to, n)
		if err != nil {
			return t, err
		}
		names, _ := strconv.ParseInt(total.Name, 10, 64)
		nt := reports.NameTable{Names: names, TotalCount: total.Count, TotalBytes: total.Bytes}
		for _, x := range top {
			nt.Top = append(nt.Top, reports.NameCount{Name: x.Name, Count: x.Count, Bytes: x.Bytes})
		}
		*k.dst = nt
	}
	for _, status := range []string{txlog.StatusRejected, txlog.StatusDeferred, txlog.StatusBounced, txlog.StatusExpired} {
		rs, err := s.TxLogData.ReplyCounts(ctx, status, from, to)
		if err != nil {
			return t, err
		}
		for _, r := range rs {
			t.Replies = append(t.Replies, reports.ReplyCount{Status: r.Status, Stage: r.Stage, Code: r.Code, DSN: r.DSN, Reply: r.Reply, Count: r.Count})
		}
	}
	return t, nil
}

// Availability implements reports.Source: what the probes measured of
// each probed service over [from, to), with the maintenance windows of
// the notices.
func (s Source) Availability(ctx context.Context, from, to time.Time) ([]reports.ServiceAvailability, error) {
	notices, err := s.TicketData.OutageNotices(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	figs, err := s.ProbeData.ServiceAvailabilityWith(ctx, from, to, notices)
	if err != nil {
		return nil, fmt.Errorf("availability: %w", err)
	}
	var out []reports.ServiceAvailability
	for _, f := range figs {
		out = append(out, reports.ServiceAvailability{Service: f.Service, Probes: f.Probes, Total: time.Duration(f.Total),
			Planned: time.Duration(f.Planned), NoData: time.Duration(f.NoData), Measured: time.Duration(f.Measured), Down: time.Duration(f.Down)})
	}
	return out, nil
}

// ScanDays implements reports.Source from the hourly "verdicts" and
// "greylist" rollups.
func (s Source) ScanDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.ScanCount, error) {
	verdicts, err := s.buckets(ctx, rollup.Hour, "verdicts", from, to)
	if err != nil {
		return nil, err
	}
	grey, err := s.buckets(ctx, rollup.Hour, "greylist", from, to)
	if err != nil {
		return nil, err
	}
	return reports.ScanDaysOf(loc, verdicts, grey), nil
}

// LoginDays implements reports.Source from the hourly "logins" rollup and
// the daily "unique_users" rollup.
func (s Source) LoginDays(ctx context.Context, loc *time.Location, from, to time.Time) ([]reports.LoginDay, error) {
	logins, err := s.buckets(ctx, rollup.Hour, "logins", from, to)
	if err != nil {
		return nil, err
	}
	lo, hi := reports.UniqueUsersSpan(from, to)
	users, err := s.buckets(ctx, rollup.Day, "unique_users", lo, hi)
	if err != nil {
		return nil, err
	}
	return reports.LoginDaysOf(loc, logins, users), nil
}

// TrafficHours implements reports.Source from the hourly "messages"
// rollup.
func (s Source) TrafficHours(ctx context.Context, from, to time.Time) ([]reports.TrafficHour, error) {
	rows, err := s.buckets(ctx, rollup.Hour, "messages", from, to)
	if err != nil {
		return nil, err
	}
	return reports.TrafficHoursOf(rows), nil
}

// Outages implements reports.Source: outage and maintenance notices for
// each service they name, the down intervals the probes measured, and
// critical incidents (other than the probes' own) labelled with a service.
func (s Source) Outages(ctx context.Context, from, to time.Time) ([]reports.Outage, error) {
	// One read of the notices serves the report's rows and the
	// maintenance windows of the measured availability below.
	notices, err := s.TicketData.OutageNotices(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("outages: %w", err)
	}
	var out []reports.Outage
	for _, n := range notices {
		for _, svc := range n.Services {
			out = append(out, reports.Outage{Service: svc, Ref: n.Ref(), Title: n.Title,
				Start: n.StartedAt, End: n.EndedAt, Planned: n.Kind == notice.KindMaintenance})
		}
	}
	// Measured downtime: each probed service's unplanned down intervals
	// (probes' incidents are not counted again below).
	figs, err := s.ProbeData.ServiceAvailabilityWith(ctx, from, to, notices)
	if err != nil {
		return nil, fmt.Errorf("outages: %w", err)
	}
	for _, f := range figs {
		for _, iv := range f.Outages {
			out = append(out, reports.Outage{Service: f.Service, Ref: "probe", Title: "Probes failed: " + strings.Join(f.Probes, ", "),
				Start: iv.Start, End: iv.End})
		}
	}
	incs, err := s.OnCallData.CriticalIncidents(ctx, from, to)
	if err != nil {
		return nil, fmt.Errorf("outages: %w", err)
	}
	for _, inc := range incs {
		if inc.Labels["service"] == "" {
			continue
		}
		out = append(out, reports.Outage{Service: inc.Labels["service"], Ref: "INC-" + strconv.FormatInt(inc.ID, 10), Title: inc.Title,
			Start: inc.OpenedAt, End: inc.ResolvedAt})
	}
	return out, nil
}

// Tickets implements reports.Source: tickets opened in [from, to) and
// older ones still open at from, with their response clock. The ID is
// shown as "#42", as in ticket mail subjects.
func (s Source) Tickets(ctx context.Context, from, to time.Time) ([]reports.Ticket, error) {
	ts, err := s.TicketData.PeriodTickets(ctx, from, to)
	if err != nil {
		return nil, err
	}
	var out []reports.Ticket
	for _, t := range ts {
		rt := reports.Ticket{ID: "#" + strconv.FormatInt(t.ID, 10), Service: t.Service, Severity: t.Severity, Title: t.Title,
			OpenedAt: t.NotifiedAt, RespondedAt: t.RespondedAt, ResolvedAt: t.ResolvedAt}
		if c, ok := t.Clock(sla.KindResponse); ok {
			rt.InHours = c.InsideHours
			if rt.InHours {
				rt.ResponseTarget = c.Target
			}
			rt.ResponseBreached = c.Breached()
		}
		out = append(out, rt)
	}
	return out, nil
}

// OnCall implements reports.Source: the recorded shifts of s.Rota in
// [from, to) (clipped to it; the shift in progress up to to), and the
// pages — a page is one member paged for one incident, at the first
// attempt; its acknowledgement is the incident's (page.Paged.AckedAt).
// Members are shown by name where they have one.
func (s Source) OnCall(ctx context.Context, from, to time.Time) (reports.OnCall, error) {
	pages, err := s.OnCallData.MemberPages(ctx, from, to)
	if err != nil {
		return reports.OnCall{}, err
	}
	names, err := s.OnCallData.MemberNames(ctx)
	if err != nil {
		return reports.OnCall{}, err
	}
	name := func(id string) string {
		if n := names[id]; n != "" {
			return n
		}
		return id
	}
	var oc reports.OnCall
	if s.Rota != "" {
		held, err := s.OnCallData.HeldShifts(ctx, s.Rota, from, to)
		if err != nil {
			return reports.OnCall{}, fmt.Errorf("on-call shifts: %w", err)
		}
		for _, sh := range held {
			start, end := sh.Start, sh.End
			if start.Before(from) {
				start = from
			}
			if end.IsZero() || end.After(to) {
				end = to
			}
			if end.After(start) {
				oc.Shifts = append(oc.Shifts, reports.Shift{Member: name(sh.Member), Start: start, End: end})
			}
		}
	}
	for _, p := range pages {
		oc.Pages = append(oc.Pages, reports.Page{At: p.At, Member: name(p.Member), Ref: "INC-" + strconv.FormatInt(p.IncidentID, 10),
			AckedAt: p.AckedAt()})
	}
	return oc, nil
}
