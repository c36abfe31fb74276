// Package oncallapi owns the HTTP API of the on-call capability: who is on
// call, schedules, overrides, swaps and unavailability, the iCalendar feeds
// behind secret URLs, incidents with acknowledge and resolve, the signed
// acknowledge links of e-mail pages, Slack's interactivity endpoint
// (request signatures verified), and heartbeats. The Alertmanager webhook
// is package oncall/alertmanager's handler, mounted by the wiring.
package oncallapi

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Options configure the API.
type Options struct {
	Team        *team.Team
	Incidents   *incident.Service
	Heartbeats  *heartbeat.Monitor // optional
	Signer      page.Signer        // ack links; Key empty disables them
	LinkKey     string             // feed URL secrets; empty disables feeds
	BaseURL     string
	SlackSecret string // Slack signing secret; empty disables interactivity
	// SlackAPIURL is the Slack Web API base URL when it is not Slack's own
	// (tests): response URLs on its host are accepted besides
	// https://hooks.slack.com.
	SlackAPIURL  string
	MachineToken string                                                // Alertmanager token, also for heartbeats
	Notify       func(ctx context.Context, msgs ...page.Message) error // swap requests; optional
	Logger       *slog.Logger
	Now          func() time.Time
}

// API is the on-call HTTP API.
type API struct {
	o   Options
	srv *server.Server
}

// Register adds the routes to srv.
func Register(srv *server.Server, o Options) *API {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{o: o, srv: srv}
	srv.Handle("GET /api/v1/oncall/rotas", auth.RoleViewer, a.rotas)
	srv.Handle("GET /api/v1/oncall/now", auth.RoleViewer, a.now)
	srv.Handle("GET /api/v1/oncall/at", auth.RoleViewer, a.at)
	srv.Handle("GET /api/v1/oncall/schedule", auth.RoleViewer, a.schedule)
	srv.Handle("GET /api/v1/oncall/gaps", auth.RoleViewer, a.gaps)
	srv.Handle("GET /api/v1/oncall/fairness", auth.RoleViewer, a.fairness)
	srv.Handle("GET /api/v1/oncall/overrides", auth.RoleViewer, a.listOverrides)
	srv.Handle("POST /api/v1/oncall/overrides", auth.RoleOncall, a.addOverride)
	srv.Handle("DELETE /api/v1/oncall/overrides/{id}", auth.RoleOncall, a.deleteOverride)
	srv.Handle("GET /api/v1/oncall/swaps", auth.RoleViewer, a.listSwaps)
	srv.Handle("POST /api/v1/oncall/swaps", auth.RoleOncall, a.requestSwap)
	srv.Handle("POST /api/v1/oncall/swaps/{id}/{action}", auth.RoleOncall, a.decideSwap)
	srv.Handle("POST /api/v1/oncall/unavailability", auth.RoleOncall, a.addUnavailability)
	srv.Handle("GET /api/v1/oncall/feeds", auth.RoleAdmin, a.feeds)
	srv.Handle("GET /api/v1/oncall/feeds/mine", auth.RoleViewer, a.ownFeeds)
	srv.HandlePublic("GET /api/v1/oncall/feed/{rota}", a.feed)
	srv.HandlePublic("GET /api/v1/oncall/feed/{rota}/{member}", a.feed)
	srv.Handle("GET /api/v1/incidents", auth.RoleViewer, a.listIncidents)
	srv.Handle("POST /api/v1/incidents", auth.RoleOncall, a.createIncident)
	srv.Handle("GET /api/v1/incidents/{id}", auth.RoleViewer, a.getIncident)
	srv.Handle("POST /api/v1/incidents/{id}/ack", auth.RoleOncall, a.ackIncident)
	srv.Handle("POST /api/v1/incidents/{id}/resolve", auth.RoleOncall, a.resolveIncident)
	srv.HandlePublic("GET /api/v1/oncall/ack", a.ackLinkForm)
	srv.HandlePublic("POST /api/v1/oncall/ack", a.ackLink)
	srv.HandlePublic("POST /api/v1/slack/interactivity", a.slackInteractivity)
	srv.HandlePublic("POST /api/v1/heartbeats/{name}", a.beat)
	srv.Handle("GET /api/v1/heartbeats", auth.RoleViewer, a.listHeartbeats)
	return a
}

