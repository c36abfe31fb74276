package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/abusedetect"
	"github.com/uni-mail/postvakt/config/validate"
	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/alerting"
	"github.com/uni-mail/postvakt/oncall/alertmanager"
	"github.com/uni-mail/postvakt/oncall/handover"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/integration"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/team"
)

// OncallHooks are the optional dependencies of the on-call capability that
// other capabilities provide: the tickets capability sets them in its
// setup, which runs before setupOncall. Nil means none: no ticket is opened
// for an incident and the handover lists no tickets.
type OncallHooks struct {
	// Tickets joins incidents and fault tickets; setupOncall binds the
	// incident service and the team to it.
	Tickets *alerting.TicketLink
	// OpenTickets lists the open tickets in a handover summary.
	OpenTickets handover.TicketLister
	// Send posts to the on-call channels (the paging pipeline); set by
	// setupOncall for the capabilities after it (units' reminders).
	Send func(ctx context.Context, msgs ...page.Message) error
	// IncidentMail opens incidents from mail to oncall.incident_mail's
	// address; set by setupOncall, used by the engine (after it).
	IncidentMail *integration.MailIntake
	// Paging judges whether paging reaches anyone (the web UI's banner);
	// set by setupOncall, nil while on-call is off.
	Paging func(ctx context.Context) *page.Health
}

