package main

import (
	"context"
	"flag"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// The rota as data (docs/oncall.md, "Changing the rota"): postvakt oncall
// rota show|change|cancel|create, member list|add|set|remove, history and
// apply. They read and write the database the server reads, so the server
// answers the same at once, without a restart.

var clockRe = regexp.MustCompile(`^\d{1,2}:\d{2}$`)

// parseEffective reads --effective in the service time zone: "next" (the next
// handover, also when empty), RFC 3339, "YYYY-MM-DD HH:MM" or
// "YYYY-MM-DDTHH:MM", or a date alone, meaning the handover on that day
// (or the first after it).
func parseEffective(ctx context.Context, o *oncallEnv, s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "next" {
		return time.Time{}, nil
	}
	if _, err := o.team.Rota(o.rota); err != nil {
		return time.Time{}, err
	}
	loc := o.loc
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	if d, err := time.ParseInLocation(time.DateOnly, s, loc); err == nil {
		return o.team.HandoverOnOrAfter(ctx, o.rota, d)
	}
	return time.Time{}, usagef("--effective %q: want next, YYYY-MM-DD, \"YYYY-MM-DD HH:MM\" (in %s) or RFC 3339", s, loc)
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

func (o *oncallEnv) at(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return timezone.Format(t, o.loc)
}

func (o *oncallEnv) name(id string) string {
	if m, ok := o.team.Member(id); ok && m.Name != "" {
		return m.Name
	}
	return id
}

// versionState says whether a version is past, in force, scheduled or
// cancelled at now.
func versionState(vs []team.RotaVersion, i int, now time.Time) (state string, until time.Time) {
	v := vs[i]
	if !v.CancelledAt.IsZero() {
		return "cancelled", time.Time{}
	}
	for _, u := range vs {
		if u.CancelledAt.IsZero() && u.From.After(v.From) && (until.IsZero() || u.From.Before(until)) {
			until = u.From
		}
	}
	switch {
	case v.From.After(now):
		return "scheduled", until
	case !until.IsZero() && !until.After(now):
		return "past", until
	}
	return "in force", until
}

func oncallRotaCmd(rotaName *string, rotaFlags func(fs *flag.FlagSet, g *globalOpts)) *command {
	var (
		asJSON, dryRun                                           bool
		members, add, after, remove, every, weekday, clock, zone string
		cover, start, first, effective, reason                   string
	)
	changeFlags := func(fs *flag.FlagSet, g *globalOpts) {
		rotaFlags(fs, g)
		fs.StringVar(&members, "members", "", "the new `order` of members, comma-separated (replaces it)")
		fs.StringVar(&add, "add", "", "`members` to add, comma-separated (at the end, or after --after)")
		fs.StringVar(&after, "after", "", "add after this `member`")
		fs.StringVar(&remove, "remove", "", "`members` to remove, comma-separated")
		fs.StringVar(&every, "every", "", "turn `length`: Nw or Nd")
		fs.StringVar(&weekday, "handover-weekday", "", "`weekday` of the handover")
		fs.StringVar(&clock, "handover-time", "", "wall `time` of the handover, HH:MM")
		fs.StringVar(&zone, "time-zone", "", "IANA `zone` of the handover time")
		fs.StringVar(&cover, "cover", "", "cover `calendar` (oncall.calendars); - for none")
		fs.StringVar(&start, "start", "", "anchor `date` of the turns (YYYY-MM-DD)")
		fs.StringVar(&first, "first", "", "`member` who takes the first turn; default whose turn it would have been, or the next who stays")
		fs.StringVar(&effective, "effective", "next", "`when` the change takes effect: next (handover), YYYY-MM-DD (that day's handover), \"YYYY-MM-DD HH:MM\" in the rota's zone, or RFC 3339")
		fs.StringVar(&reason, "reason", "", "why, for the record")
		fs.BoolVar(&dryRun, "dry-run", false, "say what the change would do, and change nothing")
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}
	jsonFlags := func(fs *flag.FlagSet, g *globalOpts) {
		rotaFlags(fs, g)
		fs.BoolVar(&asJSON, "json", false, "print JSON")
	}
	return &command{
		name:    "rota",
		summary: "the rota's versions, and changes from a stated moment",
		help: `A rota is stored as versions, each in force from a moment on. A change never
rewrites a turn that has started: it takes effect at the next handover, or at
--effective (not before the next handover). Whose turn it would have been
keeps it, unless --first says otherwise. See docs/oncall.md, "Changing the
rota".`,
		subs: []*command{
			{name: "show", summary: "print the rota's versions: past, in force, scheduled and cancelled", flags: jsonFlags,
				run: withOncall(rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) > 0 {
						return usagef("show takes no arguments")
					}
					vs, err := o.team.RotaVersions(ctx, o.rota)
					if err != nil {
						return err
					}
					now := time.Now()
					next, err := o.team.NextHandover(ctx, o.rota, now)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, map[string]any{"rota": o.rota, "next_handover": next, "versions": vs})
					}
					fmt.Fprintf(e.stdout, "rota %s; next handover %s\n", o.rota, o.at(next))
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tFROM\tSTATE\tMEMBERS\tFIRST\tHANDOVER\tBY\tREASON")
					for i, v := range vs {
						state, _ := versionState(vs, i, now)
						from := "(start)"
						if !v.From.IsZero() {
							from = o.at(v.From)
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s %s %s %s\t%s\t%s\n", orDash(v.ID), from, state, strings.Join(v.Spec.Members, ","), v.First,
							v.Spec.Every, v.Spec.HandoverWeekday, v.Spec.HandoverTime, v.Spec.TimeZone, orDash(v.CreatedBy), v.Reason)
					}
					return tw.Flush()
				})},
			{name: "change", summary: "change members, order or handover from a moment on (default the next handover)", flags: changeFlags,
				run: withOncall(rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					// "--effective 2026-12-14 09:00" without quotes: the time
					// arrives as an argument.
					if len(args) == 1 && clockRe.MatchString(args[0]) && len(effective) == len("2006-01-02") {
						effective, args = effective+" "+args[0], nil
					}
					if len(args) > 0 {
						return usagef("change takes no arguments (got %q); quote a date and time: --effective \"2026-12-14 09:00\"", args)
					}
					now := time.Now()
					eff, err := parseEffective(ctx, o, effective, now)
					if err != nil {
						return err
					}
					c := team.RotaChange{Rota: o.rota, Add: splitList(add), After: after, Remove: splitList(remove), Every: every,
						HandoverWeekday: weekday, HandoverTime: clock, TimeZone: zone, Cover: cover, Start: start, First: first,
						Effective: eff, Reason: reason, DryRun: dryRun, By: "cli:" + currentUser(), Now: now}
					if members != "" {
						c.Members = splitList(members)
					}
					res, err := o.team.ChangeRota(ctx, c)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, res)
					}
					verb := "takes effect"
					if res.DryRun {
						verb = "would take effect (dry run: nothing changed)"
					} else {
						fmt.Fprintf(e.stdout, "change %s of %s stored\n", res.Version.ID, o.rota)
					}
					fmt.Fprintf(e.stdout, "%s %s; the turn in progress and every turn before are unchanged\n", verb, o.at(res.Version.From))
					fmt.Fprintf(e.stdout, "order from then: %s (%s first)\n", strings.Join(res.Version.Spec.Members, ", "), res.Version.First)
					if len(res.Added) > 0 {
						fmt.Fprintf(e.stdout, "added: %s\n", strings.Join(res.Added, ", "))
					}
					if len(res.Removed) > 0 {
						fmt.Fprintf(e.stdout, "removed: %s\n", strings.Join(res.Removed, ", "))
					}
					if res.Replaced != nil {
						fmt.Fprintf(e.stdout, "replaces the change %s scheduled for the same moment\n", res.Replaced.ID)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "TURN\tMEMBER\tNAME\tFROM\tTO")
					for _, t := range res.Turns {
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", t.Index, t.Member, o.name(t.Member), o.at(t.Start), o.at(t.End))
					}
					if err := tw.Flush(); err != nil {
						return err
					}
					for _, w := range res.Warnings {
						fmt.Fprintf(e.stderr, "warning: %s\n", w)
					}
					return nil
				})},
			{name: "cancel", args: "ID", summary: "cancel a change that has not taken effect", flags: rotaFlags,
				run: withOncall(rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) != 1 {
						return usagef("cancel takes one change ID (see postvakt oncall rota show)")
					}
					v, err := o.team.CancelRotaChange(ctx, o.rota, args[0], "cli:"+currentUser(), time.Now())
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "change %s of %s (from %s) cancelled\n", v.ID, o.rota, o.at(v.From))
					return nil
				})},
			{name: "create", args: "NAME", summary: "create a rota whose first turn starts at --start (today or later)",
				flags: func(fs *flag.FlagSet, g *globalOpts) {
					fs.StringVar(&members, "members", "", "`members` in duty order, comma-separated (required)")
					fs.StringVar(&start, "start", "", "`date` of the first turn, YYYY-MM-DD (required)")
					fs.StringVar(&every, "every", "", "turn `length`: Nw or Nd; default 1w")
					fs.StringVar(&weekday, "handover-weekday", "", "`weekday` of the handover; default monday")
					fs.StringVar(&clock, "handover-time", "", "wall `time` of the handover; default 09:00")
					fs.StringVar(&zone, "time-zone", "", "IANA `zone`; default Europe/Oslo")
					fs.StringVar(&cover, "cover", "", "cover `calendar` (oncall.calendars)")
					fs.StringVar(&reason, "reason", "", "why, for the record")
				},
				run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) != 1 || members == "" || start == "" {
						return usagef("create takes a NAME, --members and --start")
					}
					v, err := o.team.CreateRota(ctx, rota.Spec{Name: args[0], Members: splitList(members), Start: start, Every: every,
						HandoverWeekday: weekday, HandoverTime: clock, TimeZone: zone, Cover: cover}, reason, "cli:"+currentUser(), time.Now())
					if err != nil {
						return err
					}
					r, err := o.team.Rota(v.Rota)
					if err != nil {
						return err
					}
					o.rota = v.Rota
					fmt.Fprintf(e.stdout, "rota %s created: %s; first turn %s\n", v.Rota, strings.Join(v.Spec.Members, ", "), o.at(r.Turn(0).Start))
					return nil
				})},
		},
	}
}