func (a *API) rotaParam(r *http.Request) (string, error) {
	name := r.URL.Query().Get("rota")
	if name == "" {
		name = a.o.Team.DefaultRota()
	}
	if _, err := a.o.Team.Rota(name); err != nil {
		return "", server.NotFound(err.Error())
	}
	return name, nil
}

func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339, e.g. 2026-03-29T01:30:00+01:00", s)
}

// ShiftView is a shift as the API shows it.
type ShiftView struct {
	Rota   string      `json:"rota"`
	Member string      `json:"member"`
	Name   string      `json:"name"`
	Start  time.Time   `json:"start"`
	End    time.Time   `json:"end"`
	Source rota.Source `json:"source"`
	Turn   int         `json:"turn"`
	Ref    string      `json:"ref,omitempty"`
}

func (a *API) view(rotaName string, s rota.Shift) ShiftView {
	m, _ := a.o.Team.Member(s.Member)
	return ShiftView{Rota: rotaName, Member: s.Member, Name: m.Name, Start: s.Start, End: s.End, Source: s.Source, Turn: s.Turn, Ref: s.Ref}
}

func (a *API) rotas(w http.ResponseWriter, r *http.Request) error {
	type rv struct {
		Name    string    `json:"name"`
		Spec    rota.Spec `json:"spec"`
		Current ShiftView `json:"current"`
		Next    ShiftView `json:"next"`
		InCover bool      `json:"in_cover"`
	}
	now := a.o.Now()
	var out []rv
	for _, name := range a.o.Team.Rotas() {
		rt, _ := a.o.Team.Rota(name)
		c, err := a.o.Team.Changes(r.Context(), name)
		if err != nil {
			return err
		}
		cur := rt.OnCallAt(c, now)
		out = append(out, rv{Name: name, Spec: rt.Spec(), Current: a.view(name, cur), Next: a.view(name, rt.OnCallAt(c, cur.End)), InCover: a.o.Team.InCover(name, now)})
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"rotas": out})
	return nil
}

func (a *API) shiftAt(w http.ResponseWriter, r *http.Request, at time.Time) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	s, err := a.o.Team.OnCallAt(r.Context(), name, at)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, a.view(name, s))
	return nil
}

func (a *API) now(w http.ResponseWriter, r *http.Request) error { return a.shiftAt(w, r, a.o.Now()) }

func (a *API) at(w http.ResponseWriter, r *http.Request) error {
	t, err := parseTime(r.URL.Query().Get("time"))
	if err != nil {
		return server.BadRequest(err.Error())
	}
	return a.shiftAt(w, r, t)
}

// span reads from (default now) and weeks (default 4, at most 104).
func (a *API) span(r *http.Request) (time.Time, time.Time, error) {
	q := r.URL.Query()
	from := a.o.Now()
	if s := q.Get("from"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			return from, from, server.BadRequest(err.Error())
		}
		from = t
	}
	weeks := 4
	if s := q.Get("weeks"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 104 {
			return from, from, server.BadRequest("weeks must be between 1 and 104")
		}
		weeks = n
	}
	to := from.AddDate(0, 0, 7*weeks)
	if s := q.Get("to"); s != "" {
		t, err := parseTime(s)
		if err != nil || !t.After(from) {
			return from, from, server.BadRequest("to must be a time after from")
		}
		to = t
	}
	return from, to, nil
}

func (a *API) schedule(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	from, to, err := a.span(r)
	if err != nil {
		return err
	}
	shifts, err := a.o.Team.Schedule(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	member := r.URL.Query().Get("member")
	out := []ShiftView{}
	for _, s := range shifts {
		if member == "" || s.Member == member {
			out = append(out, a.view(name, s))
		}
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"rota": name, "from": from, "to": to, "shifts": out})
	return nil
}

func (a *API) gaps(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	from, to, err := a.span(r)
	if err != nil {
		return err
	}
	g, err := a.o.Team.Gaps(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"rota": name, "gaps": g})
	return nil
}

func (a *API) fairness(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	from, to, err := a.span(r)
	if err != nil {
		return err
	}
	rows, err := a.o.Team.Fairness(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"rota": name, "from": from, "to": to, "members": rows})
	return nil
}

