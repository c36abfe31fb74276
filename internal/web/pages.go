package web

import (
	"encoding/csv"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/api/accessapi"
	"github.com/uni-mail/postvakt/internal/api/collectorsapi"
	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/api/probeapi"
	"github.com/uni-mail/postvakt/internal/api/reportapi"
	"github.com/uni-mail/postvakt/internal/api/ticketapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/webauth"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/reports"
)

func (u *UI) routes() {
	s := u.o.Server
	m := func(pattern string, min auth.Role, fn pageFunc) { s.Mount(pattern, u.page(min, fn)) }
	m("GET /{$}", auth.RoleViewer, u.nowPage)
	m("GET /rota", auth.RoleViewer, u.rotaPage)
	m("POST /rota/overrides", auth.RoleOncall, u.addOverride)
	m("POST /rota/overrides/{id}/delete", auth.RoleOncall, u.deleteOverride)
	m("POST /rota/swaps", auth.RoleOncall, u.requestSwap)
	m("POST /rota/swaps/{id}/{action}", auth.RoleOncall, u.decideSwap)
	m("POST /rota/versions", auth.RolePostmaster, u.changeRota)
	m("POST /rota/versions/{id}/cancel", auth.RolePostmaster, u.cancelRotaChange)
	m("POST /rota/members", auth.RolePostmaster, u.addTeamMember)
	m("GET /tickets", auth.RoleViewer, u.ticketsPage)
	m("GET /tickets/new", auth.RoleHelpdesk, u.newTicketPage)
	m("POST /tickets", auth.RoleHelpdesk, u.openTicket)
	m("GET /tickets/{id}", auth.RoleViewer, u.ticketPage)
	m("POST /tickets/{id}/comment", auth.RoleHelpdesk, u.comment)
	m("POST /tickets/{id}/edit", auth.RoleHelpdesk, u.editTicket)
	m("POST /tickets/{id}/link", auth.RoleHelpdesk, u.linkTicket)
	m("POST /tickets/{id}/duplicate-of", auth.RoleOncall, u.duplicateOf)
	m("POST /tickets/{id}/{action}", auth.RoleOncall, u.ticketAction)
	m("GET /ticket-attachments/{id}", auth.RoleHelpdesk, u.ticketAttachment)
	m("GET /incidents", auth.RoleViewer, u.incidentsPage)
	m("GET /incidents/{id}", auth.RoleViewer, u.incidentPage)
	m("POST /incidents/{id}/{action}", auth.RoleOncall, u.incidentAction)
	m("GET /trace", auth.RoleHelpdesk, u.tracePage)
	m("GET /trace.csv", auth.RoleHelpdesk, u.traceCSV)
	m("GET /reports", auth.RoleViewer, u.reportsPage)
	m("POST /reports", auth.RolePostmaster, u.generateReport)
	m("GET /reports/tips", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request, v *view) error {
		redirect(w, r, "/reports/"+url.PathEscape(strings.TrimSpace(r.URL.Query().Get("period")))+"/tips", "")
		return nil
	})
	m("GET /reports/{period}/tips", auth.RoleViewer, u.tipsPage)
	m("POST /reports/{period}/tips", auth.RolePostmaster, u.saveTips)
	m("GET /reports/{period}/send", auth.RolePostmaster, u.reportSendPage)
	m("POST /reports/{period}/send", auth.RolePostmaster, u.sendReport)
	m("GET /admin", auth.RoleAdmin, u.adminPage)
	m("POST /admin/users", auth.RoleAdmin, u.addUser)
	m("POST /admin/users/{name}", auth.RoleAdmin, u.editUser)
	m("POST /admin/tokens", auth.RoleAdmin, u.createToken)
	m("POST /admin/tokens/{id}/revoke", auth.RoleAdmin, u.revokeToken)
	u.noticeRoutes(m)
	u.directoryRoutes(m)
	u.messageRoutes(m)
	u.unitRoutes(m)
	u.complaintRoutes(m)
}

// optional runs an API read whose capability may not be configured: off
// reports that it is not (its routes are absent) instead of failing the
// page.
func (u *UI) optional(r *http.Request, path string, out any) (off bool, err error) {
	err = u.call(r, http.MethodGet, path, nil, out)
	if notConfigured(err) {
		return true, nil
	}
	return false, err
}

// --- now ---

