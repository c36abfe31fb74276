package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/app"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// tkListFlag collects a repeatable flag.
type tkListFlag []string

func (l *tkListFlag) String() string     { return strings.Join(*l, ",") }
func (l *tkListFlag) Set(s string) error { *l = append(*l, s); return nil }

// tkEnv is what the ticket, sla and notice commands run with.
type tkEnv struct {
	cfg *config.Config
	db  *storage.DB
	svc *app.TicketServices
	loc *time.Location
}

func tkWith(fn func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error) func(context.Context, *cmdEnv, []string) error {
	return withDatabase(func(ctx context.Context, e *cmdEnv, cfg *config.Config, db *storage.DB, args []string) error {
		svc, err := app.NewTicketServices(cfg, db, e.logger, time.Now, app.TicketOptions{})
		if err != nil {
			return err
		}
		return fn(ctx, e, &tkEnv{cfg: cfg, db: db, svc: svc, loc: e.loc}, args)
	})
}

// tkIDArg takes the one ID the command is given (flags may stand before
// or after it).
func tkIDArg(e *cmdEnv, args []string) (int64, error) {
	if len(args) == 0 {
		return 0, usagef("an ID is required")
	}
	if len(args) > 1 {
		return 0, usagef("unexpected arguments %q after the ID", args[1:])
	}
	id, err := tickets.ParseID(args[0])
	if err != nil {
		return 0, usagef("%v", err)
	}
	return id, nil
}

func tkActor() string { return "cli:" + currentUser() }

func (te *tkEnv) audit(ctx context.Context, action, target, detail string) error {
	return accessstore.New(te.db).Audit(ctx, auth.AuditEntry{At: time.Now(), Actor: tkActor(), Action: action, Target: target, Detail: detail})
}