func actor(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Name
}

func teamErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, team.ErrNotFound), errors.Is(err, team.ErrUnknownRota):
		return server.NotFound(err.Error())
	case errors.Is(err, team.ErrUnknownMember), errors.Is(err, team.ErrInvalid):
		return server.BadRequest(err.Error())
	case errors.Is(err, team.ErrState):
		return server.Conflict(err.Error())
	}
	return err
}

func (a *API) listOverrides(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	list, err := a.o.Team.ListOverrides(r.Context(), name)
	if err != nil {
		return err
	}
	server.WriteList(w, "overrides", list)
	return nil
}

func (a *API) addOverride(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Rota   string    `json:"rota"`
		Member string    `json:"member"`
		Start  time.Time `json:"start"`
		End    time.Time `json:"end"`
		Reason string    `json:"reason"`
	}
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Rota == "" {
		req.Rota = a.o.Team.DefaultRota()
	}
	o, err := a.o.Team.AddOverride(r.Context(), team.OverrideRequest{Rota: req.Rota, Member: req.Member, Start: req.Start, End: req.End,
		Reason: req.Reason, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.override.add", o.ID, fmt.Sprintf("rota=%s member=%s", o.Rota, o.Member)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, o)
	return nil
}

func (a *API) deleteOverride(w http.ResponseWriter, r *http.Request) error {
	id, err := team.ParseID(r.PathValue("id"))
	if err != nil {
		return server.BadRequest(err.Error())
	}
	if err := a.o.Team.DeleteOverride(r.Context(), id, a.o.Now()); err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.override.delete", r.PathValue("id"), ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listSwaps(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	list, err := a.o.Team.ListSwaps(r.Context(), name)
	if err != nil {
		return err
	}
	server.WriteList(w, "swaps", list)
	return nil
}

func (a *API) requestSwap(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Rota        string    `json:"rota"`
		Requester   string    `json:"requester"`
		Counterpart string    `json:"counterpart"`
		Mine        time.Time `json:"mine"`   // an instant in the requester's turn
		Theirs      time.Time `json:"theirs"` // an instant in the counterpart's turn
		Note        string    `json:"note"`
	}
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Rota == "" {
		req.Rota = a.o.Team.DefaultRota()
	}
	s, err := a.o.Team.RequestSwap(r.Context(), team.SwapRequest{Rota: req.Rota, Requester: req.Requester, Counterpart: req.Counterpart,
		Mine: req.Mine, Theirs: req.Theirs, Note: req.Note, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.swap.request", s.ID, fmt.Sprintf("rota=%s %s<->%s", s.Rota, s.Requester, s.Counterpart)); err != nil {
		return err
	}
	a.announceSwap(r.Context(), s)
	server.WriteJSON(w, http.StatusCreated, s)
	return nil
}

// announceSwap asks the counterpart (Slack buttons, e-mail) to decide.
func (a *API) announceSwap(ctx context.Context, s team.SwapRecord) {
	if a.o.Notify == nil {
		return
	}
	m, ok := a.o.Team.SwapRequestMessage(s, "request", "Swap request from "+s.Requester, "")
	if !ok {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := a.o.Notify(ctx, m); err != nil {
			a.o.Logger.Warn("swap request notice", "swap", s.ID, "err", err)
		}
	}()
}

func (a *API) decideSwap(w http.ResponseWriter, r *http.Request) error {
	id, err := team.ParseID(r.PathValue("id"))
	if err != nil {
		return server.BadRequest(err.Error())
	}
	var to rota.SwapState
	switch r.PathValue("action") {
	case "accept":
		to = rota.SwapAccepted
	case "decline":
		to = rota.SwapDeclined
	case "cancel":
		to = rota.SwapCancelled
	default:
		return server.NotFound("action must be accept, decline or cancel")
	}
	s, err := a.o.Team.DecideSwap(r.Context(), id, to, "", actor(r), a.o.Now())
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.swap."+r.PathValue("action"), s.ID, ""); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, s)
	return nil
}

func (a *API) addUnavailability(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Member string    `json:"member"`
		Start  time.Time `json:"start"`
		End    time.Time `json:"end"`
		Reason string    `json:"reason"`
	}
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	id, err := a.o.Team.AddUnavailability(r.Context(), team.UnavailabilityRequest{Member: req.Member, Start: req.Start, End: req.End,
		Reason: req.Reason, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.unavailability.add", strconv.FormatInt(id, 10), "member="+req.Member); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, map[string]any{"id": id})
	return nil
}

// FeedSecret is the secret of a feed URL: HMAC-SHA256 of the rota and
// member (empty for the whole rota) under the link key, 32 hex digits.
func FeedSecret(key, rotaName, member string) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte("feed\x00" + rotaName + "\x00" + member))
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// FeedURL is a feed's secret URL.
func FeedURL(base, key, rotaName, member string) string {
	p := base + "/api/v1/oncall/feed/" + url.PathEscape(rotaName)
	if member != "" {
		p += "/" + url.PathEscape(member)
	}
	return p + "?key=" + FeedSecret(key, rotaName, member)
}

// rotaFeeds are one rota's member feed URLs, in rota order.
type rotaFeeds struct {
	rota    string
	members []memberFeed
}

type memberFeed struct{ member, url string }

// memberFeeds walks the rotas in configuration order and returns each
// with the feed URLs of those of its members that keep accepts.
func (a *API) memberFeeds(keep func(member string) bool) []rotaFeeds {
	var out []rotaFeeds
	for _, name := range a.o.Team.Rotas() {
		rt, _ := a.o.Team.Rota(name)
		rf := rotaFeeds{rota: name}
		for _, m := range rt.Spec().Members {
			if keep(m) {
				rf.members = append(rf.members, memberFeed{m, FeedURL(a.o.BaseURL, a.o.LinkKey, name, m)})
			}
		}
		out = append(out, rf)
	}
	return out
}

// feeds (admin) answers every rota's feed URL and each of its members'.
func (a *API) feeds(w http.ResponseWriter, r *http.Request) error {
	if a.o.LinkKey == "" {
		return server.NotFound("feeds need oncall.links.key")
	}
	out := map[string]any{}
	for _, rf := range a.memberFeeds(func(string) bool { return true }) {
		members := map[string]string{}
		for _, mf := range rf.members {
			members[mf.member] = mf.url
		}
		out[rf.rota] = map[string]any{"rota": FeedURL(a.o.BaseURL, a.o.LinkKey, rf.rota, ""), "members": members}
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"feeds": out})
	return nil
}

