// Package attack owns postvakt's hostile-load suite (`make attack`, not
// part of the default test run): it starts a real `postvakt serve` from
// the built binary with the configuration a site would write
// (testdata/postvakt.yaml.tmpl, every limit at its default), sets it up
// through the CLI as an operator would, runs each attack of
// docs/security.md against it over loopback — SMTP from many source
// addresses, the web sign-in, the API, the fault address — and reports
// per attack the server's peak RSS, its CPU-seconds, how /healthz answered
// meanwhile, and the outcome: refused, throttled, quarantined or let
// through. A watch stops an attack whose memory passes a ceiling, so that
// an unbounded server does not take the machine down with it.
package attack

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Options choose what Run does.
type Options struct {
	// Bin is the postvakt binary.
	Bin string
	// Only runs the attacks with these names (all when empty); Skip leaves
	// some out.
	Only, Skip []string
	// NoEngine leaves out the attacks on the engine's own limits.
	NoEngine bool
	// Ceiling is the server RSS at which an attack is stopped; default
	// three times Budget.
	Ceiling int64
	Out     io.Writer
}

// Result is one attack's figures and verdict.
type Result struct {
	Attack  Attack
	Verdict Verdict
	Figures Figures
}

// Run starts the server, runs the chosen attacks one after another and
// prints a line per attack as it ends and the table at the end. It returns
// the results; err is about the suite itself (the server did not start).
func Run(ctx context.Context, o Options) ([]Result, error) {
	if o.Ceiling == 0 {
		o.Ceiling = 3 * Budget
	}
	e, err := Start(ctx, o.Bin)
	if err != nil {
		return nil, err
	}
	defer e.Stop()
	fmt.Fprintf(o.Out, "postvakt serve pid %d, HTTP %s, MX %s, submission %s, data in %s\n\n", e.Proc.PID, e.HTTP, e.MX, e.Submission, e.Dir)
	var results []Result
	for _, a := range Attacks() {
		if !chosen(a, o) {
			continue
		}
		settle(e)
		actx, cancel := context.WithCancel(ctx)
		w := &Watch{Proc: e.Proc, Health: e.HTTP + "/healthz", Ceiling: o.Ceiling, Abort: cancel}
		w.Start()
		v := a.Run(actx, e)
		f := w.Stop()
		cancel()
		if f.Aborted {
			v.Pass = false
			v.Why = strings.TrimSpace(fmt.Sprintf("stopped: RSS passed %d MiB. %s", o.Ceiling>>20, v.Why))
		}
		if f.PeakRSS > Budget {
			v.Pass = false
			v.Why = strings.TrimSpace(fmt.Sprintf("%s peak RSS %d MiB over the %d MiB budget.", v.Why, f.PeakRSS>>20, Budget>>20))
		}
		if f.HealthBad > 0 {
			v.Pass = false
			v.Why = strings.TrimSpace(fmt.Sprintf("%s /healthz failed %d of %d times.", v.Why, f.HealthBad, f.HealthN))
		}
		r := Result{Attack: a, Verdict: v, Figures: f}
		results = append(results, r)
		fmt.Fprintf(o.Out, "%-20s %s  peak %4d MiB  cpu %6.1f s  wall %5.1f s  healthz max %v\n    %s\n", a.Name, verdictWord(v),
			f.PeakRSS>>20, f.CPU.Seconds(), f.Wall.Seconds(), f.HealthMax.Round(time.Millisecond), v.Outcome)
		if v.Why != "" {
			fmt.Fprintf(o.Out, "    why: %s\n", v.Why)
		}
		if !e.Alive() {
			fmt.Fprintf(o.Out, "\npostvakt serve died; its last words:\n%s\n", tail(e.Log(), 40))
			break
		}
	}
	Table(o.Out, results)
	return results, nil
}

func chosen(a Attack, o Options) bool {
	if o.NoEngine && a.Engine {
		return false
	}
	for _, s := range o.Skip {
		if s == a.Name {
			return false
		}
	}
	if len(o.Only) == 0 {
		return true
	}
	for _, s := range o.Only {
		if s == a.Name {
			return true
		}
	}
	return false
}

// settle waits (at most 30 s) until the server is idle — under 5 % of a
// CPU over half a second — so that one attack's work does not count for
// the next.
func settle(e *Env) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c0, err := e.Proc.CPU()
		if err != nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
		c1, _ := e.Proc.CPU()
		if c1-c0 < 25*time.Millisecond {
			return
		}
	}
}

func verdictWord(v Verdict) string {
	if v.Pass {
		return "PASS"
	}
	return "FAIL"
}

// Table prints the results as a table.
func Table(out io.Writer, results []Result) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "attack\tverdict\tpeak RSS\tCPU-s\twall\thealthz max\toutcome")
	for _, r := range results {
		outcome := r.Verdict.Outcome
		if rs := []rune(outcome); len(rs) > 100 {
			outcome = string(rs[:97]) + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%d MiB\t%.1f\t%.1f s\t%v\t%s\n", r.Attack.Name, verdictWord(r.Verdict), r.Figures.PeakRSS>>20,
			r.Figures.CPU.Seconds(), r.Figures.Wall.Seconds(), r.Figures.HealthMax.Round(time.Millisecond), outcome)
	}
	_ = tw.Flush()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
