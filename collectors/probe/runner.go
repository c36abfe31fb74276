package probe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Locker is an advisory lock shared by the postvakt replicas
// (internal/storage's TryLock): in mode single, only the holder probes.
type Locker interface {
	// TryLock takes the lock name if it is free; unlock releases it.
	TryLock(ctx context.Context, name string) (unlock func(), ok bool, err error)
}

// LockName is the advisory lock of mode single.
const LockName = "postvakt-probes"

// ErrUnknownProbe is returned for a probe name that is not configured.
var ErrUnknownProbe = errors.New("probe: no such probe")

// NodeLabelService is the node label value of a probe with no node (it
// reaches the service address, through the load balancer).
const NodeLabelService = "lb"

// Runner runs the configured probes. Set the fields, then call Run (the
// service loop), Check (one probe, recorded) or Probe (one probe, not
// recorded). The zero values of the optional fields are usable.
type Runner struct {
	Config
	// Store records results and state changes; required by Run and Check.
	Store Store
	// Incidents receives alerts; nil raises none.
	Incidents Incidents
	// Mailbox is postvakt's own mail store, for loops with fetch kind store.
	Mailbox Mailbox
	// Locker elects the replica that probes in mode single; nil means this
	// replica always probes.
	Locker Locker
	// Node is this replica's node name, recorded with every result.
	Node string
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock of timestamps and certificate expiry; nil: time.Now.
	Now func() time.Time
	// Sleep pauses between attempts and runs; nil: a timer. It returns
	// ctx's error when ctx ends first.
	Sleep func(ctx context.Context, d time.Duration) error
	// Getenv reads the probe passwords (password_env); nil: os.Getenv.
	Getenv func(string) string

	once    sync.Once
	initErr error
	targets map[string]Target
	order   []Target
	p       *prober
	m       *metrics
	mu      sync.Mutex
	certBad map[string]bool // probe → warned about its certificate (absent: not known yet)
	leader  atomic.Bool
}