func oncallMemberCmd() *command {
	var asJSON bool
	var m rota.Member
	detailFlags := func(fs *flag.FlagSet, _ *globalOpts) {
		fs.StringVar(&m.Name, "name", "", "full `name`")
		fs.StringVar(&m.Email, "email", "", "e-mail `address` for pages")
		fs.StringVar(&m.SlackID, "slack-id", "", "Slack user `ID` for pages")
		fs.StringVar(&m.Phone, "phone", "", "`phone` number")
		fs.StringVar(&m.TimeZone, "time-zone", "", "IANA `zone` the member reads times in")
	}
	return &command{
		name:    "member",
		summary: "the team's members: list, add, edit, remove",
		subs: []*command{
			{name: "list", summary: "list the current members",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { fs.BoolVar(&asJSON, "json", false, "print JSON") },
				run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) > 0 {
						return usagef("list takes no arguments")
					}
					list := o.team.Members()
					if asJSON {
						return writeJSON(e.stdout, list)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tSLACK\tPHONE\tZONE")
					for _, m := range list {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.ID, orDash(m.Name), orDash(m.Email), orDash(m.SlackID), orDash(m.Phone), orDash(m.TimeZone))
					}
					return tw.Flush()
				})},
			{name: "add", args: "ID", summary: "add a member to the team (then to a rota with oncall rota change --add)", flags: detailFlags,
				run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) != 1 {
						return usagef("add takes one member ID")
					}
					m.ID = args[0]
					rec, err := o.team.AddMember(ctx, team.MemberChange{Member: m, By: "cli:" + currentUser(), Now: time.Now()})
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "member %s added\n", rec.ID)
					return nil
				})},
			{name: "set", args: "ID", summary: "edit a member's details (- empties one)", flags: detailFlags,
				run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) != 1 {
						return usagef("set takes one member ID")
					}
					m.ID = args[0]
					rec, err := o.team.UpdateMember(ctx, team.MemberChange{Member: m, By: "cli:" + currentUser(), Now: time.Now()})
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "member %s updated\n", rec.ID)
					return nil
				})},
			{name: "remove", args: "ID", summary: "remove a member who is in no rota now or later",
				run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
					if len(args) != 1 {
						return usagef("remove takes one member ID")
					}
					rec, err := o.team.RemoveMember(ctx, args[0], "cli:"+currentUser(), time.Now())
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "member %s removed (the record of their shifts keeps their name)\n", rec.ID)
					return nil
				})},
		},
	}
}

