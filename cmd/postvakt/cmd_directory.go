package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// withDirectory runs fn with the configured directory (smtp.address_rules,
// quotas, password hashing) on the configured database, auditing the change
// when audit names an action.
func withDirectory(audit string, fn func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (target string, err error)) func(context.Context, *cmdEnv, []string) error {
	return withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
		d, err := engine.NewDirectory(cfg.SMTP, enginestore.New(db), time.Now)
		if err != nil {
			return err
		}
		target, err := fn(ctx, e, d, args)
		if err != nil || audit == "" {
			return err
		}
		return auditCLI(ctx, db, audit, target)
	})
}

func auditCLI(ctx context.Context, db *storage.DB, action, target string) error {
	return accessstore.New(db).Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: "cli:" + currentUser(), Action: action, Target: target})
}

func oneArg(args []string, what string) (string, error) {
	if len(args) != 1 {
		return "", usagef("expected one argument: %s", what)
	}
	return args[0], nil
}

// directoryListing is `directory list --json`: the directory in the API's
// shapes (GET /api/v1/directory/domains, mailboxes, aliases).
type directoryListing struct {
	Domains   []directory.Domain      `json:"domains"`
	Mailboxes []engineapi.MailboxView `json:"mailboxes"`
	Aliases   []directory.Alias       `json:"aliases"`
}

