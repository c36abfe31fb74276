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
	"runtime"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/logattr"
)

// Exit codes (README, "Commands").
const (
	exitOK         = 0
	exitError      = 1 // the command ran and failed (e.g. not found)
	exitUsage      = 2 // bad flags or arguments
	exitConfig     = 3 // the configuration file is missing, unreadable or invalid
	exitNoDatabase = 4 // the configured database does not exist or was never migrated
)

// defaultConfigPath is read when neither --config nor POSTVAKT_CONFIG names
// a file, so that an operator on the server needs no flags.
const defaultConfigPath = "/etc/postvakt/postvakt.yaml"

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

// globalOpts are flags every command accepts, anywhere on the line.
type globalOpts struct {
	config   string
	logLevel string
}

// runOptions are what run takes from its surroundings; tests change them.
type runOptions struct {
	// defaultConfig is read when neither --config nor POSTVAKT_CONFIG
	// names a file and it exists.
	defaultConfig string
	getenv        func(string) string
}

// cmdEnv is what a command runs with.
type cmdEnv struct {
	opts   *globalOpts
	ro     runOptions
	fs     *flag.FlagSet
	stdout io.Writer
	stderr io.Writer
	logger *slog.Logger
	level  *slog.LevelVar
	// cfg and loc are set by loadConfig: the configuration and the
	// service time zone every time is read and shown in.
	cfg *config.Config
	loc *time.Location
}

// usageError marks an error in how the command was called.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

// errNoDatabase is wrapped by the refusal of a command that needs a
// database when the configured one does not exist (exit 4).
var errNoDatabase = errors.New("no database")

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
		mailboxCmd(),
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
		unitCmd(), spamComplaintCmd(),
		userCmd(),
		backupCmd(),
		dkimCmd(),
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return runWith(ctx, args, stdout, stderr, runOptions{defaultConfig: defaultConfigPath, getenv: os.Getenv})
}

func runWith(ctx context.Context, args []string, stdout, stderr io.Writer, ro runOptions) int {
	root := &command{name: "postvakt", summary: "operations service of a university's central e-mail team", subs: commands()}
	d := dispatcher{ro: ro, stdout: stdout, stderr: stderr}
	return d.dispatch(ctx, root, []string{"postvakt"}, args, nil)
}

// dispatcher walks the command tree: global flags may stand anywhere on
// the line, before the command, between its words or after its arguments.
type dispatcher struct {
	ro             runOptions
	stdout, stderr io.Writer
}

// globalFlag reports whether name is a flag every command takes, and
// whether it takes a value.
func globalFlag(name string) bool { return name == "config" || name == "log-level" }

func (d dispatcher) dispatch(ctx context.Context, c *command, path, args, carried []string) int {
	if len(c.subs) == 0 {
		return d.runLeaf(ctx, c, path, append(carried, args...))
	}
	for len(args) > 0 && strings.HasPrefix(args[0], "-") && args[0] != "-" {
		name, _, hasValue := strings.Cut(strings.TrimLeft(args[0], "-"), "=")
		switch {
		case name == "h" || name == "help":
			printGroupHelp(d.stdout, c, path)
			return exitOK
		case name == "version" && len(path) == 1:
			printVersion(d.stdout)
			return exitOK
		case globalFlag(name):
			n := 1
			if !hasValue {
				n = 2
			}
			if len(args) < n {
				fmt.Fprintf(d.stderr, "%s: flag --%s needs a value\n", strings.Join(path, " "), name)
				return exitUsage
			}
			carried = append(carried, args[:n]...)
			args = args[n:]
		default:
			known := []string{"config", "log-level", "help"}
			if len(path) == 1 {
				known = append(known, "version")
			}
			fmt.Fprintf(d.stderr, "%s: unknown flag %s%s\nsee '%s --help'\n", strings.Join(path, " "), args[0],
				didYouMean(name, known, "--"), strings.Join(path, " "))
			return exitUsage
		}
	}
	if len(args) == 0 {
		printGroupHelp(d.stderr, c, path)
		return exitUsage
	}
	if args[0] == "help" {
		return d.help(c, path, args[1:])
	}
	for _, s := range c.subs {
		if s.name == args[0] {
			return d.dispatch(ctx, s, append(path, s.name), args[1:], carried)
		}
	}
	fmt.Fprintf(d.stderr, "%s: unknown command %q%s\nsee '%s --help'\n", strings.Join(path, " "), args[0],
		didYouMean(args[0], names(c.subs), ""), strings.Join(path, " "))
	return exitUsage
}

