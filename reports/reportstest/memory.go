// Package reportstest provides an in-memory reports.Source and a seeded,
// deterministic data set of mail traffic, scans, logins, reads, directory
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

// Hour is one hour of accepted mail: what the collectors' hourly rollup
// holds.
type Hour struct {
	Hour          time.Time
	ReceivedCount int64
	ReceivedBytes int64
	SentCount     int64
	SentBytes     int64
	UnknownCount  int64
	UnknownBytes  int64
}

// UserLogin records that a user logged in over a protocol on a day.
type UserLogin struct {
	User     string
	Protocol string
	Day      time.Time
}

// Member is a domain or mailbox name present in the directory from Since
// until Until (zero: still present).
type Member struct {
	Kind         string // domain, mailbox
	Name         string
	Since, Until time.Time
}

// Flow is the flow of one hour: messages accepted from a side with an
// outcome.
type Flow struct {
	At time.Time
	reports.FlowCount
}

// Reject is the refusals of one hour at one stage and code.
type Reject struct {
	At time.Time
	reports.RejectCount
}

// Memory is a reports.Source over slices. Fail, when set, makes the named
// method ("MailDays", "Tickets", …) return its error.
type Memory struct {
	Snapshots  []reports.Registrations
	Members    []Member
	Hours      []Hour
	Flows      []Flow
	RejectList []Reject
	Scans      []reports.ScanCount
	Logins     []reports.LoginDay
	Reads      []reports.ReadDay
	UserLogins []UserLogin
	Covers     []reports.CoverageDay
	// Probed are the services the probes measure, from ProbesFrom on;
	// ProbeDown their unplanned down intervals.
	Probed     []string
	ProbesFrom time.Time
	ProbeDown  []reports.Outage
	OutageList []reports.Outage
	TicketList []reports.Ticket
	Shifts     []reports.Shift
	Pages      []reports.Page
	Tables     reports.MailTables
	// UnitActivity is the units' record by period start; a period not in
	// it had no activity.
	UnitActivity map[time.Time]reports.UnitsActivity
	Fail         map[string]error
}

var (
	_ reports.Source      = (*Memory)(nil)
	_ reports.UnitsSource = (*Memory)(nil)
)

// Units implements reports.UnitsSource.
func (m *Memory) Units(_ context.Context, from, _, _ time.Time) (reports.UnitsActivity, error) {
	if err := m.Fail["Units"]; err != nil {
		return reports.UnitsActivity{}, err
	}
	return m.UnitActivity[from], nil
}

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

// snapshotAt is the time of the snapshot Registrations returns for at.
func (m *Memory) snapshotAt(at time.Time) (time.Time, bool) {
	var best time.Time
	for _, s := range m.Snapshots {
		if s.At.Before(at) && s.At.After(best) {
			best = s.At
		}
	}
	return best, !best.IsZero()
}

// DirectoryChanges implements reports.Source: the members present at the
// snapshot before after and not at the one before before, and the reverse.
func (m *Memory) DirectoryChanges(_ context.Context, before, after time.Time) (reports.DirectoryChanges, error) {
	var ch reports.DirectoryChanges
	b, ok1 := m.snapshotAt(before)
	a, ok2 := m.snapshotAt(after)
	if !ok1 || !ok2 || len(m.Members) == 0 {
		return ch, reports.ErrNoData
	}
	first := m.Members[0].Since
	for _, x := range m.Members {
		if x.Since.Before(first) {
			first = x.Since
		}
	}
	if first.After(b) {
		return ch, reports.ErrNoData
	}
	present := func(x Member, t time.Time) bool { return !x.Since.After(t) && (x.Until.IsZero() || x.Until.After(t)) }
	for _, x := range m.Members {
		pb, pa := present(x, b), present(x, a)
		switch {
		case pa && !pb && x.Kind == "domain":
			ch.AddedDomains = append(ch.AddedDomains, x.Name)
		case pa && !pb:
			ch.AddedMailboxes = append(ch.AddedMailboxes, x.Name)
		case pb && !pa && x.Kind == "domain":
			ch.RemovedDomains = append(ch.RemovedDomains, x.Name)
		case pb && !pa:
			ch.RemovedMailboxes = append(ch.RemovedMailboxes, x.Name)
		}
	}
	for _, l := range [][]string{ch.AddedDomains, ch.RemovedDomains, ch.AddedMailboxes, ch.RemovedMailboxes} {
		slices.Sort(l)
	}
	return ch, nil
}

// ActiveUsers implements reports.Source.
func (m *Memory) ActiveUsers(_ context.Context, from, to time.Time) (reports.ActiveUsers, error) {
	per := map[string]map[string]bool{reports.AllProtocols: {}}
	days := map[time.Time]bool{}
	for _, u := range m.UserLogins {
		if !in(u.Day, from, to) {
			continue
		}
		if per[u.Protocol] == nil {
			per[u.Protocol] = map[string]bool{}
		}
		per[u.Protocol][u.User] = true
		per[reports.AllProtocols][u.User] = true
		days[u.Day] = true
	}
	out := reports.ActiveUsers{ByProtocol: map[string]int64{}, Days: len(days)}
	for p, s := range per {
		out.ByProtocol[p] = int64(len(s))
	}
	return out, nil
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
		row.UnknownCount += h.UnknownCount
		row.UnknownBytes += h.UnknownBytes
	}
	out := make([]reports.MailDay, 0, len(byDay))
	for _, r := range byDay {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b reports.MailDay) int { return a.Day.Compare(b.Day) })
	return out, nil
}

