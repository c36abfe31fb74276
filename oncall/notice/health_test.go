package notice

import (
	"testing"
	"time"
)

// TestServiceState: maintenance while an announced maintenance is active,
// then the probes (down: outage, a failing probe: degraded, up:
// operational), an open outage notice degrading a service the probes find
// up, and no data for a service nothing measures; withdrawn, private,
// ended and not yet begun notices count for nothing.
func TestServiceState(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	maint := Notice{Kind: KindMaintenance, State: Scheduled, Public: true, Services: []string{"webmail"},
		StartedAt: now.Add(-time.Hour), PlannedEnd: now.Add(time.Hour)}
	later := maint
	later.StartedAt, later.PlannedEnd = now.Add(time.Hour), now.Add(2*time.Hour)
	overdue := maint
	overdue.PlannedEnd = now.Add(-time.Minute)
	running := overdue
	running.State = InProgress
	outage := Notice{Kind: KindOutage, State: Identified, Public: true, Services: []string{"imap"}, StartedAt: now.Add(-time.Hour)}
	withdrawn := outage
	withdrawn.WithdrawnAt = now
	private := outage
	private.Public = false
	resolved := outage
	resolved.State, resolved.EndedAt = Resolved, now.Add(-time.Minute)
	up := &ServiceHealth{Status: "up"}
	down := &ServiceHealth{Status: "down"}
	degraded := &ServiceHealth{Status: "up", Degraded: true}
	for _, c := range []struct {
		name    string
		service string
		h       *ServiceHealth
		notices []Notice
		want    string
	}{
		{"up", "imap", up, nil, ServiceOperational},
		{"down", "imap", down, nil, ServiceOutage},
		{"a node down", "imap", degraded, nil, ServiceDegraded},
		{"not probed", "imap", nil, nil, ServiceNoData},
		{"unknown", "imap", &ServiceHealth{Status: "unknown"}, nil, ServiceNoData},
		{"maintenance begun", "webmail", down, []Notice{maint}, ServiceMaintenance},
		{"maintenance not begun", "webmail", up, []Notice{later}, ServiceOperational},
		{"maintenance past its planned end, not started", "webmail", up, []Notice{overdue}, ServiceOperational},
		{"maintenance in progress past its planned end", "webmail", up, []Notice{running}, ServiceMaintenance},
		{"maintenance of another service", "imap", up, []Notice{maint}, ServiceOperational},
		{"outage notice, probes up", "imap", up, []Notice{outage}, ServiceDegraded},
		{"outage notice, not probed", "imap", nil, []Notice{outage}, ServiceDegraded},
		{"outage notice, probes down", "imap", down, []Notice{outage}, ServiceOutage},
		{"withdrawn", "imap", up, []Notice{withdrawn}, ServiceOperational},
		{"private", "imap", up, []Notice{private}, ServiceOperational},
		{"resolved", "imap", up, []Notice{resolved}, ServiceOperational},
	} {
		if got := ServiceState(c.service, c.h, c.notices, now); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

// TestDayClass: a day without data is never green.
func TestDayClass(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		d    DayFigures
		want string
	}{
		{DayFigures{}, "none"},
		{DayFigures{Known: false, Availability: 100}, "none"},
		{DayFigures{Known: true, Availability: 100}, "ok"},
		{DayFigures{Known: true, Availability: 99.9}, "ok"},
		{DayFigures{Known: true, Availability: 99.5}, "minor"},
		{DayFigures{Known: true, Availability: 97}, "major"},
		{DayFigures{Known: true, Availability: 91.6}, "down"},
	} {
		if got := DayClass(c.d); got != c.want {
			t.Errorf("%+v: %s, want %s", c.d, got, c.want)
		}
	}
}

// TestNoticeFacts: a resolved notice shows its real start and resolution
// and a duration under a minute in words (not "()"); a scheduled
// maintenance is "Scheduled for" with its planned end; times are in the
// service zone and name it.
func TestNoticeFacts(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Config: DefaultConfig(), Store: nil})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 7, 1, 48, 0, 0, time.UTC)
	quick := Notice{Kind: KindOutage, State: Resolved, StartedAt: at, EndedAt: at.Add(20 * time.Second), Impact: "none"}
	got := s.noticeFacts(quick)
	want := []fact{{"Started", "Mon 2026-12-07 02:48 CET"}, {"Resolved", "Mon 2026-12-07 02:48 CET"}, {"Duration", "under a minute"}, {"Impact", "none"}}
	if len(got) != len(want) {
		t.Fatalf("facts %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("fact %d: %v, want %v", i, got[i], want[i])
		}
	}
	planned := Notice{Kind: KindMaintenance, State: Scheduled, StartedAt: at, PlannedEnd: at.Add(3 * time.Hour)}
	got = s.noticeFacts(planned)
	if len(got) < 2 || got[0] != (fact{"Scheduled for", "Mon 2026-12-07 02:48 CET"}) || got[1] != (fact{"Planned end", "Mon 2026-12-07 05:48 CET"}) {
		t.Errorf("planned: %v", got)
	}
	long := Notice{Kind: KindOutage, State: Resolved, StartedAt: at, EndedAt: at.Add(95 * time.Minute)}
	if got := s.noticeFacts(long); len(got) != 3 || got[2] != (fact{"Duration", "1h 35m"}) {
		t.Errorf("long: %v", got)
	}
}
