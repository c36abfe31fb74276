package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/uni-mail/postvakt/engine/clamd"

	"github.com/uni-mail/postvakt/internal/api/ticketapi"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/reload"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/ticketstore"
	"github.com/uni-mail/postvakt/oncall/alerting"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// TicketServices are the ticket and notice services built from the
// configuration; `serve` and the CLI use the same wiring.
type TicketServices struct {
	Tickets *tickets.Service
	Notices *notice.Service
}

// TicketOptions are the optional parts of NewTicketServices.
type TicketOptions struct {
	Registerer prometheus.Registerer // nil: no metrics
	Pager      tickets.Pager         // nil: pages are logged only
	// OnCall answers the default assignee; nil: the rota of
	// tickets.on_call_rota by its turns alone.
	OnCall tickets.OnCallResolver
	// Monitored tells the status page whether any service is probed
	// (notice.Options.Monitored); nil: not said.
	Monitored func() bool
	// Health gives the status page the probes' view of each service
	// (notice.Options.Health); nil: notices only.
	Health notice.Health
	// Units scopes notices to units whose contacts receive them too
	// (notice.Options.Units); nil: notices name no units.
	Units notice.Audience
}

// noticeReloadKeys are the notices keys a reload applies: who announcements
// go to and come from, their language, reminders and the status page. The
// relay and the zone of times need a restart.
var noticeReloadKeys = []string{"notices.announce_to", "notices.from", "notices.language", "notices.reminders",
	"notices.status_recent", "notices.status_title"}