// nowView is the Now page: who is on call, open incidents and tickets,
// the service probes, the mail summary and the hourly flow of the last
// day. An …Off field says that the capability is not configured.
type nowView struct {
	Rotas        []oncallapi.RotaView
	RotasOff     bool
	Incidents    []incident.Incident
	IncidentsOff bool
	Tickets      []tickets.Ticket
	TicketsOff   bool
	Probes       []probe.State
	ProbesOff    bool                   // probes.enabled is false (the section says so)
	Mail         *collectorsapi.Summary // nil: collectors are not configured
	Flow         *flowView              // nil: no hours (collectors are not configured)
	Guide        []guideStep            // what is left to set up
	NoSources    bool                   // the collectors run, but nothing feeds them and nothing was imported
}

// flowView is the mail flow per hour as sparklines. Lag is how many of
// the messages the transaction log counts as received in the last 24
// hours the hourly rollups do not hold yet (they are computed every few
// minutes over collectors.rollup_lookback), so the page can say why the
// two differ rather than show them side by side unexplained.
type flowView struct {
	Received, Delivered, Rejected, Logins *sparkline
	Lag                                   int64
}

func (u *UI) nowPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Now", "now"
	d := &nowView{}
	v.Data = d
	var (
		rotas   oncallapi.RotasResponse
		inc     oncallapi.IncidentsResponse
		tk      ticketapi.TicketsResponse
		mail    collectorsapi.Summary
		traffic collectorsapi.Traffic
		probes  probeapi.ProbeList
		err     error
	)
	if d.RotasOff, err = u.optional(r, "/api/v1/oncall/rotas", &rotas); err != nil {
		return err
	}
	if d.IncidentsOff, err = u.optional(r, "/api/v1/incidents?status=open&limit=50", &inc); err != nil {
		return err
	}
	if d.TicketsOff, err = u.optional(r, "/api/v1/tickets?limit=50", &tk); err != nil {
		return err
	}
	mailOff, err := u.optional(r, "/api/v1/mail/summary", &mail)
	if err != nil {
		return err
	}
	if !mailOff {
		d.Mail = &mail
	}
	if _, err := u.optional(r, "/api/v1/traffic/hourly?hours=24", &traffic); err != nil {
		return err
	}
	if h := traffic.Hours; len(h) > 0 {
		d.Flow = &flowView{
			Received:  spark(h, func(x collectorsapi.TrafficHour) int64 { return x.Received }, "Messages received"),
			Delivered: spark(h, func(x collectorsapi.TrafficHour) int64 { return x.Delivered }, "Recipients delivered"),
			Rejected:  spark(h, func(x collectorsapi.TrafficHour) int64 { return x.Rejected }, "Recipients rejected"),
			Logins:    spark(h, func(x collectorsapi.TrafficHour) int64 { return x.Logins }, "Successful logins"),
		}
	}
	if d.Flow != nil && d.Mail != nil && d.Mail.Received > d.Flow.Received.Total {
		d.Flow.Lag = d.Mail.Received - d.Flow.Received.Total
	}
	// Nothing feeds the collectors and nothing was imported: the counts
	// would be zeros that mean "not measured", so say that instead.
	if d.Mail != nil && d.Mail.Messages == 0 && d.Mail.Received == 0 && u.o.Setup != nil && !u.o.Setup().LogSources &&
		(d.Flow == nil || (d.Flow.Received.Total == 0 && d.Flow.Logins.Total == 0)) {
		d.Mail, d.Flow, d.NoSources = nil, nil, true
	}
	probesOff, err := u.optional(r, "/api/v1/probes", &probes)
	if err != nil {
		return err
	}
	d.ProbesOff = probesOff || (u.o.Setup != nil && !u.o.Setup().Probes && len(probes.Probes) == 0)
	d.Rotas, d.Incidents, d.Tickets, d.Probes = rotas.Rotas, inc.Incidents, tk.Tickets, probes.Probes
	d.Guide = u.guide(r, v, len(d.Rotas) > 0)
	u.render(w, http.StatusOK, "now", v)
	return nil
}

// --- rota ---

// rotaView is the Rota page: each rota for the next Weeks weeks, and the
// team's members (for those on call and above).
type rotaView struct {
	Rotas    []rotaPart
	RotasOff bool
	Weeks    int
	People   []oncallapi.MemberView
}

// rotaPart is one rota on the Rota page: its members, shifts, overrides,
// swap requests and fairness counts, and the calendar feeds the user may
// see (MyFeed: the user's own turns; Feeds: every feed, for admins).
type rotaPart struct {
	Name      string
	Members   []string
	Shifts    []oncallapi.ShiftView
	Overrides []team.OverrideRecord
	Swaps     []team.SwapRecord
	Me        string // the member the user is, who decides their own swaps
	Fairness  []rota.FairnessRow
	MyFeed    string
	Feeds     *oncallapi.RotaFeeds
	// Versions and NextHandover: the rota's versions (past, in force,
	// scheduled, cancelled) and the earliest moment of a change, for
	// those on call and above; Current is the version in force now.
	Versions     []oncallapi.VersionView
	Current      *oncallapi.VersionView
	Latest       *oncallapi.VersionView // the last version in force or scheduled: what a new change builds on
	NextHandover time.Time
}

