package app

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/oncallapi"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/alertmanager"
	"github.com/uni-mail/postvakt/oncall/handover"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/team"
)

// OncallHooks are the optional dependencies of the on-call capability that
// other capabilities provide: the tickets capability sets them in its
// setup, which runs before setupOncall. Nil means none: no ticket is opened
// for an incident and the handover lists no tickets.
type OncallHooks struct {
	Ticketer incident.IncidentTicketer
	Tickets  handover.TicketLister
}

// setupOncall wires the on-call capability (oncall: in the configuration):
// the team and rotas, the paging pipeline (Slack, e-mail), incidents with
// their escalation loop, the Alertmanager receiver, heartbeats, handover
// summaries and the API.
func setupOncall(_ context.Context, env *Env) error {
	cfg := env.Config.Oncall
	if !cfg.Enabled() {
		return nil
	}
	st := oncallstore.New(env.DB)
	tm, pols, err := cfg.Compile(st)
	if err != nil {
		return err
	}
	reg := env.Telemetry.Registry
	var pagers []page.Pager
	if cfg.Slack.BotToken != "" {
		pagers = append(pagers, page.NewSlack(page.SlackOptions{BotToken: cfg.Slack.BotToken, Channel: cfg.Slack.Channel, APIURL: cfg.Slack.APIURL}))
	}
	if cfg.Email.Relay != "" {
		pagers = append(pagers, page.NewEmail(page.EmailOptions{Relay: cfg.Email.Relay, From: cfg.Email.From, StartTLS: cfg.Email.StartTLS,
			Username: cfg.Email.Username, Password: cfg.Email.Password, Now: env.Now}))
	}
	if len(pagers) == 0 {
		env.Logger.Warn("oncall: no paging channel configured (oncall.slack.bot_token, oncall.email.relay); incidents will not reach anyone")
	}
	pipeline, err := page.NewPipeline(page.Options{
		Pagers: pagers, Log: st, Logger: env.Logger, Now: env.Now, Registerer: reg,
		Backoff: page.Backoff{Attempts: cfg.Retry.Attempts, Initial: cfg.Retry.Initial, Max: cfg.Retry.Max},
	})
	if err != nil {
		return err
	}
	base := strings.TrimRight(env.Config.HTTP.BaseURL, "/")
	if base == "" {
		base = "http://" + env.Config.HTTP.Listen
	}
	signer := page.Signer{Key: []byte(cfg.Links.Key), TTL: cfg.Links.AckTTL, Now: env.Now}
	disp := &page.Dispatcher{Pipeline: pipeline, Directory: tm,
		IncidentURL: func(id int64) string { return fmt.Sprintf("%s/api/v1/incidents/%d", base, id) }}
	if cfg.Links.Key != "" {
		disp.AckURL = func(id int64, member string) string {
			return base + "/api/v1/oncall/ack?t=" + signer.Sign(page.Claims{Action: "ack", IncidentID: id, Member: member})
		}
	}
	svc, err := incident.NewService(incident.Options{
		Store: st, Policies: pols, DefaultPolicy: cfg.PolicyName(), Roster: tm, Notifier: disp, Ticketer: env.Oncall.Ticketer,
		Logger: env.Logger.With("capability", "oncall"), Now: env.Now, Registerer: reg,
	})
	if err != nil {
		return err
	}
	if env.ticketLinks != nil {
		env.ticketLinks.bind(svc, tm)
	}
	env.incidents = svc
	// Abuse findings of the collectors (set up after this) page as incidents.
	if env.Collectors.Alerts == nil {
		env.Collectors.Alerts = abuseIncidents{svc: svc}
	}
	monitor := &heartbeat.Monitor{Specs: cfg.Heartbeats, Store: st, Incidents: svc, Logger: env.Logger, Now: env.Now}
	amPolicy := cfg.Alertmanager.Policy
	if amPolicy == "" {
		amPolicy = cfg.PolicyName()
	}
	sink := alertmanager.SinkFunc(func(ctx context.Context, m alertmanager.Message) error {
		return handleGroup(ctx, svc, monitor, pols, amPolicy, m)
	})
	recv, err := alertmanager.NewReceiver(alertmanager.Options{Token: cfg.Alertmanager.Token, MaxBodyBytes: cfg.Alertmanager.MaxBodyBytes,
		Sink: sink, Logger: env.Logger, Registerer: reg})
	if err != nil {
		return err
	}
	env.Server.Mount("POST /api/v1/alertmanager", recv)
	oncallapi.Register(env.Server, oncallapi.Options{
		Team: tm, Incidents: svc, Heartbeats: monitor, Signer: signer, LinkKey: cfg.Links.Key, BaseURL: base,
		SlackSecret: cfg.Slack.SigningSecret, SlackAPIURL: cfg.Slack.APIURL, MachineToken: cfg.Alertmanager.Token,
		Notify: pipeline.Send, Logger: env.Logger, Now: env.Now,
	})
	ann := &handover.Announcer{Store: st, Team: tm, Incidents: svc, Tickets: env.Oncall.Tickets, Sender: pipeline,
		Node: env.Node, Logger: env.Logger, Now: env.Now}
	env.Go(recv.Run)
	env.Go(func(ctx context.Context) error {
		if err := monitor.Start(ctx); err != nil {
			return fmt.Errorf("oncall heartbeats: %w", err)
		}
		t := time.NewTicker(cfg.EscalationInterval)
		defer t.Stop()
		for {
			if err := svc.Tick(ctx); err != nil && ctx.Err() == nil {
				env.Logger.Error("oncall: escalation", "err", err)
			}
			if err := monitor.Check(ctx); err != nil && ctx.Err() == nil {
				env.Logger.Error("oncall: heartbeats", "err", err)
			}
			if cfg.Handover {
				if err := ann.Check(ctx); err != nil && ctx.Err() == nil {
					env.Logger.Error("oncall: handover", "err", err)
				}
			}
			if err := tm.RemindSwaps(ctx, team.Reminders{Every: cfg.Swaps.RemindEvery, Before: cfg.Swaps.RemindBefore}, pipeline.Send, env.Now()); err != nil && ctx.Err() == nil {
				env.Logger.Error("oncall: swap reminders", "err", err)
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	})
	env.Logger.Info("oncall ready", "rotas", len(tm.Rotas()), "policies", len(pols), "channels", strings.Join(pipeline.Channels(), ","))
	return nil
}

// handleGroup turns an Alertmanager group into incident work: heartbeat
// alerts beat, firing groups open or update the incident keyed by
// (receiver, groupKey), resolved groups resolve it.
func handleGroup(ctx context.Context, svc *incident.Service, hb *heartbeat.Monitor, pols map[string]incident.Policy, policy string, m alertmanager.Message) error {
	var alerts []incident.Alert
	var kept []alertmanager.Alert
	for _, a := range m.Alerts {
		if name := a.Labels["alertname"]; name != "" {
			if hit, err := hb.BeatAlertname(ctx, name); err != nil {
				return err
			} else if hit {
				continue
			}
		}
		kept = append(kept, a)
		alerts = append(alerts, incident.Alert{Fingerprint: a.Fingerprint, Status: a.Status, Labels: a.Labels, Annotations: a.Annotations, StartsAt: a.StartsAt, EndsAt: a.EndsAt})
	}
	if len(kept) == 0 {
		return nil
	}
	m.Alerts = kept
	key := alertmanager.Key(m)
	if !alertmanager.Firing(m) {
		_, _, err := svc.ResolveKey(ctx, key, alerts, "alertmanager")
		return err
	}
	if p := m.CommonLabels["postvakt_policy"]; p != "" {
		if _, ok := pols[p]; ok {
			policy = p
		}
	}
	_, _, err := svc.Trigger(ctx, incident.Trigger{
		Key: key, Source: "alertmanager", Title: groupTitle(m), Summary: groupSummary(m), Severity: groupSeverity(m),
		Policy: policy, Labels: m.CommonLabels, ExternalURL: m.ExternalURL, Alerts: alerts, Actor: "alertmanager",
	})
	return err
}

func groupTitle(m alertmanager.Message) string {
	name := m.CommonLabels["alertname"]
	if name == "" {
		name = m.GroupLabels["alertname"]
	}
	if name == "" {
		name = "Alert group"
	}
	firing := 0
	for _, a := range m.Alerts {
		if a.Status == "firing" {
			firing++
		}
	}
	if firing > 1 {
		return fmt.Sprintf("%s (%d alerts)", name, firing)
	}
	return name
}

func groupSummary(m alertmanager.Message) string {
	for _, k := range []string{"summary", "description"} {
		if v := m.CommonAnnotations[k]; v != "" {
			return v
		}
	}
	for _, a := range m.Alerts {
		if v := a.Annotations["summary"]; v != "" {
			return v
		}
	}
	return ""
}

func groupSeverity(m alertmanager.Message) string {
	rank := map[string]int{incident.SeverityInfo: 1, incident.SeverityWarning: 2, incident.SeverityCritical: 3}
	best := m.CommonLabels["severity"]
	for _, a := range m.Alerts {
		if s := strings.ToLower(a.Labels["severity"]); a.Status == "firing" && rank[s] > rank[best] {
			best = s
		}
	}
	if best == "" {
		best = incident.SeverityWarning
	}
	return best
}
