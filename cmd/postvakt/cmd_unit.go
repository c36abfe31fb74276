package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/units"
)

// unitCmd is `postvakt unit …`: units joining the central service and
// their migration checklist (docs/units.md).
func unitCmd() *command {
	var (
		asJSON                                        bool
		name, domains, admin, leader, assignee, state string
		sendTo, at, outcome, status                   string
		failed, send                                  bool
	)
	actor := func() string {
		if u := os.Getenv("USER"); u != "" {
			return "cli:" + u
		}
		return "cli"
	}
	service := func(ctx context.Context, cfg *config.Config, db *storage.DB, e *cmdEnv) (*units.Service, error) {
		return app.NewUnitService(cfg, db, e.logger, time.Now, nil, nil)
	}
	jsonFlag := func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") }
	id := func(args []string, what string) (int64, error) {
		if len(args) != 1 {
			return 0, usagef("%s takes one ID", what)
		}
		n, err := strconv.ParseInt(args[0], 10, 64)
		if err != nil || n <= 0 {
			return 0, usagef("%s: bad ID %q", what, args[0])
		}
		return n, nil
	}
	db := func(fn func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error) func(context.Context, *cmdEnv, []string) error {
		return withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
			svc, err := service(ctx, cfg, db, e)
			if err != nil {
				return err
			}
			return fn(ctx, e, svc, args)
		})
	}
	contact := func(s string) units.Contact {
		n, a, _ := strings.Cut(s, "<")
		if a == "" {
			return units.Contact{Email: strings.TrimSpace(n)}
		}
		return units.Contact{Name: strings.TrimSpace(n), Email: strings.TrimSuffix(strings.TrimSpace(a), ">")}
	}
	return &command{
		name:    "unit",
		summary: "units joining the central service: survey links, plans, checklists, DNS checks",
		help: `Units are institutes and departments moving onto the central mail service
(docs/units.md). "unit create" records one, "unit link" makes a one-time survey
link, "unit plan" sets the migration date and derives the dated checklist,
"unit check" checks the MX now, "unit step" records a step's outcome. Times
are read and shown in the service time zone.`,
		subs: []*command{
			{name: "list", summary: "list units", flags: func(fs *flag.FlagSet, o *globalOpts) {
				jsonFlag(fs, o)
				fs.StringVar(&status, "status", "", "only units with this status (new, surveyed, planned, migrating, live)")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				if status != "" && !units.Status(status).Valid() {
					return usagef("--status %q: must be one of new, surveyed, planned, migrating, live", status)
				}
				list, err := svc.List(ctx, units.Filter{Status: units.Status(status)})
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, list)
				}
				tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tNAME\tSTATUS\tDOMAINS\tMIGRATION\tASSIGNEE")
				for _, u := range list {
					fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", u.ID, u.Name, u.Status, strings.Join(u.Domains, ","), e.when(u.MigrationAt), u.Assignee)
				}
				return tw.Flush()
			})},
			{name: "show", args: "ID", summary: "show a unit with its checklist and history", flags: jsonFlag,
				run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
					n, err := id(args, "unit show")
					if err != nil {
						return err
					}
					u, err := svc.Get(ctx, n)
					if err != nil {
						return err
					}
					steps, err := svc.Store().Steps(ctx, n)
					if err != nil {
						return err
					}
					evs, err := svc.Store().Events(ctx, n)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, map[string]any{"unit": u, "steps": steps, "events": evs})
					}
					fmt.Fprintf(e.stdout, "Unit %d: %s (%s)\nDomains: %s\nNetwork admin: %s\nLeader: %s\nMigration: %s\n\nChecklist:\n",
						u.ID, u.Name, u.Status, strings.Join(u.Domains, ", "), u.NetAdmin.Address(), u.Leader.Address(), e.when(u.MigrationAt))
					tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
					fmt.Fprintln(tw, "STEP\tDUE\tSTATE\tBY\tOUTCOME")
					for _, s := range steps {
						fmt.Fprintf(tw, "%d %s\t%s\t%s\t%s\t%s\n", s.ID, s.Label, e.when(s.DueAt), s.State, s.DoneBy, s.Outcome)
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					fmt.Fprintln(e.stdout, "\nHistory:")
					for _, ev := range evs {
						fmt.Fprintf(e.stdout, "  %s  %s  %s\n", e.when(ev.At), ev.Actor, ev.Text)
					}
					return nil
				})},
			{name: "create", summary: "record a unit", flags: func(fs *flag.FlagSet, o *globalOpts) {
				jsonFlag(fs, o)
				fs.StringVar(&name, "name", "", "the unit's name (required)")
				fs.StringVar(&domains, "domains", "", "its mail domains, comma-separated")
				fs.StringVar(&admin, "admin", "", `network administrator, "Name <addr>"`)
				fs.StringVar(&leader, "leader", "", `leader, "Name <addr>"`)
				fs.StringVar(&assignee, "assignee", "", "team member leading the migration (an address)")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				u := units.Unit{Name: name, Assignee: assignee}
				if domains != "" {
					u.Domains = strings.Split(domains, ",")
				}
				if admin != "" {
					u.NetAdmin = contact(admin)
				}
				if leader != "" {
					u.Leader = contact(leader)
				}
				u, err := svc.Create(ctx, u, actor())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, u)
				}
				fmt.Fprintf(e.stdout, "unit %d %s recorded\n", u.ID, u.Name)
				return nil
			})},
			{name: "link", args: "ID", summary: "make a one-time survey link (and mail it with --send-to)", flags: func(fs *flag.FlagSet, o *globalOpts) {
				fs.StringVar(&sendTo, "send-to", "", "mail the link to this address")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				n, err := id(args, "unit link")
				if err != nil {
					return err
				}
				l, err := svc.IssueLink(ctx, n, sendTo, actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "%s\nvalid once, until %s\n", l.URL, e.when(l.ExpiresAt))
				return nil
			})},
			{name: "plan", args: "ID", summary: "set the migration date and derive the checklist", flags: func(fs *flag.FlagSet, o *globalOpts) {
				jsonFlag(fs, o)
				fs.StringVar(&at, "at", "", `migration time, e.g. "2027-02-04 10:00" (service zone)`)
				fs.StringVar(&assignee, "assignee", "", "team member leading the migration")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				n, err := id(args, "unit plan")
				if err != nil {
					return err
				}
				if at == "" {
					return usagef("unit plan needs --at")
				}
				t, err := e.parseTime("--at", at)
				if err != nil {
					return err
				}
				steps, err := svc.Plan(ctx, n, t, assignee, actor())
				if err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, steps)
				}
				for _, s := range steps {
					fmt.Fprintf(e.stdout, "%d\t%s\t%s\n", s.ID, e.when(s.DueAt), s.Label)
				}
				return nil
			})},
			{name: "check", args: "ID", summary: "check the unit's MX now", flags: jsonFlag,
				run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
					n, err := id(args, "unit check")
					if err != nil {
						return err
					}
					checks, err := svc.CheckNow(ctx, n, actor())
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, checks)
					}
					ok := len(checks) > 0
					for _, c := range checks {
						fmt.Fprintln(e.stdout, c.Result.Explain())
						ok = ok && c.OK
					}
					if !ok {
						return fmt.Errorf("the MX of unit %d is not right yet", n)
					}
					return nil
				})},
			{name: "documents", args: "ID", summary: "print the plan's documents for the unit, or mail them with --send", flags: func(fs *flag.FlagSet, o *globalOpts) {
				fs.BoolVar(&send, "send", false, "mail them to the network administrator and finish the documents step")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				n, err := id(args, "unit documents")
				if err != nil {
					return err
				}
				if send {
					st, err := svc.SendDocuments(ctx, n, actor())
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "documents sent; step %d %s\n", st.ID, st.State)
					return nil
				}
				docs, err := svc.Documents(ctx, n)
				if err != nil {
					return err
				}
				for _, d := range docs {
					fmt.Fprintf(e.stdout, "== %s\n\n%s\n", d.Title, d.Text)
				}
				return nil
			})},
			{name: "work-order", args: "ID", summary: "open the unit's work order to the system administrators", flags: func(fs *flag.FlagSet, o *globalOpts) {
				fs.StringVar(&outcome, "note", "", "added to the work order's text (test accounts, special wishes)")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				n, err := id(args, "unit work-order")
				if err != nil {
					return err
				}
				w, err := svc.OpenWorkOrder(ctx, n, outcome, actor())
				if err != nil {
					return err
				}
				sent := "not mailed (units.sysadmin_address is empty)"
				if w.SentTo != "" {
					sent = "mailed to " + w.SentTo
				}
				fmt.Fprintf(e.stdout, "work order %d opened, %s\n", w.ID, sent)
				return nil
			})},
			{name: "step", args: "STEP-ID", summary: "record the outcome of a checklist step", flags: func(fs *flag.FlagSet, o *globalOpts) {
				fs.StringVar(&outcome, "outcome", "", "what was done or found (required)")
				fs.StringVar(&state, "state", "done", "done or skipped")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				n, err := id(args, "unit step")
				if err != nil {
					return err
				}
				s, err := svc.RecordStep(ctx, n, units.StepRecord{State: units.StepState(state), Outcome: outcome}, actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "step %d %s: %s\n", s.ID, s.Label, s.State)
				return nil
			})},
			{name: "requirement", summary: "a unit's requirements and complaints, with state and answer", subs: []*command{
				{name: "list", args: "UNIT-ID", summary: "list the unit's requirements and complaints", flags: jsonFlag,
					run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
						n, err := id(args, "unit requirement list")
						if err != nil {
							return err
						}
						l, err := svc.Requirements(ctx, n)
						if err != nil {
							return err
						}
						if asJSON {
							return writeJSON(e.stdout, l)
						}
						tw := tabwriter.NewWriter(e.stdout, 0, 2, 2, ' ', 0)
						fmt.Fprintln(tw, "ID\tKIND\tSTATE\tOPENED\tTITLE\tANSWER")
						for _, q := range l {
							fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", q.ID, q.Kind, q.State, e.when(q.OpenedAt), q.Title, q.Answer)
						}
						return tw.Flush()
					})},
				{name: "add", args: "UNIT-ID", summary: "record a requirement (or, with --complaint, a complaint) of the unit", flags: func(fs *flag.FlagSet, o *globalOpts) {
					fs.StringVar(&name, "title", "", "one line saying what the unit asks for (required)")
					fs.StringVar(&outcome, "text", "", "the details")
					fs.BoolVar(&failed, "complaint", false, "record a complaint, not a requirement")
				}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
					n, err := id(args, "unit requirement add")
					if err != nil {
						return err
					}
					kind := units.KindRequirement
					if failed {
						kind = units.KindComplaint
					}
					q, err := svc.AddRequirement(ctx, units.Requirement{UnitID: n, Kind: kind, Title: name, Body: outcome}, actor())
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s %d recorded for unit %d (new)\n", q.Kind, q.ID, q.UnitID)
					return nil
				})},
				{name: "state", args: "REQUIREMENT-ID", summary: "move a requirement: under_review, accepted, done or declined, with the answer given", flags: func(fs *flag.FlagSet, o *globalOpts) {
					fs.StringVar(&state, "state", "", "under_review, accepted, done or declined (required)")
					fs.StringVar(&outcome, "answer", "", "the answer given to the unit (required for accepted, done, declined)")
				}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
					n, err := id(args, "unit requirement state")
					if err != nil {
						return err
					}
					q, err := svc.MoveRequirement(ctx, n, units.RequirementState(state), outcome, actor())
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s %d %s\n", q.Kind, q.ID, q.State)
					return nil
				})},
			}},
			{name: "work-order-result", args: "WORK-ORDER-ID", summary: "record the system administrators' result of a work order", flags: func(fs *flag.FlagSet, o *globalOpts) {
				fs.StringVar(&outcome, "result", "", "the result (required)")
				fs.BoolVar(&failed, "failed", false, "the work order failed")
			}, run: db(func(ctx context.Context, e *cmdEnv, svc *units.Service, args []string) error {
				n, err := id(args, "unit work-order-result")
				if err != nil {
					return err
				}
				st := units.WorkOrderDone
				if failed {
					st = units.WorkOrderFailed
				}
				w, err := svc.WorkOrderResult(ctx, n, st, outcome, actor())
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "work order %d %s\n", w.ID, w.State)
				return nil
			})},
		},
	}
}