func directoryCmd() *command {
	var (
		nickname, name, quota string
		keepCopy, external    bool
		reason                string
		asJSON                bool
	)
	return &command{
		name:    "directory",
		summary: "manage domains, mailboxes, aliases, lists and quotas of the mail engine",
		subs: []*command{
			{name: "add-domain", args: "DOMAIN", summary: "add a local domain",
				run: withDirectory("directory.add-domain", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					dom, err := oneArg(args, "DOMAIN")
					if err != nil {
						return "", err
					}
					if err := d.AddDomain(ctx, dom); err != nil {
						return "", err
					}
					fmt.Fprintf(e.stdout, "domain %s added\n", dom)
					return dom, nil
				})},
			{name: "add-mailbox", args: "ADDRESS", summary: "add a mailbox (permanent address, optional nickname)",
				help: "The password is read from the environment variable POSTVAKT_PASSWORD when set (never from a flag, so it stays out of the shell history and ps).",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&nickname, "nickname", "", "nickname `address` that the user may change later")
					fs.StringVar(&name, "name", "", "display `name`")
					fs.StringVar(&quota, "quota", "", "quota such as 2GB or 500MB (default smtp.directory.default_quota_bytes)")
				},
				run: withDirectory("directory.add-mailbox", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					a, err := oneArg(args, "ADDRESS")
					if err != nil {
						return "", err
					}
					nm := directory.NewMailbox{Address: a, Nickname: nickname, DisplayName: name, Password: os.Getenv("POSTVAKT_PASSWORD")}
					if quota != "" {
						if nm.QuotaBytes, err = directory.ParseSize(quota); err != nil {
							return "", usagef("--quota %q: %v", quota, err)
						}
					}
					m, err := d.AddMailbox(ctx, nm)
					if err != nil {
						return "", err
					}
					fmt.Fprintf(e.stdout, "mailbox %s added (quota %d bytes)\n", m.Address, d.Quota(m))
					return m.Address, nil
				})},
			{name: "list", summary: "list domains, mailboxes and aliases",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
				run: withDirectory("", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					if len(args) > 0 {
						return "", usagef("directory list takes no arguments")
					}
					doms, err := d.Domains(ctx)
					if err != nil {
						return "", err
					}
					mbs, err := d.Mailboxes(ctx)
					if err != nil {
						return "", err
					}
					als, err := d.Aliases(ctx)
					if err != nil {
						return "", err
					}
					if asJSON {
						out := directoryListing{Domains: []directory.Domain{}, Mailboxes: []engineapi.MailboxView{}, Aliases: []directory.Alias{}}
						out.Domains = append(out.Domains, doms...)
						out.Aliases = append(out.Aliases, als...)
						for _, m := range mbs {
							out.Mailboxes = append(out.Mailboxes, engineapi.ViewMailbox(d, m))
						}
						return "", writeJSON(e.stdout, out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					for _, dm := range doms {
						fmt.Fprintf(tw, "domain\t%s\t\t\n", dm.Name)
					}
					for _, m := range mbs {
						state := "active"
						if m.Locked {
							state = "locked: " + m.LockedReason
						}
						fmt.Fprintf(tw, "mailbox\t%s\t%s\tquota %d, used %d, %s\n", m.Address, m.Nickname, d.Quota(m), m.UsedBytes, state)
					}
					for _, a := range als {
						fmt.Fprintf(tw, "%s\t%s\t%s\t\n", a.Kind, a.Address, strings.Join(a.Targets, ", "))
					}
					return "", tw.Flush()
				})},
			{name: "set-quota", args: "ADDRESS SIZE", summary: "set a mailbox's quota (e.g. 5GB)",
				run: withDirectory("directory.set-quota", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					if len(args) != 2 {
						return "", usagef("expected ADDRESS SIZE")
					}
					n, err := directory.ParseSize(args[1])
					if err != nil {
						return "", usagef("size %q: %v", args[1], err)
					}
					return args[0], d.SetQuota(ctx, args[0], n)
				})},
			{name: "set-password", args: "ADDRESS", summary: "set a mailbox's password from POSTVAKT_PASSWORD",
				run: withDirectory("directory.set-password", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					a, err := oneArg(args, "ADDRESS")
					if err != nil {
						return "", err
					}
					pw := os.Getenv("POSTVAKT_PASSWORD")
					if pw == "" {
						return "", usagef("set the new password in the environment variable POSTVAKT_PASSWORD")
					}
					return a, d.SetPassword(ctx, a, pw)
				})},
			{name: "set-nickname", args: "ADDRESS NICKNAME", summary: "change a mailbox's nickname address",
				run: withDirectory("directory.set-nickname", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					if len(args) != 2 {
						return "", usagef("expected ADDRESS NICKNAME")
					}
					return args[0], d.SetNickname(ctx, args[0], args[1])
				})},
			{name: "set-forward", args: "ADDRESS [TO]", summary: "forward a mailbox's mail (no TO: stop forwarding)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.BoolVar(&keepCopy, "keep-copy", false, "also keep a copy in the mailbox")
					fs.BoolVar(&external, "external-allowed", false, "allow forwarding outside the local domains")
				},
				run: withDirectory("directory.set-forward", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					if len(args) < 1 || len(args) > 2 {
						return "", usagef("expected ADDRESS [TO]")
					}
					to := ""
					if len(args) == 2 {
						to = args[1]
					}
					return args[0], d.SetForward(ctx, args[0], to, keepCopy, external)
				})},
			{name: "lock", args: "ADDRESS", summary: "lock an account: AUTH refused, mail from outside refused",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&reason, "reason", "locked by a postmaster", "why (shown in the listing)")
				},
				run: withDirectory("directory.lock", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					a, err := oneArg(args, "ADDRESS")
					if err != nil {
						return "", err
					}
					return a, d.Lock(ctx, a, reason)
				})},
			{name: "unlock", args: "ADDRESS", summary: "unlock an account",
				run: withDirectory("directory.unlock", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					a, err := oneArg(args, "ADDRESS")
					if err != nil {
						return "", err
					}
					return a, d.Unlock(ctx, a)
				})},
			{name: "add-alias", args: "ADDRESS TARGET…", summary: "add an alias, distribution list or function address",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&name, "kind", "alias", "alias, list or function")
				},
				run: withDirectory("directory.add-alias", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					if len(args) < 2 {
						return "", usagef("expected ADDRESS TARGET…")
					}
					k := directory.EntryKind(name)
					if k != directory.KindAlias && k != directory.KindList && k != directory.KindFunction {
						return "", usagef("--kind %q: want alias, list or function", name)
					}
					return args[0], d.AddAlias(ctx, args[0], k, args[1:])
				})},
			{name: "remove-alias", args: "ADDRESS", summary: "remove an alias, list or function address",
				run: withDirectory("directory.remove-alias", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					a, err := oneArg(args, "ADDRESS")
					if err != nil {
						return "", err
					}
					return a, d.RemoveAlias(ctx, a)
				})},
			{name: "import-csv", args: "FILE", summary: "import thousands of mailboxes from CSV (header row names the columns)",
				run: withDirectory("directory.import-csv", func(ctx context.Context, e *cmdEnv, d *directory.Directory, args []string) (string, error) {
					p, err := oneArg(args, "FILE")
					if err != nil {
						return "", err
					}
					f, err := os.Open(p)
					if err != nil {
						return "", err
					}
					defer f.Close()
					res, err := d.ImportCSV(ctx, f)
					if err != nil {
						return "", err
					}
					fmt.Fprintf(e.stdout, "imported %d mailboxes, %d nicknames\n", res.Mailboxes, res.Nicknames)
					return p, nil
				})},
		},
	}
}