// help prints the help of the command that words names below c:
// "postvakt help ticket open" is "postvakt ticket open --help".
func (d dispatcher) help(c *command, path, words []string) int {
	for _, w := range words {
		if strings.HasPrefix(w, "-") {
			continue
		}
		var next *command
		for _, s := range c.subs {
			if s.name == w {
				next = s
			}
		}
		if next == nil {
			fmt.Fprintf(d.stderr, "%s: no help for %q: unknown command%s\nsee '%s --help'\n", strings.Join(path, " "), w,
				didYouMean(w, names(c.subs), ""), strings.Join(path, " "))
			return exitUsage
		}
		c, path = next, append(path, w)
	}
	if len(c.subs) > 0 {
		printGroupHelp(d.stdout, c, path)
		return exitOK
	}
	fs, _ := newFlagSet(c, path)
	printCommandHelp(d.stdout, c, path, fs)
	return exitOK
}

func (d dispatcher) runLeaf(ctx context.Context, c *command, path, args []string) int {
	name := strings.Join(path, " ")
	fs, opts := newFlagSet(c, path)
	positional, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printCommandHelp(d.stdout, c, path, fs)
			return exitOK
		}
		fmt.Fprintf(d.stderr, "%s: %v\nsee '%s --help'\n", name, err, name)
		return exitUsage
	}
	level := new(slog.LevelVar)
	logger := slog.New(slog.NewTextHandler(d.stderr, &slog.HandlerOptions{Level: level, ReplaceAttr: logattr.Seconds}))
	if opts.logLevel != "" {
		if err := level.UnmarshalText([]byte(opts.logLevel)); err != nil {
			fmt.Fprintf(d.stderr, "%s: --log-level %q: want debug, info, warn or error\n", name, opts.logLevel)
			return exitUsage
		}
	}
	env := &cmdEnv{opts: opts, ro: d.ro, fs: fs, stdout: d.stdout, stderr: d.stderr, logger: logger, level: level, loc: time.Local}
	err = c.run(ctx, env, positional)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, new(usageError)):
		fmt.Fprintf(d.stderr, "%s: %v\n", name, err)
		fmt.Fprintf(d.stderr, "see '%s --help'\n", name)
		return exitUsage
	case errors.Is(err, config.ErrInvalid), errors.Is(err, config.ErrDecode), errors.Is(err, config.ErrRead):
		fmt.Fprintf(d.stderr, "%s: configuration error:\n%v\n", name, indent(err.Error()))
		return exitConfig
	case errors.Is(err, errNoDatabase):
		fmt.Fprintf(d.stderr, "%s: %v\n", name, err)
		return exitNoDatabase
	default:
		fmt.Fprintf(d.stderr, "%s: %v\n", name, err)
		return exitError
	}
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments ("ticket ack 1 --config FILE" as "ticket ack --config FILE 1")
// and returns the positional ones in order. "--" ends the flags; an
// argument that starts with "-" and a digit ("-30m", a time before now) is
// positional. An unknown flag is an error that suggests the nearest known
// one.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var flags, positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			positional = append(positional, args[i+1:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9') {
			positional = append(positional, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "h" || name == "help" {
			return nil, flag.ErrHelp
		}
		f := fs.Lookup(name)
		if f == nil {
			var known []string
			fs.VisitAll(func(f *flag.Flag) { known = append(known, f.Name) })
			return nil, fmt.Errorf("unknown flag %s%s", a, didYouMean(name, known, "--"))
		}
		if b, ok := f.Value.(interface{ IsBoolFlag() bool }); (ok && b.IsBoolFlag()) || hasValue {
			flags = append(flags, a)
			continue
		}
		if i+1 >= len(args) {
			return nil, fmt.Errorf("flag --%s needs a value", name)
		}
		flags = append(flags, "--"+name, args[i+1])
		i++
	}
	if err := fs.Parse(flags); err != nil {
		return nil, err
	}
	return positional, nil
}

func names(cs []*command) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.name)
	}
	return out
}

