package probe

import (
	"fmt"
	"math"
	"testing"
	"time"
)

func at(h, m int) time.Time { return time.Date(2026, 3, 10, h, m, 0, 0, time.UTC) }

func TestAvailabilityExcludesMaintenance(t *testing.T) {
	day0, day1 := at(0, 0), at(24, 0)
	ch := []Change{
		{Probe: "imap", Service: "imap", Status: StatusUp, At: day0.Add(-48 * time.Hour)},
		// Down inside the announced window: planned, not counted.
		{Probe: "imap", Service: "imap", Status: StatusDown, At: at(2, 10)},
		{Probe: "imap", Service: "imap", Status: StatusUp, At: at(2, 40)},
		// A 30-minute outage.
		{Probe: "imap", Service: "imap", Status: StatusDown, At: at(10, 0)},
		{Probe: "imap", Service: "imap", Status: StatusUp, At: at(10, 30)},
		// Another service's probe is ignored.
		{Probe: "pop", Service: "pop", Node: "", Status: StatusDown, At: at(5, 0)},
	}
	var mine []Change
	for _, c := range ch {
		if c.Service == "imap" {
			mine = append(mine, c)
		}
	}
	win := []Window{{Services: []string{"imap", "pop"}, Start: at(2, 0), End: at(3, 0), Ref: "N-1"},
		{Services: []string{"webmail"}, Start: at(12, 0), End: at(14, 0)}}
	f := Availability("imap", mine, win, day0, day1)
	check := func(name string, got Duration, want time.Duration) {
		t.Helper()
		if time.Duration(got) != want {
			t.Errorf("%s = %v, want %v", name, time.Duration(got), want)
		}
	}
	check("Total", f.Total, 24*time.Hour)
	check("Planned", f.Planned, time.Hour)
	check("DownPlanned", f.DownPlanned, 30*time.Minute)
	check("Down", f.Down, 30*time.Minute)
	check("NoData", f.NoData, 0)
	check("Measured", f.Measured, 23*time.Hour)
	if want := 1350.0 / 1380 * 100; !f.Known || math.Abs(f.Availability-want) > 1e-9 {
		t.Errorf("Availability = %v (known %v), want %v", f.Availability, f.Known, want)
	}
	if len(f.Outages) != 1 || !f.Outages[0].Start.Equal(at(10, 0)) || !f.Outages[0].End.Equal(at(10, 30)) {
		t.Errorf("Outages = %v", f.Outages)
	}

	// An outage that runs into the window counts only outside it.
	mine = append(mine, Change{Probe: "imap", Service: "imap", Status: StatusDown, At: at(1, 45)}, Change{Probe: "imap", Service: "imap", Status: StatusUp, At: at(2, 5)})
	f = Availability("imap", mine, win, day0, day1)
	check("Down with overlap", f.Down, 45*time.Minute)
	check("DownPlanned with overlap", f.DownPlanned, 35*time.Minute)
}

func TestAvailabilityNodesAndNoData(t *testing.T) {
	ch := []Change{
		{Probe: "smtp-mx1", Service: "smtp", Node: "mx1", Status: StatusUp, At: at(1, 0)},
		{Probe: "smtp-mx2", Service: "smtp", Node: "mx2", Status: StatusUp, At: at(1, 0)},
		{Probe: "smtp-mx1", Service: "smtp", Node: "mx1", Status: StatusDown, At: at(8, 0)},
		{Probe: "smtp-mx2", Service: "smtp", Node: "mx2", Status: StatusDown, At: at(8, 40)},
		{Probe: "smtp-mx2", Service: "smtp", Node: "mx2", Status: StatusUp, At: at(9, 0)},
		{Probe: "smtp-mx1", Service: "smtp", Node: "mx1", Status: StatusUp, At: at(9, 0)},
	}
	f := Availability("smtp", ch, nil, at(0, 0), at(24, 0))
	if time.Duration(f.NoData) != time.Hour || time.Duration(f.Down) != 20*time.Minute {
		t.Fatalf("node-only service: NoData %v Down %v, want 1h and 20m (only while both nodes were down)", time.Duration(f.NoData), time.Duration(f.Down))
	}
	// A probe through the balancer decides alone once there is one.
	ch = append(ch, Change{Probe: "smtp-lb", Service: "smtp", Status: StatusUp, At: at(0, 0)},
		Change{Probe: "smtp-lb", Service: "smtp", Status: StatusDown, At: at(20, 0)})
	f = Availability("smtp", ch, nil, at(0, 0), at(24, 0))
	if len(f.Probes) != 1 || f.Probes[0] != "smtp-lb" || time.Duration(f.Down) != 4*time.Hour || f.NoData != 0 {
		t.Fatalf("balancer probe: probes %v down %v nodata %v", f.Probes, time.Duration(f.Down), time.Duration(f.NoData))
	}
	days := Daily("smtp", ch, nil, at(0, 0), at(48, 0), time.UTC)
	if len(days) != 2 || time.Duration(days[1].Down) != 24*time.Hour || days[1].Availability != 0 || !days[1].Known {
		t.Fatalf("Daily = %+v", days)
	}
	if f := Availability("none", nil, nil, at(0, 0), at(24, 0)); f.Known {
		t.Fatalf("no probes: %+v", f)
	}
}

