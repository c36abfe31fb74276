package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"blitiri.com.ar/go/spf"

	"github.com/uni-mail/postvakt/engine/abuse"
	"github.com/uni-mail/postvakt/engine/content"
	"github.com/uni-mail/postvakt/engine/dnsbl"
	"github.com/uni-mail/postvakt/engine/event"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/smtpserver"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/scheduler"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
)

// ContentHooks connect content scanning ([engine-content]) with the engine:
// the engine passes Filter as engine.Options.Filter.
type ContentHooks struct {
	// Filter scans every message after DATA; nil when content.enabled is
	// false.
	Filter smtpserver.ContentFilter
}

// accountLocked reports whether an account is locked in the directory.
func accountLocked(db *storage.DB) func(ctx context.Context, user string) bool {
	return func(ctx context.Context, user string) bool {
		e, err := db.DirLookup(ctx, user)
		return err == nil && e.Mailbox != nil && e.Mailbox.Locked
	}
}

// setupContent wires content scanning, the quarantine and its API, abuse
// control, and the relay queue runner (issue 4). List it after the
// collectors (it emits abuse events to Collectors.EngineEvents) and before
// the engine (which takes Content.Filter).
func setupContent(ctx context.Context, env *Env) error {
	cc, rc := env.Config.Content, env.Config.Relay
	db := env.DB
	events := env.Collectors.EngineEvents
	if events == nil {
		events = event.Discard
	}
	qsvc := &quarantine.Service{Store: db, Retention: cc.Quarantine.Retention, Clock: env.Now}
	ab, err := abuse.New(abuse.Options{
		Window: cc.Abuse.Window, MaxMessages: cc.Abuse.MaxMessages, MaxRecipients: cc.Abuse.MaxRecipients,
		MassMailing: cc.Abuse.MassMailingRecipients, Approved: cc.Abuse.ApprovedSenders,
		Node: env.Node, Clock: env.Now, Events: events, Registerer: env.Telemetry.Registry,
	})
	if err != nil {
		return err
	}
	if cc.Enabled {
		// The DNSBL_LISTED rule and SPF use the engine's DNS settings
		// (smtp.dnsbl), so scoring and connection checks agree.
		var res interface {
			dnsbl.Resolver
			spf.DNSResolver
		} = net.DefaultResolver
		if srv := env.Config.SMTP.DNSBL.Resolver; srv != "" {
			res = &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, srv)
			}}
		}
		var checker *dnsbl.Checker
		if z := env.Config.SMTP.DNSBL.Zones; len(z) > 0 {
			checker = &dnsbl.Checker{Zones: z, Resolver: res, Timeout: env.Config.SMTP.DNSBL.Timeout}
		}
		sc, err := content.New(content.Options{
			Config: cc, Quarantine: qsvc, Abuse: ab, Registerer: env.Telemetry.Registry, Logger: env.Logger.With("component", "content"),
			Clock: env.Now, DNSBL: checker, SPFResolver: res,
			LocalDomain: func(ctx context.Context, d string) bool {
				ok, err := db.DirDomainExists(ctx, d)
				return err == nil && ok
			},
		})
		if err != nil {
			return err
		}
		env.Content.Filter = sc
		env.Go(func(ctx context.Context) error {
			t := time.NewTicker(30 * time.Second)
			defer t.Stop()
			for {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				sc.Probe(pctx)
				cancel()
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
			}
		})
		if err := env.Scheduler.Register(scheduler.Job{Name: "content_quarantine_expiry", Schedule: "@hourly", Timeout: 10 * time.Minute,
			Run: func(ctx context.Context, _ time.Time) error {
				n, err := qsvc.Expire(ctx)
				if n > 0 {
					env.Logger.Info("quarantine expired", "items", n)
				}
				return err
			}}); err != nil {
			return err
		}
	}
	if rc.Enabled {
		r, err := queue.New(queue.Options{Config: rc, Store: db, Node: env.Node, Clock: env.Now,
			Logger: env.Logger.With("component", "relay"), Registerer: env.Telemetry.Registry,
			Gate: ab.QueueGate(accountLocked(db))})
		if err != nil {
			return err
		}
		env.Go(r.Run)
	}
	quarantineAPI(env, qsvc)
	return nil
}

// quarantineAPI serves the quarantine to postmasters:
// GET /api/v1/quarantine, GET/DELETE /api/v1/quarantine/{id},
// POST /api/v1/quarantine/{id}/release.
func quarantineAPI(env *Env, q *quarantine.Service) {
	db := env.DB
	id := func(r *http.Request) (int64, error) {
		v, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return 0, server.BadRequest("id must be a number")
		}
		return v, nil
	}
	notFound := func(err error) error {
		if errors.Is(err, quarantine.ErrNotFound) {
			return server.NotFound("no such quarantine item")
		}
		return err
	}
	env.Server.Handle("GET /api/v1/quarantine", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		f := quarantine.Filter{Reason: quarantine.Reason(r.URL.Query().Get("reason")), Sender: r.URL.Query().Get("sender"),
			Recipient: r.URL.Query().Get("recipient"), Limit: 500}
		items, err := db.QuarantineList(r.Context(), f)
		if err != nil {
			return err
		}
		if items == nil {
			items = []quarantine.Item{}
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"items": items})
		return nil
	})
	env.Server.Handle("GET /api/v1/quarantine/{id}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		n, err := id(r)
		if err != nil {
			return err
		}
		it, err := db.QuarantineGet(r.Context(), n)
		if err != nil {
			return notFound(err)
		}
		server.WriteJSON(w, http.StatusOK, it)
		return nil
	})
	env.Server.Handle("POST /api/v1/quarantine/{id}/release", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		n, err := id(r)
		if err != nil {
			return err
		}
		queued, err := q.Release(r.Context(), n)
		if err != nil {
			return notFound(err)
		}
		_ = env.Server.Audit(r, "quarantine.release", strconv.FormatInt(n, 10), strconv.Itoa(queued)+" recipients queued")
		server.WriteJSON(w, http.StatusOK, map[string]any{"queued": queued})
		return nil
	})
	env.Server.Handle("DELETE /api/v1/quarantine/{id}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		n, err := id(r)
		if err != nil {
			return err
		}
		if err := db.QuarantineDelete(r.Context(), n); err != nil {
			return notFound(err)
		}
		_ = env.Server.Audit(r, "quarantine.delete", strconv.FormatInt(n, 10), "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
