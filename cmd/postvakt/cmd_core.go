package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"sort"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
)

func serveCmd() *command {
	var demo bool
	var cpuProfile string
	return &command{
		name:    "serve",
		summary: "run the service (HTTP API, metrics, scheduler and every configured capability)",
		help: `Runs until SIGINT or SIGTERM, then shuts down gracefully. SIGHUP (or
POST /api/v1/admin/reload) re-reads the configuration file and applies what can
change without a restart — whitelists, trusted senders, spam settings, address
rules, abuse thresholds, probes, notice recipients, TLS certificates, log level —
and logs what changed and what needs a restart; a file that fails to load
changes nothing (docs/configuration.md, "Reloading").
The configuration is --config FILE, else $POSTVAKT_CONFIG, else
` + defaultConfigPath + ` when it exists, else the built-in defaults: data in
./data, SQLite at ./data/postvakt.db, HTTP on 127.0.0.1:9780. serve creates
the database when there is none. At start it logs the web address and, while
no admin exists, a one-time link that creates the first one.

--demo runs the demo instead: its own configuration and a database of made-up
data, DATA_DIR/demo.db, made afresh at each start and marked as a demo; the
demo refuses any other database and serve without --demo refuses a demo
database (docs/demo.md).

--cpuprofile FILE writes a CPU profile of the whole run to FILE when serve
stops (for go tool pprof; docs/performance.md).

Unless GOGC is set, the heap may grow by 32 MiB between garbage collections,
or by the live heap once that is larger (docs/resources.md).`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file when serve stops (go tool pprof)")
			fs.BoolVar(&demo, "demo", false, "run the demo: made-up data in DATA_DIR/demo.db (made afresh, never a real database), a rota, incidents, tickets, probes, replayed sample logs (docs/demo.md)")
		},
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("serve takes no arguments")
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			if cpuProfile != "" {
				stop, err := startCPUProfile(cpuProfile)
				if err != nil {
					return err
				}
				defer stop()
			}
			if os.Getenv("GOGC") == "" {
				defer startServeGC()()
			}
			if demo {
				if cfg, err = app.DemoConfig(cfg); err != nil {
					return err
				}
			}
			for _, w := range cfg.Warnings() {
				e.logger.Warn("configuration: " + w)
			}
			path, _ := e.configPath()
			if demo {
				path = "" // a reload would put the file's settings over the demo's
			}
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			reload := make(chan struct{}, 1)
			go func() {
				for range hup {
					select {
					case reload <- struct{}{}:
					default:
					}
				}
			}()
			return app.Run(ctx, app.Options{
				Config: cfg, ConfigPath: path, Logger: e.logger, LogLevel: e.level, Reload: reload,
				Ready: func(a net.Addr) {}, Demo: demo,
			})
		},
	}
}

func migrateCmd() *command {
	open := func(ctx context.Context, e *cmdEnv, create bool) (*storage.DB, error) {
		_, db, err := e.openDatabase(ctx, openOptions{noMigrate: true, create: create, anySchema: !create})
		return db, err
	}
	var asJSON bool
	return &command{
		name:    "migrate",
		summary: "apply, roll back or list database migrations",
		subs: []*command{
			{name: "up", summary: "apply every pending migration (creates the database when there is none)", run: func(ctx context.Context, e *cmdEnv, args []string) error {
				if len(args) > 0 {
					return usagef("migrate up takes no arguments")
				}
				db, err := open(ctx, e, true)
				if err != nil {
					return err
				}
				defer db.Close()
				n, err := db.MigrateUp(ctx, nil)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "applied %d migration(s)\n", n)
				return nil
			}},
			{name: "down", summary: "roll back the most recent migration", run: func(ctx context.Context, e *cmdEnv, args []string) error {
				if len(args) > 0 {
					return usagef("migrate down takes no arguments")
				}
				db, err := open(ctx, e, false)
				if err != nil {
					return err
				}
				defer db.Close()
				st, err := db.MigrateDown(ctx, nil)
				if err != nil {
					return err
				}
				if st == nil {
					fmt.Fprintln(e.stdout, "nothing to roll back")
					return nil
				}
				fmt.Fprintf(e.stdout, "rolled back %d %s\n", st.Version, st.Name)
				return nil
			}},
			{name: "status", summary: "list migrations and whether each is applied",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
				run: func(ctx context.Context, e *cmdEnv, args []string) error {
					if len(args) > 0 {
						return usagef("migrate status takes no arguments")
					}
					db, err := open(ctx, e, false)
					if err != nil {
						return err
					}
					defer db.Close()
					list, err := db.MigrationStatuses(ctx)
					if err != nil {
						return err
					}
					if asJSON {
						type row struct {
							Version int64  `json:"version"`
							Name    string `json:"name"`
							Applied bool   `json:"applied"`
						}
						out := []row{}
						for _, s := range list {
							out = append(out, row{s.Version, s.Name, s.Applied})
						}
						return writeJSON(e.stdout, out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "VERSION\tSTATE\tFILE\n")
					for _, s := range list {
						state := "pending"
						if s.Applied {
							state = "applied"
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\n", s.Version, state, s.Name)
					}
					return tw.Flush()
				}},
		},
	}
}

func checkConfigCmd() *command {
	return &command{
		name:    "check-config",
		summary: "validate the configuration file and exit non-zero on any error",
		help: `Decodes the file strictly (unknown keys are errors), applies the environment
overrides and validates every key. Each error names the file, line, key and value;
deprecated keys are named as warnings (on standard error). Exit 3 when the file is
missing or invalid. Environment overrides: ` + envList(),
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("check-config takes no arguments; use --config FILE")
			}
			cfg, err := e.loadConfig()
			if err != nil {
				return err
			}
			for _, w := range cfg.Warnings() {
				fmt.Fprintf(e.stderr, "warning: %s\n", w)
			}
			if p, _ := e.configPath(); p == "" {
				fmt.Fprintf(e.stdout, "no configuration file (%s): the built-in defaults (with environment overrides) are valid\n", e.configSource())
			} else {
				fmt.Fprintf(e.stdout, "%s: configuration is valid\n", e.configSource())
			}
			fmt.Fprintf(e.stdout, "service time zone: %s\n", timezone.Describe(time.Now(), cfg.Location()))
			return nil
		},
	}
}

