// Package scheduler runs postvakt's periodic jobs (retention, reports,
// escalation ticks, handover): cron schedules parsed by robfig/cron/v3, each
// run recovered from panics, skipped while the previous run is still going,
// and single-flight across replicas — an advisory lock excludes concurrent
// runs of one job and a claimed (job, tick) row makes each tick run exactly
// once even when replicas' clocks differ slightly.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/uni-mail/postvakt/internal/config"
)

// Func is the body of a job. tick is the scheduled instant the run is for,
// the same on every replica.
type Func func(ctx context.Context, tick time.Time) error

// Job is a named periodic job.
type Job struct {
	Name     string // stable; a metric label and the lock key
	Schedule string // default schedule; config scheduler.jobs.NAME overrides it
	Timeout  time.Duration
	Run      Func
}

// Store is what the scheduler needs of the database (internal/storage).
type Store interface {
	TryLock(ctx context.Context, key int64) (unlock func(), ok bool, err error)
	ClaimTick(ctx context.Context, job string, tick time.Time, node string, now time.Time) (bool, error)
	FinishTick(ctx context.Context, job string, tick time.Time, now time.Time, runErr error) error
}

// Options configure a Scheduler.
type Options struct {
	Store      Store
	LockKey    func(name string) int64
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Node       string // this replica's name, stored with each claimed tick
	Overrides  map[string]config.JobConfig
	Now        func() time.Time
}

// Scheduler runs registered jobs until its context ends.
type Scheduler struct {
	opts    Options
	mu      sync.Mutex
	jobs    []*entry
	runs    *prometheus.CounterVec
	dur     *prometheus.HistogramVec
	lastOK  *prometheus.GaugeVec
	started bool
}

type entry struct {
	job     Job
	sched   cron.Schedule
	running sync.Mutex
}

// Run results, a closed set used as a metric label.
const (
	ResultOK      = "ok"
	ResultError   = "error"
	ResultSkipped = "skipped" // still running here or on another replica
	ResultOther   = "claimed_elsewhere"
)

// New returns a Scheduler; register jobs before calling Run.
func New(opts Options) *Scheduler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Scheduler{
		opts: opts,
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_scheduler_runs_total",
			Help: "Scheduled job ticks handled by this replica, by job_name (the scheduled job; not Prometheus' target label job) and result (ok, error, skipped, claimed_elsewhere).",
		}, []string{"job_name", "result"}),
		dur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "postvakt_scheduler_run_duration_seconds",
			Help:    "Duration of scheduled job runs on this replica.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300},
		}, []string{"job_name"}),
		lastOK: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "postvakt_scheduler_last_success_timestamp_seconds",
			Help: "Unix time of the last successful run of a job on this replica.",
		}, []string{"job_name"}),
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.runs, s.dur, s.lastOK)
	}
	return s
}

// ErrDuplicate is returned when a job name is registered twice.
var ErrDuplicate = errors.New("job already registered")

// Register adds a job. Its schedule is the configured override, if any.
func (s *Scheduler) Register(j Job) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return fmt.Errorf("register %s: scheduler already running", j.Name)
	}
	for _, e := range s.jobs {
		if e.job.Name == j.Name {
			return fmt.Errorf("register %s: %w", j.Name, ErrDuplicate)
		}
	}
	spec := j.Schedule
	if o, ok := s.opts.Overrides[j.Name]; ok {
		if o.Disabled {
			s.opts.Logger.Info("scheduled job disabled by configuration", "job", j.Name)
			return nil
		}
		if o.Schedule != "" {
			spec = o.Schedule
		}
	}
	sched, err := config.ScheduleParser.Parse(spec)
	if err != nil {
		return fmt.Errorf("register %s: schedule %q: %w", j.Name, spec, err)
	}
	if j.Timeout <= 0 {
		j.Timeout = time.Hour
	}
	s.jobs = append(s.jobs, &entry{job: j, sched: sched})
	for _, r := range []string{ResultOK, ResultError, ResultSkipped, ResultOther} {
		s.runs.WithLabelValues(j.Name, r)
	}
	return nil
}

// Jobs lists the registered job names, sorted.
func (s *Scheduler) Jobs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, e := range s.jobs {
		out = append(out, e.job.Name)
	}
	sort.Strings(out)
	return out
}

// Run runs every registered job on its schedule until ctx is done, then waits
// for running jobs to return.
func (s *Scheduler) Run(ctx context.Context) error {
	s.mu.Lock()
	s.started = true
	jobs := append([]*entry(nil), s.jobs...)
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.loop(ctx, e, &wg)
		}()
	}
	wg.Wait()
	return nil
}

func (s *Scheduler) loop(ctx context.Context, e *entry, wg *sync.WaitGroup) {
	next := e.sched.Next(s.opts.Now())
	for {
		timer := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		tick := next
		next = e.sched.Next(tick)
		// Skip-if-still-running on this replica; the run itself goes on
		// in the background so the schedule keeps its pace.
		if !e.running.TryLock() {
			s.count(e, ResultSkipped)
			s.opts.Logger.Warn("scheduled job still running, tick skipped", "job", e.job.Name, "tick", tick)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer e.running.Unlock()
			s.RunTick(ctx, e.job, tick)
		}()
	}
}

// RunTick runs job for tick now if no other replica holds the job's lock and
// the tick is not claimed yet. It returns the result label.
func (s *Scheduler) RunTick(ctx context.Context, j Job, tick time.Time) string {
	st := s.opts.Store
	unlock, ok, err := st.TryLock(ctx, s.opts.LockKey(j.Name))
	if err != nil {
		s.opts.Logger.Error("scheduled job: lock", "job", j.Name, "err", err)
		return s.countName(j.Name, ResultError)
	}
	if !ok {
		return s.countName(j.Name, ResultSkipped)
	}
	defer unlock()
	claimed, err := st.ClaimTick(ctx, j.Name, tick, s.opts.Node, s.opts.Now())
	if err != nil {
		s.opts.Logger.Error("scheduled job: claim tick", "job", j.Name, "err", err)
		return s.countName(j.Name, ResultError)
	}
	if !claimed {
		return s.countName(j.Name, ResultOther)
	}
	start := time.Now()
	runErr := s.safeRun(ctx, j, tick)
	s.dur.WithLabelValues(j.Name).Observe(time.Since(start).Seconds())
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := st.FinishTick(fctx, j.Name, tick, s.opts.Now(), runErr); err != nil {
		s.opts.Logger.Error("scheduled job: record finish", "job", j.Name, "err", err)
	}
	if runErr != nil {
		s.opts.Logger.Error("scheduled job failed", "job", j.Name, "tick", tick, "err", runErr)
		return s.countName(j.Name, ResultError)
	}
	s.lastOK.WithLabelValues(j.Name).Set(float64(s.opts.Now().Unix()))
	s.opts.Logger.Debug("scheduled job done", "job", j.Name, "tick", tick, "took_seconds", time.Since(start).Seconds())
	return s.countName(j.Name, ResultOK)
}

func (s *Scheduler) safeRun(ctx context.Context, j Job, tick time.Time) (err error) {
	ctx, cancel := context.WithTimeout(ctx, j.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v\n%s", r, debug.Stack())
		}
	}()
	return j.Run(ctx, tick)
}

func (s *Scheduler) count(e *entry, result string) { s.countName(e.job.Name, result) }

func (s *Scheduler) countName(job, result string) string {
	s.runs.WithLabelValues(job, result).Inc()
	return result
}
