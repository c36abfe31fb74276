package probestore

import (
	"context"
	"errors"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// Availability: the stored state changes and the maintenance windows of
// the tickets capability's notices, counted by probe.ByService
// (docs/probes.md, "Availability").

// MaintenanceWindows returns the maintenance windows that overlap
// [from, to): the maintenance notices (not cancelled) read through
// Notices, each for its services (notice.Notice.Window).
func (s *Store) MaintenanceWindows(ctx context.Context, from, to time.Time) ([]probe.Window, error) {
	if s.notices == nil {
		return nil, errors.New("maintenance windows: the probes' store has no notices to read")
	}
	ns, err := s.notices.MaintenanceNotices(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return windows(ns), nil
}

// windows are the probe windows of the notices that plan down time.
func windows(ns []notice.Notice) []probe.Window {
	var out []probe.Window
	for _, n := range ns {
		if start, end, ok := n.Window(); ok {
			out = append(out, probe.Window{Services: n.Services, Start: start, End: end, Ref: n.Ref()})
		}
	}
	return out
}

// ServiceAvailability computes each probed service's availability over
// [from, to) from the stored state changes and maintenance windows.
func (s *Store) ServiceAvailability(ctx context.Context, from, to time.Time) ([]probe.Figures, error) {
	ws, err := s.MaintenanceWindows(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return s.availability(ctx, from, to, nil, ws)
}

// ServiceAvailabilityDaily is ServiceAvailability for each calendar day
// of [from, to) in loc, by service and then day.
func (s *Store) ServiceAvailabilityDaily(ctx context.Context, from, to time.Time, loc *time.Location) ([]probe.Figures, error) {
	ws, err := s.MaintenanceWindows(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return s.availability(ctx, from, to, loc, ws)
}

// ServiceAvailabilityWith is ServiceAvailability with the windows of
// notices the caller has read (the monthly report reads the outage and
// maintenance notices once, for its own rows and for these windows).
func (s *Store) ServiceAvailabilityWith(ctx context.Context, from, to time.Time, notices []notice.Notice) ([]probe.Figures, error) {
	return s.availability(ctx, from, to, nil, windows(notices))
}

// availability computes the figures over [from, to), per day in daily
// when not nil.
func (s *Store) availability(ctx context.Context, from, to time.Time, daily *time.Location, ws []probe.Window) ([]probe.Figures, error) {
	changes, err := s.ProbeChanges(ctx, from, to)
	if err != nil {
		return nil, err
	}
	return probe.ByService(changes, ws, from, to, daily), nil
}