// tkError turns domain validation errors into usage-free errors with a
// plain message.
func tkError(err error) error {
	if errors.Is(err, tickets.ErrInvalid) || errors.Is(err, notice.ErrInvalid) {
		return usagef("%v", err)
	}
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// tkTime shows an instant in the service time zone with its abbreviation.
func tkTime(t time.Time, loc *time.Location) string { return timezone.Format(t, loc) }

func ticketCmd() *command {
	var (
		title, service, severity, source, reporter, reporterEmail, notified, assignee string
		symptoms, plan, policy, note, body, state, filterService, filterSev           string
		asJSON, all, public                                                           bool
		links                                                                         tkListFlag
		parent                                                                        string
	)
	jsonFlag := func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") }
	action := func(name, summary string) *command {
		return &command{
			name: name, args: "ID", summary: summary,
			flags: func(fs *flag.FlagSet, _ *globalOpts) {
				fs.StringVar(&note, "note", "", "a note for the timeline")
				jsonFlag(fs)
			},
			run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
				id, err := tkIDArg(e, args)
				if err != nil {
					return err
				}
				t, err := te.svc.Tickets.Act(ctx, id, name, tickets.ActRequest{Actor: tkActor(), Note: note})
				if err != nil {
					return tkError(err)
				}
				if err := te.audit(ctx, "ticket."+name, "ticket:"+tickets.ID(id), note); err != nil {
					return err
				}
				if asJSON {
					return writeJSON(e.stdout, t)
				}
				fmt.Fprintf(e.stdout, "ticket #%d is %s\n", t.ID, t.State)
				return nil
			}),
		}
	}
	return &command{
		name:    "ticket",
		summary: "open, list, show and work fault tickets",
		subs: []*command{
			{
				name: "open", summary: "open a fault ticket",
				help: `The SLA policy is chosen by sla.by_severity, sla.by_service and sla.default_policy
(or --policy) and frozen on the ticket. Without --assignee, whoever is on call
is assigned. --notified is ` + timezone.Grammar + `.`,
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&title, "title", "", "short `title` (required)")
					fs.StringVar(&service, "service", "", "service component `id` from tickets.services (required)")
					fs.StringVar(&severity, "severity", "", "severity; default tickets.default_severity")
					fs.StringVar(&source, "source", "helpdesk", "source: "+strings.Join(tickets.Sources, ", "))
					fs.StringVar(&reporter, "reporter", "", "who reported the fault")
					fs.StringVar(&reporterEmail, "reporter-email", "", "reporter's e-mail address (for updates)")
					fs.StringVar(&notified, "notified", "", "when the fault was notified; default now")
					fs.StringVar(&assignee, "assignee", "", "assignee; default who is on call")
					fs.StringVar(&symptoms, "symptoms", "", "symptoms")
					fs.StringVar(&plan, "plan", "", "handling plan")
					fs.StringVar(&policy, "policy", "", "SLA policy `name`; default chosen by severity and service")
					fs.Var(&links, "link", "link `kind:ref` (incident, page, notice, runbook, message, url); repeatable")
					jsonFlag(fs)
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					if len(args) > 0 {
						return usagef("open takes no arguments")
					}
					if title == "" || service == "" {
						return usagef("--title and --service are required")
					}
					req := tickets.OpenRequest{Title: title, Service: service, Severity: severity, Source: source,
						Reporter: reporter, ReporterEmail: reporterEmail, Assignee: assignee, Symptoms: symptoms,
						HandlingPlan: plan, Policy: policy, Actor: tkActor()}
					if notified != "" {
						at, err := e.parseTime("--notified", notified)
						if err != nil {
							return err
						}
						req.NotifiedAt = at
					}
					for _, l := range links {
						k, r, ok := strings.Cut(l, ":")
						if !ok {
							return usagef("--link %q: want kind:ref", l)
						}
						req.Links = append(req.Links, tickets.Link{Kind: k, Ref: r})
					}
					t, err := te.svc.Tickets.Open(ctx, req)
					if err != nil {
						return tkError(err)
					}
					if err := te.audit(ctx, "ticket.open", "ticket:"+tickets.ID(t.ID), t.Title); err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, t)
					}
					fmt.Fprintf(e.stdout, "opened ticket #%d (assignee %s)\n", t.ID, tkDash(t.Assignee))
					if c, ok := t.Clock(sla.KindResponse); ok {
						fmt.Fprintf(e.stdout, "response: %s, due %s\n", c.Status, tkTime(c.Due, te.loc))
					}
					return nil
				}),
			},
			{
				name: "list", summary: "list tickets (not closed, unless --all)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&state, "state", "", "only these states, comma separated")
					fs.BoolVar(&all, "all", false, "include closed tickets")
					fs.StringVar(&filterService, "service", "", "only this service")
					fs.StringVar(&filterSev, "severity", "", "only this severity")
					fs.StringVar(&assignee, "assignee", "", "only this assignee")
					jsonFlag(fs)
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					if len(args) > 0 {
						return usagef("list takes no arguments")
					}
					f := tickets.Filter{All: all, Service: filterService, Severity: filterSev, Assignee: assignee}
					if state != "" {
						f.States = strings.Split(state, ",")
						for _, st := range f.States {
							if !slices.Contains(tickets.States, st) {
								return usagef("--state %q: want %s", st, strings.Join(tickets.States, ", "))
							}
						}
					}
					if _, ok := te.cfg.Tickets.ServiceName(filterService); filterService != "" && !ok {
						return usagef("--service %q: want one of tickets.services: %s", filterService, strings.Join(te.cfg.Tickets.ServiceIDs(), ", "))
					}
					if filterSev != "" && !slices.Contains(te.cfg.Tickets.Severities, filterSev) {
						return usagef("--severity %q: want %s", filterSev, strings.Join(te.cfg.Tickets.Severities, ", "))
					}
					list, err := te.svc.Tickets.List(ctx, f)
					if err != nil {
						return err
					}
					if asJSON {
						if list == nil {
							list = []tickets.Ticket{}
						}
						return writeJSON(e.stdout, list)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "ID\tSTATE\tSERVICE\tSEVERITY\tASSIGNEE\tRESPONSE\tDUE\tTITLE\n")
					for _, t := range list {
						c, _ := t.Clock(sla.KindResponse)
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.State, t.Service, t.Severity,
							tkDash(t.Assignee), c.Status, tkTime(c.Due, te.loc), t.Title)
					}
					return tw.Flush()
				}),
			},
			{
				name: "show", args: "ID", summary: "show a ticket, its SLA clocks and its timeline",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { jsonFlag(fs) },
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					id, err := tkIDArg(e, args)
					if err != nil {
						return err
					}
					t, err := te.svc.Tickets.Get(ctx, id)
					if err != nil {
						return err
					}
					tl, err := te.svc.Tickets.Timeline(ctx, id)
					if err != nil {
						return err
					}
					res, err := te.svc.Tickets.Explain(ctx, id)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, map[string]any{"ticket": t, "timeline": tl, "sla": res})
					}
					tkPrintTicket(e.stdout, t, tl, res, te.loc)
					return nil
				}),
			},
			action(tickets.ActAck, "acknowledge a ticket (meets the response target)"),
			action(tickets.ActStart, "start investigating (meets the response target)"),
			action(tickets.ActWait, "wait for the reporter or a third party (pauses the SLA clocks)"),
			action(tickets.ActResolve, "resolve a ticket"),
			action(tickets.ActClose, "close a resolved ticket"),
			action(tickets.ActReopen, "reopen a resolved or closed ticket"),
			{
				name: "comment", args: "ID", summary: "add a comment; --public e-mails it to the reporter as an update",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&body, "body", "", "comment `text` (required)")
					fs.BoolVar(&public, "public", false, "an update to the reporter (restarts the update clock)")
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					id, err := tkIDArg(e, args)
					if err != nil {
						return err
					}
					if body == "" {
						return usagef("--body is required")
					}
					if _, err := te.svc.Tickets.Comment(ctx, id, tickets.CommentRequest{Actor: tkActor(), Body: body, Public: public}); err != nil {
						return tkError(err)
					}
					if err := te.audit(ctx, "ticket.comment", "ticket:"+tickets.ID(id), ""); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "comment added to ticket #%d\n", id)
					return nil
				}),
			},
			{
				name: "duplicate", args: "ID", summary: "mark a ticket as a duplicate of one being handled (its SLA clocks become that one's)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&parent, "of", "", "the `ID` of the ticket being handled (required)")
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					id, err := tkIDArg(e, args)
					if err != nil {
						return err
					}
					if parent == "" {
						return usagef("--of: the ticket being handled is required")
					}
					p, err := tickets.ParseID(parent)
					if err != nil {
						return usagef("--of: %v", err)
					}
					if _, err := te.svc.Tickets.MarkDuplicate(ctx, id, p, tkActor()); err != nil {
						return tkError(err)
					}
					if err := te.audit(ctx, "ticket.duplicate_of", "ticket:"+tickets.ID(id), "duplicate of #"+tickets.ID(p)); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "ticket #%d is a duplicate of #%d; its SLA clocks are #%d's\n", id, p, p)
					return nil
				}),
			},
			{
				name: "edit", args: "ID", summary: "change a ticket's assignee, severity, symptoms, plan or links",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&assignee, "assignee", "", "new assignee")
					fs.StringVar(&severity, "severity", "", "new severity (the SLA policy stays frozen)")
					fs.StringVar(&symptoms, "symptoms", "", "new symptoms")
					fs.StringVar(&plan, "plan", "", "new handling plan")
					fs.Var(&links, "link", "add a link `kind:ref`; repeatable")
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					id, err := tkIDArg(e, args)
					if err != nil {
						return err
					}
					req := tickets.EditRequest{Actor: tkActor()}
					set := func(v string) *string {
						if v == "" {
							return nil
						}
						return &v
					}
					req.Assignee, req.Severity, req.Symptoms, req.HandlingPlan = set(assignee), set(severity), set(symptoms), set(plan)
					for _, l := range links {
						k, r, ok := strings.Cut(l, ":")
						if !ok {
							return usagef("--link %q: want kind:ref", l)
						}
						req.AddLinks = append(req.AddLinks, tickets.Link{Kind: k, Ref: r})
					}
					if _, err := te.svc.Tickets.Edit(ctx, id, req); err != nil {
						return tkError(err)
					}
					if err := te.audit(ctx, "ticket.edit", "ticket:"+tickets.ID(id), ""); err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "ticket #%d changed\n", id)
					return nil
				}),
			},
		},
	}
}

func tkDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tkPrintTicket(w io.Writer, t tickets.Ticket, tl []tickets.Event, res sla.Result, loc *time.Location) {
	fmt.Fprintf(w, "#%d %s\n", t.ID, t.Title)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"state", t.State}, {"service", t.Service}, {"severity", t.Severity}, {"source", t.Source},
		{"reporter", strings.TrimSpace(t.Reporter + " " + t.ReporterEmail)}, {"assignee", t.Assignee},
		{"notified", tkTime(t.NotifiedAt, loc)}, {"opened", tkTime(t.OpenedAt, loc)},
		{"policy", t.Policy + " (version " + t.PolicyVersion + ")"}, {"symptoms", t.Symptoms}, {"handling plan", t.HandlingPlan},
	} {
		fmt.Fprintf(tw, "%s:\t%s\n", kv[0], tkDash(kv[1]))
	}
	for _, l := range t.Links {
		fmt.Fprintf(tw, "link:\t%s %s %s\n", l.Kind, l.Ref, l.Title)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nSLA clocks (%s time; notified %s)\n", res.Time, res.Why)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "CLOCK\tSTATUS\tTARGET\tDUE\tSTOPPED\tRAW\tBUSINESS\tPAUSED\t%%\n")
	for _, c := range res.Clocks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\n", c.Kind, c.Status, c.Target, tkTime(c.Due, loc),
			tkTime(c.Stopped, loc), c.Raw.Round(time.Second), c.Business.Round(time.Second), c.PausedFor.Round(time.Second), c.Percent)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nTimeline\n")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ev := range tl {
		what := ev.Kind
		if ev.ToState != "" {
			what += " → " + ev.ToState
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", tkTime(ev.At, loc), ev.Actor, what, strings.ReplaceAll(ev.Body, "\n", " ⏎ "))
	}
	_ = tw.Flush()
}