func (u *UI) rotaPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Rota", "rota"
	d := &rotaView{}
	v.Data = d
	var rotas oncallapi.RotasResponse
	off, err := u.optional(r, "/api/v1/oncall/rotas", &rotas)
	if err != nil {
		return err
	}
	if off {
		d.RotasOff = true
		u.render(w, http.StatusOK, "rota", v)
		return nil
	}
	weeks := 8
	if n, err := strconv.Atoi(r.URL.Query().Get("weeks")); err == nil && n >= 1 && n <= 52 {
		weeks = n
	}
	// Calendar feeds: a secret URL is a credential that outlives the
	// session, so everyone gets the feed of their own turns and only
	// admins get the whole-rota and other members' feeds. A read that
	// fails (no oncall.links.key) leaves the feeds out.
	var feeds oncallapi.FeedsResponse
	if v.Can("admin") {
		_ = u.call(r, http.MethodGet, "/api/v1/oncall/feeds", nil, &feeds)
	}
	var mine oncallapi.OwnFeedsResponse
	_ = u.call(r, http.MethodGet, "/api/v1/oncall/feeds/mine", nil, &mine)
	for _, rt := range rotas.Rotas {
		q := "?rota=" + url.QueryEscape(rt.Name)
		var (
			sched oncallapi.ScheduleResponse
			ov    oncallapi.OverridesResponse
			sw    oncallapi.SwapsResponse
			fair  oncallapi.FairnessResponse
		)
		for _, c := range []struct {
			path string
			dst  any
		}{
			{"/api/v1/oncall/schedule" + q + "&weeks=" + strconv.Itoa(weeks), &sched},
			{"/api/v1/oncall/overrides" + q, &ov},
			{"/api/v1/oncall/swaps" + q, &sw},
			{"/api/v1/oncall/fairness" + q + "&weeks=" + strconv.Itoa(weeks), &fair},
		} {
			if err := u.call(r, http.MethodGet, c.path, nil, c.dst); err != nil {
				return err
			}
		}
		part := rotaPart{Name: rt.Name, Members: rt.Spec.Members, Shifts: sched.Shifts, Overrides: ov.Overrides, Swaps: sw.Swaps,
			Me: sw.Me, Fairness: fair.Members, MyFeed: mine.Feeds[rt.Name]}
		if v.Can("oncall") {
			var vs oncallapi.VersionsResponse
			if err := u.call(r, http.MethodGet, "/api/v1/oncall/rotas/"+url.PathEscape(rt.Name)+"/versions", nil, &vs); err != nil {
				return err
			}
			part.Versions, part.NextHandover = vs.Versions, vs.NextHandover
			for i := range vs.Versions {
				switch vs.Versions[i].State {
				case oncallapi.VersionInForce:
					part.Current, part.Latest = &vs.Versions[i], &vs.Versions[i]
				case oncallapi.VersionScheduled:
					part.Latest = &vs.Versions[i]
				}
			}
		}
		if f, ok := feeds.Feeds[rt.Name]; ok {
			part.Feeds = &f
		}
		d.Rotas = append(d.Rotas, part)
	}
	if v.Can("oncall") {
		var ms oncallapi.MembersResponse
		if err := u.call(r, http.MethodGet, "/api/v1/oncall/members", nil, &ms); err != nil {
			return err
		}
		d.People = ms.Members
	}
	d.Weeks = weeks
	u.render(w, http.StatusOK, "rota", v)
	return nil
}

// changeRota is the form "Change the rota": the members in order, the
// handover, who takes the first turn, and when (empty: the next
// handover); docs/oncall.md, "Changing the rota".
func (u *UI) changeRota(w http.ResponseWriter, r *http.Request, v *view) error {
	name := r.PostFormValue("rota")
	body := oncallapi.RotaChangeRequest{Members: splitMembers(r.PostFormValue("members")), Every: strings.TrimSpace(r.PostFormValue("every")),
		HandoverWeekday: r.PostFormValue("handover_weekday"), HandoverTime: strings.TrimSpace(r.PostFormValue("handover_time")),
		First: r.PostFormValue("first"), Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if body.Members == nil {
		return &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: "members: list the members in duty order, e.g. ana, bjorn, chen"}
	}
	if strings.TrimSpace(r.PostFormValue("effective")) != "" {
		t, err := u.formTime(r, "effective")
		if err != nil {
			return err
		}
		body.Effective = t
	}
	if err := u.call(r, http.MethodPost, "/api/v1/oncall/rotas/"+url.PathEscape(name)+"/versions", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/rota", "saved")
	return nil
}

func splitMembers(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
		out = append(out, f)
	}
	return out
}

