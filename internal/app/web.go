package app

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/store/accessstore"
	"github.com/uni-mail/postvakt/internal/web"
	"github.com/uni-mail/postvakt/internal/webauth"
)

// setupWeb wires the web interface (web: in the configuration): local
// users and sessions, the session layer in front of pages and API, the
// pages, and an hourly job that deletes ended sessions. It runs last, so
// every capability's API routes exist for the pages to call.
func setupWeb(_ context.Context, env *Env) error {
	var hasher *directory.Hasher // the password-hash gate shared with SMTP AUTH
	if env.engine.resources != nil {
		hasher = env.engine.resources.Hasher
	}
	svc, err := webauth.New(webauth.Options{Config: env.Config.Web, Store: accessstore.New(env.DB),
		Logger: env.Logger.With("capability", "web"), Now: env.Now, Hasher: hasher})
	if err != nil {
		return err
	}
	ui, err := web.New(web.Options{Auth: svc, Server: env.Server, Logger: env.Logger.With("capability", "web"),
		Now: env.Now, Location: env.Config.Location(), Version: Version, Tickets: env.Config.Tickets,
		SubjectsFrom: auth.Role(env.Config.Collectors.Trace.ShowSubjectsFrom), Paging: env.Oncall.Paging,
		Setup: func() web.Setup { return setupState(env.reloader().Current()) }})
	if err != nil {
		return err
	}
	ui.Register()
	env.web = ui
	return env.Scheduler.Register(scheduler.Job{
		Name: "web_sessions_prune", Schedule: "@hourly", Timeout: time.Minute,
		Run: func(ctx context.Context, _ time.Time) error {
			_, err := svc.Prune(ctx)
			return err
		},
	})
}

// setupState is which parts of cfg are filled in, for the Now page's
// "what to do next" (web.Setup).
func setupState(cfg *config.Config) web.Setup {
	oc, pr, cc := cfg.Oncall, cfg.Probes, cfg.Collectors
	return web.Setup{
		Oncall:     len(oc.Members) > 0 && len(oc.Rotas) > 0,
		Paging:     oc.Slack.BotToken != "" || oc.Email.Relay != "",
		Probes:     pr.Enabled && len(pr.Targets) > 0,
		LogSources: cc.Enabled && (len(cc.Files) > 0 || cc.Syslog.TCP != "" || cc.Syslog.UDP != "" || (cc.EngineEvents && cfg.SMTP.Enabled)),
		Announce:   cfg.Notices.AnnounceTo != "",
		ReportMail: cfg.Reports.Mail.To != "",
	}
}

// announce logs where the web interface is and what to do first, once the
// HTTP listener is bound: the sign-in address, and while no admin exists
// the one-time link that creates the first one (docs/web.md, "First run").
func (e *Env) announce(ctx context.Context, addr net.Addr) {
	base := strings.TrimSuffix(e.Config.HTTP.BaseURL, "/")
	if base == "" {
		host, port, _ := net.SplitHostPort(addr.String())
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		base = "http://" + net.JoinHostPort(host, port)
	}
	e.Logger.Info("web interface: open " + base + "/")
	if e.demo {
		e.Logger.Info("demo: every page fills within a minute; the sign-in names and password follow in this log")
		return
	}
	if e.web == nil {
		return
	}
	link, err := e.web.SetupLink(ctx)
	switch {
	case err != nil:
		e.Logger.Warn("web interface: could not check for an admin", "err", err)
	case link != "":
		e.Logger.Info("first admin: no admin exists yet; open this one-time link within " + web.SetupLinkLifetime.String() +
			" to create one: " + base + link + " (or run: postvakt user add --role admin NAME)")
		e.Logger.Info("next steps: sign in, then the Now page lists what to configure (on-call, paging, probes, log sources); " +
			"README.md \"Quick start\", docs/web.md \"First run\"; to see a populated system: postvakt serve --demo")
	}
}
