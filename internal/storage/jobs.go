package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// ClaimTick claims the run of job at the scheduled instant tick for node. It
// returns false when another replica (or an earlier run) claimed it: the
// primary key (job, tick) makes the claim exactly-once.
func (db *DB) ClaimTick(ctx context.Context, job string, tick time.Time, node string, now time.Time) (bool, error) {
	res, err := db.Exec(ctx, `INSERT INTO job_runs (job, tick, node, started_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (job, tick) DO NOTHING`, job, Micros(tick), node, Micros(now))
	if err != nil {
		return false, fmt.Errorf("claim %s tick: %w", job, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// FinishTick records the end of a claimed run and its error, if any.
func (db *DB) FinishTick(ctx context.Context, job string, tick time.Time, now time.Time, runErr error) error {
	var msg sql.NullString
	if runErr != nil {
		msg = sql.NullString{String: runErr.Error(), Valid: true}
	}
	_, err := db.Exec(ctx, `UPDATE job_runs SET finished_at = ?, error = ? WHERE job = ? AND tick = ?`,
		Micros(now), msg, job, Micros(tick))
	return err
}

// JobRun is one claimed run of a scheduled job.
type JobRun struct {
	Job        string
	Tick       time.Time
	Node       string
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string
}

// JobRuns lists the runs of job, newest first.
func (db *DB) JobRuns(ctx context.Context, job string, limit int) ([]JobRun, error) {
	rows, err := db.Query(ctx, `SELECT job, tick, node, started_at, finished_at, COALESCE(error, '') FROM job_runs
		WHERE job = ? ORDER BY tick DESC LIMIT ?`, job, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []JobRun
	for rows.Next() {
		var r JobRun
		var tick, started int64
		var fin sql.NullInt64
		if err := rows.Scan(&r.Job, &tick, &r.Node, &started, &fin, &r.Error); err != nil {
			return nil, err
		}
		r.Tick, r.StartedAt, r.FinishedAt = FromMicros(tick), FromMicros(started), FromNullMicros(fin)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PruneJobRuns deletes job-run records of ticks before cutoff.
func (db *DB) PruneJobRuns(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := db.Exec(ctx, `DELETE FROM job_runs WHERE tick < ?`, Micros(cutoff))
	if err != nil {
		return 0, fmt.Errorf("prune job runs: %w", err)
	}
	return res.RowsAffected()
}