func (u *UI) cancelRotaChange(w http.ResponseWriter, r *http.Request, v *view) error {
	path := "/api/v1/oncall/rotas/" + url.PathEscape(r.PostFormValue("rota")) + "/versions/" + url.PathEscape(r.PathValue("id"))
	if err := u.call(r, http.MethodDelete, path, nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/rota", "saved")
	return nil
}

// addTeamMember is the form "Add a person": a member of the team, who can
// then be added to a rota.
func (u *UI) addTeamMember(w http.ResponseWriter, r *http.Request, v *view) error {
	body := oncallapi.MemberRequest{ID: strings.TrimSpace(r.PostFormValue("id")), Name: strings.TrimSpace(r.PostFormValue("name")),
		Email: strings.TrimSpace(r.PostFormValue("email")), SlackID: strings.TrimSpace(r.PostFormValue("slack_id")),
		Phone: strings.TrimSpace(r.PostFormValue("phone"))}
	if err := u.call(r, http.MethodPost, "/api/v1/oncall/members", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/rota", "saved")
	return nil
}

// formTime reads a datetime-local field (or any time of the one grammar,
// config/timezone) in the service time zone.
func (u *UI) formTime(r *http.Request, field string) (time.Time, error) {
	s := strings.TrimSpace(r.PostFormValue(field))
	t, err := timezone.Parse(s, u.o.Now(), u.o.Location)
	if err == nil && t.IsZero() {
		err = errors.New("required")
	}
	if err != nil {
		return time.Time{}, &apiError{Status: http.StatusBadRequest, Code: "bad_request",
			Message: fmt.Sprintf("%s: give a date and time in %s, e.g. 2026-11-23T09:00 (%v)", field, timezone.Name(u.o.Location), err)}
	}
	return t, nil
}

func (u *UI) addOverride(w http.ResponseWriter, r *http.Request, v *view) error {
	start, err := u.formTime(r, "start")
	if err != nil {
		return err
	}
	end, err := u.formTime(r, "end")
	if err != nil {
		return err
	}
	body := oncallapi.OverrideRequest{Rota: r.PostFormValue("rota"), Member: r.PostFormValue("member"), Start: start, End: end,
		Reason: r.PostFormValue("reason")}
	if err := u.call(r, http.MethodPost, "/api/v1/oncall/overrides", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/rota", "saved")
	return nil
}

func (u *UI) deleteOverride(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := u.call(r, http.MethodDelete, "/api/v1/oncall/overrides/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/rota", "saved")
	return nil
}

func (u *UI) requestSwap(w http.ResponseWriter, r *http.Request, v *view) error {
	mine, err := u.formTime(r, "mine")
	if err != nil {
		return err
	}
	theirs, err := u.formTime(r, "theirs")
	if err != nil {
		return err
	}
	body := oncallapi.SwapRequest{Rota: r.PostFormValue("rota"), Requester: r.PostFormValue("requester"),
		Counterpart: r.PostFormValue("counterpart"), Mine: mine, Theirs: theirs, Note: r.PostFormValue("note")}
	if err := u.call(r, http.MethodPost, "/api/v1/oncall/swaps", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/rota", "requested")
	return nil
}

func (u *UI) decideSwap(w http.ResponseWriter, r *http.Request, v *view) error {
	path := "/api/v1/oncall/swaps/" + url.PathEscape(r.PathValue("id")) + "/" + url.PathEscape(r.PathValue("action"))
	if err := u.call(r, http.MethodPost, path, nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/rota", "done")
	return nil
}

// --- tickets ---

// ticketsView is the ticket list: the tickets the filter selects, and the
// link to a longer list when the page is full.
type ticketsView struct {
	Tickets    []tickets.Ticket
	TicketsOff bool
	More       string
	Filter     ticketFilter
	Choices    ticketChoices
}

// ticketFilter is the ticket list's filter form as given.
type ticketFilter struct {
	State, Service, Severity, Assignee string
	All                                bool
}

func (u *UI) ticketsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Tickets", "tickets"
	q := r.URL.Query()
	d := &ticketsView{Filter: ticketFilter{State: q.Get("state"), Service: q.Get("service"), Severity: q.Get("severity"),
		Assignee: q.Get("assignee"), All: q.Get("all") == "true"}}
	v.Data = d
	api := url.Values{}
	for _, k := range []string{"state", "service", "severity", "assignee"} {
		if x := strings.TrimSpace(q.Get(k)); x != "" {
			api.Set(k, x)
		}
	}
	if q.Get("all") == "true" {
		api.Set("all", "true")
	}
	limit := 50
	if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 && n <= 1000 {
		limit = n
	}
	api.Set("limit", strconv.Itoa(limit))
	var tk ticketapi.TicketsResponse
	var err error
	if d.TicketsOff, err = u.optional(r, "/api/v1/tickets?"+api.Encode(), &tk); err != nil {
		return err
	}
	if len(tk.Tickets) == limit && limit < 1000 {
		more := r.URL.Query()
		more.Set("limit", strconv.Itoa(min(limit*2, 1000)))
		d.More = "/tickets?" + more.Encode()
	}
	d.Tickets = tk.Tickets
	d.Choices = u.ticketChoices(r, v, d.Tickets, d.Filter.Assignee)
	u.render(w, http.StatusOK, "tickets", v)
	return nil
}

// ticketFormView is the form that opens a ticket: the configured choices.
type ticketFormView struct {
	Services        []tickets.ServiceComponent
	Severities      []string
	Sources         []string
	DefaultSeverity string
}

func (u *UI) newTicketPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Open a ticket", "tickets"
	v.Data = ticketFormView{Services: u.o.Tickets.Services, Severities: u.o.Tickets.Severities, Sources: tickets.Sources,
		DefaultSeverity: u.o.Tickets.DefaultSeverity}
	u.render(w, http.StatusOK, "ticket_new", v)
	return nil
}

func (u *UI) openTicket(w http.ResponseWriter, r *http.Request, v *view) error {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	body := tickets.OpenRequest{Title: f("title"), Service: f("service"), Severity: f("severity"), Source: f("source"),
		Reporter: f("reporter"), ReporterEmail: f("reporter_email"), Symptoms: f("symptoms"), HandlingPlan: f("handling_plan"),
		Assignee: f("assignee")}
	var t tickets.Ticket
	if err := u.call(r, http.MethodPost, "/api/v1/tickets", body, &t); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/tickets/%d", t.ID), "opened")
	return nil
}

// ticketView is a ticket's page, with the choices of its edit forms.
type ticketView struct {
	Ticket  ticketapi.TicketResponse
	Choices ticketChoices
	// Attachments are the ticket's files (shown to helpdesk and above).
	Attachments []tickets.Attachment
}

func (u *UI) ticketPage(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &apiError{Status: http.StatusNotFound, Message: "no such ticket"}
	}
	var t ticketapi.TicketResponse
	if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/tickets/%d", id), nil, &t); err != nil {
		return err
	}
	v.Title, v.Nav = fmt.Sprintf("Ticket %d", id), "tickets"
	d := ticketView{Ticket: t, Choices: u.ticketChoices(r, v, []tickets.Ticket{t.Ticket}, t.Assignee)}
	if v.Can(string(auth.RoleHelpdesk)) {
		var al ticketapi.AttachmentsResponse
		if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/tickets/%d/attachments", id), nil, &al); err != nil {
			return err
		}
		d.Attachments = al.Attachments
	}
	v.Data = d
	u.render(w, http.StatusOK, "ticket", v)
	return nil
}