func oncallHistoryCmd(rotaName *string, rotaFlags func(fs *flag.FlagSet, g *globalOpts)) *command {
	var asJSON bool
	var from, to string
	return &command{
		name:    "history",
		summary: "print the record of shifts as they were held",
		help: `The shifts as postvakt recorded them while they were held (with overrides and
swaps); LATE marks a shift recorded only after it ended (before postvakt ran,
or while it was stopped). --from and --to take RFC 3339, YYYY-MM-DD or
"YYYY-MM-DD HH:MM" in the rota's zone; default the four weeks before now.`,
		flags: func(fs *flag.FlagSet, g *globalOpts) {
			rotaFlags(fs, g)
			fs.StringVar(&from, "from", "", "start `time`")
			fs.StringVar(&to, "to", "", "end `time`; default now")
			fs.BoolVar(&asJSON, "json", false, "print JSON")
		},
		run: withOncall(rotaName, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
			if len(args) > 0 {
				return usagef("history takes no arguments")
			}
			r, err := o.team.Rota(o.rota)
			if err != nil {
				return err
			}
			now := time.Now()
			parse := func(s string, def time.Time) (time.Time, error) {
				if s == "" {
					return def, nil
				}
				if t, err := time.Parse(time.RFC3339, s); err == nil {
					return t, nil
				}
				for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", time.DateOnly} {
					if t, err := time.ParseInLocation(layout, s, r.LocationAt(now)); err == nil {
						return t, nil
					}
				}
				return time.Time{}, usagef("time %q: want RFC 3339, YYYY-MM-DD or \"YYYY-MM-DD HH:MM\"", s)
			}
			t1, err := parse(to, now)
			if err != nil {
				return err
			}
			t0, err := parse(from, t1.AddDate(0, 0, -28))
			if err != nil {
				return err
			}
			held, err := o.team.History(ctx, o.rota, t0, t1)
			if err != nil {
				return err
			}
			if asJSON {
				if held == nil {
					held = []team.RecordedShift{}
				}
				return writeJSON(e.stdout, held)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "MEMBER\tNAME\tFROM\tTO\tSOURCE\tRECORDED")
			for _, s := range held {
				end, how := "(in progress)", "live"
				if !s.End.IsZero() {
					end = o.at(s.End)
				}
				if s.Late {
					how = "late"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Member, o.name(s.Member), o.at(s.Start), end, s.Source, how)
			}
			if len(held) == 0 {
				fmt.Fprintln(tw, "(nothing recorded in the span: the record is written by postvakt serve)")
			}
			return tw.Flush()
		}),
	}
}

