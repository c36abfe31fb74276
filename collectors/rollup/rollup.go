// Package rollup owns what the collectors keep for years and what they
// throw away: hourly and daily rollups of the transaction and login logs
// (counts and bytes by direction and result, content-filter verdicts,
// greylisting, logins by protocol and result, unique users), the daily
// snapshot of the directory (domains, mailboxes, allotted capacity) that
// the monthly report compares month to month, and the retention of the raw
// logs (90 days by default: the transaction-log retention of the service
// description). The aggregation runs in the database; this package says
// what to compute when.
package rollup

import (
	"context"
	"fmt"
	"time"
)

// Period is the width of a rollup bucket.
type Period string

// Periods.
const (
	Hour Period = "hour"
	Day  Period = "day"
)

// Micros is the bucket width in microseconds.
func (p Period) Micros() int64 {
	if p == Day {
		return int64(24 * time.Hour / time.Microsecond)
	}
	return int64(time.Hour / time.Microsecond)
}

// Point is one rollup value: Metric (messages, recipients, verdicts,
// greylist, logins, unique_users) split by Dim (e.g. "inbound|sent",
// "imap|failed", "Passed CLEAN").
type Point struct {
	Period Period
	Bucket time.Time
	Metric string
	Dim    string
	Count  int64
	Bytes  int64
}

// DirectorySnapshot is the directory's size on one day.
type DirectorySnapshot struct {
	Day           time.Time
	Domains       int64
	Mailboxes     int64
	AllottedBytes int64 // sum of the mailboxes' quotas
	UsedBytes     int64
	// ExtraBytes is the capacity granted above the default quota, the sum
	// over mailboxes of max(0, quota − default); −1 when the snapshot did
	// not record it (taken before it was, or from a directory that does not
	// say).
	ExtraBytes int64
	TakenAt    time.Time
}

// Store computes and keeps rollups and snapshots and purges raw logs.
type Store interface {
	// ComputeRollups recomputes the rollups of p over [from, to). A day's
	// are made from its hours' (distinct counts excepted): compute a
	// range's hours before its days.
	ComputeRollups(ctx context.Context, p Period, from, to time.Time) error
	Rollups(ctx context.Context, p Period, from, to time.Time) ([]Point, error)
	SaveDirectorySnapshot(ctx context.Context, s DirectorySnapshot) error
	PurgeLogs(ctx context.Context, cutoff time.Time, batch int) (int64, error)
}

// Directory reports the directory's current size. The engine's directory
// implements it (wired in internal/app).
type Directory interface {
	DirectoryCounts(ctx context.Context) (domains, mailboxes, allottedBytes, usedBytes int64, err error)
}

// DirectoryCensus is a Directory that also names its domains and
// mailboxes and says the capacity it grants above its default quota (the
// sum over mailboxes of max(0, quota − default)). The snapshot then
// records them, so that the monthly report can count new and removed
// mailboxes and domains and the extra capacity exactly.
type DirectoryCensus interface {
	DirectoryCensus(ctx context.Context) (domains, mailboxes []string, extraBytes int64, err error)
}

// CensusStore keeps what a DirectoryCensus says, per snapshot day: the
// extra capacity beside the day's snapshot, and the domains and mailboxes
// present as intervals of days.
type CensusStore interface {
	SaveDirectoryCensus(ctx context.Context, day time.Time, domains, mailboxes []string, extraBytes int64) error
}

// UserDayStore records which accounts logged in successfully on which
// days, per service, for days of loc: the distinct active users of any
// run of days (docs/reports.md, "Definitions"). Rows are only added, so
// that the record outlives the raw login log.
type UserDayStore interface {
	ComputeUserDays(ctx context.Context, loc *time.Location, from, to time.Time) error
}

// Jobs are the scheduled jobs' bodies, with an injected clock.
type Jobs struct {
	Store     Store
	Directory Directory // nil: no snapshot
	// Retention is how long raw logs are kept.
	Retention time.Duration
	// Lookback is how far back rollups are recomputed on each run, so late
	// lines (a delayed syslog, a backfill) are included.
	Lookback time.Duration
	// Location is the time zone of the days of the active-user record
	// (UserDayStore): the report's. Nil: UTC.
	Location *time.Location
}