// ticketAttachment downloads an attachment through the API, as the API
// serves it (a download, nosniff).
func (u *UI) ticketAttachment(w http.ResponseWriter, r *http.Request, v *view) error {
	rec, err := u.raw(r, http.MethodGet, "/api/v1/ticket-attachments/"+url.PathEscape(r.PathValue("id")), nil)
	if err != nil {
		return err
	}
	for _, k := range []string{"Content-Type", "Content-Disposition", "X-Content-Type-Options", "Content-Length", "X-Attachment-SHA256"} {
		w.Header().Set(k, rec.h.Get(k))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(rec.body.Bytes())
	return nil
}

// duplicateOf marks the ticket as a duplicate of the one named.
func (u *UI) duplicateOf(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	parent, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("parent")), "#"), 10, 64)
	if err != nil || parent <= 0 {
		return &apiError{Status: http.StatusBadRequest, Message: "name the ticket being handled by its number"}
	}
	if err := u.call(r, http.MethodPost, "/api/v1/tickets/"+url.PathEscape(id)+"/duplicate-of", ticketapi.DuplicateRequest{Parent: parent}, nil); err != nil {
		return err
	}
	redirect(w, r, "/tickets/"+url.PathEscape(id), "saved")
	return nil
}

func (u *UI) comment(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	body := tickets.CommentRequest{Body: r.PostFormValue("body"), Public: r.PostFormValue("public") == "on"}
	if err := u.call(r, http.MethodPost, "/api/v1/tickets/"+url.PathEscape(id)+"/comments", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/tickets/"+url.PathEscape(id), "commented")
	return nil
}

func (u *UI) ticketAction(w http.ResponseWriter, r *http.Request, v *view) error {
	id, action := r.PathValue("id"), r.PathValue("action")
	body := tickets.ActRequest{Note: strings.TrimSpace(r.PostFormValue("note"))}
	if err := u.call(r, http.MethodPost, "/api/v1/tickets/"+url.PathEscape(id)+"/"+url.PathEscape(action), body, nil); err != nil {
		return err
	}
	redirect(w, r, "/tickets/"+url.PathEscape(id), "saved")
	return nil
}

// --- incidents ---

// incidentsView is the incident list of one status.
type incidentsView struct {
	Incidents    []incident.Incident
	IncidentsOff bool
	Status       string
}

func (u *UI) incidentsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Incidents", "incidents"
	status := r.URL.Query().Get("status")
	if status != "open" && status != "resolved" && status != "triggered" && status != "acknowledged" {
		status = "open"
	}
	d := &incidentsView{Status: status}
	v.Data = d
	var inc oncallapi.IncidentsResponse
	var err error
	if d.IncidentsOff, err = u.optional(r, "/api/v1/incidents?limit=100&status="+status, &inc); err != nil {
		return err
	}
	d.Incidents = inc.Incidents
	u.render(w, http.StatusOK, "incidents", v)
	return nil
}

