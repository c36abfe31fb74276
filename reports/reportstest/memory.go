// Package reportstest provides an in-memory reports.Source and a seeded,
// deterministic data set of mail traffic, scans, logins, directory
// snapshots, outages, tickets and on-call pages for tests and benchmarks of
// the monthly report.
package reportstest

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/uni-mail/postvakt/reports"
)

// Hour is one hour of mail: what the collectors' hourly rollup holds.
type Hour struct {
	Hour          time.Time
	ReceivedCount int64
	ReceivedBytes int64
	SentCount     int64
	SentBytes     int64
}

// UserLogin records that a user logged in on a day.
type UserLogin struct {
	User string
	Day  time.Time
}

// Memory is a reports.Source over slices. Fail, when set, makes the named
// method ("MailDays", "Tickets", …) return its error.
type Memory struct {
	Snapshots  []reports.Registrations
	Hours      []Hour
	Scans      []reports.ScanCount
	Logins     []reports.LoginDay
	UserLogins []UserLogin
	OutageList []reports.Outage
	TicketList []reports.Ticket
	Shifts     []reports.Shift
	Pages      []reports.Page
	Senders    []reports.DomainCount
	Recipients []reports.DomainCount
	Fail       map[string]error
}

var _ reports.Source = (*Memory)(nil)

func in(t, from, to time.Time) bool { return !t.Before(from) && t.Before(to) }

func day(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// Registrations implements reports.Source.
func (m *Memory) Registrations(_ context.Context, at time.Time) (reports.Registrations, error) {
	if err := m.Fail["Registrations"]; err != nil {
		return reports.Registrations{}, err
	}
	var best *reports.Registrations
	for i := range m.Snapshots {
		s := &m.Snapshots[i]
		if s.At.Before(at) && (best == nil || s.At.After(best.At)) {
			best = s
		}
	}
	if best == nil {
		return reports.Registrations{}, reports.ErrNoData
	}
	return *best, nil
}

// ActiveUsers implements reports.Source.
func (m *Memory) ActiveUsers(_ context.Context, from, to time.Time) (int64, error) {
	seen := map[string]bool{}
	for _, u := range m.UserLogins {
		if in(u.Day, from, to) {
			seen[u.User] = true
		}
	}
	return int64(len(seen)), nil
}

// MailDays implements reports.Source.
func (m *Memory) MailDays(_ context.Context, loc *time.Location, from, to time.Time) ([]reports.MailDay, error) {
	if err := m.Fail["MailDays"]; err != nil {
		return nil, err
	}
	byDay := map[time.Time]*reports.MailDay{}
	for _, h := range m.Hours {
		if !in(h.Hour, from, to) {
			continue
		}
		d := day(h.Hour, loc)
		row := byDay[d]
		if row == nil {
			row = &reports.MailDay{Day: d}
			byDay[d] = row
		}
		row.ReceivedCount += h.ReceivedCount
		row.ReceivedBytes += h.ReceivedBytes
		row.SentCount += h.SentCount
		row.SentBytes += h.SentBytes
	}
	out := make([]reports.MailDay, 0, len(byDay))
	for _, r := range byDay {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b reports.MailDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// ScanDays implements reports.Source.
func (m *Memory) ScanDays(_ context.Context, _ *time.Location, from, to time.Time) ([]reports.ScanCount, error) {
	if err := m.Fail["ScanDays"]; err != nil {
		return nil, err
	}
	var out []reports.ScanCount
	for _, s := range m.Scans {
		if in(s.Day, from, to) {
			out = append(out, s)
		}
	}
	return out, nil
}

// LoginDays implements reports.Source.
func (m *Memory) LoginDays(_ context.Context, _ *time.Location, from, to time.Time) ([]reports.LoginDay, error) {
	var out []reports.LoginDay
	for _, l := range m.Logins {
		if in(l.Day, from, to) {
			out = append(out, l)
		}
	}
	return out, nil
}

// TrafficHours implements reports.Source.
func (m *Memory) TrafficHours(_ context.Context, from, to time.Time) ([]reports.TrafficHour, error) {
	var out []reports.TrafficHour
	for _, h := range m.Hours {
		if in(h.Hour, from, to) {
			out = append(out, reports.TrafficHour{Hour: h.Hour, InBytes: h.ReceivedBytes, OutBytes: h.SentBytes})
		}
	}
	return out, nil
}

// Outages implements reports.Source.
func (m *Memory) Outages(_ context.Context, from, to time.Time) ([]reports.Outage, error) {
	var out []reports.Outage
	for _, o := range m.OutageList {
		if o.Start.Before(to) && (o.End.IsZero() || o.End.After(from)) {
			out = append(out, o)
		}
	}
	return out, nil
}

// Tickets implements reports.Source.
func (m *Memory) Tickets(_ context.Context, from, to time.Time) ([]reports.Ticket, error) {
	if err := m.Fail["Tickets"]; err != nil {
		return nil, err
	}
	var out []reports.Ticket
	for _, t := range m.TicketList {
		if in(t.OpenedAt, from, to) || (t.OpenedAt.Before(from) && (t.ResolvedAt.IsZero() || !t.ResolvedAt.Before(from))) {
			out = append(out, t)
		}
	}
	return out, nil
}

// OnCall implements reports.Source.
func (m *Memory) OnCall(_ context.Context, from, to time.Time) (reports.OnCall, error) {
	var oc reports.OnCall
	for _, s := range m.Shifts {
		if s.Start.Before(to) && s.End.After(from) {
			oc.Shifts = append(oc.Shifts, s)
		}
	}
	for _, p := range m.Pages {
		if in(p.At, from, to) {
			oc.Pages = append(oc.Pages, p)
		}
	}
	return oc, nil
}

// TopDomains implements reports.Source.
func (m *Memory) TopDomains(_ context.Context, _, _ time.Time, n int) (senders, recipients []reports.DomainCount, err error) {
	top := func(l []reports.DomainCount) []reports.DomainCount {
		l = slices.Clone(l)
		slices.SortFunc(l, func(a, b reports.DomainCount) int {
			return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Domain, b.Domain))
		})
		return l[:min(n, len(l))]
	}
	return top(m.Senders), top(m.Recipients), nil
}