// Retain deletes raw log rows older than now minus Retention.
func (j Jobs) Retain(ctx context.Context, now time.Time) (int64, error) {
	if j.Retention <= 0 {
		return 0, fmt.Errorf("rollup: retention must be positive")
	}
	n, err := j.Store.PurgeLogs(ctx, now.Add(-j.Retention), 5000)
	if err != nil {
		return n, fmt.Errorf("retention: %w", err)
	}
	return n, nil
}

// Roll recomputes the hourly and daily rollups from now minus Lookback to
// now.
func (j Jobs) Roll(ctx context.Context, now time.Time) error {
	back := j.Lookback
	if back <= 0 {
		back = 3 * time.Hour
	}
	return j.RollRange(ctx, now.Add(-back), now)
}

// RollRange recomputes the rollups for [from, to), e.g. after an import,
// and adds the day's active users when the store keeps them.
func (j Jobs) RollRange(ctx context.Context, from, to time.Time) error {
	if err := j.Store.ComputeRollups(ctx, Hour, from, to); err != nil {
		return err
	}
	if err := j.Store.ComputeRollups(ctx, Day, from, to); err != nil {
		return err
	}
	if u, ok := j.Store.(UserDayStore); ok {
		loc := j.Location
		if loc == nil {
			loc = time.UTC
		}
		if err := u.ComputeUserDays(ctx, loc, from, to); err != nil {
			return fmt.Errorf("active users: %w", err)
		}
	}
	return nil
}

// RawStore is a Store that says how far back its raw logs reach.
type RawStore interface {
	FirstLogRecord(ctx context.Context) (first time.Time, ok bool, err error)
}

// Refresh recomputes the rollups of [from, to) where the raw logs still
// hold every record: retention deletes the records before a cutoff, so
// the hour (for hourly rollups) and the day (for daily ones) of the oldest
// record left may have lost some, and are left as they are, as is
// everything before them; without raw logs nothing is recomputed, since
// recomputing would erase rollups the purged logs can no longer give. The
// monthly report calls it before reading a period, so that records written
// after their hour's last Roll (a message deferred longer than Lookback is
// written when it leaves the queue, with the time it arrived) are counted.
func (j Jobs) Refresh(ctx context.Context, from, to time.Time) error {
	rs, ok := j.Store.(RawStore)
	if !ok {
		return nil
	}
	first, has, err := rs.FirstLogRecord(ctx)
	if err != nil || !has {
		return err
	}
	f := first.UTC()
	hourFrom := maxTime(from, f.Truncate(time.Hour).Add(time.Hour))
	dayFrom := maxTime(from, time.Date(f.Year(), f.Month(), f.Day()+1, 0, 0, 0, 0, time.UTC))
	if to.After(hourFrom) {
		if err := j.Store.ComputeRollups(ctx, Hour, hourFrom, to); err != nil {
			return err
		}
	}
	if to.After(dayFrom) {
		if err := j.Store.ComputeRollups(ctx, Day, dayFrom, to); err != nil {
			return err
		}
	}
	if u, ok := j.Store.(UserDayStore); ok && to.After(first) {
		// Rows are only added: safe over purged days too.
		loc := j.Location
		if loc == nil {
			loc = time.UTC
		}
		if err := u.ComputeUserDays(ctx, loc, maxTime(from, first), to); err != nil {
			return fmt.Errorf("active users: %w", err)
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Snapshot records the directory's size for now's day.
func (j Jobs) Snapshot(ctx context.Context, now time.Time) error {
	if j.Directory == nil {
		return nil
	}
	d, m, a, u, err := j.Directory.DirectoryCounts(ctx)
	if err != nil {
		return fmt.Errorf("directory snapshot: %w", err)
	}
	if err := j.Store.SaveDirectorySnapshot(ctx, DirectorySnapshot{Day: now, Domains: d, Mailboxes: m,
		AllottedBytes: a, UsedBytes: u, ExtraBytes: -1, TakenAt: now}); err != nil {
		return err
	}
	dc, ok := j.Directory.(DirectoryCensus)
	cs, ok2 := j.Store.(CensusStore)
	if !ok || !ok2 {
		return nil
	}
	domains, mailboxes, extra, err := dc.DirectoryCensus(ctx)
	if err != nil {
		return fmt.Errorf("directory census: %w", err)
	}
	return cs.SaveDirectoryCensus(ctx, now, domains, mailboxes, extra)
}