func slaCmd() *command {
	var (
		policy, notified string
		pauses           tkListFlag
		asJSON           bool
	)
	return &command{
		name:    "sla",
		summary: "explain SLA policies",
		subs: []*command{{
			name:    "explain",
			summary: "show when a fault notified at a time is due under a policy, and why",
			help: `Runs the same calculator as the tickets: whether the notification was inside
the policy's business calendar (and why not: weekend, holiday, after hours),
the due time of each clock, and the effect of pauses. TIME is RFC 3339 or
"YYYY-MM-DD HH:MM" in the service time zone (the policy's business hours
are in its calendar's zone, which the reasons name).

Example:
  postvakt sla explain --policy standard --notified "2026-11-27 16:30"
  postvakt sla explain --policy standard --notified "2026-11-24 10:00" --pause "2026-11-24 10:10/20m"`,
			flags: func(fs *flag.FlagSet, _ *globalOpts) {
				fs.StringVar(&policy, "policy", "", "SLA policy `name` (required)")
				fs.StringVar(&notified, "notified", "", "notification `TIME` (required)")
				fs.Var(&pauses, "pause", "a pause `START/END` or START/DURATION in the policy's first pause state; repeatable")
				fs.BoolVar(&asJSON, "json", false, "print JSON")
			},
			run: func(ctx context.Context, e *cmdEnv, args []string) error {
				if len(args) > 0 {
					return usagef("explain takes no arguments")
				}
				if policy == "" || notified == "" {
					return usagef("--policy and --notified are required")
				}
				cfg, err := e.loadConfig()
				if err != nil {
					return err
				}
				res, err := tickets.ExplainSLA(cfg.SLA, policy, notified, pauses, e.loc)
				if err != nil {
					return tkError(err)
				}
				if asJSON {
					return writeJSON(e.stdout, res)
				}
				tkPrintExplain(e.stdout, res, e.loc)
				return nil
			},
		}},
	}
}

func tkPrintExplain(w io.Writer, res sla.Result, loc *time.Location) {
	inside := "no"
	if res.InsideHours {
		inside = "yes"
	}
	fmt.Fprintf(w, "policy:        %s (version %s, %s time)\n", res.Policy, res.Version, res.Time)
	fmt.Fprintf(w, "notified:      %s\n", tkTime(res.Notified, loc))
	fmt.Fprintf(w, "inside hours:  %s\n", inside)
	fmt.Fprintf(w, "why:           %s\n", res.Why)
	for _, c := range res.Clocks {
		switch {
		case c.Status == sla.BestEffortStatus:
			fmt.Fprintf(w, "%-14s best effort: no due time, never counted as breached\n", c.Kind+":")
		case c.Status == sla.Pending:
			fmt.Fprintf(w, "%-14s starts at the response\n", c.Kind+":")
		default:
			fmt.Fprintf(w, "%-14s due %s (target %s)\n", c.Kind+":", tkTime(c.Due, loc), c.Target)
		}
		for _, r := range c.Reasons {
			fmt.Fprintf(w, "%-14s - %s\n", "", r)
		}
	}
}