// setupOncall wires the on-call capability (oncall: in the configuration):
// the team and rotas, the paging pipeline (Slack, e-mail), incidents with
// their escalation loop, the Alertmanager receiver, heartbeats, handover
// summaries and the API.
func setupOncall(ctx context.Context, env *Env) error {
	cfg := env.Config.Oncall
	if !cfg.Enabled() {
		return nil
	}
	st := oncallstore.New(env.DB)
	tm, pols, err := cfg.Compile(st)
	if err != nil {
		return err
	}
	tm.SetLocation(env.Config.Location())
	// The members and rotas are data: the configuration seeds them, and a
	// changed configuration is a change effective from each rota's next
	// handover (docs/oncall.md, "The rota as data").
	applied, err := tm.ApplyConfig(ctx, team.ApplyOptions{By: "config", Now: env.Now()})
	if err != nil {
		return fmt.Errorf("oncall: apply the configured team: %w", err)
	}
	for _, l := range applied.Lines {
		env.Logger.Info("oncall: " + l)
	}
	// A changed team in the file is a change from each rota's next
	// handover, as at start (docs/oncall.md, "The rota as data").
	env.OnReload(reload.Hook{Name: "on-call team", Keys: []string{"oncall.members", "oncall.rotas", "oncall.calendars"},
		Prepare: func(ctx context.Context, _, next *config.Config) (func(), []string, error) {
			if !next.Oncall.Enabled() {
				return nil, nil, validate.Field("oncall.members", "", "switching on-call off needs a restart")
			}
			if _, _, err := next.Oncall.Compile(st); err != nil {
				return nil, nil, err
			}
			return func() {
				if err := tm.Reconfigure(next.Oncall.TeamSpec()); err != nil {
					env.Logger.Error("reload: oncall", "err", err)
					return
				}
				applied, err := tm.ApplyConfig(context.WithoutCancel(ctx), team.ApplyOptions{By: "config", Now: env.Now()})
				for _, l := range applied.Lines {
					env.Logger.Info("reload: oncall: " + l)
				}
				if err != nil {
					env.Logger.Error("reload: oncall: apply the configured team", "err", err)
				}
			}, nil, nil
		}})
	reg := env.Telemetry.Registry
	var pagers []page.Pager
	if cfg.Slack.BotToken != "" {
		pagers = append(pagers, page.NewSlack(page.SlackOptions{BotToken: cfg.Slack.BotToken, Channel: cfg.Slack.Channel, APIURL: cfg.Slack.APIURL,
			MaxRetryAfter: cfg.Slack.MaxRetryAfter, Registerer: reg}))
	}
	if cfg.Email.Relay != "" {
		pagers = append(pagers, page.NewEmail(page.EmailOptions{Relay: cfg.Email.Relay, From: cfg.Email.From, StartTLS: cfg.Email.StartTLS,
			Username: cfg.Email.Username, Password: cfg.Email.Password, Now: env.Now}))
	}
	for _, ch := range cfg.Channels {
		pg, err := ch.Pager()
		if err != nil {
			return fmt.Errorf("oncall.channels %s: %w", ch.Name, err)
		}
		pagers = append(pagers, pg)
	}
	if len(pagers) == 0 {
		env.Logger.Warn("oncall: no paging channel configured (oncall.slack.bot_token, oncall.email.relay, oncall.channels); incidents will not reach anyone")
	}
	pipeline, err := page.NewPipeline(page.Options{
		Pagers: pagers, Log: st, Logger: env.Logger, Now: env.Now, Registerer: reg,
		Backoff: page.Backoff{Attempts: cfg.Retry.Attempts, Initial: cfg.Retry.Initial, Max: cfg.Retry.Max},
	})
	if err != nil {
		return err
	}
	env.Oncall.Send = pipeline.Send
	env.Oncall.Paging = func(ctx context.Context) *page.Health {
		recent, err := st.RecentPageResults(ctx, env.Now().Add(-time.Hour), 500)
		if err != nil {
			env.Logger.Warn("oncall: paging health", "err", err)
			return nil
		}
		return page.CheckHealth(pipeline.Channels(), recent)
	}
	base := strings.TrimRight(env.Config.HTTP.BaseURL, "/")
	if base == "" {
		base = "http://" + env.Config.HTTP.Listen
	}
	signer := page.Signer{Key: []byte(cfg.Links.Key), TTL: cfg.Links.AckTTL, Now: env.Now}
	disp := &page.Dispatcher{Pipeline: pipeline, Directory: tm, Location: env.Config.Location(),
		ContactRules: cfg.ContactRules, Paged: st, Now: env.Now,
		IncidentURL: func(id int64) string { return fmt.Sprintf("%s/incidents/%d", base, id) }}
	if cfg.Links.Key != "" {
		disp.AckURL = func(id int64, member string) string {
			return base + "/api/v1/oncall/ack?t=" + signer.Sign(page.Claims{Action: "ack", IncidentID: id, Member: member})
		}
	}
	var ticketer incident.IncidentTicketer
	if env.Oncall.Tickets != nil {
		ticketer = env.Oncall.Tickets
	}
	svc, err := incident.NewService(incident.Options{
		Store: st, Policies: pols, DefaultPolicy: cfg.PolicyName(), Roster: tm, Notifier: disp, Ticketer: ticketer,
		Logger: env.Logger.With("capability", "oncall"), Now: env.Now, Registerer: reg, KeepTicketOpen: !cfg.ResolveTicketWithIncident,
	})
	if err != nil {
		return err
	}
	disp.Open = svc
	if env.Oncall.Tickets != nil {
		env.Oncall.Tickets.BindOnCall(svc, tm)
	}
	monitor := &heartbeat.Monitor{Specs: cfg.Heartbeats, Store: st, Incidents: svc, Location: env.Config.Location(), Logger: env.Logger, Now: env.Now}
	amPolicy := cfg.Alertmanager.Policy
	if amPolicy == "" {
		amPolicy = cfg.PolicyName()
	}
	ao := alerting.Options{
		Incidents: svc, Heartbeats: monitor, Policies: pols, AlertmanagerPolicy: amPolicy,
		Swaps: tm, Reminders: team.Reminders{Every: cfg.Swaps.RemindEvery, Before: cfg.Swaps.RemindBefore}, Send: pipeline.Send,
		Shifts: tm, FollowUp: disp.FollowUp,
		Interval: cfg.EscalationInterval, Location: env.Config.Location(), Logger: env.Logger, Now: env.Now,
	}
	if cfg.Handover {
		ao.Handovers = &handover.Announcer{Store: st, Team: tm, Incidents: svc, Tickets: env.Oncall.OpenTickets, Sender: pipeline,
			Node: env.Node, Location: env.Config.Location(), Logger: env.Logger, Now: env.Now}
	}
	alerts := alerting.New(ao)
	env.alerting = alerts
	// Abuse findings of the collectors (set up after this) page as incidents.
	if env.Collectors.Alerts == nil {
		env.Collectors.Alerts = abusedetect.AlertSinkFunc(func(ctx context.Context, f abusedetect.Alert) error {
			return alerts.Abuse(ctx, alerting.AbuseFinding{Kind: string(f.Kind), Runbook: f.Runbook, Severity: f.Severity,
				Subject: f.Subject, Account: f.Account, Addresses: f.Addresses, Count: f.Count, Threshold: f.Threshold,
				First: f.First, At: f.At, Node: f.Node, Summary: f.Summary, Evidence: f.Evidence})
		})
	}
	// Groups are stored in the database before the answer and worked by one
	// replica at a time.
	recv, err := alertmanager.NewReceiver(alertmanager.Options{Token: cfg.Alertmanager.Token, MaxBodyBytes: cfg.Alertmanager.MaxBodyBytes,
		Inbox: st, Sink: alerts, Logger: env.Logger, Registerer: reg, Now: env.Now,
		Lock: func(ctx context.Context) (func(), bool, error) {
			return env.DB.TryLock(ctx, storage.LockKey("oncall_alertmanager_inbox"))
		}})
	if err != nil {
		return err
	}
	intake, err := integration.New(integration.Options{Specs: cfg.Integrations, Incidents: svc, Logger: env.Logger, Registerer: reg, Now: env.Now})
	if err != nil {
		return err
	}
	if cfg.IncidentMail.Address != "" {
		env.Oncall.IncidentMail = &integration.MailIntake{Config: cfg.IncidentMail, Incidents: svc, Logger: env.Logger.With("capability", "oncall")}
	}
	oncallapi.Register(env.Server, oncallapi.Options{Integrations: intake,
		Team: tm, Incidents: svc, Heartbeats: monitor, Signer: signer, LinkKey: cfg.Links.Key, BaseURL: base,
		SlackSecret: cfg.Slack.SigningSecret, SlackAPIURL: cfg.Slack.APIURL, MachineToken: cfg.Alertmanager.Token,
		Notify: pipeline.Send, Alertmanager: recv, Location: env.Config.Location(), Logger: env.Logger, Now: env.Now,
	})
	env.Go(recv.Run)
	env.Go(alerts.Run)
	env.Logger.Info("oncall ready", "rotas", len(tm.Rotas()), "policies", len(pols), "channels", strings.Join(pipeline.Channels(), ","))
	return nil
}