// TestByService: every service with a change gets its figures, in the
// order of the names, each from its own probes' changes and the windows
// announced for it; daily splits each service into days.
func TestByService(t *testing.T) {
	ch := []Change{
		{Probe: "pop-lb", Service: "pop", Status: StatusDown, At: at(0, 0)},
		{Probe: "imap-lb", Service: "imap", Status: StatusUp, At: at(0, 0)},
		{Probe: "imap-lb", Service: "imap", Status: StatusDown, At: at(10, 0)},
		{Probe: "imap-lb", Service: "imap", Status: StatusUp, At: at(10, 30)},
		{Probe: "pop-lb", Service: "pop", Status: StatusUp, At: at(12, 0)},
	}
	win := []Window{{Services: []string{"imap"}, Start: at(10, 0), End: at(10, 15), Ref: "N-1"}}
	figs := ByService(ch, win, at(0, 0), at(24, 0), nil)
	if len(figs) != 2 || figs[0].Service != "imap" || figs[1].Service != "pop" {
		t.Fatalf("services = %+v", figs)
	}
	if time.Duration(figs[0].Down) != 15*time.Minute || time.Duration(figs[0].DownPlanned) != 15*time.Minute || len(figs[0].Maintenance) != 1 {
		t.Errorf("imap = %+v, want 15 minutes down outside and 15 inside the window", figs[0])
	}
	if time.Duration(figs[1].Down) != 12*time.Hour || figs[1].Planned != 0 || len(figs[1].Probes) != 1 || figs[1].Probes[0] != "pop-lb" {
		t.Errorf("pop = %+v, want 12 hours down and no window", figs[1])
	}
	days := ByService(ch, win, at(0, 0), at(48, 0), time.UTC)
	if len(days) != 4 || days[0].Service != "imap" || days[1].Service != "imap" || days[2].Service != "pop" ||
		!days[1].From.Equal(at(24, 0)) || days[1].Down != 0 || time.Duration(days[2].Down) != 12*time.Hour {
		t.Errorf("daily = %+v", days)
	}
	if figs := ByService(nil, win, at(0, 0), at(24, 0), nil); len(figs) != 0 {
		t.Errorf("no changes: %+v", figs)
	}
}

// TestServiceStatuses: through a balancer one failing probe takes the
// service down; with node probes only, the service is down when every node
// is and degraded while some are; without results it is unknown.
func TestServiceStatuses(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	got := ServiceStatuses([]State{
		{Probe: "imap-lb", Service: "imap", Status: StatusDown, Since: t0},
		{Probe: "imap-1", Service: "imap", Node: "n1", Status: StatusUp, Since: t0.Add(-time.Hour)},
		{Probe: "smtp-1", Service: "smtp", Node: "n1", Status: StatusDown, Since: t0},
		{Probe: "smtp-2", Service: "smtp", Node: "n2", Status: StatusUp, Since: t0.Add(-time.Hour)},
		{Probe: "pop-1", Service: "pop3", Node: "n1", Status: StatusDown, Since: t0},
		{Probe: "pop-2", Service: "pop3", Node: "n2", Status: StatusDown, Since: t0.Add(time.Minute)},
		{Probe: "web", Service: "webmail", Status: StatusUnknown},
	})
	want := []ServiceStatus{
		{Service: "imap", Status: StatusDown, Since: t0},
		{Service: "pop3", Status: StatusDown, Since: t0.Add(time.Minute)},
		{Service: "smtp", Status: StatusUp, Degraded: true, Since: t0},
		{Service: "webmail", Status: StatusUnknown},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses\n%v\nwant\n%v", got, want)
	}
}
