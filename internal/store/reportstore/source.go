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
	// DirectorySnapshotBefore returns the last daily snapshot of the
	// directory before at; ok is false when there is none.
	DirectorySnapshotBefore(ctx context.Context, at time.Time) (snap rollup.DirectorySnapshot, ok bool, err error)
	// FirstLogin returns the time of the login log's oldest line; ok is
	// false when the log is empty.
	FirstLogin(ctx context.Context) (first time.Time, ok bool, err error)
	// LoginUsers counts the distinct users with a successful login.
	LoginUsers(ctx context.Context, from, to time.Time) (int64, error)
	// RollupMetric returns one metric's rollups of period, oldest first.
	RollupMetric(ctx context.Context, period rollup.Period, metric string, from, to time.Time) ([]rollup.Point, error)
	// TopDomains returns the n busiest sender and recipient domains of
	// external mail.
	TopDomains(ctx context.Context, from, to time.Time, n int) (senders, recipients []txlog.DomainCount, err error)
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
}

// Registrations implements reports.Source: the last directory snapshot of
// a day before at. ExtraBytes is −1: snapshots do not keep it.
func (s Source) Registrations(ctx context.Context, at time.Time) (reports.Registrations, error) {
	snap, ok, err := s.TxLogData.DirectorySnapshotBefore(ctx, at)
	if err != nil {
		return reports.Registrations{}, err
	}
	if !ok {
		return reports.Registrations{}, fmt.Errorf("directory snapshot before %s: %w", at.Format(time.RFC3339), reports.ErrNoData)
	}
	return reports.Registrations{At: snap.Day, Domains: snap.Domains, Mailboxes: snap.Mailboxes,
		AllottedBytes: snap.AllottedBytes, ExtraBytes: -1}, nil
}

// ActiveUsers implements reports.Source from the login log. ErrNoData when
// the log no longer reaches back to from (retention).
func (s Source) ActiveUsers(ctx context.Context, from, to time.Time) (int64, error) {
	first, ok, err := s.TxLogData.FirstLogin(ctx)
	if err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	if !reports.LoginLogCovers(first, ok, from) {
		return 0, fmt.Errorf("active users: login log does not reach back to %s: %w", from.Format(time.DateOnly), reports.ErrNoData)
	}
	n, err := s.TxLogData.LoginUsers(ctx, from, to)
	if err != nil {
		return 0, fmt.Errorf("active users: %w", err)
	}
	return n, nil
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

// TopDomains implements reports.Source from the message and transaction
// logs: sender domains of mail received from outside and recipient
// domains of mail sent outside.
func (s Source) TopDomains(ctx context.Context, from, to time.Time, n int) (senders, recipients []reports.DomainCount, err error) {
	ss, rs, err := s.TxLogData.TopDomains(ctx, from, to, n)
	if err != nil {
		return nil, nil, err
	}
	return domainCounts(ss), domainCounts(rs), nil
}

func domainCounts(in []txlog.DomainCount) []reports.DomainCount {
	if in == nil {
		return nil
	}
	out := make([]reports.DomainCount, len(in))
	for i, d := range in {
		out[i] = reports.DomainCount{Domain: d.Domain, Count: d.Count}
	}
	return out
}