func noticeCmd() *command {
	var (
		kind, title, symptoms, impact, plan, start, end, next, body, lang, state string
		services                                                                 tkListFlag
		private, noAnnounce, asJSON, all                                         bool
	)
	jsonFlag := func(fs *flag.FlagSet) { fs.BoolVar(&asJSON, "json", false, "print JSON") }
	show := func(w io.Writer, n notice.Notice, loc *time.Location) {
		fmt.Fprintf(w, "#%d %s: %s\nstate: %s  public: %v  services: %s\n",
			n.ID, n.Kind, n.Title, n.State, n.Public, strings.Join(n.Services, ","))
		if !n.WithdrawnAt.IsZero() {
			fmt.Fprintf(w, "WITHDRAWN %s by %s: on no status page or feed\n", tkTime(n.WithdrawnAt, loc), n.WithdrawnBy)
		}
		started := "started"
		if n.Kind == notice.KindMaintenance && n.State == notice.Scheduled {
			started = "scheduled for"
		}
		fmt.Fprintf(w, "%s: %s", started, tkTime(n.StartedAt, loc))
		if !n.PlannedEnd.IsZero() {
			fmt.Fprintf(w, "  planned end: %s", tkTime(n.PlannedEnd, loc))
		}
		fmt.Fprintf(w, "  ended: %s  next update: %s\n", tkDash(tkTime(n.EndedAt, loc)), tkDash(tkTime(n.NextUpdateAt, loc)))
		for _, f := range []struct{ k, v string }{{"impact", n.Impact}, {"symptoms", n.Symptoms}, {"handling plan", n.HandlingPlan}} {
			if f.v != "" {
				fmt.Fprintf(w, "%s: %s\n", f.k, strings.ReplaceAll(f.v, "\n", " "))
			}
		}
		for _, u := range n.Updates {
			sent := "not sent"
			switch {
			case !u.Announce:
				sent = "not announced"
			case !u.SentAt.IsZero():
				sent = "sent " + tkTime(u.SentAt, loc)
			case u.LastError != "":
				sent = "not sent: " + u.LastError
			}
			fmt.Fprintf(w, "  %d. %s %s %s (%s) %s\n", u.Seq, tkTime(u.At, loc), u.Kind, u.State, sent, strings.ReplaceAll(u.Body, "\n", " "))
		}
	}
	parseOpt := func(s string, loc *time.Location) (time.Time, error) {
		return timezone.Parse(s, time.Now(), loc)
	}
	return &command{
		name:    "notice",
		summary: "outage and maintenance notices to the announce list",
		subs: []*command{
			{
				name: "create", summary: "create a notice and announce it",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&kind, "kind", "outage", "outage or maintenance")
					fs.StringVar(&title, "title", "", "`title` (required)")
					fs.Var(&services, "service", "affected service `id`; repeatable (required)")
					fs.StringVar(&symptoms, "symptoms", "", "symptoms")
					fs.StringVar(&impact, "impact", "", "impact on users")
					fs.StringVar(&plan, "plan", "", "handling plan")
					fs.StringVar(&start, "start", "", "start `TIME` (maintenance: planned start; outage: default now)")
					fs.StringVar(&end, "end", "", "planned end `TIME` of maintenance")
					fs.StringVar(&next, "next-update", "", "`TIME` of the next update")
					fs.StringVar(&body, "body", "", "message text")
					fs.StringVar(&lang, "lang", "", "en or nb; default notices.language")
					fs.BoolVar(&private, "private", false, "keep it off the public status page")
					fs.BoolVar(&noAnnounce, "no-announce", false, "do not e-mail the announce list")
					jsonFlag(fs)
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					if title == "" || len(services) == 0 {
						return usagef("--title and --service are required")
					}
					req := notice.CreateRequest{Kind: kind, Title: title, Symptoms: symptoms, Impact: impact, HandlingPlan: plan,
						Body: body, Language: lang, Actor: tkActor()}
					for _, s := range services {
						req.Services = append(req.Services, strings.Split(s, ",")...)
					}
					pub, ann := !private, !noAnnounce
					req.Public, req.Announce = &pub, &ann
					var err error
					if req.StartedAt, err = parseOpt(start, te.loc); err != nil {
						return usagef("--start: %v", err)
					}
					if req.PlannedEnd, err = parseOpt(end, te.loc); err != nil {
						return usagef("--end: %v", err)
					}
					if req.NextUpdateAt, err = parseOpt(next, te.loc); err != nil {
						return usagef("--next-update: %v", err)
					}
					n, err := te.svc.Notices.Create(ctx, req)
					if err != nil {
						return tkError(err)
					}
					if err := te.audit(ctx, "notice.create", fmt.Sprintf("notice:%d", n.ID), n.Title); err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, n)
					}
					show(e.stdout, n, te.loc)
					return nil
				}),
			},
			{
				name: "update", args: "ID", summary: "change a notice's state or post news, and announce it",
				help: "States: outage investigating, identified, monitoring, resolved; maintenance scheduled, in_progress, completed, cancelled.",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&state, "state", "", "new state")
					fs.StringVar(&body, "body", "", "message text")
					fs.StringVar(&next, "next-update", "", "`TIME` of the next update")
					fs.StringVar(&symptoms, "symptoms", "", "new symptoms")
					fs.StringVar(&impact, "impact", "", "new impact")
					fs.StringVar(&plan, "plan", "", "new handling plan")
					fs.BoolVar(&noAnnounce, "no-announce", false, "do not e-mail the announce list")
					jsonFlag(fs)
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					id, err := tkIDArg(e, args)
					if err != nil {
						return err
					}
					ann := !noAnnounce
					req := notice.ChangeRequest{State: state, Body: body, Announce: &ann, Actor: tkActor()}
					set := func(v string) *string {
						if v == "" {
							return nil
						}
						return &v
					}
					req.Symptoms, req.Impact, req.HandlingPlan = set(symptoms), set(impact), set(plan)
					if next != "" {
						t, err := e.parseTime("--next-update", next)
						if err != nil {
							return err
						}
						req.NextUpdateAt = &t
					}
					n, err := te.svc.Notices.Change(ctx, id, req)
					if err != nil {
						if errors.Is(err, notice.ErrTransition) {
							return err
						}
						return tkError(err)
					}
					if err := te.audit(ctx, "notice.update", fmt.Sprintf("notice:%d", id), state); err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, n)
					}
					show(e.stdout, n, te.loc)
					return nil
				}),
			},
			{
				name: "list", summary: "list current and recent notices (--all for every one)",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.BoolVar(&all, "all", false, "every notice, not only current and recent ones")
					jsonFlag(fs)
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					f := notice.Filter{}
					if !all {
						f.Since = time.Now().Add(-te.cfg.Notices.StatusRecent)
					}
					list, err := te.svc.Notices.List(ctx, f)
					if err != nil {
						return err
					}
					if asJSON {
						if list == nil {
							list = []notice.Notice{}
						}
						return writeJSON(e.stdout, list)
					}
					tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
					fmt.Fprintf(tw, "ID\tKIND\tSTATE\tPUBLIC\tSTARTED\tTITLE\n")
					for _, n := range list {
						public := fmt.Sprint(n.Public)
						if !n.WithdrawnAt.IsZero() {
							public = "withdrawn"
						}
						fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", n.ID, n.Kind, n.State, public, tkTime(n.StartedAt, te.loc), n.Title)
					}
					return tw.Flush()
				}),
			},
			{
				name: "withdraw", args: "ID", summary: "withdraw a notice made by mistake: off the status page and feed at once",
				help: "The notice and its history are kept with a withdrawn update; nothing is e-mailed. A withdrawn maintenance plans no window and a withdrawn notice is no outage of the monthly report.",
				flags: func(fs *flag.FlagSet, _ *globalOpts) {
					fs.StringVar(&body, "reason", "", "why (kept in the notice's history)")
					jsonFlag(fs)
				},
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					id, err := tkIDArg(e, args)
					if err != nil {
						return err
					}
					n, err := te.svc.Notices.Withdraw(ctx, id, notice.WithdrawRequest{Reason: body, Actor: tkActor()})
					if err != nil {
						return tkError(err)
					}
					if err := te.audit(ctx, "notice.withdraw", fmt.Sprintf("notice:%d", id), body); err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, n)
					}
					show(e.stdout, n, te.loc)
					return nil
				}),
			},
			{
				name: "show", args: "ID", summary: "show a notice and its updates",
				flags: func(fs *flag.FlagSet, _ *globalOpts) { jsonFlag(fs) },
				run: tkWith(func(ctx context.Context, e *cmdEnv, te *tkEnv, args []string) error {
					id, err := tkIDArg(e, args)
					if err != nil {
						return err
					}
					n, err := te.svc.Notices.Get(ctx, id)
					if err != nil {
						return err
					}
					if asJSON {
						return writeJSON(e.stdout, n)
					}
					show(e.stdout, n, te.loc)
					return nil
				}),
			},
		},
	}
}
