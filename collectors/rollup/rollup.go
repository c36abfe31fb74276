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
	TakenAt       time.Time
}

// Store computes and keeps rollups and snapshots and purges raw logs.
type Store interface {
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

// Jobs are the scheduled jobs' bodies, with an injected clock.
type Jobs struct {
	Store     Store
	Directory Directory // nil: no snapshot
	// Retention is how long raw logs are kept.
	Retention time.Duration
	// Lookback is how far back rollups are recomputed on each run, so late
	// lines (a delayed syslog, a backfill) are included.
	Lookback time.Duration
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

// RollRange recomputes the rollups for [from, to), e.g. after an import.
func (j Jobs) RollRange(ctx context.Context, from, to time.Time) error {
	if err := j.Store.ComputeRollups(ctx, Hour, from, to); err != nil {
		return err
	}
	return j.Store.ComputeRollups(ctx, Day, from, to)
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
	return j.Store.SaveDirectorySnapshot(ctx, DirectorySnapshot{Day: now, Domains: d, Mailboxes: m,
		AllottedBytes: a, UsedBytes: u, TakenAt: now})
}