// ownFeeds (viewer and above) answers the feed URL of the caller's own
// turns in each rota whose members include the caller (member ID = the
// principal's name, case-insensitive: a web user's name; an API token's
// principal is "token:NAME", which names no member). A feed URL is a bearer credential that
// outlives the session and is revoked only by rotating oncall.links.key,
// so a user gets only the feed of their own turns; the whole-rota feeds
// and other members' feeds stay with feeds (admin). Answers
// {"feeds": {rota: url}}, empty when the links key is not set.
func (a *API) ownFeeds(w http.ResponseWriter, r *http.Request) error {
	out := map[string]string{}
	if a.o.LinkKey != "" {
		me := actor(r)
		for _, rf := range a.memberFeeds(func(m string) bool { return strings.EqualFold(m, me) }) {
			for _, mf := range rf.members {
				out[rf.rota] = mf.url
			}
		}
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"feeds": out})
	return nil
}

// feed serves the iCalendar feed of a rota (or one member in it): the
// past 4 weeks and the next 26 (RFC 5545, text/calendar).
func (a *API) feed(w http.ResponseWriter, r *http.Request) error {
	name, member := r.PathValue("rota"), r.PathValue("member")
	want := FeedSecret(a.o.LinkKey, name, member)
	if a.o.LinkKey == "" || subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("key")), []byte(want)) != 1 {
		return server.NotFound("no such feed")
	}
	rt, err := a.o.Team.Rota(name)
	if err != nil {
		return server.NotFound("no such feed")
	}
	if _, ok := a.o.Team.Member(member); member != "" && !ok {
		return server.NotFound("no such feed")
	}
	now := a.o.Now()
	from, to := now.AddDate(0, 0, -28), now.AddDate(0, 0, 7*26)
	shifts, err := a.o.Team.Schedule(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	body, err := rota.ICS(rt.Spec(), a.o.Team.Members(), shifts, rota.ICSOptions{Member: member, Stamp: now.Truncate(time.Second)})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, max-age=300")
	w.Header().Set("Content-Disposition", `inline; filename="`+name+`.ics"`)
	_, _ = w.Write(body)
	return nil
}

