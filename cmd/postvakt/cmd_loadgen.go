package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/loadgen"
)

func loadgenCmd() *command {
	var (
		o                loadgen.Options
		to, sizes, login string
	)
	return &command{
		name:    "loadgen",
		summary: "SMTP load generator: messages/s and latency percentiles",
		help: `Sends mail to an SMTP server (loopback only unless --allow-remote) and prints
messages per second and latency percentiles. The AUTH password is read from
POSTVAKT_PASSWORD. Example:
  postvakt loadgen --addr 127.0.0.1:2525 --to ola@uni.example --count 2000 --concurrency 20 --sizes 4096`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&o.Addr, "addr", "127.0.0.1:2525", "server `host:port`")
			fs.IntVar(&o.Concurrency, "concurrency", 10, "parallel sessions")
			fs.IntVar(&o.Count, "count", 1000, "messages in all (with --duration 0)")
			fs.DurationVar(&o.Duration, "duration", 0, "run for this long instead of --count")
			fs.Float64Var(&o.Rate, "rate", 0, "messages per second over all sessions (0: as fast as possible)")
			fs.StringVar(&sizes, "sizes", "4096", "message sizes in bytes, comma-separated, used in turn")
			fs.StringVar(&o.From, "from", "", "envelope sender")
			fs.StringVar(&to, "to", "", "recipients, comma-separated, used in turn (required)")
			fs.IntVar(&o.RcptsPerMessage, "rcpts", 1, "recipients per message")
			fs.BoolVar(&o.StartTLS, "starttls", false, "use STARTTLS")
			fs.StringVar(&login, "auth", "", "AUTH PLAIN as this `user` (password from POSTVAKT_PASSWORD)")
			fs.BoolVar(&o.Reuse, "reuse", false, "keep each session's connection for its messages")
			fs.DurationVar(&o.Timeout, "timeout", 30*time.Second, "timeout per SMTP command")
			fs.BoolVar(&o.AllowNonLoopback, "allow-remote", false, "allow a target outside 127.0.0.0/8 and ::1")
		},
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("loadgen takes no arguments")
			}
			if to == "" {
				return usagef("--to is required")
			}
			o.To = strings.Split(to, ",")
			for _, s := range strings.Split(sizes, ",") {
				n, err := strconv.Atoi(strings.TrimSpace(s))
				if err != nil || n <= 0 {
					return usagef("--sizes %q: want positive byte counts", sizes)
				}
				o.Sizes = append(o.Sizes, n)
			}
			if login != "" {
				o.Username, o.Password = login, os.Getenv("POSTVAKT_PASSWORD")
			}
			res, err := loadgen.Run(ctx, o, e.stdout)
			if err != nil {
				return err
			}
			if res.Accepted == 0 && res.Attempted > 0 {
				return fmt.Errorf("no message was accepted (first error: %s)", res.FirstError)
			}
			return nil
		},
	}
}
