package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/webauth"
	"github.com/uni-mail/postvakt/oncall/tickets"
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
	m("GET /tickets", auth.RoleViewer, u.ticketsPage)
	m("GET /tickets/new", auth.RoleHelpdesk, u.newTicketPage)
	m("POST /tickets", auth.RoleHelpdesk, u.openTicket)
	m("GET /tickets/{id}", auth.RoleViewer, u.ticketPage)
	m("POST /tickets/{id}/comment", auth.RoleHelpdesk, u.comment)
	m("POST /tickets/{id}/{action}", auth.RoleOncall, u.ticketAction)
	m("GET /incidents", auth.RoleViewer, u.incidentsPage)
	m("POST /incidents/{id}/{action}", auth.RoleOncall, u.incidentAction)
	m("GET /trace", auth.RoleHelpdesk, u.tracePage)
	m("GET /trace.csv", auth.RoleHelpdesk, u.traceCSV)
	m("GET /reports", auth.RoleViewer, u.reportsPage)
	m("POST /reports", auth.RolePostmaster, u.generateReport)
	m("GET /admin", auth.RoleAdmin, u.adminPage)
	m("POST /admin/users", auth.RoleAdmin, u.addUser)
	m("POST /admin/users/{name}", auth.RoleAdmin, u.editUser)
	m("POST /admin/tokens", auth.RoleAdmin, u.createToken)
	m("POST /admin/tokens/{id}/revoke", auth.RoleAdmin, u.revokeToken)
	u.noticeRoutes(m)
	u.directoryRoutes(m)
}

type obj = map[string]any

// optional runs an API read whose capability may not be configured: it
// records "off" under key instead of failing the page.
func (u *UI) optional(r *http.Request, v *view, key, path string, out any) error {
	err := u.call(r, http.MethodGet, path, nil, out)
	if notConfigured(err) {
		v.Data[key+"Off"] = true
		return nil
	}
	return err
}

// --- now ---

func (u *UI) nowPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Now", "now"
	var rotas struct{ Rotas []obj }
	var inc struct{ Incidents []obj }
	var tk struct{ Tickets []obj }
	var mail obj
	if err := u.optional(r, v, "Rotas", "/api/v1/oncall/rotas", &rotas); err != nil {
		return err
	}
	if err := u.optional(r, v, "Incidents", "/api/v1/incidents?status=open&limit=50", &inc); err != nil {
		return err
	}
	if err := u.optional(r, v, "Tickets", "/api/v1/tickets?limit=50", &tk); err != nil {
		return err
	}
	if err := u.optional(r, v, "Mail", "/api/v1/mail/summary", &mail); err != nil {
		return err
	}
	var traffic struct{ Hours []obj }
	if err := u.optional(r, v, "Traffic", "/api/v1/traffic/hourly?hours=24", &traffic); err != nil {
		return err
	}
	v.Data["Traffic"] = traffic.Hours
	var probes struct{ Probes []obj }
	if err := u.optional(r, v, "Probes", "/api/v1/probes", &probes); err != nil {
		return err
	}
	v.Data["Probes"] = probes.Probes
	v.Data["Rotas"], v.Data["Incidents"], v.Data["Tickets"], v.Data["Mail"] = rotas.Rotas, inc.Incidents, tk.Tickets, mail
	u.render(w, http.StatusOK, "now", v)
	return nil
}

// --- rota ---