func oncallApplyCmd() *command {
	var dryRun bool
	var effective string
	return &command{
		name:    "apply",
		summary: "apply the configured members and rotas (oncall:) as a change from the next handover",
		help: `Stores configured members and rotas not stored yet, and makes a configured rota
that changed since it was last applied a change effective from --effective
(default: each rota's next handover). An unchanged configuration changes
nothing, whatever was changed at run time. postvakt serve does the same at
start and on reload (SIGHUP). See docs/oncall.md, "The rota as data".`,
		flags: func(fs *flag.FlagSet, _ *globalOpts) {
			fs.BoolVar(&dryRun, "dry-run", false, "say what would change, and change nothing")
			fs.StringVar(&effective, "effective", "", "`when` changed rotas take effect: RFC 3339; default each rota's next handover")
		},
		run: withOncall(nil, func(ctx context.Context, e *cmdEnv, o *oncallEnv, args []string) error {
			if len(args) > 0 {
				return usagef("apply takes no arguments")
			}
			var eff time.Time
			if effective != "" {
				t, err := time.Parse(time.RFC3339, effective)
				if err != nil {
					return usagef("--effective %q: want RFC 3339, e.g. 2026-12-14T09:00:00+01:00", effective)
				}
				eff = t
			}
			res, err := o.team.ApplyConfig(ctx, team.ApplyOptions{Effective: eff, DryRun: dryRun, By: "cli:" + currentUser(), Now: time.Now()})
			if err != nil {
				return err
			}
			if len(res.Lines) == 0 {
				fmt.Fprintln(e.stdout, "the stored team is as configured: nothing to apply")
			}
			for _, l := range res.Lines {
				fmt.Fprintln(e.stdout, l)
			}
			if dryRun && len(res.Lines) > 0 {
				fmt.Fprintln(e.stdout, "(dry run: nothing changed)")
			}
			return nil
		}),
	}
}
