// Command postvakt is the operations service of a university's central
// e-mail team: mail engine, collectors, on-call rota and paging, fault
// tickets and SLA clocks, monthly reports. This package is only the command
// line: flags, signals and exit codes; internal/app does the wiring.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/uni-mail/postvakt/internal/config"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1 // the command ran and failed
	exitUsage  = 2 // bad flags or arguments
	exitConfig = 3 // the configuration is invalid
)

// command is one subcommand (or a group of them).
type command struct {
	name    string
	args    string // synopsis of positional arguments
	summary string
	help    string // longer text for --help
	flags   func(fs *flag.FlagSet, o *globalOpts)
	run     func(ctx context.Context, env *cmdEnv, args []string) error
	subs    []*command
}

// globalOpts are flags every command accepts.
type globalOpts struct {
	config   string
	logLevel string
}

// cmdEnv is what a command runs with.
type cmdEnv struct {
	opts   *globalOpts
	fs     *flag.FlagSet
	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
	level  *slog.LevelVar
}

// usageError marks an error in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func commands() []*command {
	return []*command{
		serveCmd(),
		migrateCmd(),
		checkConfigCmd(),
		tokenCmd(),
		versionCmd(),
		dashboardsCmd(),
		directoryCmd(),
		loadgenCmd(),
		importCmd(),
		summaryCmd(),
		traceCmd(),
		oncallCmd(),
		incidentCmd(),
		ticketCmd(), slaCmd(), noticeCmd(),
		reportCmd(), reportTipsCmd(),
		queueCmd(), quarantineCmd(), accountCmd(),
		probeCmd(),
		userCmd(),
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &command{name: "postvakt", summary: "operations service of a university's central e-mail team", subs: commands()}
	return dispatch(ctx, root, []string{"postvakt"}, args, stdout, stderr)
}

func dispatch(ctx context.Context, c *command, path, args []string, stdout, stderr io.Writer) int {
	if len(c.subs) > 0 {
		if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
			printGroupHelp(stdout, c, path)
			if len(args) == 0 {
				return exitUsage
			}
			return exitOK
		}
		for _, s := range c.subs {
			if s.name == args[0] {
				return dispatch(ctx, s, append(path, s.name), args[1:], stdout, stderr)
			}
		}
		fmt.Fprintf(stderr, "%s: unknown command %q; see '%s --help'\n", strings.Join(path, " "), args[0], strings.Join(path, " "))
		return exitUsage
	}
	fs, opts := newFlagSet(c, path, stderr)
	fs.Usage = func() { printCommandHelp(stdout, c, path, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	level := new(slog.LevelVar)
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if opts.logLevel != "" {
		if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
			fmt.Fprintf(stderr, "%s: --log-level %q: want debug, info, warn or error\n", strings.Join(path, " "), opts.logLevel)
			return exitUsage
		}
	}
	env := &cmdEnv{opts: opts, fs: fs, stdout: stdout, stderr: stderr, logger: logger, level: level}
	err := c.run(ctx, env, fs.Args())
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(stderr, "%s: %v\n", strings.Join(path, " "), err)
		fmt.Fprintf(stderr, "see '%s --help'\n", strings.Join(path, " "))
		return exitUsage
	case errors.Is(err, config.ErrInvalid), errors.Is(err, config.ErrDecode):
		fmt.Fprintf(stderr, "%s: configuration error:\n%v\n", strings.Join(path, " "), indent(err.Error()))
		return exitConfig
	default:
		fmt.Fprintf(stderr, "%s: %v\n", strings.Join(path, " "), err)
		return exitError
	}
}

// newFlagSet builds the flags of a leaf command: the global ones and its own.
func newFlagSet(c *command, path []string, stderr io.Writer) (*flag.FlagSet, *globalOpts) {
	opts := &globalOpts{}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&opts.config, "config", os.Getenv("POSTVAKT_CONFIG"), "configuration `file` (YAML); default: built-in defaults (env POSTVAKT_CONFIG)")
	fs.StringVar(&opts.logLevel, "log-level", "", "override log.level: debug, info, warn or error")
	if c.flags != nil {
		c.flags(fs, opts)
	}
	return fs, opts
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "  " + strings.TrimLeft(l, " ")
	}
	return strings.Join(lines, "\n")
}

func printGroupHelp(w io.Writer, c *command, path []string) {
	fmt.Fprintf(w, "%s — %s\n\nUsage:\n  %s <command> [flags] [arguments]\n\nCommands:\n", strings.Join(path, " "), c.summary, strings.Join(path, " "))
	subs := append([]*command(nil), c.subs...)
	sort.Slice(subs, func(i, j int) bool { return subs[i].name < subs[j].name })
	for _, s := range subs {
		fmt.Fprintf(w, "  %-14s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> --help' for the flags of a command.\n", strings.Join(path, " "))
}

func printCommandHelp(w io.Writer, c *command, path []string, fs *flag.FlagSet) {
	synopsis := strings.Join(path, " ") + " [flags]"
	if c.args != "" {
		synopsis += " " + c.args
	}
	fmt.Fprintf(w, "%s — %s\n\nUsage:\n  %s\n", strings.Join(path, " "), c.summary, synopsis)
	if c.help != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.help))
	}
	fmt.Fprintf(w, "\nFlags:\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
}

// loadConfig loads the configuration named by --config (or the defaults)
// and applies --log-level.
func (e *cmdEnv) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(e.opts.config, nil)
	if err != nil {
		return nil, err
	}
	if e.opts.logLevel == "" {
		_ = e.level.UnmarshalText([]byte(cfg.Log.Level))
	}
	if cfg.Log.Format == "json" {
		e.logger = slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: e.level}))
	}
	return cfg, nil
}
