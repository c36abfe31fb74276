package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

type oncallEnv struct {
	cfg   *config.Config
	store *oncallstore.Store
	team  *team.Team
	pols  map[string]incident.Policy
	rota  string
}

func withOncall(rotaName *string, fn func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error) func(context.Context, *cmdEnv, []string) error {
	return func(ctx context.Context, e *cmdEnv, args []string) error {
		cfg, db, err := e.openDatabase(ctx, openOptions{prepare: func(cfg *config.Config) error {
			if !cfg.Oncall.Enabled() {
				return errors.New("no on-call team configured (oncall.members in the configuration)")
			}
			return nil
		}})
		if err != nil {
			return err
		}
		defer db.Close()
		st := oncallstore.New(db)
		tm, pols, err := cfg.Oncall.Compile(st)
		if err != nil {
			return err
		}
		// The members and rotas are read from the database, as the server
		// reads them; say when the configuration has changes not applied.
		if err := tm.Refresh(ctx); err != nil {
			return err
		}
		if drift, err := tm.ConfigDrift(ctx); err == nil && len(drift) > 0 {
			fmt.Fprintf(e.stderr, "note: not yet applied from the configuration: %s (postvakt serve applies it at start and on reload, or run postvakt oncall apply)\n",
				strings.Join(drift, ", "))
		}
		o := &oncallEnv{cfg: cfg, store: st, team: tm, pols: pols, rota: tm.DefaultRota()}
		if rotaName != nil && *rotaName != "" {
			o.rota = *rotaName
		}
		return fn(ctx, e, o, args)
	}
}

func parseCLITime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("time %q: want RFC 3339, e.g. 2026-03-29T01:30:00+01:00", s)
}

func (o *oncallEnv) printShift(e *cmdEnv, s rota.Shift) {
	m, _ := o.team.Member(s.Member)
	r, _ := o.team.Rota(o.rota)
	loc := r.LocationAt(s.Start)
	fmt.Fprintf(e.stdout, "%s\t%s\t%s → %s\t%s\n", s.Member, m.Name, s.Start.In(loc).Format("2006-01-02 15:04 MST"), s.End.In(loc).Format("2006-01-02 15:04 MST"), s.Source)
}