func (u *UI) rotaPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Rota", "rota"
	var rotas struct{ Rotas []obj }
	if err := u.optional(r, v, "Rotas", "/api/v1/oncall/rotas", &rotas); err != nil || v.Data["RotasOff"] != nil {
		if err != nil {
			return err
		}
		u.render(w, http.StatusOK, "rota", v)
		return nil
	}
	weeks := 8
	if n, err := strconv.Atoi(r.URL.Query().Get("weeks")); err == nil && n >= 1 && n <= 52 {
		weeks = n
	}
	var out []obj
	for _, rt := range rotas.Rotas {
		name, _ := rt["name"].(string)
		q := "?rota=" + url.QueryEscape(name)
		var sched, ov, sw, fair obj
		for _, c := range []struct {
			path string
			dst  *obj
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
		spec, _ := rt["spec"].(obj)
		out = append(out, obj{"Name": name, "Rota": rt, "Members": spec["Members"], "Shifts": sched["shifts"],
			"Overrides": ov["overrides"], "Swaps": sw["swaps"], "Fairness": fair["members"]})
	}
	// Calendar feeds: a secret URL is a credential that outlives the
	// session, so everyone gets the feed of their own turns and only
	// admins get the whole-rota and other members' feeds.
	if v.Can("admin") {
		var feeds struct{ Feeds obj }
		if err := u.call(r, http.MethodGet, "/api/v1/oncall/feeds", nil, &feeds); err == nil {
			v.Data["Feeds"] = feeds.Feeds
		}
	}
	var mine struct{ Feeds obj }
	if err := u.call(r, http.MethodGet, "/api/v1/oncall/feeds/mine", nil, &mine); err == nil {
		v.Data["MyFeeds"] = mine.Feeds
	}
	v.Data["Rotas"], v.Data["Weeks"] = out, weeks
	u.render(w, http.StatusOK, "rota", v)
	return nil
}

// formTime reads a datetime-local field in the service's zone.
func (u *UI) formTime(r *http.Request, field string) (string, error) {
	s := strings.TrimSpace(r.PostFormValue(field))
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02 15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.ParseInLocation(layout, s, u.o.Location); err == nil {
			return t.Format(time.RFC3339), nil
		}
	}
	return "", &apiError{Status: http.StatusBadRequest, Code: "bad_request", Message: field + ": give a date and time, e.g. 2026-11-23T09:00"}
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
	body := obj{"rota": r.PostFormValue("rota"), "member": r.PostFormValue("member"), "start": start, "end": end,
		"reason": r.PostFormValue("reason")}
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
	body := obj{"rota": r.PostFormValue("rota"), "requester": r.PostFormValue("requester"),
		"counterpart": r.PostFormValue("counterpart"), "mine": mine, "theirs": theirs, "note": r.PostFormValue("note")}
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

func (u *UI) ticketsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Tickets", "tickets"
	q := r.URL.Query()
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
	var tk struct{ Tickets []obj }
	if err := u.optional(r, v, "Tickets", "/api/v1/tickets?"+api.Encode(), &tk); err != nil {
		return err
	}
	if len(tk.Tickets) == limit && limit < 1000 {
		more := r.URL.Query()
		more.Set("limit", strconv.Itoa(min(limit*2, 1000)))
		v.Data["More"] = "/tickets?" + more.Encode()
	}
	v.Data["Tickets"], v.Data["Filter"] = tk.Tickets, obj{"state": q.Get("state"), "service": q.Get("service"),
		"severity": q.Get("severity"), "assignee": q.Get("assignee"), "all": q.Get("all") == "true"}
	u.render(w, http.StatusOK, "tickets", v)
	return nil
}

func (u *UI) newTicketPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Open a ticket", "tickets"
	v.Data["Services"], v.Data["Severities"], v.Data["Sources"] = u.o.Tickets.Services, u.o.Tickets.Severities, tickets.Sources
	v.Data["DefaultSeverity"] = u.o.Tickets.DefaultSeverity
	u.render(w, http.StatusOK, "ticket_new", v)
	return nil
}

func (u *UI) openTicket(w http.ResponseWriter, r *http.Request, v *view) error {
	body := obj{}
	for _, k := range []string{"title", "service", "severity", "source", "reporter", "reporter_email", "symptoms", "handling_plan", "assignee"} {
		if x := strings.TrimSpace(r.PostFormValue(k)); x != "" {
			body[k] = x
		}
	}
	var t obj
	if err := u.call(r, http.MethodPost, "/api/v1/tickets", body, &t); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/tickets/%d", int64(num(t["id"]))), "opened")
	return nil
}

