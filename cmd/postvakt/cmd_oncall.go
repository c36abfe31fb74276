package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/api/oncallapi"
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
	loc   *time.Location // the service time zone (timezone:)
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
		tm.SetLocation(cfg.Location())
		// The members and rotas are read from the database, as the server
		// reads them; say when the configuration has changes not applied.
		if err := tm.Refresh(ctx); err != nil {
			return err
		}
		if drift, err := tm.ConfigDrift(ctx); err == nil && len(drift) > 0 {
			fmt.Fprintf(e.stderr, "note: not yet applied from the configuration: %s (postvakt serve applies it at start and on reload, or run postvakt oncall apply)\n",
				strings.Join(drift, ", "))
		}
		o := &oncallEnv{cfg: cfg, store: st, team: tm, pols: pols, rota: tm.DefaultRota(), loc: cfg.Location()}
		if rotaName != nil && *rotaName != "" {
			o.rota = *rotaName
		}
		return fn(ctx, e, o, args)
	}
}

// valid adds the valid values to an error about an unknown rota or member:
// `unknown member "nobody"; members: ana, bjorn, chen`.
func (o *oncallEnv) valid(err error) error {
	switch {
	case strings.Contains(err.Error(), "(members: ") || strings.Contains(err.Error(), "(rotas: "):
		return err // the team's message lists them already
	case errors.Is(err, team.ErrUnknownMember):
		var ids []string
		for _, m := range o.team.Members() {
			ids = append(ids, m.ID)
		}
		return fmt.Errorf("%w; members: %s", err, strings.Join(ids, ", "))
	case errors.Is(err, team.ErrUnknownRota):
		return fmt.Errorf("%w; rotas: %s", err, strings.Join(o.team.Rotas(), ", "))
	}
	return err
}

// shiftView is a shift as the API shows it (GET /api/v1/oncall/now), for
// --json.
func (o *oncallEnv) shiftView(s rota.Shift) oncallapi.ShiftView {
	m, _ := o.team.Member(s.Member)
	return oncallapi.ShiftView{Rota: o.rota, Member: s.Member, Name: m.Name, Start: s.Start, End: s.End, Source: s.Source, Turn: s.Turn, Ref: s.Ref}
}

// printShift prints a shift with its times in the service time zone.
func (o *oncallEnv) printShift(e *cmdEnv, w io.Writer, s rota.Shift) {
	m, _ := o.team.Member(s.Member)
	fmt.Fprintf(w, "%s\t%s\t%s → %s\t%s\n", s.Member, m.Name, e.when(s.Start), e.when(s.End), s.Source)
}