func oncallCmd() *command {
	var rotaName string
	rotaFlags := func(fs *flag.FlagSet, _ *globalOpts) {
		fs.StringVar(&rotaName, "rota", "", "`rota` name; default the first configured rota")
	}
	var (
		weeks                            int
		from, to, member, reason, note   string
		requester, counterpart, mine, th string
	)
	shiftAt := func(at func(args []string) (time.Time, error)) func(context.Context, *cmdEnv, *oncallEnv, []string) error {
		return func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
			t, err := at(args)
			if err != nil {
				return err
			}
			s, err := o.team.OnCallAt(ctx, o.rota, t)
			if err != nil {
				return err
			}
			o.printShift(e, s)
			return nil
		}
	}
	decide := func(to rota.SwapState) func(context.Context, *cmdEnv, *oncallEnv, []string) error {
		return func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
			if len(args) != 1 {
				return usagef("takes one swap ID")
			}
			id, err := team.ParseID(args[0])
			if err != nil {
				return usagef("%v", err)
			}
			s, err := o.team.DecideSwap(ctx, team.SwapDecision{ID: id, To: to, By: "cli:" + currentUser(), Now: time.Now()})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "swap %s is %s\n", s.ID, s.State)
			return nil
		}
	}
	return &command{
		name:    "oncall",
		summary: "who is on call, the schedule, overrides and swaps, the rota and its members",
		subs: []*command{
			oncallRotaCmd(&rotaName, rotaFlags),
			oncallMemberCmd(),
			oncallHistoryCmd(&rotaName, rotaFlags),
			oncallApplyCmd(),
			{name: "now", summary: "print who is on call now", flags: rotaFlags,
				run: withOncall(&rotaName, shiftAt(func(args []string) (time.Time, error) {
					if len(args) > 0 {
						return time.Time{}, usagef("now takes no arguments")
					}
					return time.Now(), nil
				}))},
			{name: "at", args: "TIME", summary: "print who is on call at TIME (RFC 3339)", flags: rotaFlags,
				run: withOncall(&rotaName, shiftAt(func(args []string) (time.Time, error) {
					if len(args) != 1 {
						return time.Time{}, usagef("at takes one TIME, e.g. 2026-03-29T01:30:00+01:00")
					}
					return parseCLITime(args[0])
				}))},
			{name: "schedule", summary: "print the schedule of the coming weeks",
				flags: func(fs *flag.FlagSet, g *globalOpts) {
					rotaFlags(fs, g)
					fs.IntVar(&weeks, "weeks", 4, "number of `weeks` to show")
					fs.StringVar(&from, "from", "", "start `time`; default now")
				},
				run: withOncall(&rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					start := time.Now()
					if from != "" {
						t, err := parseCLITime(from)
						if err != nil {
							return err
						}
						start = t
					}
					if weeks < 1 || weeks > 104 {
						return usagef("--weeks must be between 1 and 104")
					}
					shifts, err := o.team.Schedule(ctx, o.rota, start, start.AddDate(0, 0, 7*weeks))
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "MEMBER\tNAME\tSHIFT\tSOURCE\n")
					e2 := *e
					e2.stdout = tw
					for _, s := range shifts {
						o.printShift(&e2, s)
					}
					return tw.Flush()
				})},
			{name: "override", summary: "put someone on call for a span", subs: []*command{
				{name: "add", summary: "add an override: --member takes [--from, --to)",
					flags: func(fs *flag.FlagSet, g *globalOpts) {
						rotaFlags(fs, g)
						fs.StringVar(&member, "member", "", "`member` ID who takes the span (required)")
						fs.StringVar(&from, "from", "", "start `time` (required)")
						fs.StringVar(&to, "to", "", "end `time` (required)")
						fs.StringVar(&reason, "reason", "", "why")
					},
					run: withOncall(&rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
						if member == "" || from == "" || to == "" {
							return usagef("--member, --from and --to are required")
						}
						f, err := parseCLITime(from)
						if err != nil {
							return err
						}
						t, err := parseCLITime(to)
						if err != nil {
							return err
						}
						ov, err := o.team.AddOverride(ctx, team.OverrideRequest{Rota: o.rota, Member: member, Start: f, End: t,
							Reason: reason, By: "cli:" + currentUser(), Now: time.Now()})
						if err != nil {
							return err
						}
						fmt.Fprintf(e.stdout, "override %s: %s on call in %s from %s to %s\n", ov.ID, ov.Member, ov.Rota, ov.Start.Format(time.RFC3339), ov.End.Format(time.RFC3339))
						return nil
					})},
			}},
			{name: "swap", summary: "request, accept or decline a swap of turns", subs: []*command{
				{name: "request", summary: "ask --counterpart to take --requester's turn at --mine for theirs at --theirs",
					flags: func(fs *flag.FlagSet, g *globalOpts) {
						rotaFlags(fs, g)
						fs.StringVar(&requester, "requester", "", "`member` who asks (required)")
						fs.StringVar(&counterpart, "counterpart", "", "`member` asked (required)")
						fs.StringVar(&mine, "mine", "", "a `time` in the requester's turn (required)")
						fs.StringVar(&th, "theirs", "", "a `time` in the counterpart's turn (required)")
						fs.StringVar(&note, "note", "", "a note to the counterpart")
					},
					run: withOncall(&rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
						if requester == "" || counterpart == "" || mine == "" || th == "" {
							return usagef("--requester, --counterpart, --mine and --theirs are required")
						}
						a, err := parseCLITime(mine)
						if err != nil {
							return err
						}
						b, err := parseCLITime(th)
						if err != nil {
							return err
						}
						s, err := o.team.RequestSwap(ctx, team.SwapRequest{Rota: o.rota, Requester: requester, Counterpart: counterpart,
							Mine: a, Theirs: b, Note: note, By: "cli:" + currentUser(), Now: time.Now()})
						if err != nil {
							return err
						}
						fmt.Fprintf(e.stdout, "swap %s requested: %s's turn from %s for %s's turn from %s\n", s.ID, s.Requester, s.TurnAStart.Format(time.RFC3339), s.Counterpart, s.TurnBStart.Format(time.RFC3339))
						return nil
					})},
				{name: "accept", args: "ID", summary: "accept a swap request", run: withOncall(&rotaName, decide(rota.SwapAccepted))},
				{name: "decline", args: "ID", summary: "decline a swap request", run: withOncall(&rotaName, decide(rota.SwapDeclined))},
			}},
		},
	}
}

func incidentCmd() *command {
	var status string
	transition := func(ack bool) func(context.Context, *cmdEnv, *oncallEnv, []string) error {
		return func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
			if len(args) != 1 {
				return usagef("takes one incident ID")
			}
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil {
				return usagef("incident ID %q is not a number", args[0])
			}
			svc, err := incident.NewService(incident.Options{Store: o.store, Policies: o.pols, Roster: o.team, Logger: e.logger})
			if err != nil {
				return err
			}
			by := "cli:" + currentUser()
			var inc incident.Incident
			var changed bool
			if ack {
				inc, changed, err = svc.Ack(ctx, id, by)
			} else {
				inc, changed, err = svc.Resolve(ctx, id, by)
			}
			if err != nil {
				return err
			}
			if !changed {
				fmt.Fprintf(e.stdout, "incident %d was already %s\n", inc.ID, inc.Status)
				return nil
			}
			fmt.Fprintf(e.stdout, "incident %d %s\n", inc.ID, inc.Status)
			return nil
		}
	}
	return &command{
		name:    "incident",
		summary: "list, acknowledge and resolve on-call incidents",
		subs: []*command{
			{name: "list", summary: "list incidents, newest first",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&status, "status", "", "only this `status`: triggered, acknowledged or resolved")
				},
				run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					f := incident.Filter{Limit: 100}
					if status != "" {
						f.Status = []incident.Status{incident.Status(status)}
					}
					list, err := o.store.ListIncidents(ctx, f)
					if err != nil {
						return err
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "ID\tSTATUS\tSEVERITY\tOPENED\tTITLE\n")
					for _, inc := range list {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", inc.ID, inc.Status, inc.Severity, fmtTime(inc.OpenedAt), inc.Title)
					}
					return tw.Flush()
				})},
			{name: "ack", args: "ID", summary: "acknowledge an incident (stops escalation)", run: withOncall(nil, transition(true))},
			{name: "resolve", args: "ID", summary: "resolve an incident", run: withOncall(nil, transition(false))},
		},
	}
}
