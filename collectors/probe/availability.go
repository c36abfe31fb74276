package probe

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Interval is a span of time [Start, End).
type Interval struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Duration is End − Start.
func (iv Interval) Duration() time.Duration { return iv.End.Sub(iv.Start) }

// Figures is the availability of one service over one period.
//
// The period is split into planned maintenance (announced windows for the
// service), time without data (before the first probe result), and the
// measured rest. Downtime inside a maintenance window is planned and is
// reported separately, not counted against the service:
//
//	Availability = (Measured − Down) / Measured, Measured = Total − Planned − NoData
type Figures struct {
	Service string    `json:"service"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Probes are the probes whose states decide the service's state.
	Probes []string `json:"probes"`
	Total  Duration `json:"total"`
	// Planned is the maintenance time in the period.
	Planned Duration `json:"planned"`
	// DownPlanned is the part of Planned during which the service was down.
	DownPlanned Duration `json:"down_planned"`
	// NoData is time before any counted probe had a result.
	NoData   Duration `json:"no_data"`
	Measured Duration `json:"measured"`
	// Down is unplanned downtime: the service was down outside maintenance.
	Down Duration `json:"down"`
	// Availability is a percentage; Known is false when nothing was measured.
	Availability float64 `json:"availability"`
	Known        bool    `json:"known"`
	// Outages are the unplanned down intervals; Maintenance the windows,
	// both clipped to the period.
	Outages     []Interval `json:"outages"`
	Maintenance []Interval `json:"maintenance"`
}

// Duration is a time.Duration that marshals as seconds.
type Duration time.Duration

// MarshalJSON writes the duration in seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, time.Duration(d).Seconds(), 'f', -1, 64), nil
}

// UnmarshalJSON reads a duration in seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return fmt.Errorf("duration: want seconds, got %s", b)
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Counted returns the probes among changes that decide a service's state:
// the probes through the balancer (empty Node) when there are any, else
// every node's probe. With balancer probes the service is down when any of
// them is down; with node probes only, when all of them are down (a
// cluster survives the loss of a node).
func Counted(changes []Change) (probes []string, throughBalancer bool) {
	seen := map[string]bool{}
	var nodes []string
	for _, c := range changes {
		if seen[c.Probe] {
			continue
		}
		seen[c.Probe] = true
		if c.Node == "" {
			probes = append(probes, c.Probe)
		} else {
			nodes = append(nodes, c.Probe)
		}
	}
	if len(probes) > 0 {
		slices.Sort(probes)
		return probes, true
	}
	slices.Sort(nodes)
	return nodes, false
}

// Availability computes the Figures of service over [from, to) from the
// state changes of its probes (as Store.ProbeChanges returns them: each
// probe's last change before from, then its changes in the period) and
// the maintenance windows announced for it.
func Availability(service string, changes []Change, windows []Window, from, to time.Time) Figures {
	probes, balancer := Counted(changes)
	cs := slices.Clone(changes)
	slices.SortStableFunc(cs, func(a, b Change) int { return a.At.Compare(b.At) })
	return availability(service, probes, balancer, cs, windows, from, to)
}

// availability is Availability with the counted probes decided and the
// changes sorted by time.
func availability(service string, probes []string, balancer bool, cs []Change, windows []Window, from, to time.Time) Figures {
	f := Figures{Service: service, From: from, To: to, Total: Duration(to.Sub(from))}
	if !to.After(from) {
		return f
	}
	f.Probes = probes
	f.Maintenance = union(windowIntervals(service, windows, from, to))
	f.Planned = Duration(total(f.Maintenance))

	// Sweep: the service's state changes only at a change of a counted probe.
	state := map[string]Status{}
	for _, p := range probes {
		state[p] = StatusUnknown
	}
	serviceStatus := func() Status {
		var up, down, unknown int
		for _, s := range state {
			switch s {
			case StatusUp:
				up++
			case StatusDown:
				down++
			default:
				unknown++
			}
		}
		switch {
		case up+down == 0:
			return StatusUnknown
		case balancer && down > 0:
			return StatusDown
		case !balancer && up == 0:
			return StatusDown
		}
		return StatusUp
	}
	var spans []struct {
		Interval
		Status
	}
	cur, curAt := StatusUnknown, from
	emit := func(until time.Time) {
		if until.After(curAt) {
			spans = append(spans, struct {
				Interval
				Status
			}{Interval{curAt, until}, cur})
		}
	}
	for _, c := range cs {
		if _, ok := state[c.Probe]; !ok {
			continue
		}
		at := c.At
		if at.Before(from) {
			at = from
		}
		if !at.Before(to) {
			break
		}
		state[c.Probe] = c.Status
		next := serviceStatus()
		if next != cur {
			emit(at)
			cur, curAt = next, at
		}
	}
	emit(to)

	var down, noData []Interval
	for _, s := range spans {
		switch s.Status {
		case StatusDown:
			down = append(down, s.Interval)
		case StatusUnknown:
			noData = append(noData, s.Interval)
		}
	}
	down = union(down)
	f.Outages = subtract(down, f.Maintenance)
	f.Down = Duration(total(f.Outages))
	f.DownPlanned = Duration(total(down) - total(f.Outages))
	f.NoData = Duration(total(subtract(union(noData), f.Maintenance)))
	f.Measured = f.Total - f.Planned - f.NoData
	if f.Measured > 0 {
		f.Known = true
		f.Availability = float64(f.Measured-f.Down) / float64(f.Measured) * 100
	}
	return f
}

// Daily splits [from, to) into calendar days in loc and computes each,
// as Availability computes each day from all the changes: the counted
// probes are decided once, and each day is swept over each probe's last
// change before it and its own changes only.
func Daily(service string, changes []Change, windows []Window, from, to time.Time, loc *time.Location) []Figures {
	probes, balancer := Counted(changes)
	cs := slices.Clone(changes)
	slices.SortStableFunc(cs, func(a, b Change) int { return a.At.Compare(b.At) })
	last := map[string]Change{} // each probe's latest change before the day
	var out []Figures
	i := 0
	var day []Change
	for d := from; d.Before(to); {
		y, m, dd := d.In(loc).Date()
		next := time.Date(y, m, dd+1, 0, 0, 0, 0, loc)
		if next.After(to) {
			next = to
		}
		for ; i < len(cs) && cs[i].At.Before(d); i++ {
			last[cs[i].Probe] = cs[i]
		}
		j := i
		for j < len(cs) && cs[j].At.Before(next) {
			j++
		}
		day = day[:0]
		for _, c := range last {
			day = append(day, c)
		}
		slices.SortStableFunc(day, func(a, b Change) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Probe, b.Probe)) })
		day = append(day, cs[i:j]...)
		out = append(out, availability(service, probes, balancer, day, windows, d, next))
		d = next
	}
	return out
}

// ByService computes the Figures of every probed service over [from, to)
// from the state changes of all probes (as Store.ProbeChanges returns
// them) and the maintenance windows, in the order of the services' names.
// With daily not nil each service is split into the calendar days of
// daily (Daily), by service and then day.
func ByService(changes []Change, windows []Window, from, to time.Time, daily *time.Location) []Figures {
	byService := map[string][]Change{}
	for _, c := range changes {
		byService[c.Service] = append(byService[c.Service], c)
	}
	var out []Figures
	for _, svc := range slices.Sorted(maps.Keys(byService)) {
		if daily != nil {
			out = append(out, Daily(svc, byService[svc], windows, from, to, daily)...)
			continue
		}
		out = append(out, Availability(svc, byService[svc], windows, from, to))
	}
	return out
}

func windowIntervals(service string, windows []Window, from, to time.Time) []Interval {
	var out []Interval
	for _, w := range windows {
		if !slices.Contains(w.Services, service) {
			continue
		}
		iv := Interval{w.Start, w.End}
		if iv.End.IsZero() || iv.End.After(to) {
			iv.End = to
		}
		if iv.Start.Before(from) {
			iv.Start = from
		}
		if iv.End.After(iv.Start) {
			out = append(out, iv)
		}
	}
	return out
}

// union merges overlapping or touching intervals, sorted by start.
func union(ivs []Interval) []Interval {
	s := slices.Clone(ivs)
	slices.SortFunc(s, func(a, b Interval) int { return cmp.Or(a.Start.Compare(b.Start), a.End.Compare(b.End)) })
	var out []Interval
	for _, iv := range s {
		if n := len(out); n > 0 && !iv.Start.After(out[n-1].End) {
			if iv.End.After(out[n-1].End) {
				out[n-1].End = iv.End
			}
			continue
		}
		out = append(out, iv)
	}
	return out
}

// subtract returns the parts of a (a union) not covered by b (a union).
func subtract(a, b []Interval) []Interval {
	var out []Interval
	for _, iv := range a {
		start := iv.Start
		for _, cut := range b {
			if !cut.End.After(start) || !cut.Start.Before(iv.End) {
				continue
			}
			if cut.Start.After(start) {
				out = append(out, Interval{start, cut.Start})
			}
			if cut.End.After(start) {
				start = cut.End
			}
		}
		if iv.End.After(start) {
			out = append(out, Interval{start, iv.End})
		}
	}
	return out
}

func total(ivs []Interval) time.Duration {
	var d time.Duration
	for _, iv := range ivs {
		d += iv.Duration()
	}
	return d
}

// ServiceStatus is a probed service's state now.
type ServiceStatus struct {
	Service string `json:"service"`
	// Status is up, down or unknown by the rule of Counted (through the
	// balancer: down while one is down; nodes only: down when all are).
	Status Status `json:"status"`
	// Degraded is set for a service that is up while one of its probes
	// fails (a node of a cluster, a probe the rule does not count).
	Degraded bool `json:"degraded"`
	// Since is when the latest of its probes changed to the state it is in.
	Since time.Time `json:"since,omitzero"`
}

// ServiceStatuses computes each probed service's state from its probes'
// current states (Store.ProbeStates), by the rule Availability counts
// with, in the order of the services' names.
func ServiceStatuses(states []State) []ServiceStatus {
	by := map[string][]State{}
	for _, s := range states {
		by[s.Service] = append(by[s.Service], s)
	}
	var out []ServiceStatus
	for _, svc := range slices.Sorted(maps.Keys(by)) {
		ss := by[svc]
		balancer := slices.ContainsFunc(ss, func(s State) bool { return s.Node == "" })
		st := ServiceStatus{Service: svc, Status: StatusUnknown}
		var up, down, anyDown int
		for _, s := range ss {
			if s.Status == StatusDown {
				anyDown++
			}
			if balancer && s.Node != "" {
				continue
			}
			switch s.Status {
			case StatusUp:
				up++
			case StatusDown:
				down++
			}
			if s.Status != StatusUnknown && s.Since.After(st.Since) {
				st.Since = s.Since
			}
		}
		switch {
		case up+down == 0:
		case balancer && down > 0, !balancer && up == 0:
			st.Status = StatusDown
		default:
			st.Status, st.Degraded = StatusUp, anyDown > 0
		}
		out = append(out, st)
	}
	return out
}
