package app

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
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
		SubjectsFrom: auth.Role(env.Config.Collectors.Trace.ShowSubjectsFrom)})
	if err != nil {
		return err
	}
	ui.Register()
	return env.Scheduler.Register(scheduler.Job{
		Name: "web_sessions_prune", Schedule: "@hourly", Timeout: time.Minute,
		Run: func(ctx context.Context, _ time.Time) error {
			_, err := svc.Prune(ctx)
			return err
		},
	})
}