// --- trace ---

var traceFields = []string{"from", "to", "msgid", "queue_id", "ip", "status", "direction", "subject", "since", "until"}

// tracePeriods are the period choices of the trace form: a duration
// before now, as the API's since= takes it.
var tracePeriods = []struct{ Value, Label string }{
	{"24h", "last 24 hours"}, {"168h", "last 7 days"}, {"720h", "last 30 days"}, {"2160h", "last 90 days"},
}

// traceQuery is the API query of a trace form: its fields, the period
// (since= when no since is given), and fold — on unless the form says
// off (the form sends fold=0 and, when ticked, fold=1 after it).
func traceQuery(r *http.Request) (url.Values, bool) {
	q, out, any := r.URL.Query(), url.Values{}, false
	for _, k := range traceFields {
		if x := strings.TrimSpace(q.Get(k)); x != "" {
			out.Set(k, x)
			if k != "since" && k != "until" && k != "direction" {
				any = true
			}
		}
	}
	if p := q.Get("period"); p != "" && out.Get("since") == "" {
		for _, c := range tracePeriods {
			if c.Value == p {
				out.Set("since", p)
			}
		}
	}
	out.Set("fold", "1")
	if f := q["fold"]; len(f) > 0 && f[len(f)-1] != "1" {
		out.Set("fold", "0")
	}
	if o := q.Get("offset"); o != "" {
		out.Set("offset", o)
	}
	return out, any
}

// traceView is the trace page: the search form as given (Query), and after
// a search its page of results or the API's complaint about the query.
type traceView struct {
	Query    url.Values
	Masked   bool // subjects are masked for the user's role
	TraceOff bool
	Searched bool
	Error    string
	Page     *collectorsapi.TracePage // nil: no results (not searched, or an error)
	CSV      string
	Next     string
	// the choices of the form's selects
	Period     string
	Periods    []struct{ Value, Label string }
	Statuses   []string
	Directions []string
	Fold       bool
	// First and Last number the page's results (1-based) out of Page.Total.
	First, Last int
}

func (u *UI) tracePage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Trace", "trace"
	q, search := traceQuery(r)
	from := u.o.SubjectsFrom
	if from == "" {
		from = auth.RolePostmaster
	}
	d := &traceView{Query: url.Values{}, Masked: !v.User.Role.AtLeast(from), Periods: tracePeriods,
		Statuses: txlog.Statuses(), Fold: q.Get("fold") == "1", Period: r.URL.Query().Get("period")}
	for _, dir := range txlog.Directions() {
		d.Directions = append(d.Directions, string(dir))
	}
	for _, k := range traceFields {
		if x := strings.TrimSpace(r.URL.Query().Get(k)); x != "" {
			d.Query.Set(k, x)
		}
	}
	// a since that is one of the periods (a link, the next page) is shown
	// as that choice
	for _, c := range tracePeriods {
		if d.Period == "" && d.Query.Get("since") == c.Value && d.Query.Get("until") == "" {
			d.Period = c.Value
			d.Query.Del("since")
		}
	}
	v.Data = d
	if search {
		var page collectorsapi.TracePage
		err := u.call(r, http.MethodGet, "/api/v1/trace?"+q.Encode(), nil, &page)
		if err != nil {
			if notConfigured(err) {
				d.TraceOff = true
			} else if ae, ok := err.(*apiError); ok && ae.Status == http.StatusBadRequest {
				d.Error = ae.Message
			} else {
				return err
			}
		} else {
			d.Page = &page
			if len(page.Messages) > 0 {
				d.First, d.Last = page.Offset+1, page.Offset+len(page.Messages)
			}
		}
		d.Searched, d.CSV = true, "/trace.csv?"+q.Encode()
		if d.Page != nil && page.NextOffset > 0 {
			q.Set("offset", strconv.Itoa(page.NextOffset))
			d.Next = "/trace?" + q.Encode()
		}
	}
	u.render(w, http.StatusOK, "trace", v)
	return nil
}