func (r *Runner) init() error {
	r.once.Do(func() {
		if err := r.Config.Validate(); err != nil {
			r.initErr = fmt.Errorf("probe: invalid configuration: %w", err)
			return
		}
		if r.Logger == nil {
			r.Logger = slog.New(slog.DiscardHandler)
		}
		if r.Now == nil {
			r.Now = time.Now
		}
		if r.Sleep == nil {
			r.Sleep = sleep
		}
		if r.Getenv == nil {
			r.Getenv = os.Getenv
		}
		helo, err := os.Hostname()
		if err != nil || helo == "" {
			helo = "localhost"
		}
		r.p = &prober{now: r.Now, getenv: r.Getenv, mailbox: r.Mailbox, loop: r.Config.Loop, helo: helo}
		r.targets = map[string]Target{}
		for _, t := range r.Config.Targets {
			t = t.withDefaults(r.Config)
			r.targets[t.Name] = t
			r.order = append(r.order, t)
		}
		r.certBad = map[string]bool{}
		r.m, r.initErr = newMetrics(r.Registerer, r.order)
	})
	return r.initErr
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Targets lists the configured probes in configuration order, with the
// section's defaults applied (Interval, Timeout, Retries, RetryInterval,
// TLS, ExpectStatus, QueryType, the loop's From and Fetch).
func (r *Runner) Targets() ([]Target, error) {
	if err := r.init(); err != nil {
		return nil, err
	}
	return append([]Target(nil), r.order...), nil
}

// Probe runs the named probe now, with its retries, and returns the result
// without recording it (for `postvakt probe run`). Steps are those of the
// last attempt, preceded by one step per failed earlier attempt. The error
// is ErrUnknownProbe, a configuration error or ctx's.
func (r *Runner) Probe(ctx context.Context, name string) (Result, error) {
	if err := r.init(); err != nil {
		return Result{}, err
	}
	t, ok := r.targets[name]
	if !ok {
		return Result{}, fmt.Errorf("%w: %q", ErrUnknownProbe, name)
	}
	res := Result{Probe: t.Name, Service: t.Service, Node: t.Node, Kind: t.Kind}
	var earlier []Step
	for i := 0; i <= *t.Retries; i++ {
		if i > 0 {
			if err := r.Sleep(ctx, t.RetryInterval); err != nil {
				return res, err
			}
		}
		res.At, res.Attempts = r.Now(), i+1
		start := time.Now()
		a, err := r.attempt(ctx, t)
		res.Duration = time.Since(start)
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		res.Steps = slices.Concat(earlier, a.steps)
		res.CertExpiry, res.LoopDelivery = a.cert, a.loop
		res.OK, res.Error = err == nil, ""
		if err != nil {
			res.Error = err.Error()
		}
		if res.OK || a.noRetry {
			break
		}
		earlier = append(earlier, Step{Name: fmt.Sprintf("attempt %d", i+1), Duration: res.Duration, Err: res.Error})
	}
	if w := r.certWarning(res); w != "" {
		res.Warning = w
	}
	return res, nil
}

// attempt runs one try of a probe within its timeout.
func (r *Runner) attempt(ctx context.Context, t Target) (*attempt, error) {
	a := &attempt{}
	limit := t.Timeout
	if t.Kind == KindLoop {
		limit = r.Config.Loop.Deadline + 2*t.Timeout
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var err error
	switch t.Kind {
	case KindTCP:
		err = r.p.probeTCP(ctx, a, t)
	case KindSMTP:
		err = r.p.probeSMTP(ctx, a, t)
	case KindIMAP:
		err = r.p.probeIMAP(ctx, a, t)
	case KindPOP3:
		err = r.p.probePOP3(ctx, a, t)
	case KindHTTP:
		err = r.p.probeHTTP(ctx, a, t)
	case KindDNS:
		err = r.p.probeDNS(ctx, a, t)
	case KindLoop:
		err = r.p.probeLoop(ctx, a, t, t.Timeout)
	default:
		err = fmt.Errorf("probe kind %q", t.Kind)
	}
	return a, err
}

// certWarning describes a certificate within cert_warning_days of expiry.
func (r *Runner) certWarning(res Result) string {
	if res.CertExpiry.IsZero() || r.Config.CertWarningDays <= 0 {
		return ""
	}
	now := r.Now()
	if res.CertExpiry.After(now.Add(time.Duration(r.Config.CertWarningDays) * 24 * time.Hour)) {
		return ""
	}
	if !res.CertExpiry.After(now) {
		return fmt.Sprintf("certificate expired on %s", res.CertExpiry.UTC().Format(time.DateOnly))
	}
	return fmt.Sprintf("certificate expires in %d days (%s)", daysLeft(res.CertExpiry, now), res.CertExpiry.UTC().Format(time.DateOnly))
}

// Check runs the named probe (with its retries), exports its metrics,
// records the result through Store, and raises or resolves its incidents:
// on a change to down a critical incident "probe/<name>" with the
// configured runbook, on a change to up its recovery; a certificate within
// cert_warning_days raises a warning incident "probe/<name>/certificate"
// (with cert_runbook), resolved once the certificate is renewed. A run cut
// short by ctx is not recorded.
func (r *Runner) Check(ctx context.Context, name string) (Result, error) {
	if err := r.init(); err != nil {
		return Result{}, err
	}
	if r.Store == nil {
		return Result{}, errors.New("probe: no store")
	}
	res, err := r.Probe(ctx, name)
	if err != nil {
		return res, err
	}
	r.m.observe(res)
	c, changed, err := r.Store.SaveProbeResult(ctx, res, r.Node)
	if err != nil {
		return res, fmt.Errorf("probe %s: save result: %w", name, err)
	}
	log := r.Logger.With("probe", res.Probe, "service", res.Service, "node", res.Node, "kind", string(res.Kind))
	if changed {
		log.Info("probe state changed", "status", string(c.Status), "error", c.Error)
	}
	if !r.Config.RaiseIncidents || r.Incidents == nil {
		return res, nil
	}
	var errs []error
	if changed {
		switch c.Status {
		case StatusDown:
			errs = append(errs, r.Incidents.Raise(ctx, r.failureAlert(res)))
		case StatusUp:
			errs = append(errs, r.Incidents.Recover(ctx, "probe/"+res.Probe))
		}
	}
	if !res.CertExpiry.IsZero() {
		bad := res.Warning != ""
		r.mu.Lock()
		was, known := r.certBad[res.Probe]
		r.certBad[res.Probe] = bad
		r.mu.Unlock()
		switch {
		case bad && (!known || !was):
			errs = append(errs, r.Incidents.Raise(ctx, r.certAlert(res)))
		case !bad && (!known || was):
			errs = append(errs, r.Incidents.Recover(ctx, "probe/"+res.Probe+"/certificate"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("probe %s: incidents: %w", name, err)
	}
	return res, nil
}

func where(res Result) string {
	if res.Node == "" {
		return res.Service
	}
	return res.Service + " on " + res.Node
}

func (r *Runner) failureAlert(res Result) Alert {
	return Alert{
		Key:      "probe/" + res.Probe,
		Severity: "critical",
		Title:    fmt.Sprintf("Probe %s failed: %s (%s)", res.Probe, where(res), res.Kind),
		Summary:  fmt.Sprintf("%s probe %s failed %d attempts: %s", res.Kind, res.Probe, res.Attempts, res.Error),
		Service:  res.Service, Node: res.Node, Kind: res.Kind,
		Runbook: r.Config.Runbook,
	}
}

func (r *Runner) certAlert(res Result) Alert {
	return Alert{
		Key:      "probe/" + res.Probe + "/certificate",
		Severity: "warning",
		Title:    fmt.Sprintf("TLS certificate of %s: %s", where(res), res.Warning),
		Summary: fmt.Sprintf("Probe %s (%s) sees a certificate that expires at %s (cert_warning_days %d).",
			res.Probe, res.Kind, res.CertExpiry.UTC().Format(time.RFC3339), r.Config.CertWarningDays),
		Service: res.Service, Node: res.Node, Kind: res.Kind,
		Runbook: r.Config.CertRunbook,
	}
}

// Run probes every target on its schedule until ctx ends: the first run
// within jitter×interval, then every interval ± jitter×interval (counted
// from the end of a run, so runs of a probe never overlap). In mode single
// it probes only while it holds the Locker's lock (LockName), trying to
// take it every interval and keeping it across rounds. It returns nil when
// ctx ends. Run does not look at Enabled; the caller does.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.init(); err != nil {
		return err
	}
	if r.Store == nil {
		return errors.New("probe: no store")
	}
	var wg sync.WaitGroup
	if r.Config.Mode == ModeSingle && r.Locker != nil {
		r.leader.Store(false)
		unlock := r.acquire(ctx)
		wg.Go(func() { r.holdLock(ctx, unlock) })
	} else {
		r.leader.Store(true)
	}
	for _, t := range r.order {
		wg.Go(func() { r.schedule(ctx, t) })
	}
	wg.Wait()
	return nil
}

// acquire tries to take the advisory lock once.
func (r *Runner) acquire(ctx context.Context) func() {
	unlock, ok, err := r.Locker.TryLock(ctx, LockName)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			r.Logger.Warn("probe lock", "err", err)
		}
	case ok:
		r.leader.Store(true)
		r.Logger.Info("probing from this replica", "node", r.Node)
		return unlock
	}
	return nil
}

// holdLock keeps trying to take the advisory lock, every interval, keeps
// it once taken, and releases it when ctx ends.
func (r *Runner) holdLock(ctx context.Context, unlock func()) {
	defer func() {
		r.leader.Store(false)
		if unlock != nil {
			unlock()
		}
	}()
	for {
		if r.Sleep(ctx, r.Config.Interval) != nil {
			return
		}
		if unlock == nil {
			unlock = r.acquire(ctx)
		}
	}
}

// schedule runs one target until ctx ends.
func (r *Runner) schedule(ctx context.Context, t Target) {
	wait := time.Duration(rand.Float64() * r.Config.Jitter * float64(t.Interval))
	for {
		if r.Sleep(ctx, wait) != nil {
			return
		}
		if r.leader.Load() {
			res, err := r.Check(ctx, t.Name)
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				r.Logger.Error("probe", "probe", t.Name, "err", err)
			case !res.OK:
				r.Logger.Warn("probe failed", "probe", t.Name, "attempts", res.Attempts, "error", res.Error)
			}
		}
		j := r.Config.Jitter * (2*rand.Float64() - 1)
		wait = t.Interval + time.Duration(j*float64(t.Interval))
	}
}