func envList() string {
	vars := config.EnvVars()
	names := make([]string, 0, len(vars))
	for k := range vars {
		names = append(names, k)
	}
	sort.Strings(names)
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n + " (" + vars[n] + ")"
	}
	return out
}

func versionCmd() *command {
	return &command{
		name:    "version",
		summary: "print the version",
		help:    "Also: postvakt --version.",
		run: func(ctx context.Context, e *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("version takes no arguments")
			}
			printVersion(e.stdout)
			return nil
		},
	}
}

func tokenCmd() *command {
	withAccess := func(fn func(ctx context.Context, e *cmdEnv, access *accessstore.Store, args []string) error) func(context.Context, *cmdEnv, []string) error {
		return withDatabase(func(ctx context.Context, e *cmdEnv, _ *config.Config, db *storage.DB, args []string) error {
			return fn(ctx, e, accessstore.New(db), args)
		})
	}
	var name, role string
	var ttl time.Duration
	var asJSON bool
	return &command{
		name:    "token",
		summary: "create, list and revoke API tokens",
		subs: []*command{
			{
				name:    "create",
				summary: "create an API token and print its secret once",
				help:    "Roles, most privileged first: admin, postmaster, oncall, helpdesk, viewer.",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.BoolVar(&asJSON, "json", false, "print the token (with its secret) as JSON")
					fs.StringVar(&name, "name", "", "token `name`, e.g. the person or system that uses it (required)")
					fs.StringVar(&role, "role", "", "`role` of the token (required)")
					fs.DurationVar(&ttl, "expires", 0, "lifetime, e.g. 720h; 0 means it never expires")
				},
				run: withAccess(func(ctx context.Context, e *cmdEnv, access *accessstore.Store, args []string) error {
					if name == "" || role == "" {
						return usagef("--name and --role are required")
					}
					t, secret, err := auth.IssueToken(ctx, access, auth.TokenRequest{Name: name, Role: role, TTL: ttl, By: "cli:" + currentUser(), Now: time.Now()})
					if err != nil {
						return err
					}
					if err := access.Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: "cli:" + currentUser(), Action: "token.create",
						Target: strconv.FormatInt(t.ID, 10), Detail: "name=" + t.Name + " role=" + string(t.Role)}); err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, accessapi.CreatedToken{Secret: secret, Token: accessapi.ViewToken(t)})
					}
					fmt.Fprintf(e.stderr, "token %d %q with role %s created; the secret is shown only now:\n", t.ID, t.Name, t.Role)
					fmt.Fprintln(e.stdout, secret)
					return nil
				}),
			},
			{
				name:    "list",
				summary: "list API tokens (never their secrets)",
				flags:   func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
				run: withAccess(func(ctx context.Context, e *cmdEnv, access *accessstore.Store, args []string) error {
					if len(args) > 0 {
						return usagef("token list takes no arguments")
					}
					list, err := access.ListTokens(ctx)
					if err != nil {
						return err
					}
					if asJSON {
						out := accessapi.TokenList{Tokens: []accessapi.TokenView{}}
						for _, t := range list {
							out.Tokens = append(out.Tokens, accessapi.ViewToken(t))
						}
						return writeJSON(e.stdout, out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "ID\tNAME\tROLE\tPREFIX\tCREATED\tEXPIRES\tLAST USED\tSTATE\n")
					now := time.Now()
					for _, t := range list {
						state := "active"
						if !t.RevokedAt.IsZero() {
							state = "revoked"
						} else if !t.Active(now) {
							state = "expired"
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.Prefix,
							e.when(t.CreatedAt), e.when(t.ExpiresAt), e.when(t.LastUsedAt), state)
					}
					return tw.Flush()
				}),
			},
			{
				name:    "revoke",
				args:    "ID",
				summary: "revoke an API token",
				run: withAccess(func(ctx context.Context, e *cmdEnv, access *accessstore.Store, args []string) error {
					if len(args) != 1 {
						return usagef("revoke takes one token ID")
					}
					id, err := strconv.ParseInt(args[0], 10, 64)
					if err != nil {
						return usagef("token ID %q is not a number", args[0])
					}
					if err := access.RevokeToken(ctx, id, time.Now()); err != nil {
						return err
					}
					if err := access.Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: "cli:" + currentUser(), Action: "token.revoke", Target: args[0]}); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "token %d revoked\n", id)
					return nil
				}),
			},
		},
	}
}

func currentUser() string {
	if u := os.Getenv("SUDO_USER"); u != "" {
		return u
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Getuid())
}

// startCPUProfile profiles the process into path until the returned
// function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