func num(v any) float64 { f, _ := v.(float64); return f }

func (u *UI) ticketPage(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &apiError{Status: http.StatusNotFound, Message: "no such ticket"}
	}
	var t obj
	if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/tickets/%d", id), nil, &t); err != nil {
		return err
	}
	v.Title, v.Nav = fmt.Sprintf("Ticket %d", id), "tickets"
	v.Data["Ticket"] = t
	u.render(w, http.StatusOK, "ticket", v)
	return nil
}

func (u *UI) comment(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	body := obj{"body": r.PostFormValue("body"), "public": r.PostFormValue("public") == "on"}
	if err := u.call(r, http.MethodPost, "/api/v1/tickets/"+url.PathEscape(id)+"/comments", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/tickets/"+url.PathEscape(id), "commented")
	return nil
}

func (u *UI) ticketAction(w http.ResponseWriter, r *http.Request, v *view) error {
	id, action := r.PathValue("id"), r.PathValue("action")
	body := obj{}
	if n := strings.TrimSpace(r.PostFormValue("note")); n != "" {
		body["note"] = n
	}
	if err := u.call(r, http.MethodPost, "/api/v1/tickets/"+url.PathEscape(id)+"/"+url.PathEscape(action), body, nil); err != nil {
		return err
	}
	redirect(w, r, "/tickets/"+url.PathEscape(id), "saved")
	return nil
}

// --- incidents ---

func (u *UI) incidentsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Incidents", "incidents"
	status := r.URL.Query().Get("status")
	if status != "open" && status != "resolved" && status != "triggered" && status != "acknowledged" {
		status = "open"
	}
	var inc struct{ Incidents []obj }
	if err := u.optional(r, v, "Incidents", "/api/v1/incidents?limit=100&status="+status, &inc); err != nil {
		return err
	}
	v.Data["Incidents"], v.Data["Status"] = inc.Incidents, status
	u.render(w, http.StatusOK, "incidents", v)
	return nil
}

func (u *UI) incidentAction(w http.ResponseWriter, r *http.Request, v *view) error {
	action := r.PathValue("action")
	if action != "ack" && action != "resolve" {
		return &apiError{Status: http.StatusNotFound, Message: "no such action"}
	}
	if err := u.call(r, http.MethodPost, "/api/v1/incidents/"+url.PathEscape(r.PathValue("id"))+"/"+action, nil, nil); err != nil {
		return err
	}
	back := "/incidents"
	if r.PostFormValue("back") == "now" {
		back = "/"
	}
	ok := "acked"
	if action == "resolve" {
		ok = "resolved"
	}
	redirect(w, r, back, ok)
	return nil
}

// --- trace ---

var traceFields = []string{"from", "to", "msgid", "queue_id", "ip", "status", "subject", "since", "until"}

func traceQuery(r *http.Request) (url.Values, bool) {
	q, out, any := r.URL.Query(), url.Values{}, false
	for _, k := range traceFields {
		if x := strings.TrimSpace(q.Get(k)); x != "" {
			out.Set(k, x)
			if k != "since" && k != "until" {
				any = true
			}
		}
	}
	if o := q.Get("offset"); o != "" {
		out.Set("offset", o)
	}
	return out, any
}