// Flow implements reports.Source.
func (m *Memory) Flow(_ context.Context, from, to time.Time) ([]reports.FlowCount, error) {
	acc := map[[2]string]*reports.FlowCount{}
	for _, f := range m.Flows {
		if !in(f.At, from, to) {
			continue
		}
		k := [2]string{f.Side, f.Outcome}
		if acc[k] == nil {
			acc[k] = &reports.FlowCount{Side: f.Side, Outcome: f.Outcome}
		}
		acc[k].Count += f.Count
		acc[k].Bytes += f.Bytes
	}
	var out []reports.FlowCount
	for _, f := range acc {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b reports.FlowCount) int {
		return cmp.Or(cmp.Compare(a.Side, b.Side), cmp.Compare(a.Outcome, b.Outcome))
	})
	return out, nil
}

// Rejects implements reports.Source.
func (m *Memory) Rejects(_ context.Context, from, to time.Time) ([]reports.RejectCount, error) {
	acc := map[[2]any]int64{}
	for _, r := range m.RejectList {
		if in(r.At, from, to) {
			acc[[2]any{r.Stage, r.Code}] += r.Count
		}
	}
	var out []reports.RejectCount
	for k, n := range acc {
		out = append(out, reports.RejectCount{Stage: k[0].(string), Code: k[1].(int), Count: n})
	}
	slices.SortFunc(out, func(a, b reports.RejectCount) int {
		return cmp.Or(cmp.Compare(a.Stage, b.Stage), cmp.Compare(a.Code, b.Code))
	})
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

// ReadDays implements reports.Source.
func (m *Memory) ReadDays(_ context.Context, _ *time.Location, from, to time.Time) ([]reports.ReadDay, error) {
	var out []reports.ReadDay
	for _, r := range m.Reads {
		if in(r.Day, from, to) {
			out = append(out, r)
		}
	}
	return out, nil
}

// TrafficHours implements reports.Source: in is what came from outside,
// out is received mail relayed on plus mail sent out; the seed has no
// relaying, so out is the mail sent.
func (m *Memory) TrafficHours(_ context.Context, from, to time.Time) ([]reports.TrafficHour, error) {
	var out []reports.TrafficHour
	for _, h := range m.Hours {
		if in(h.Hour, from, to) {
			out = append(out, reports.TrafficHour{Hour: h.Hour, InBytes: h.ReceivedBytes, OutBytes: h.SentBytes})
		}
	}
	return out, nil
}

// Coverage implements reports.Source.
func (m *Memory) Coverage(_ context.Context, _ *time.Location, from, to time.Time) ([]reports.CoverageDay, error) {
	var out []reports.CoverageDay
	for _, c := range m.Covers {
		if in(c.Day, from, to) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Availability implements reports.Source: each probed service measured
// from ProbesFrom, less its planned maintenance, down in ProbeDown.
func (m *Memory) Availability(_ context.Context, from, to time.Time) ([]reports.ServiceAvailability, error) {
	var out []reports.ServiceAvailability
	start := from
	if m.ProbesFrom.After(start) {
		start = m.ProbesFrom
	}
	if !to.After(start) {
		return nil, nil
	}
	overlap := func(o reports.Outage) time.Duration {
		s, e := o.Start, o.End
		if e.IsZero() || e.After(to) {
			e = to
		}
		if s.Before(start) {
			s = start
		}
		if !e.After(s) {
			return 0
		}
		return e.Sub(s)
	}
	for _, svc := range m.Probed {
		sa := reports.ServiceAvailability{Service: svc, Probes: []string{svc}, Total: to.Sub(from), NoData: start.Sub(from)}
		for _, o := range m.OutageList {
			if o.Service == svc && o.Planned {
				sa.Planned += overlap(o)
			}
		}
		for _, o := range m.ProbeDown {
			if o.Service == svc {
				sa.Down += overlap(o)
			}
		}
		sa.Measured = sa.Total - sa.Planned - sa.NoData
		out = append(out, sa)
	}
	return out, nil
}

// Outages implements reports.Source: the recorded outages and the probes'.
func (m *Memory) Outages(_ context.Context, from, to time.Time) ([]reports.Outage, error) {
	var out []reports.Outage
	for _, o := range slices.Concat(m.OutageList, m.ProbeDown) {
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

// MailTables implements reports.Source: the same tables for any period,
// the first n names of each.
func (m *Memory) MailTables(_ context.Context, _, _ time.Time, n int, addresses bool) (reports.MailTables, error) {
	t := m.Tables
	cut := func(nt reports.NameTable) reports.NameTable {
		nt.Top = nt.Top[:min(n, len(nt.Top))]
		return nt
	}
	t.SenderDomains, t.RecipientDomains = cut(t.SenderDomains), cut(t.RecipientDomains)
	if addresses {
		t.Senders, t.Recipients = cut(t.Senders), cut(t.Recipients)
	} else {
		t.Senders, t.Recipients = reports.NameTable{}, reports.NameTable{}
	}
	return t, nil
}

// Totals implements reports.Source from the hours and rejects, as the raw
// logs would count them.
func (m *Memory) Totals(_ context.Context, from, to time.Time) (reports.Totals, error) {
	if err := m.Fail["Totals"]; err != nil {
		return reports.Totals{}, err
	}
	var t reports.Totals
	for _, h := range m.Hours {
		if in(h.Hour, from, to) {
			t.Received += h.ReceivedCount + h.SentCount + h.UnknownCount
			t.BytesReceived += h.ReceivedBytes + h.SentBytes + h.UnknownBytes
		}
	}
	for _, r := range m.RejectList {
		if !in(r.At, from, to) {
			continue
		}
		if r.Stage == "header" || r.Stage == "body" {
			t.CleanupRejected += r.Count
		} else {
			t.Rejected += r.Count
		}
	}
	return t, nil
}
