package attack

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100
// on every Linux architecture Go supports (proc(5)).
const clockTicks = 100

// Proc reads a running process's figures from /proc (proc(5)).
type Proc struct{ PID int }

// CPU is the process's user plus system CPU time so far.
func (p Proc) CPU() (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.PID))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/PID/stat
// line; the command name (field 2) is in parentheses and may hold spaces.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state): utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("stat: utime %q stime %q", f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// RSS is the process's resident set size now, in bytes.
func (p Proc) RSS() (int64, error) { return p.status("VmRSS") }

// Peak is the process's peak resident set size (VmHWM) in bytes, since it
// started or since ResetPeak.
func (p Proc) Peak() (int64, error) { return p.status("VmHWM") }

// ResetPeak resets VmHWM to the current RSS (writing 5 to clear_refs,
// Linux 4.0+); false when the kernel or permissions refuse.
func (p Proc) ResetPeak() bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p.PID), []byte("5"), 0) == nil
}

func (p Proc) status(key string) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.PID))
	if err != nil {
		return 0, err
	}
	return parseStatusKB(string(b), key)
}

// parseStatusKB reads "KEY:   1234 kB" of /proc/PID/status, in bytes.
func parseStatusKB(status, key string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("status %s: %q", key, v)
			}
			n, err := strconv.ParseInt(f[0], 10, 64)
			return n << 10, err
		}
	}
	return 0, fmt.Errorf("status: no %s", key)
}

// Watch samples the server while an attack runs: its peak RSS (every 20
// ms, and VmHWM where the kernel resets it), its CPU time, and how
// /healthz answers (every 250 ms). When the RSS passes Ceiling, and has
// grown by half a Budget since the attack began (a server that already
// holds more is not stopped for it), it calls Abort once: the attack stops
// before it takes the machine down.
type Watch struct {
	Proc    Proc
	Health  string // the /healthz URL
	Ceiling int64  // bytes; 0: none
	Abort   func()

	mu         sync.Mutex
	rss0       int64
	peak       int64
	aborted    bool
	healthMax  time.Duration
	healthFail int
	healthN    int
	cpu0       time.Duration
	start      time.Time
	hwmReset   bool
	stop       context.CancelFunc
	done       sync.WaitGroup
}

// Figures are what a Watch saw.
type Figures struct {
	PeakRSS   int64
	CPU       time.Duration
	Wall      time.Duration
	Aborted   bool // the RSS passed the ceiling
	HealthMax time.Duration
	HealthBad int // /healthz answers that failed or took over 2 s
	HealthN   int
}

// Start begins watching.
func (w *Watch) Start() {
	w.hwmReset = w.Proc.ResetPeak()
	w.cpu0, _ = w.Proc.CPU()
	w.start = time.Now()
	w.peak, _ = w.Proc.RSS()
	w.rss0 = w.peak
	ctx, cancel := context.WithCancel(context.Background())
	w.stop = cancel
	w.done.Add(2)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			rss, err := w.Proc.RSS()
			if err != nil {
				continue
			}
			w.mu.Lock()
			w.peak = max(w.peak, rss)
			abort := w.Ceiling > 0 && rss > w.Ceiling && rss > w.rss0+Budget/2 && !w.aborted
			if abort {
				w.aborted = true
			}
			w.mu.Unlock()
			if abort && w.Abort != nil {
				w.Abort()
			}
		}
	}()
	go func() {
		defer w.done.Done()
		if w.Health == "" {
			return
		}
		client := &http.Client{Timeout: 2 * time.Second}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			t0 := time.Now()
			resp, err := client.Get(w.Health)
			took := time.Since(t0)
			ok := err == nil && resp.StatusCode == http.StatusOK
			if resp != nil {
				resp.Body.Close()
			}
			w.mu.Lock()
			w.healthN++
			w.healthMax = max(w.healthMax, took)
			if !ok {
				w.healthFail++
			}
			w.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Stop ends watching and returns the figures.
func (w *Watch) Stop() Figures {
	w.stop()
	w.done.Wait()
	cpu, _ := w.Proc.CPU()
	w.mu.Lock()
	defer w.mu.Unlock()
	f := Figures{PeakRSS: w.peak, CPU: cpu - w.cpu0, Wall: time.Since(w.start), Aborted: w.aborted,
		HealthMax: w.healthMax, HealthBad: w.healthFail, HealthN: w.healthN}
	if w.hwmReset {
		if hwm, err := w.Proc.Peak(); err == nil {
			f.PeakRSS = max(f.PeakRSS, hwm)
		}
	}
	return f
}