func oncallCmd() *command {
	var rotaName string
	var asJSON bool
	rotaFlags := func(fs *flag.FlagSet, _ *globalOpts) {
		fs.StringVar(&rotaName, "rota", "", "`rota` name; default the first configured rota")
	}
	jsonFlags := func(fs *flag.FlagSet, g *globalOpts) {
		rotaFlags(fs, g)
		fs.BoolVar(&asJSON, "json", false, "print JSON (as GET /api/v1/oncall/now answers)")
	}
	var (
		weeks                            int
		from, to, member, reason, note   string
		requester, counterpart, mine, th string
	)
	shiftAt := func(at func(e *cmdEnv, args []string) (time.Time, error)) func(context.Context, *cmdEnv, *oncallEnv, []string) error {
		return func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
			t, err := at(e, args)
			if err != nil {
				return err
			}
			s, err := o.team.OnCallAt(ctx, o.rota, t)
			if err != nil {
				return o.valid(err)
			}
			if asJSON {
				return writeJSON(e.stdout, o.shiftView(s))
			}
			o.printShift(e, e.stdout, s)
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
			{name: "now", summary: "print who is on call now", flags: jsonFlags,
				run: withOncall(&rotaName, shiftAt(func(e *cmdEnv, args []string) (time.Time, error) {
					if len(args) > 0 {
						return time.Time{}, usagef("now takes no arguments")
					}
					return time.Now(), nil
				}))},
			{name: "at", args: "TIME", summary: "print who is on call at TIME", flags: jsonFlags,
				help: "TIME is " + timezone.Grammar + ".\nExample: postvakt oncall at \"2026-12-07 09:00\"",
				run: withOncall(&rotaName, shiftAt(func(e *cmdEnv, args []string) (time.Time, error) {
					if len(args) != 1 {
						return time.Time{}, usagef("at takes one TIME: %s", timezone.Grammar)
					}
					return e.parseTime("TIME", args[0])
				}))},
			{name: "schedule", summary: "print the schedule of the coming weeks",
				flags: func(fs *flag.FlagSet, g *globalOpts) {
					jsonFlags(fs, g)
					fs.IntVar(&weeks, "weeks", 4, "number of `weeks` to show")
					fs.StringVar(&from, "from", "", "start `time` ("+timezone.Grammar+"); default now")
				},
				run: withOncall(&rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) > 0 {
						return usagef("schedule takes no arguments")
					}
					start := time.Now()
					if from != "" {
						t, err := e.parseTime("--from", from)
						if err != nil {
							return err
						}
						start = t
					}
					if weeks < 1 || weeks > 104 {
						return usagef("--weeks must be between 1 and 104")
					}
					end := start.AddDate(0, 0, 7*weeks)
					shifts, err := o.team.Schedule(ctx, o.rota, start, end)
					if err != nil {
						return o.valid(err)
					}
					if asJSON {
						out := oncallapi.ScheduleResponse{From: start, To: end, Rota: o.rota, Shifts: []oncallapi.ShiftView{}}
						for _, s := range shifts {
							out.Shifts = append(out.Shifts, o.shiftView(s))
						}
						return writeJSON(e.stdout, out)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "MEMBER\tNAME\tSHIFT\tSOURCE\n")
					for _, s := range shifts {
						o.printShift(e, tw, s)
					}
					return tw.Flush()
				})},
			{name: "override", summary: "put someone on call for a span", subs: []*command{
				{name: "add", summary: "add an override: --member takes [--from, --to)",
					flags: func(fs *flag.FlagSet, g *globalOpts) {
						rotaFlags(fs, g)
						fs.StringVar(&member, "member", "", "`member` ID who takes the span (required)")
						fs.StringVar(&from, "from", "", "start `time` (required): "+timezone.Grammar)
						fs.StringVar(&to, "to", "", "end `time` (required)")
						fs.StringVar(&reason, "reason", "", "why")
					},
					run: withOncall(&rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
						if member == "" || from == "" || to == "" {
							return usagef("--member, --from and --to are required")
						}
						f, err := e.parseTime("--from", from)
						if err != nil {
							return err
						}
						t, err := e.parseTime("--to", to)
						if err != nil {
							return err
						}
						ov, err := o.team.AddOverride(ctx, team.OverrideRequest{Rota: o.rota, Member: member, Start: f, End: t,
							Reason: reason, By: "cli:" + currentUser(), Now: time.Now()})
						if err != nil {
							return o.valid(err)
						}
						fmt.Fprintf(e.stdout, "override %s: %s on call in %s from %s to %s\n", ov.ID, ov.Member, ov.Rota, e.when(ov.Start), e.when(ov.End))
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
						a, err := e.parseTime("--mine", mine)
						if err != nil {
							return err
						}
						b, err := e.parseTime("--theirs", th)
						if err != nil {
							return err
						}
						s, err := o.team.RequestSwap(ctx, team.SwapRequest{Rota: o.rota, Requester: requester, Counterpart: counterpart,
							Mine: a, Theirs: b, Note: note, By: "cli:" + currentUser(), Now: time.Now()})
						if err != nil {
							return o.valid(err)
						}
						fmt.Fprintf(e.stdout, "swap %s requested: %s's turn from %s for %s's turn from %s\n", s.ID, s.Requester, e.when(s.TurnAStart), s.Counterpart, e.when(s.TurnBStart))
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
	var asJSON bool
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
					fs.StringVar(&status, "status", "", "only this `status`: triggered, acknowledged, resolved or open")
					fs.BoolVar(&asJSON, "json", false, "print JSON (as GET /api/v1/incidents answers)")
				},
				run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) > 0 {
						return usagef("incident list takes no arguments")
					}
					f := incident.Filter{Limit: 100}
					switch st := incident.Status(status); st {
					case "":
					case incident.StatusTriggered, incident.StatusAcknowledged, incident.StatusResolved:
						f.Status = []incident.Status{st}
					case "open":
						f.Status = []incident.Status{incident.StatusTriggered, incident.StatusAcknowledged}
					default:
						return usagef("--status %q: want triggered, acknowledged, resolved or open", status)
					}
					list, err := o.store.ListIncidents(ctx, f)
					if err != nil {
						return err
					}
					if asJSON {
						if list == nil {
							list = []incident.Incident{}
						}
						return writeJSON(e.stdout, oncallapi.IncidentsResponse{Incidents: list})
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "ID\tSTATUS\tSEVERITY\tOPENED\tTITLE\n")
					for _, inc := range list {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", inc.ID, inc.Status, inc.Severity, e.when(inc.OpenedAt), inc.Title)
					}
					return tw.Flush()
				})},
			{name: "ack", args: "ID", summary: "acknowledge an incident (stops escalation)", run: withOncall(nil, transition(true))},
			{name: "resolve", args: "ID", summary: "resolve an incident", run: withOncall(nil, transition(false))},
		},
	}
}
