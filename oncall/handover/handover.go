// Package handover owns the handover summary: at each change of the person
// on call, the outgoing and the incoming person get (in Slack and by
// e-mail) the open incidents and tickets and the pages of the past week.
// The summary is a pure function; Announcer is the thin loop step that
// claims each handover once in the database and sends it.
package handover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// Store is what the announcer needs of the database.
type Store interface {
	ClaimHandover(ctx context.Context, rotaName string, at time.Time, node string, now time.Time) (bool, error)
	PagesSince(ctx context.Context, since time.Time) ([]page.Record, error)
}

// Team is what the announcer needs of package team.
type Team interface {
	Refresh(ctx context.Context) error
	Rotas() []string
	Rota(name string) (*rota.Rota, error)
	Changes(ctx context.Context, rotaName string) (rota.Changes, error)
	Recipient(id string) (page.Recipient, bool)
}

// Incidents lists incidents.
type Incidents interface {
	List(ctx context.Context, f incident.Filter) ([]incident.Incident, error)
}

// TicketLister lists open fault tickets as one line each; the tickets
// capability may implement it. Nil lists none.
type TicketLister interface {
	OpenTicketLines(ctx context.Context) ([]string, error)
}

// Sender sends messages (a page.Pipeline).
type Sender interface {
	Send(ctx context.Context, msgs ...page.Message) error
}

// Input is everything a summary shows.
type Input struct {
	Rota      string
	At        time.Time
	Outgoing  string
	Incoming  string
	Incidents []incident.Incident
	Tickets   []string
	Pages     []page.Record
	// Location is the service time zone (config/timezone) the times are
	// shown in; nil: UTC.
	Location *time.Location
}

// Summary renders the handover text.
func Summary(in Input) (subject, text string) {
	subject = fmt.Sprintf("Handover %s: %s → %s", in.Rota, in.Outgoing, in.Incoming)
	var b strings.Builder
	fmt.Fprintf(&b, "On-call handover of %s at %s: %s hands over to %s.\n\n", in.Rota, timezone.Format(in.At, in.Location), in.Outgoing, in.Incoming)
	fmt.Fprintf(&b, "Open incidents: %d\n", len(in.Incidents))
	for _, inc := range in.Incidents {
		fmt.Fprintf(&b, "  #%d [%s] %s (%s since %s)\n", inc.ID, inc.Severity, inc.Title, inc.Status, timezone.Format(inc.OpenedAt, in.Location))
	}
	fmt.Fprintf(&b, "Open tickets: %d\n", len(in.Tickets))
	for _, t := range in.Tickets {
		fmt.Fprintf(&b, "  %s\n", t)
	}
	sent := map[string]int{}
	for _, p := range in.Pages {
		if p.Kind == page.KindPage && p.Result == page.ResultSent {
			sent[p.Member]++
		}
	}
	n := 0
	for _, c := range sent {
		n += c
	}
	fmt.Fprintf(&b, "Pages in the past week: %d\n", n)
	who := make([]string, 0, len(sent))
	for m := range sent {
		who = append(who, m)
	}
	sort.Strings(who)
	for _, m := range who {
		if m == "" {
			continue
		}
		fmt.Fprintf(&b, "  %s: %d\n", m, sent[m])
	}
	return subject, b.String()
}

// Announcer sends each handover once.
type Announcer struct {
	Store     Store
	Team      Team
	Incidents Incidents
	Tickets   TicketLister
	Sender    Sender
	Node      string
	Logger    *slog.Logger
	Now       func() time.Time
	// MaxAge skips handovers older than this (e.g. after a long outage);
	// default 1h.
	MaxAge time.Duration
	// Location is the service time zone of the summary's times; nil: UTC.
	Location *time.Location
}

// Check announces the latest handover of every rota if not yet done.
func (a *Announcer) Check(ctx context.Context) error {
	now := a.Now()
	maxAge := a.MaxAge
	if maxAge <= 0 {
		maxAge = time.Hour
	}
	if err := a.Team.Refresh(ctx); err != nil {
		return err
	}
	var errs []error
	for _, name := range a.Team.Rotas() {
		r, err := a.Team.Rota(name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c, err := a.Team.Changes(ctx, name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cur := r.OnCallAt(c, now)
		if now.Sub(cur.Start) > maxAge {
			continue
		}
		prev := r.OnCallAt(c, cur.Start.Add(-time.Second))
		if prev.Member == cur.Member {
			continue
		}
		ok, err := a.Store.ClaimHandover(ctx, name, cur.Start, a.Node, now)
		if err != nil || !ok {
			errs = append(errs, err)
			continue
		}
		errs = append(errs, a.send(ctx, name, cur.Start, prev.Member, cur.Member))
	}
	return errors.Join(errs...)
}

func (a *Announcer) send(ctx context.Context, rotaName string, at time.Time, out, in string) error {
	incs, err := a.Incidents.List(ctx, incident.Filter{Status: []incident.Status{incident.StatusTriggered, incident.StatusAcknowledged}, Limit: 100})
	if err != nil {
		return err
	}
	var tickets []string
	if a.Tickets != nil {
		if tickets, err = a.Tickets.OpenTicketLines(ctx); err != nil && a.Logger != nil {
			a.Logger.Warn("handover: open tickets", "err", err)
		}
	}
	pages, err := a.Store.PagesSince(ctx, at.Add(-7*24*time.Hour))
	if err != nil {
		return err
	}
	subject, text := Summary(Input{Rota: rotaName, At: at, Outgoing: out, Incoming: in, Incidents: incs, Tickets: tickets, Pages: pages, Location: a.Location})
	var msgs []page.Message
	for _, id := range []string{out, in} {
		r, ok := a.Team.Recipient(id)
		if !ok {
			continue
		}
		msgs = append(msgs, page.Message{Key: fmt.Sprintf("handover/%s/%d/%s", rotaName, at.Unix(), id), Kind: page.KindHandover, To: r, Subject: subject, Text: text})
	}
	return a.Sender.Send(ctx, msgs...)
}
