package probe

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
)

// memLock is an advisory lock shared by Runners in one process.
type memLock struct {
	mu     sync.Mutex
	holder bool
}

func (l *memLock) TryLock(context.Context, string) (func(), bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.holder {
		return nil, false, nil
	}
	l.holder = true
	return func() { l.mu.Lock(); l.holder = false; l.mu.Unlock() }, true, nil
}

// listen accepts and closes connections on loopback until the test ends.
func listen(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().String()
}

func runs(s *memStore) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.results)
}

// TestRunSingleMode: with a shared lock only one replica probes; when it
// stops, the other takes over.
func TestRunSingleMode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs for seconds")
	}
	t.Parallel()
	addr := listen(t)
	cfg := DefaultConfig()
	cfg.Interval, cfg.Jitter = time.Second, 0
	cfg.Targets = []Target{{Name: "tcp", Service: "smtp", Kind: KindTCP, Address: addr}}
	lock := &memLock{}
	storeA, storeB := newMemStore(), newMemStore()
	a := &Runner{Config: cfg, Store: storeA, Locker: lock, Node: "a"}
	b := &Runner{Config: cfg, Store: storeB, Locker: lock, Node: "b"}
	ctxA, stopA := context.WithCancel(context.Background())
	ctxB, stopB := context.WithCancel(context.Background())
	defer stopB()
	doneA := make(chan error, 1)
	go func() { doneA <- a.Run(ctxA) }()
	time.Sleep(100 * time.Millisecond) // a takes the lock first
	doneB := make(chan error, 1)
	go func() { doneB <- b.Run(ctxB) }()
	time.Sleep(1500 * time.Millisecond)
	if runs(storeA) < 2 || runs(storeB) != 0 {
		t.Fatalf("while a holds the lock: a ran %d, b ran %d", runs(storeA), runs(storeB))
	}
	stopA()
	if err := <-doneA; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runs(storeB) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("b never took over")
		}
		time.Sleep(50 * time.Millisecond)
	}
	stopB()
	if err := <-doneB; err != nil {
		t.Fatal(err)
	}
	if storeB.replicas[0] != "b" {
		t.Errorf("b's results recorded as %v", storeB.replicas)
	}
}

// TestRunEveryMode: without a lock every replica probes and records its
// node name.
func TestRunEveryMode(t *testing.T) {
	t.Parallel()
	addr := listen(t)
	cfg := DefaultConfig()
	cfg.Mode, cfg.Interval, cfg.Jitter = ModeEvery, time.Second, 0
	cfg.Targets = []Target{{Name: "tcp", Service: "smtp", Kind: KindTCP, Address: addr}}
	store := newMemStore()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for _, node := range []string{"a", "b"} {
		r := &Runner{Config: cfg, Store: store, Locker: &memLock{}, Node: node}
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, res := range store.results {
		if !res.OK {
			t.Errorf("failed: %s", res.Error)
		}
	}
	if slices.Sort(store.replicas); !slices.Equal(store.replicas, []string{"a", "b"}) {
		t.Errorf("results from replicas %v, want one from each", store.replicas)
	}
}

func TestProbeUnknownAndInvalid(t *testing.T) {
	r := &Runner{Config: DefaultConfig()}
	if _, err := r.Probe(context.Background(), "nope"); !errors.Is(err, ErrUnknownProbe) {
		t.Fatalf("unknown probe: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Interval = 0
	r = &Runner{Config: cfg}
	if _, err := r.Targets(); err == nil || !strings.Contains(err.Error(), "interval") {
		t.Fatalf("invalid configuration: %v", err)
	}
}

// TestRetriesWithClock: a failure is declared only when every attempt
// fails; a later attempt that passes makes the run pass.
func TestRetriesWithClock(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cfg := DefaultConfig()
	cfg.Retries, cfg.RetryInterval = 3, 7*time.Second
	cfg.Targets = []Target{{Name: "tcp", Service: "smtp", Kind: KindTCP, Address: addr}}
	clock := &fakeClock{t: time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)}
	var reopened net.Listener
	defer func() {
		if reopened != nil {
			reopened.Close()
		}
	}()
	sleeps := 0
	sleep := func(ctx context.Context, d time.Duration) error {
		sleeps++
		if sleeps == 2 { // the server comes back before the third attempt
			var err error
			if reopened, err = net.Listen("tcp", addr); err != nil {
				t.Skipf("port taken meanwhile: %v", err)
			}
		}
		return clock.Sleep(ctx, d)
	}
	store, reg := newMemStore(), prometheus.NewRegistry()
	r := &Runner{Config: cfg, Store: store, Registerer: reg, Now: clock.Now, Sleep: sleep}
	res, err := r.Check(context.Background(), "tcp")
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK || res.Attempts != 3 || !res.At.Equal(clock.t) {
		t.Fatalf("ok=%v attempts=%d at=%v error=%q", res.OK, res.Attempts, res.At, res.Error)
	}
	names := stepNames(res)
	if len(names) != 3 || names[0] != "attempt 1" || names[1] != "attempt 2" || names[2] != "connect" {
		t.Errorf("steps %v", names)
	}
	if got := testutil.ToFloat64(r.m.runs.WithLabelValues("smtp", "lb", "tcp", "ok")); got != 1 {
		t.Errorf("ok runs %v", got)
	}
}

// TestMetricsExposition checks the families, their labels and that
// promtool accepts them (when installed).
func TestMetricsExposition(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg, []Target{{Service: "smtp", Node: "mx1", Kind: KindSMTP}})
	if err != nil {
		t.Fatal(err)
	}
	m.observe(Result{Service: "smtp", Node: "mx1", Kind: KindSMTP, OK: true, Duration: 120 * time.Millisecond,
		CertExpiry: time.Unix(1800000000, 0)})
	m.observe(Result{Service: "mail", Kind: KindLoop, OK: true, LoopDelivery: 1500 * time.Millisecond})
	// A second Runner on the same registry reuses the collectors.
	if _, err := newMetrics(reg, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 9 {
		t.Errorf("series %d, %v", n, err)
	}
	want := `# HELP postvakt_probe_mail_loop_delivery_seconds Submission-to-mailbox time of the last delivered mail loop message.
# TYPE postvakt_probe_mail_loop_delivery_seconds gauge
postvakt_probe_mail_loop_delivery_seconds{kind="loop",node="lb",service="mail"} 1.5
# HELP postvakt_probe_tls_certificate_expiry_timestamp_seconds Earliest NotAfter of the certificate chain the probe last saw, as a Unix time.
# TYPE postvakt_probe_tls_certificate_expiry_timestamp_seconds gauge
postvakt_probe_tls_certificate_expiry_timestamp_seconds{kind="smtp",node="mx1",service="smtp"} 1.8e+09
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"postvakt_probe_mail_loop_delivery_seconds", "postvakt_probe_tls_certificate_expiry_timestamp_seconds"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %v", problems, err)
	}
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("POSTVAKT_REQUIRE_TOOLS") == "1" {
			t.Fatal("promtool required (POSTVAKT_REQUIRE_TOOLS=1) but not installed (Debian package prometheus)")
		}
		return
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
