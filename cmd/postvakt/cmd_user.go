package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// userView is a web user as `user list --json` shows it: never the
// password hash.
type userView struct {
	Name        string     `json:"name"`
	Role        auth.Role  `json:"role"`
	DisplayName string     `json:"display_name"`
	State       string     `json:"state"`
	SSOOnly     bool       `json:"sso_only"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at,omitempty"`
	LockedUntil *time.Time `json:"locked_until,omitempty"`
}

// userCmd manages the local users of the web interface.
func userCmd() *command {
	withAuth := func(fn func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error) func(context.Context, *cmdEnv, []string) error {
		return withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
			svc, err := webauth.New(webauth.Options{Config: cfg.Web, Store: accessstore.New(db), Logger: e.logger})
			if err != nil {
				return err
			}
			return fn(ctx, e, db, svc, args)
		})
	}
	audit := func(ctx context.Context, db *storage.DB, action, name, detail string) error {
		return accessstore.New(db).Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: "cli:" + currentUser(), Action: action, Target: "user:" + name, Detail: detail})
	}
	var role, display, pwFile string
	var sso, asJSON bool
	// password reads the password from --password-file (- for standard
	// input) or makes a random one, which is printed once.
	password := func(e *cmdEnv) (string, bool, error) {
		if pwFile == "" {
			return rand.Text(), true, nil // 128 random bits, base32
		}
		var r io.Reader
		if pwFile == "-" {
			r = os.Stdin
		} else {
			f, err := os.Open(pwFile)
			if err != nil {
				return "", false, err
			}
			defer f.Close()
			r = f
		}
		line, err := bufio.NewReader(r).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", false, err
		}
		return strings.TrimRight(line, "\r\n"), false, nil
	}
	pwFlag := func(fs *flag.FlagSet) {
		fs.StringVar(&pwFile, "password-file", "", "read the password from the first line of `file` (- for standard input); default: a random password, printed once")
	}
	return &command{
		name:    "user",
		summary: "add, list, change and disable web interface users",
		subs: []*command{
			{
				name: "add", args: "NAME", summary: "add a user with a role",
				help: "Roles, most privileged first: admin, postmaster, oncall, helpdesk, viewer.",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&role, "role", "", "`role` of the user (required)")
					fs.StringVar(&display, "display-name", "", "the user's full `name`")
					fs.BoolVar(&sso, "sso-only", false, "no password: the user signs in only through the trusted proxy (web.sso)")
					pwFlag(fs)
				},
				run: withAuth(func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error {
					if len(args) != 1 || role == "" {
						return usagef("add takes one user NAME and --role")
					}
					pw, generated := "", false
					if !sso {
						var err error
						if pw, generated, err = password(e); err != nil {
							return err
						}
					}
					u, err := svc.AddUser(ctx, args[0], display, role, pw)
					if err != nil {
						return err
					}
					if err := audit(ctx, db, "user.add", u.Name, "role="+string(u.Role)); err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "user %s with role %s added\n", u.Name, u.Role)
					if generated {
						fmt.Fprintf(e.stderr, "the password is shown only now:\n")
						fmt.Fprintln(e.stdout, pw)
					}
					return nil
				}),
			},
			{
				name: "list", summary: "list users (never their passwords)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
				run: withAuth(func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error {
					if len(args) > 0 {
						return usagef("user list takes no arguments")
					}
					list, err := svc.Users(ctx)
					if err != nil {
						return err
					}
					now := time.Now()
					state := func(u webauth.User) string {
						switch {
						case u.Disabled:
							return "disabled"
						case now.Before(u.LockedUntil):
							return "locked"
						case u.PasswordHash == "":
							return "active (sso only)"
						}
						return "active"
					}
					if asJSON {
						out := []userView{}
						for _, u := range list {
							v := userView{Name: u.Name, Role: u.Role, DisplayName: u.DisplayName, State: state(u),
								SSOOnly: u.PasswordHash == "", CreatedAt: u.CreatedAt}
							if !u.LastLoginAt.IsZero() {
								v.LastLoginAt = &u.LastLoginAt
							}
							if now.Before(u.LockedUntil) {
								v.LockedUntil = &u.LockedUntil
							}
							out = append(out, v)
						}
						return writeJSON(e.stdout, out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "NAME\tROLE\tDISPLAY NAME\tLAST SIGN-IN\tSTATE\n")
					for _, u := range list {
						st := state(u)
						if st == "locked" {
							st = "locked until " + e.when(u.LockedUntil)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Role, u.DisplayName, e.when(u.LastLoginAt), st)
					}
					return tw.Flush()
				}),
			},
			{
				name: "passwd", args: "NAME", summary: "set a user's password (and lift a lockout)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { pwFlag(fs) },
				run: withAuth(func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error {
					if len(args) != 1 {
						return usagef("passwd takes one user NAME")
					}
					pw, generated, err := password(e)
					if err != nil {
						return err
					}
					u, err := svc.SetPassword(ctx, args[0], pw)
					if err != nil {
						return err
					}
					if err := audit(ctx, db, "user.passwd", u.Name, ""); err != nil {
						return err
					}
					fmt.Fprintf(e.stderr, "password of %s set; their sessions are ended\n", u.Name)
					if generated {
						fmt.Fprintln(e.stdout, pw)
					}
					return nil
				}),
			},
			{
				name: "unlock", args: "NAME", summary: "lift a user's sign-in lockout (the password stays)",
				help: "A user is locked out after web.login.max_failures bad passwords within web.login.window, for web.login.lockout.",
				run: withAuth(func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error {
					if len(args) != 1 {
						return usagef("unlock takes one user NAME")
					}
					u, err := svc.Unlock(ctx, args[0])
					if err != nil {
						return err
					}
					if err := audit(ctx, db, "user.unlock", u.Name, ""); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "user %s may sign in again\n", u.Name)
					return nil
				}),
			},
			{
				name: "role", args: "NAME", summary: "change a user's role",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { fs.StringVar(&role, "role", "", "the new `role` (required)") },
				run: withAuth(func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error {
					if len(args) != 1 || role == "" {
						return usagef("role takes one user NAME and --role")
					}
					u, err := svc.SetRole(ctx, args[0], role)
					if err != nil {
						return err
					}
					if err := audit(ctx, db, "user.role", u.Name, "role="+string(u.Role)); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "user %s now has role %s\n", u.Name, u.Role)
					return nil
				}),
			},
			{
				name: "disable", args: "NAME", summary: "disable a user and end their sessions",
				run: withAuth(func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error {
					return setDisabled(ctx, e, db, svc, args, true, audit)
				}),
			},
			{
				name: "enable", args: "NAME", summary: "enable a disabled user",
				run: withAuth(func(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string) error {
					return setDisabled(ctx, e, db, svc, args, false, audit)
				}),
			},
		},
	}
}

func setDisabled(ctx context.Context, e *cmdEnv, db *storage.DB, svc *webauth.Service, args []string, off bool,
	audit func(ctx context.Context, db *storage.DB, action, name, detail string) error) error {
	if len(args) != 1 {
		return usagef("takes one user NAME")
	}
	u, err := svc.SetDisabled(ctx, args[0], off)
	if err != nil {
		return err
	}
	action, word := "user.enable", "enabled"
	if off {
		action, word = "user.disable", "disabled"
	}
	if err := audit(ctx, db, action, u.Name, ""); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "user %s %s\n", u.Name, word)
	return nil
}
