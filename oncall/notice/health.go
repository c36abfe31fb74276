package notice

import (
	"context"
	"slices"
	"time"
)

// Health is what the status page needs of the probes: each probed
// service's state now and its availability per day. internal/app
// implements it with the probes' store (collectors/probe, docs/probes.md
// "Availability"); this package does not import it.
type Health interface {
	// ServiceStates returns the state of every probed service now.
	ServiceStates(ctx context.Context) ([]ServiceHealth, error)
	// DailyAvailability returns each probed service's figures for every
	// calendar day of loc in [from, to) (the last day cut at to), with
	// announced maintenance left out of the measured time.
	DailyAvailability(ctx context.Context, from, to time.Time, loc *time.Location) ([]DayFigures, error)
}

// HealthFuncs adapts two functions to Health.
type HealthFuncs struct {
	States func(ctx context.Context) ([]ServiceHealth, error)
	Daily  func(ctx context.Context, from, to time.Time, loc *time.Location) ([]DayFigures, error)
}

// ServiceStates implements Health.
func (h HealthFuncs) ServiceStates(ctx context.Context) ([]ServiceHealth, error) {
	return h.States(ctx)
}

// DailyAvailability implements Health.
func (h HealthFuncs) DailyAvailability(ctx context.Context, from, to time.Time, loc *time.Location) ([]DayFigures, error) {
	return h.Daily(ctx, from, to, loc)
}

var _ Health = HealthFuncs{}

// ServiceHealth is a probed service's state as the probes see it.
type ServiceHealth struct {
	Service string
	// Status is "up", "down" or "unknown" (no result yet).
	Status string
	// Degraded: up, but one of its probes fails (a node of a cluster).
	Degraded bool
	Since    time.Time
}

// DayFigures is a service's availability over one calendar day.
type DayFigures struct {
	Service string
	Day     time.Time // the day's first instant in the zone
	// Known is false when nothing was measured that day (no probe result,
	// or maintenance all day).
	Known bool
	// Availability is the percentage of Measured the service was up.
	Availability float64
	Measured     time.Duration
	Down         time.Duration
	// Planned is announced maintenance that day.
	Planned time.Duration
}

// States of a service on the status page.
const (
	ServiceOperational = "operational"
	ServiceDegraded    = "degraded"
	ServiceOutage      = "outage"
	ServiceMaintenance = "maintenance"
	ServiceNoData      = "no_data" // not probed (or no result yet) and no notice says otherwise
)

// Active reports whether n is in force at now: an open outage, or a
// maintenance in progress or scheduled with its window begun (its planned
// end not passed). A withdrawn notice is never active.
func (n Notice) Active(now time.Time) bool {
	if !n.WithdrawnAt.IsZero() || Final(n.State) {
		return false
	}
	if n.Kind != KindMaintenance {
		return true
	}
	if n.State == InProgress {
		return true
	}
	return !now.Before(n.StartedAt) && (n.PlannedEnd.IsZero() || now.Before(n.PlannedEnd))
}

// ServiceState decides a service's state on the status page at now, in
// this order: maintenance while an announced maintenance notice for it is
// active; outage while the probes find it down; degraded while a probe of
// it fails or an open outage notice names it; operational while the
// probes find it up; otherwise no data (nothing measures it and no notice
// speaks of it). h is nil for a service without probes.
func ServiceState(service string, h *ServiceHealth, notices []Notice, now time.Time) string {
	maint, outage := false, false
	for _, n := range notices {
		if !n.Public || !n.Active(now) || !slices.Contains(n.Services, service) {
			continue
		}
		if n.Kind == KindMaintenance {
			maint = true
		} else {
			outage = true
		}
	}
	switch {
	case maint:
		return ServiceMaintenance
	case h != nil && h.Status == "down":
		return ServiceOutage
	case outage, h != nil && h.Degraded:
		return ServiceDegraded
	case h != nil && h.Status == "up":
		return ServiceOperational
	}
	return ServiceNoData
}

// DayClass grades a day's availability for the status page's bars: ok
// (at least 99.9 %), minor (99 %), major (95 %), down (less), none (no
// data: never green).
func DayClass(d DayFigures) string {
	switch {
	case !d.Known:
		return "none"
	case d.Availability >= 99.9:
		return "ok"
	case d.Availability >= 99:
		return "minor"
	case d.Availability >= 95:
		return "major"
	}
	return "down"
}
