package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/complaintstore"
)

// spamComplaintCmd is `postvakt spam-complaint …`: the complaints to the
// abuse address and the rules they propose (docs/configuration.md,
// "Rules from spam complaints").
func spamComplaintCmd() *command {
	var (
		asJSON bool
		state  string
	)
	actor := func() string {
		if u := os.Getenv("USER"); u != "" {
			return "cli:" + u
		}
		return "cli"
	}
	jsonFlag := func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") }
	db := func(fn func(ctx context.Context, e *cmdEnv, svc *complaint.Service, args []string) error) func(context.Context, *cmdEnv, []string) error {
		return withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
			return fn(ctx, e, complaint.New(complaint.Options{Config: cfg.Content.Complaints, Store: complaintstore.New(db)}), args)
		})
	}
	id := func(args []string, what string) (int64, error) {
		if len(args) != 1 {
			return 0, usagef("%s takes one ID", what)
		}
		n, err := strconv.ParseInt(strings.TrimPrefix(args[0], "#"), 10, 64)
		if err != nil || n <= 0 {
			return 0, usagef("%s: bad ID %q", what, args[0])
		}
		return n, nil
	}
	rules := func(e *cmdEnv, rs []complaint.Rule) error {
		tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "RULE\tKIND\tMATCHES\tSCORE\tSTATE\tCOMPLAINTS")
		for _, r := range rs {
			var cs []string
			for _, c := range r.Complaints {
				cs = append(cs, "#"+strconv.FormatInt(c, 10))
			}
			m := r.Value
			if r.Header != "" {
				m = r.Header + ": " + m
			}
			fmt.Fprintf(tw, "LOCAL_%d\t%s\t%s\t%g\t%s\t%s\n", r.ID, r.Kind, m, r.Score, r.State, strings.Join(cs, ","))
		}
		return tw.Flush()
	}
	decide := func(name string, to complaint.RuleState, complaintLevel bool) *command {
		what, args := "spam-complaint "+name, "COMPLAINT-ID"
		summary := "accept every proposed rule of a complaint"
		if to == complaint.Rejected {
			summary = "reject every proposed rule of a complaint"
		}
		if !complaintLevel {
			what, args, name = "spam-complaint rule-"+name, "RULE-ID", "rule-"+name
			summary = "accept one rule"
			if to == complaint.Rejected {
				summary = "reject one rule (or withdraw an active one)"
			}
		}
		return &command{name: name, args: args, summary: summary, run: db(func(ctx context.Context, e *cmdEnv, svc *complaint.Service, a []string) error {
			n, err := id(a, what)
			if err != nil {
				return err
			}
			var changed int
			if complaintLevel {
				changed, err = svc.Decide(ctx, n, nil, to, actor())
			} else {
				changed, err = svc.Decide(ctx, 0, []int64{n}, to, actor())
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "%d rule(s) now %s; running engines use them within content.complaints.reload_every\n", changed, to)
			return nil
		})}
	}
	return &command{
		name:    "spam-complaint",
		summary: "spam complaints to the abuse address and the filter rules they propose",
		help: `Spam forwarded to content.complaints.address proposes sender, domain and
header rules for the engine's spam scorer (docs/configuration.md, "Rules from
spam complaints"). "list" shows the complaints, "show" one with its rules,
"accept" and "reject" decide all of a complaint's proposed rules at once,
"rules" lists rules with the complaints behind them.`,
		subs: []*command{
			{name: "list", summary: "list the newest complaints", flags: jsonFlag, run: db(func(ctx context.Context, e *cmdEnv, svc *complaint.Service, _ []string) error {
				cs, err := svc.Complaints(ctx, 200)
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, cs)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tRECEIVED\tREPORTER\tSPAM\tRULES\tSUBJECT")
				for _, c := range cs {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\n", c.ID, e.when(c.ReceivedAt), c.Reporter, len(c.Parsed.Spam), len(c.Rules), c.Subject)
				}
				return tw.Flush()
			})},
			{name: "show", args: "COMPLAINT-ID", summary: "show a complaint, the spam read from it and its proposed rules", flags: jsonFlag,
				run: db(func(ctx context.Context, e *cmdEnv, svc *complaint.Service, args []string) error {
					n, err := id(args, "spam-complaint show")
					if err != nil {
						return err
					}
					c, rs, err := svc.Complaint(ctx, n)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, map[string]any{"complaint": c, "rules": rs})
					}
					fmt.Fprintf(e.stdout, "complaint #%d from %s, %s: %s\n", c.ID, c.Reporter, e.when(c.ReceivedAt), c.Subject)
					for _, s := range c.Parsed.Spam {
						fmt.Fprintf(e.stdout, "  spam from %s (Return-Path %s): %s; links to %s\n", s.From, s.ReturnPath, s.Subject, strings.Join(s.URLHosts, ", "))
					}
					return rules(e, rs)
				})},
			decide("accept", complaint.Active, true),
			decide("reject", complaint.Rejected, true),
			decide("accept", complaint.Active, false),
			decide("reject", complaint.Rejected, false),
			{name: "rules", summary: "list rules (--state proposed, active or rejected)", flags: func(fs *flag.FlagSet, o *globalOpts) {
				jsonFlag(fs, o)
				fs.StringVar(&state, "state", "", "only rules in this state: proposed, active or rejected")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *complaint.Service, _ []string) error {
				rs, err := svc.Rules(ctx, complaint.RuleState(state))
				if err != nil {
					return usagef("%v", err)
				}
				if asJSON {
					return writeJSON(e.stdout, rs)
				}
				return rules(e, rs)
			})},
		},
	}
}