// NewTicketServices builds the ticket service (SLA policies from sla:,
// the on-call rota of oncall.rotas as the default assignee, acknowledgements
// through notices.relay) and the notice service.
func NewTicketServices(cfg *config.Config, db *storage.DB, logger *slog.Logger, now func() time.Time, o TicketOptions) (*TicketServices, error) {
	dkim, err := dkimSigner(cfg)
	if err != nil {
		return nil, err
	}
	sender := signedNotices(&notice.SMTPSender{
		Addr: cfg.Notices.Relay.Addr, HelloName: cfg.Notices.Relay.HelloName, Timeout: cfg.Notices.Relay.Timeout,
		StartTLS: cfg.Notices.Relay.StartTLS, Username: cfg.Notices.Relay.Username, Password: cfg.Notices.Relay.Password,
	}, dkim, logger)
	st := ticketstore.New(db)
	onCall := o.OnCall
	if onCall == nil {
		var err error
		if onCall, err = rotaResolver(cfg); err != nil {
			return nil, err
		}
	}
	var metrics *tickets.Metrics
	sent := func(string) {}
	if o.Registerer != nil {
		metrics = tickets.NewMetrics(o.Registerer, st, now, logger)
		c := prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "postvakt_notices_sent_total",
			Help: "Announcement e-mails of notices handed to the relay, by result (ok, error).",
		}, []string{"result"})
		c.WithLabelValues("ok")
		c.WithLabelValues("error")
		o.Registerer.MustRegister(c)
		sent = func(r string) { c.WithLabelValues(r).Inc() }
	}
	var mailer notice.Sender
	if cfg.Notices.Relay.Addr != "" {
		mailer = sender
	}
	base := strings.TrimSuffix(cfg.HTTP.BaseURL, "/")
	var team []string
	for _, m := range cfg.Oncall.Members {
		if m.Email != "" {
			team = append(team, m.Email)
		}
	}
	ts, err := tickets.New(tickets.Options{
		Config: cfg.Tickets, SLA: cfg.SLA, Store: st, OnCall: onCall, Pager: o.Pager, Mailer: mailer,
		Metrics: metrics, Logger: logger, Now: now, BaseURL: base, Location: cfg.Location(), TeamAddresses: team,
		Attachments: st, Scanner: attachmentScanner(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("tickets: %w", err)
	}
	names := map[string]string{}
	for _, s := range cfg.Tickets.Services {
		names[s.ID] = s.Name
	}
	statusURL := ""
	if base != "" {
		statusURL = base + "/status"
	}
	ns, err := notice.New(notice.Options{
		Config: cfg.Notices, Store: st, Sender: sender, Logger: logger, Now: now,
		StatusURL: statusURL, Services: names, Sent: sent, Monitored: o.Monitored, Health: o.Health, Units: o.Units,
	})
	if err != nil {
		return nil, fmt.Errorf("notices: %w", err)
	}
	return &TicketServices{Tickets: ts, Notices: ns}, nil
}

// rotaResolver is the tickets' default assignee before on-call binds (the
// CLI's only one): tickets.on_call_rota, or the first of oncall.rotas, by
// its turns; nil without rotas.
func rotaResolver(cfg *config.Config) (tickets.OnCallResolver, error) {
	return alerting.RotaOnCall(cfg.Oncall.Rotas, cfg.Tickets.OnCallRota)
}

// setupTickets wires fault tickets, SLA clocks and notices: the API with
// the public status page and feed (internal/api/ticketapi), the SLA tick (every 30 s, single-flight
// across replicas) and the notice tick (maintenance reminders, outbox).
func setupTickets(_ context.Context, env *Env) error {
	logger := env.Logger.With("capability", "tickets")
	fallback, err := rotaResolver(env.Config)
	if err != nil {
		return err
	}
	// SLA pages go to the on-call capability and incidents open tickets
	// through the link; setupOncall (after this) binds on-call to it.
	var services []string
	for _, s := range env.Config.Tickets.Services {
		services = append(services, s.ID)
	}
	link := alerting.NewTicketLink(alerting.LinkOptions{Severities: env.Config.Tickets.Severities, Services: services,
		Rota: env.Config.Tickets.OnCallRota, Fallback: fallback, Location: env.Config.Location(), Logger: logger, Now: env.Now})
	us, err := env.unitService()
	if err != nil {
		return err
	}
	svc, err := NewTicketServices(env.Config, env.DB, logger, env.Now, TicketOptions{
		Registerer: env.Telemetry.Registry, Pager: link, OnCall: link, Units: us,
		Monitored: func() bool { p := env.reloader().Current().Probes; return p.Enabled && len(p.Targets) > 0 },
		Health:    statusHealth(env.DB)})
	if err != nil {
		return err
	}
	link.BindTickets(svc.Tickets)
	env.Oncall.Tickets = link
	env.tickets = svc.Tickets
	env.OnReload(reload.Hook{Name: "notices", Keys: noticeReloadKeys,
		Prepare: func(_ context.Context, cur, next *config.Config) (func(), []string, error) {
			nc := next.Notices
			// The zone follows timezone, which the web and the CLI take
			// at start: it changes with them, on a restart.
			nc.TimeZone = svc.Notices.Config().TimeZone
			if err := nc.Validate(); err != nil {
				return nil, nil, next.Locate("notices", err)
			}
			return func() { _ = svc.Notices.SetConfig(nc) }, nil, nil
		}})
	ticketapi.Register(env.Server, ticketapi.Options{Tickets: svc.Tickets, Notices: svc.Notices, SLA: env.Config.SLA,
		NoticesRecent: env.Config.Notices.StatusRecent, AnnounceTo: env.Config.Notices.AnnounceTo, Location: env.Config.Location(), Now: env.Now})
	if err := env.Scheduler.Register(scheduler.Job{
		Name: "tickets_sla", Schedule: "@every 30s", Timeout: 25 * time.Second,
		Run: func(ctx context.Context, tick time.Time) error { return svc.Tickets.Tick(ctx, env.Now()) },
	}); err != nil {
		return err
	}
	return env.Scheduler.Register(scheduler.Job{
		Name: "notices", Schedule: "@every 1m", Timeout: 50 * time.Second,
		Run: func(ctx context.Context, tick time.Time) error { return svc.Notices.Tick(ctx, env.Now()) },
	})
}

// clamdScanner scans ticket attachments with the content scanner's clamd
// (content.antivirus.clamd): the tickets capability defines what it needs
// (tickets.Scanner), the wiring hands it the engine's client.
type clamdScanner struct{ c *clamd.Client }

func (s clamdScanner) ScanAttachment(ctx context.Context, data []byte) (bool, string, error) {
	r, err := s.c.ScanBytes(ctx, data)
	return r.Infected, r.Signature, err
}

// attachmentScanner is clamd when content.antivirus.clamd names it; nil
// (attachments kept as "not scanned") otherwise.
func attachmentScanner(cfg *config.Config) tickets.Scanner {
	a := cfg.Content.Antivirus
	if a.Clamd == "" {
		return nil
	}
	network, addr, _ := strings.Cut(a.Clamd, ":")
	return clamdScanner{c: &clamd.Client{Network: network, Addr: addr, Timeout: a.Timeout}}
}