// didYouMean returns "; did you mean PREFIX+X?" for the known word nearest
// to w (by edit distance, or one that w begins or ends), or "" when none
// is near.
func didYouMean(w string, known []string, prefix string) string {
	best, bestD := "", 3
	for _, k := range known {
		d := editDistance(strings.ToLower(w), strings.ToLower(k))
		if len(w) >= 3 && (strings.HasPrefix(k, w) || strings.HasPrefix(w, k)) && d > 1 {
			d = 1
		}
		if d < bestD || (d == bestD && k < best) {
			best, bestD = k, d
		}
	}
	if best == "" || bestD > max(1, len(w)/2) {
		return ""
	}
	return "; did you mean " + prefix + best + "?"
}

// editDistance is the optimal-string-alignment distance of a and b: the
// Levenshtein distance with a swap of two neighbours ("lsit") counting as
// one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// newFlagSet builds the flags of a leaf command: the global ones and its own.
func newFlagSet(c *command, path []string) (*flag.FlagSet, *globalOpts) {
	opts := &globalOpts{}
	fs := flag.NewFlagSet(strings.Join(path, " "), flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed by the dispatcher
	fs.Usage = func() {}
	fs.StringVar(&opts.config, "config", "", "configuration `file` (YAML); default $POSTVAKT_CONFIG, else "+defaultConfigPath+" when it exists, else the built-in defaults")
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
	fmt.Fprintf(w, "\nRun '%s help <command>' or '%s <command> --help' for the flags of a command.\n", strings.Join(path, " "), strings.Join(path, " "))
	if len(path) == 1 {
		fmt.Fprintf(w, "Flags anywhere on the line: --config FILE (default $POSTVAKT_CONFIG, else %s when it exists), --log-level LEVEL; --version.\n", defaultConfigPath)
		fmt.Fprintf(w, "Times: %s.\n", timezone.Grammar)
		fmt.Fprintf(w, "Exit codes: 0 ok, 1 failed, 2 usage, 3 configuration missing or invalid, 4 no database.\n")
	}
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
	fmt.Fprintf(w, "\nFlags (anywhere on the line):\n")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func printVersion(w io.Writer) {
	fmt.Fprintf(w, "postvakt %s (%s %s/%s)\n", app.Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

// configPath says which configuration file the command reads and why: its
// --config, else POSTVAKT_CONFIG, else the default path when it exists;
// "" means the built-in defaults.
func (e *cmdEnv) configPath() (path, why string) {
	if e.opts.config != "" {
		return e.opts.config, "--config"
	}
	getenv := e.ro.getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if p := getenv("POSTVAKT_CONFIG"); p != "" {
		return p, "POSTVAKT_CONFIG"
	}
	if p := e.ro.defaultConfig; p != "" {
		if _, err := os.Stat(p); err == nil {
			return p, "the default path"
		}
	}
	return "", ""
}

// configSource describes where the configuration came from, for messages:
// "/etc/postvakt/postvakt.yaml (the default path)", or the places looked
// at when there is no file.
func (e *cmdEnv) configSource() string {
	p, why := e.configPath()
	if p != "" {
		return p + " (" + why + ")"
	}
	d := e.ro.defaultConfig
	if d == "" {
		d = defaultConfigPath
	}
	return "the built-in defaults: no --config, POSTVAKT_CONFIG is not set and " + d + " does not exist"
}

// loadConfig loads the configuration configPath names (or the defaults),
// applies --log-level and sets the service time zone.
func (e *cmdEnv) loadConfig() (*config.Config, error) {
	p, _ := e.configPath()
	cfg, err := config.Load(p, nil)
	if err != nil {
		return nil, err
	}
	if e.opts.logLevel == "" {
		_ = e.level.UnmarshalText([]byte(cfg.Log.Level))
	}
	if cfg.Log.Format == "json" {
		e.logger = slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: e.level, ReplaceAttr: logattr.Seconds}))
	}
	e.cfg, e.loc = cfg, cfg.Location()
	return cfg, nil
}

// when shows an instant to a person: in the service time zone, with its
// abbreviation ("Fri 2026-12-04 09:00 CET"); "-" for none.
func (e *cmdEnv) when(t time.Time) string { return timezone.Format(t, e.loc) }

// parseTime reads a time typed on the command line in the one grammar
// (config/timezone): RFC 3339, "YYYY-MM-DD HH:MM" in the service zone,
// YYYY-MM-DD, now, +2h / -30m.
func (e *cmdEnv) parseTime(flagName, s string) (time.Time, error) {
	t, err := timezone.Parse(s, time.Now(), e.loc)
	if err != nil {
		if flagName != "" {
			return time.Time{}, usagef("%s: %v", flagName, err)
		}
		return time.Time{}, usagef("%v", err)
	}
	return t, nil
}