func incErr(err error) error {
	if errors.Is(err, incident.ErrNotFound) {
		return server.NotFound("no such incident")
	}
	return err
}

func (a *API) listIncidents(w http.ResponseWriter, r *http.Request) error {
	f := incident.Filter{Limit: 100}
	for _, s := range r.URL.Query()["status"] {
		for _, p := range strings.Split(s, ",") {
			switch st := incident.Status(p); st {
			case incident.StatusTriggered, incident.StatusAcknowledged, incident.StatusResolved:
				f.Status = append(f.Status, st)
			case "open":
				f.Status = append(f.Status, incident.StatusTriggered, incident.StatusAcknowledged)
			default:
				return server.BadRequest("status must be triggered, acknowledged, resolved or open")
			}
		}
	}
	limit, err := server.QueryInt(r.URL.Query(), "limit", 0, 1, 1000)
	if err != nil {
		return err
	}
	f.Limit = limit
	list, err := a.o.Incidents.List(r.Context(), f)
	if err != nil {
		return err
	}
	server.WriteList(w, "incidents", list)
	return nil
}

func (a *API) createIncident(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Title    string `json:"title"`
		Summary  string `json:"summary"`
		Severity string `json:"severity"`
		Policy   string `json:"policy"`
		Key      string `json:"key"`
	}
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Title) == "" {
		return server.BadRequest("title is required")
	}
	if req.Key == "" {
		req.Key = fmt.Sprintf("api/%d", a.o.Now().UnixNano())
	}
	inc, created, err := a.o.Incidents.Trigger(r.Context(), incident.Trigger{Key: req.Key, Source: "api", Title: req.Title, Summary: req.Summary,
		Severity: req.Severity, Policy: req.Policy, Actor: actor(r)})
	if err != nil {
		if strings.Contains(err.Error(), "unknown escalation policy") {
			return server.BadRequest(err.Error())
		}
		return err
	}
	if err := a.srv.Audit(r, "incident.open", strconv.FormatInt(inc.ID, 10), req.Title); err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	server.WriteJSON(w, status, inc)
	return nil
}

func (a *API) incidentID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, server.BadRequest("incident id must be a positive number")
	}
	return id, nil
}

func (a *API) getIncident(w http.ResponseWriter, r *http.Request) error {
	id, err := a.incidentID(r)
	if err != nil {
		return err
	}
	inc, err := a.o.Incidents.Get(r.Context(), id)
	if err != nil {
		return incErr(err)
	}
	events, err := a.o.Incidents.Events(r.Context(), id)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"incident": inc, "timeline": events})
	return nil
}

func (a *API) transition(w http.ResponseWriter, r *http.Request, ack bool) error {
	id, err := a.incidentID(r)
	if err != nil {
		return err
	}
	var (
		inc     incident.Incident
		changed bool
	)
	action := "incident.resolve"
	if ack {
		action = "incident.ack"
		inc, changed, err = a.o.Incidents.Ack(r.Context(), id, actor(r))
	} else {
		inc, changed, err = a.o.Incidents.Resolve(r.Context(), id, actor(r))
	}
	if err != nil {
		return incErr(err)
	}
	if changed {
		if err := a.srv.Audit(r, action, strconv.FormatInt(id, 10), ""); err != nil {
			return err
		}
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"incident": inc, "changed": changed})
	return nil
}

func (a *API) ackIncident(w http.ResponseWriter, r *http.Request) error {
	return a.transition(w, r, true)
}
func (a *API) resolveIncident(w http.ResponseWriter, r *http.Request) error {
	return a.transition(w, r, false)
}