func (u *UI) tracePage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Trace", "trace"
	q, search := traceQuery(r)
	v.Data["Query"] = obj{}
	for k := range q {
		v.Data["Query"].(obj)[k] = q.Get(k)
	}
	from := u.o.SubjectsFrom
	if from == "" {
		from = auth.RolePostmaster
	}
	v.Data["Masked"] = !v.User.Role.AtLeast(from)
	if search {
		var page obj
		err := u.call(r, http.MethodGet, "/api/v1/trace?"+q.Encode(), nil, &page)
		if err != nil {
			if notConfigured(err) {
				v.Data["TraceOff"] = true
			} else if ae, ok := err.(*apiError); ok && ae.Status == http.StatusBadRequest {
				v.Data["Error"] = ae.Message
			} else {
				return err
			}
		}
		v.Data["Page"], v.Data["Searched"], v.Data["CSV"] = page, true, "/trace.csv?"+q.Encode()
		if page != nil && num(page["next_offset"]) > 0 {
			q.Set("offset", strconv.Itoa(int(num(page["next_offset"]))))
			v.Data["Next"] = "/trace?" + q.Encode()
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
	var page struct{ Messages []obj }
	if err := u.call(r, http.MethodGet, "/api/v1/trace?"+q.Encode(), nil, &page); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="postvakt-trace.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"first_seen", "last_seen", "direction", "from", "recipient", "recipient_state", "subject", "message_id", "queue_ids", "client_ip", "state"})
	for _, m := range page.Messages {
		rcpts, _ := m["recipients"].([]any)
		if len(rcpts) == 0 {
			rcpts = []any{obj{}}
		}
		for _, x := range rcpts {
			rc, _ := x.(obj)
			_ = cw.Write([]string{str(m["first_seen"]), str(m["last_seen"]), str(m["direction"]), csvSafe(str(m["from"])),
				csvSafe(str(rc["rcpt"])), str(rc["state"]), csvSafe(str(m["subject"])), csvSafe(str(m["message_id"])),
				strings.Join(strs(m["queue_ids"]), " "), str(m["client_ip"]), str(m["state"])})
		}
	}
	cw.Flush()
	return cw.Error()
}

func str(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func strs(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// --- reports ---

func (u *UI) reportsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Reports", "reports"
	var list struct{ Reports []obj }
	if err := u.optional(r, v, "Reports", "/api/v1/reports?limit=60", &list); err != nil {
		return err
	}
	v.Data["Reports"] = list.Reports
	u.render(w, http.StatusOK, "reports", v)
	return nil
}

func (u *UI) generateReport(w http.ResponseWriter, r *http.Request, v *view) error {
	body := obj{}
	if p := strings.TrimSpace(r.PostFormValue("period")); p != "" {
		body["period"] = p
	}
	if c := strings.TrimSpace(r.PostFormValue("comment")); c != "" {
		body["comment"] = c
	}
	if err := u.call(r, http.MethodPost, "/api/v1/reports", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/reports", "generated")
	return nil
}

// --- admin ---

func (u *UI) adminPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Admin", "admin"
	users, err := u.o.Auth.Users(r.Context())
	if err != nil {
		return err
	}
	var tokens struct{ Tokens []obj }
	if err := u.call(r, http.MethodGet, "/api/v1/tokens", nil, &tokens); err != nil {
		return err
	}
	var audit struct{ Entries []obj }
	since := u.o.Now().Add(-7 * 24 * time.Hour).UTC().Format(time.RFC3339)
	if err := u.call(r, http.MethodGet, "/api/v1/audit?since="+url.QueryEscape(since), nil, &audit); err != nil {
		return err
	}
	if len(audit.Entries) > 200 {
		audit.Entries = audit.Entries[:200]
	}
	v.Data["Users"], v.Data["Tokens"], v.Data["Audit"], v.Data["Roles"] = users, tokens.Tokens, audit.Entries, auth.Roles()
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
	body := obj{"name": r.PostFormValue("name"), "role": r.PostFormValue("role"), "expires_in": r.PostFormValue("expires_in")}
	var out obj
	if err := u.call(r, http.MethodPost, "/api/v1/tokens", body, &out); err != nil {
		return err
	}
	// The secret is shown once, on this answer, never stored.
	v.Title, v.Nav = "New API token", "admin"
	v.Data["Token"], v.Data["Secret"] = out["token"], out["secret"]
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