// traceCSV exports a trace search, one row per message and recipient.
func (u *UI) traceCSV(w http.ResponseWriter, r *http.Request, v *view) error {
	q, search := traceQuery(r)
	if !search {
		return &apiError{Status: http.StatusBadRequest, Message: "give at least one search field"}
	}
	q.Set("limit", "10000")
	var page collectorsapi.TracePage
	if err := u.call(r, http.MethodGet, "/api/v1/trace?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="postvakt-trace.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"first_seen", "last_seen", "direction", "from", "recipient", "recipient_state", "subject", "message_id", "queue_ids", "client_ip", "state", "auth_results", "original_from"})
	for _, m := range page.Messages {
		rcpts := m.Recipients
		if len(rcpts) == 0 {
			rcpts = []trace.Recipient{{}}
		}
		for _, rc := range rcpts {
			_ = cw.Write([]string{csvTime(m.FirstSeen), csvTime(m.LastSeen), m.Direction, csvSafe(m.From),
				csvSafe(rc.Rcpt), rc.Status, csvSafe(m.Subject), csvSafe(m.MessageID),
				strings.Join(m.QueueIDs, " "), m.ClientIP, m.State, csvSafe(m.AuthResults), csvSafe(m.OriginalFrom)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvTime writes an instant as the API does (RFC 3339 with nanoseconds).
func csvTime(t time.Time) string { return t.Format(time.RFC3339Nano) }

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// --- reports ---

// reportsView is the report archive.
type reportsView struct {
	Reports    []reportapi.Report
	ReportsOff bool
}

func (u *UI) reportsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Reports", "reports"
	d := &reportsView{}
	v.Data = d
	var list reportapi.ReportList
	var err error
	if d.ReportsOff, err = u.optional(r, "/api/v1/reports?limit=60", &list); err != nil {
		return err
	}
	d.Reports = list.Reports
	u.render(w, http.StatusOK, "reports", v)
	return nil
}

func (u *UI) generateReport(w http.ResponseWriter, r *http.Request, v *view) error {
	body := reportapi.GenerateRequest{Period: strings.TrimSpace(r.PostFormValue("period"))}
	if c := strings.TrimSpace(r.PostFormValue("comment")); c != "" {
		body.Comment = &c
	}
	if err := u.call(r, http.MethodPost, "/api/v1/reports", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/reports", "generated")
	return nil
}

// tipsView is the questions and tips of a period: the entries, and for
// the form the entries and three empty rows to add more.
type tipsView struct {
	Period string
	Tips   []reports.Tip
	Rows   []tipRow
}

type tipRow struct {
	N                int
	Question, Answer string
}

// tipsFormRows is how many empty rows the form offers beyond the entries.
const tipsFormRows = 3

func (u *UI) tipsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	var t reportapi.Tips
	if err := u.call(r, http.MethodGet, "/api/v1/reports/"+url.PathEscape(r.PathValue("period"))+"/tips", nil, &t); err != nil {
		return err
	}
	v.Title, v.Nav = "Questions and tips "+t.Period, "reports"
	d := tipsView{Period: t.Period, Tips: t.Tips}
	for i, tip := range t.Tips {
		d.Rows = append(d.Rows, tipRow{N: i + 1, Question: tip.Question, Answer: tip.Answer})
	}
	for i := range tipsFormRows {
		d.Rows = append(d.Rows, tipRow{N: len(t.Tips) + i + 1})
	}
	v.Data = d
	u.render(w, http.StatusOK, "report_tips", v)
	return nil
}

// saveTips replaces the period's questions and tips with the form's
// rows; a row with neither a question nor an answer is left out.
func (u *UI) saveTips(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := r.ParseForm(); err != nil {
		return &apiError{Status: http.StatusBadRequest, Message: "bad form"}
	}
	qs, as := r.PostForm["question"], r.PostForm["answer"]
	if len(qs) != len(as) {
		return &apiError{Status: http.StatusBadRequest, Message: "every question needs its answer field"}
	}
	body := reportapi.Tips{Tips: []reports.Tip{}}
	for i := range qs {
		q, a := strings.TrimSpace(qs[i]), strings.TrimSpace(as[i])
		if q == "" && a == "" {
			continue
		}
		body.Tips = append(body.Tips, reports.Tip{Question: q, Answer: a})
	}
	period := r.PathValue("period")
	if err := u.call(r, http.MethodPut, "/api/v1/reports/"+url.PathEscape(period)+"/tips", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/reports/"+url.PathEscape(period)+"/tips", "saved")
	return nil
}

// --- admin ---

// adminView is the admin page: the web users, the API tokens, the audit
// log of the last 7 days (newest 200) and the roles to choose from.
type adminView struct {
	Users  []webauth.User
	Tokens []accessapi.TokenView
	Audit  []auth.AuditEntry
	Roles  []auth.Role
}

func (u *UI) adminPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Admin", "admin"
	users, err := u.o.Auth.Users(r.Context())
	if err != nil {
		return err
	}
	var tokens accessapi.TokenList
	if err := u.call(r, http.MethodGet, "/api/v1/tokens", nil, &tokens); err != nil {
		return err
	}
	var audit accessapi.AuditList
	since := u.o.Now().Add(-7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if err := u.call(r, http.MethodGet, "/api/v1/audit?since="+url.QueryEscape(since), nil, &audit); err != nil {
		return err
	}
	if len(audit.Entries) > 200 {
		audit.Entries = audit.Entries[:200]
	}
	v.Data = adminView{Users: users, Tokens: tokens.Tokens, Audit: audit.Entries, Roles: auth.Roles()}
	u.render(w, http.StatusOK, "admin", v)
	return nil
}

func userErr(err error) error {
	switch {
	case err == nil:
		return nil
	case isErr(err, webauth.ErrInvalid):
		return &apiError{Status: http.StatusBadRequest, Message: err.Error()}
	case isErr(err, webauth.ErrNoUser):
		return &apiError{Status: http.StatusNotFound, Message: "no such user"}
	case strings.Contains(err.Error(), "conflict"):
		return &apiError{Status: http.StatusConflict, Message: "that user name is taken"}
	}
	return err
}

func (u *UI) addUser(w http.ResponseWriter, r *http.Request, v *view) error {
	usr, err := u.o.Auth.AddUser(r.Context(), r.PostFormValue("name"), r.PostFormValue("display_name"),
		r.PostFormValue("role"), r.PostFormValue("password"))
	if err := userErr(err); err != nil {
		return err
	}
	if err := u.o.Server.Audit(r, "user.add", "user:"+usr.Name, "role="+string(usr.Role)); err != nil {
		return err
	}
	redirect(w, r, "/admin", "user")
	return nil
}

func (u *UI) editUser(w http.ResponseWriter, r *http.Request, v *view) error {
	name := r.PathValue("name")
	var (
		usr    webauth.User
		err    error
		action string
		detail string
	)
	switch r.PostFormValue("op") {
	case "role":
		usr, err = u.o.Auth.SetRole(r.Context(), name, r.PostFormValue("role"))
		action, detail = "user.role", "role="+r.PostFormValue("role")
	case "disable", "enable":
		if webauth.NormalizeName(name) == v.User.Name {
			return &apiError{Status: http.StatusBadRequest, Message: "you cannot disable yourself"}
		}
		usr, err = u.o.Auth.SetDisabled(r.Context(), name, r.PostFormValue("op") == "disable")
		action = "user." + r.PostFormValue("op")
	case "password":
		usr, err = u.o.Auth.SetPassword(r.Context(), name, r.PostFormValue("password"))
		action = "user.passwd"
	default:
		return &apiError{Status: http.StatusBadRequest, Message: "unknown operation"}
	}
	if err := userErr(err); err != nil {
		return err
	}
	if err := u.o.Server.Audit(r, action, "user:"+usr.Name, detail); err != nil {
		return err
	}
	redirect(w, r, "/admin", "user")
	return nil
}

func (u *UI) createToken(w http.ResponseWriter, r *http.Request, v *view) error {
	body := accessapi.CreateTokenRequest{Name: r.PostFormValue("name"), Role: r.PostFormValue("role"), ExpiresIn: r.PostFormValue("expires_in")}
	var out accessapi.CreatedToken
	if err := u.call(r, http.MethodPost, "/api/v1/tokens", body, &out); err != nil {
		return err
	}
	// The secret is shown once, on this answer, never stored.
	v.Title, v.Nav = "New API token", "admin"
	v.Data = out
	u.render(w, http.StatusOK, "token", v)
	return nil
}

func (u *UI) revokeToken(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := u.call(r, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/admin", "revoked")
	return nil
}