var ackPage = template.Must(template.New("ack").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="robots" content="noindex"><title>postvakt: acknowledge incident #{{.ID}}</title></head>
<body><h1>Incident #{{.ID}}</h1><p>{{.Title}}</p><p>Status: {{.Status}}</p>
{{if .Open}}<form method="post" action="ack"><input type="hidden" name="t" value="{{.Token}}"><button type="submit">Acknowledge</button></form>{{end}}
{{if .Message}}<p>{{.Message}}</p>{{end}}</body></html>
`))

// ackLinkForm shows a confirmation form: a GET never changes state, so
// mail scanners that follow links do not acknowledge pages.
func (a *API) ackLinkForm(w http.ResponseWriter, r *http.Request) error {
	return a.ackLinkPage(w, r, r.URL.Query().Get("t"), false)
}

func (a *API) ackLink(w http.ResponseWriter, r *http.Request) error {
	if err := r.ParseForm(); err != nil {
		return server.BadRequest("bad form")
	}
	return a.ackLinkPage(w, r, r.PostForm.Get("t"), true)
}

func (a *API) ackLinkPage(w http.ResponseWriter, r *http.Request, token string, act bool) error {
	c, err := a.o.Signer.Verify(token)
	if err != nil || c.Action != "ack" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		msg := "This acknowledge link is not valid."
		if errors.Is(err, page.ErrExpiredLink) {
			msg = "This acknowledge link has expired."
		}
		_, _ = io.WriteString(w, msg+"\n")
		return nil
	}
	var inc incident.Incident
	msg := ""
	if act {
		var changed bool
		inc, changed, err = a.o.Incidents.Ack(r.Context(), c.IncidentID, "link:"+c.Member)
		if err != nil {
			return incErr(err)
		}
		msg = "Acknowledged. Escalation has stopped."
		if !changed {
			msg = "Nothing to do: the incident was already " + string(inc.Status) + "."
		}
	} else if inc, err = a.o.Incidents.Get(r.Context(), c.IncidentID); err != nil {
		return incErr(err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	return ackPage.Execute(w, map[string]any{"ID": inc.ID, "Title": inc.Title, "Status": inc.Status,
		"Open": !act && inc.Status == incident.StatusTriggered, "Token": token, "Message": msg})
}

// slackInteractivity handles Slack's block_actions: the Acknowledge and
// Resolve buttons of pages and the Accept and Decline buttons of swap
// requests. The request must carry a valid v0 signature over the raw body
// with a timestamp within five minutes; otherwise it answers 401 and
// changes nothing.
func (a *API) slackInteractivity(w http.ResponseWriter, r *http.Request) error {
	unauthorized := &server.Error{Status: http.StatusUnauthorized, Code: server.CodeUnauthorized, Message: "invalid Slack signature"}
	if a.o.SlackSecret == "" {
		return unauthorized
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 256<<10))
	if err != nil {
		return server.BadRequest("cannot read body")
	}
	ts, err := strconv.ParseInt(r.Header.Get("X-Slack-Request-Timestamp"), 10, 64)
	if err != nil || a.o.Now().Sub(time.Unix(ts, 0)).Abs() > 5*time.Minute {
		return unauthorized
	}
	sv, err := slack.NewSecretsVerifier(r.Header, a.o.SlackSecret)
	if err != nil {
		return unauthorized
	}
	if _, err := sv.Write(body); err != nil {
		return unauthorized
	}
	if err := sv.Ensure(); err != nil {
		return unauthorized
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return server.BadRequest("bad form")
	}
	var cb slack.InteractionCallback
	if err := cb.UnmarshalJSON([]byte(form.Get("payload"))); err != nil {
		return server.BadRequest("bad payload")
	}
	if cb.Type != slack.InteractionTypeBlockActions {
		w.WriteHeader(http.StatusOK)
		return nil
	}
	who := "slack:" + cb.User.ID
	member, known := a.o.Team.MemberBySlackID(cb.User.ID)
	if known {
		who = "slack:" + member.ID
	}
	var replies []string
	for _, act := range cb.ActionCallback.BlockActions {
		id, err := strconv.ParseInt(act.Value, 10, 64)
		if err != nil {
			continue
		}
		switch act.ActionID {
		case page.ActionAck, page.ActionResolve:
			var (
				inc     incident.Incident
				changed bool
			)
			if act.ActionID == page.ActionAck {
				inc, changed, err = a.o.Incidents.Ack(r.Context(), id, who)
			} else {
				inc, changed, err = a.o.Incidents.Resolve(r.Context(), id, who)
			}
			if err != nil {
				a.o.Logger.Warn("slack action", "action", act.ActionID, "incident", id, "err", err)
				continue
			}
			if changed {
				replies = append(replies, fmt.Sprintf("Incident #%d %s by %s.", inc.ID, inc.Status, who))
			} else {
				replies = append(replies, fmt.Sprintf("Incident #%d was already %s.", inc.ID, inc.Status))
			}
		case page.ActionSwapAccept, page.ActionSwapDecline:
			if !known {
				replies = append(replies, "Your Slack user is not a member of the rota.")
				continue
			}
			to := rota.SwapAccepted
			if act.ActionID == page.ActionSwapDecline {
				to = rota.SwapDeclined
			}
			s, err := a.o.Team.DecideSwap(r.Context(), id, to, member.ID, who, a.o.Now())
			if err != nil {
				replies = append(replies, "Swap: "+err.Error())
				continue
			}
			replies = append(replies, fmt.Sprintf("Swap %s is %s.", s.ID, s.State))
		}
	}
	if len(replies) > 0 && cb.ResponseURL != "" {
		a.updateSlackMessage(cb, strings.Join(replies, "\n"))
	}
	server.WriteJSON(w, http.StatusOK, map[string]any{"response_type": "ephemeral", "replace_original": false, "text": strings.Join(replies, "\n")})
	return nil
}

// updateSlackMessage replaces the message whose button was pressed with
// the same blocks without the buttons and a line saying what happened, so
// nobody presses them again. Slack shows nothing of the HTTP answer to a
// block action: the message is changed through the interaction's
// response_url, after the answer (Slack wants one within 3 seconds).
func (a *API) updateSlackMessage(cb slack.InteractionCallback, result string) {
	if !a.slackResponseURL(cb.ResponseURL) {
		a.o.Logger.Warn("slack: response_url not on Slack; message not updated", "host", hostOf(cb.ResponseURL))
		return
	}
	var blocks []slack.Block
	for _, b := range cb.Message.Blocks.BlockSet {
		if b.BlockType() != slack.MBTAction {
			blocks = append(blocks, b)
		}
	}
	blocks = append(blocks, slack.NewContextBlock("postvakt_result", slack.NewTextBlockObject(slack.MarkdownType, result, false, false)))
	text := strings.TrimSpace(cb.Message.Text + "\n" + result)
	msg := &slack.WebhookMessage{ReplaceOriginal: true, Text: text, Blocks: &slack.Blocks{BlockSet: blocks}}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := slack.PostWebhookContext(ctx, cb.ResponseURL, msg); err != nil {
			a.o.Logger.Warn("slack: update message", "err", err)
		}
	}()
}

// slackResponseURL reports whether u may receive the message update:
// Slack's hooks host, or the configured API URL's host (tests).
func (a *API) slackResponseURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	if p.Scheme == "https" && p.Host == "hooks.slack.com" {
		return true
	}
	api, err := url.Parse(a.o.SlackAPIURL)
	return a.o.SlackAPIURL != "" && err == nil && api.Scheme == p.Scheme && api.Host == p.Host
}

func hostOf(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Host
	}
	return ""
}

func (a *API) beat(w http.ResponseWriter, r *http.Request) error {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if a.o.MachineToken == "" || !strings.EqualFold(scheme, "Bearer") ||
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(a.o.MachineToken)) != 1 {
		return &server.Error{Status: http.StatusUnauthorized, Code: server.CodeUnauthorized, Message: "missing or wrong bearer token"}
	}
	if a.o.Heartbeats == nil {
		return server.NotFound("no such heartbeat")
	}
	if err := a.o.Heartbeats.Beat(r.Context(), r.PathValue("name")); err != nil {
		return server.NotFound(err.Error())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listHeartbeats(w http.ResponseWriter, r *http.Request) error {
	if a.o.Heartbeats == nil {
		server.WriteJSON(w, http.StatusOK, map[string]any{"heartbeats": []any{}})
		return nil
	}
	list, err := a.o.Heartbeats.Store.Heartbeats(r.Context())
	if err != nil {
		return err
	}
	server.WriteList(w, "heartbeats", list)
	return nil
}
