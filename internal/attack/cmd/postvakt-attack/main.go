// Command postvakt-attack runs postvakt's hostile-load suite (package
// internal/attack) against a fresh `postvakt serve` of the given binary and
// prints per attack the server's peak RSS, CPU-seconds, how /healthz
// answered and the outcome. It exits 1 when an attack fails. `make attack`
// builds the binary and runs it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/uni-mail/postvakt/internal/attack"
)

func main() {
	var (
		bin, only, skip string
		noEngine, list  bool
		ceiling         int64
	)
	flag.StringVar(&bin, "bin", "bin/postvakt", "the postvakt `binary` to attack")
	flag.StringVar(&only, "only", "", "comma-separated `names` of the attacks to run (default: all)")
	flag.StringVar(&skip, "skip", "", "comma-separated `names` of attacks to leave out")
	flag.BoolVar(&noEngine, "no-engine", false, "leave out the attacks on the SMTP engine's own limits")
	flag.BoolVar(&list, "list", false, "list the attacks and exit")
	flag.Int64Var(&ceiling, "ceiling-mib", 1536, "stop an attack when the server's RSS passes this many `MiB`")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: postvakt-attack [flags]\n\nRuns the hostile-load suite against a fresh postvakt serve (docs/security.md).\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if list {
		for _, a := range attack.Attacks() {
			engine := ""
			if a.Engine {
				engine = " [engine]"
			}
			fmt.Printf("%-20s %s%s\n", a.Name, a.What, engine)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	results, err := attack.Run(ctx, attack.Options{Bin: bin, Only: split(only), Skip: split(skip), NoEngine: noEngine,
		Ceiling: ceiling << 20, Out: os.Stdout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "postvakt-attack:", err)
		os.Exit(2)
	}
	for _, r := range results {
		if !r.Verdict.Pass {
			os.Exit(1)
		}
	}
}

func split(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
