package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/api/ticketapi"
	"github.com/uni-mail/postvakt/internal/api/unitapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/tickets"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Notice pages: the list (filter by kind and state), a notice with its
// updates, the compose form (optionally prefilled from a ticket), the
// preview of the announcement e-mail, sending, and posting an update.
// Everything goes through /api/v1/notices; the preview through
// POST /api/v1/notices/preview.

func (u *UI) noticeRoutes(m func(string, auth.Role, pageFunc)) {
	m("GET /notices", auth.RoleViewer, u.noticesPage)
	m("GET /notices/new", auth.RoleOncall, u.composeNoticePage)
	m("POST /notices/preview", auth.RoleOncall, u.previewNotice)
	m("POST /notices", auth.RoleOncall, u.sendNotice)
	m("GET /notices/{id}", auth.RoleViewer, u.noticePage)
	m("POST /notices/{id}/updates", auth.RoleOncall, u.updateNotice)
	m("POST /notices/{id}/withdraw", auth.RoleOncall, u.withdrawNotice)
}

// noticesView is the notice list: the notices the filter selects and the
// states to filter by.
type noticesView struct {
	Notices    []notice.Notice
	NoticesOff bool
	States     []string
	Filter     noticeFilter
}

// noticeFilter is the notice list's filter form as given.
type noticeFilter struct {
	Kind, State string
	All         bool
}

func (u *UI) noticesPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Notices", "notices"
	q := r.URL.Query()
	kind, state := q.Get("kind"), q.Get("state")
	if kind != notice.KindOutage && kind != notice.KindMaintenance {
		kind = ""
	}
	all := q.Get("all") == "true"
	d := &noticesView{States: append(notice.States(notice.KindOutage), notice.States(notice.KindMaintenance)...),
		Filter: noticeFilter{Kind: kind, State: state, All: all}}
	v.Data = d
	api := url.Values{}
	if kind != "" {
		api.Set("kind", kind)
	}
	if all {
		api.Set("all", "true")
	}
	var list ticketapi.NoticesResponse
	var err error
	if d.NoticesOff, err = u.optional(r, "/api/v1/notices?"+api.Encode(), &list); err != nil {
		return err
	}
	for _, n := range list.Notices {
		switch {
		case state == "open" && notice.Final(n.State):
		case state != "" && state != "open" && n.State != state:
		default:
			d.Notices = append(d.Notices, n)
		}
	}
	u.render(w, http.StatusOK, "notices", v)
	return nil
}

// noticeForm is the compose form's fields, kept as strings so that the
// preview can carry them back to the form or on to sending.
type noticeForm struct {
	Kind, Title, Symptoms, Impact, HandlingPlan string
	StartedAt, PlannedEnd, NextUpdateAt         string // as typed (datetime-local)
	Language, Body, TicketID                    string
	Services                                    []string
	// Units are the IDs of the units the notice concerns, as posted.
	Units            []string
	Public, Announce bool
}

// hiddenField is one hidden input of a form.
type hiddenField struct{ Name, Value string }

// Hidden is the form as hidden inputs, in the order of their names: one
// per service, public and announce only when ticked.
func (f noticeForm) Hidden() []hiddenField {
	var out []hiddenField
	add := func(name, value string) { out = append(out, hiddenField{name, value}) }
	tick := func(name string, on bool) {
		if on {
			add(name, "on")
		}
	}
	tick("announce", f.Announce)
	add("body", f.Body)
	add("handling_plan", f.HandlingPlan)
	add("impact", f.Impact)
	add("kind", f.Kind)
	add("language", f.Language)
	add("next_update_at", f.NextUpdateAt)
	add("planned_end", f.PlannedEnd)
	tick("public", f.Public)
	for _, s := range f.Services {
		add("services", s)
	}
	add("started_at", f.StartedAt)
	add("symptoms", f.Symptoms)
	add("ticket_id", f.TicketID)
	add("title", f.Title)
	for _, id := range f.Units {
		add("units", id)
	}
	return out
}

// noticeFormFrom reads the compose form's fields from vals (the query of
// the edit link, or the posted form).
func noticeFormFrom(vals url.Values) noticeForm {
	return noticeForm{Kind: vals.Get("kind"), Title: vals.Get("title"), Symptoms: vals.Get("symptoms"), Impact: vals.Get("impact"),
		HandlingPlan: vals.Get("handling_plan"), StartedAt: vals.Get("started_at"), PlannedEnd: vals.Get("planned_end"),
		NextUpdateAt: vals.Get("next_update_at"), Language: vals.Get("language"), Body: vals.Get("body"), TicketID: vals.Get("ticket_id"),
		Services: vals["services"], Units: vals["units"], Public: vals.Get("public") == "on", Announce: vals.Get("announce") == "on"}
}

// composeView is the compose form, and the ticket it starts from.
type composeView struct {
	Form     noticeForm
	Services []tickets.ServiceComponent
	Ticket   *ticketapi.TicketResponse
	// Units are the units a notice may name; their contacts get it too.
	Units []units.Unit
}

func (u *UI) composeNoticePage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Compose a notice", "notices"
	q := r.URL.Query()
	d := &composeView{Form: noticeForm{Kind: notice.KindOutage, Public: true, Announce: true, Services: []string{}}, Services: u.o.Tickets.Services}
	v.Data = d
	if q.Get("edit") == "1" {
		// Back from the preview: the fields as they were.
		d.Form = noticeFormFrom(q)
	} else if id := q.Get("ticket"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			return &apiError{Status: http.StatusNotFound, Message: "no such ticket"}
		}
		var t ticketapi.TicketResponse
		if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/tickets/%d", n), nil, &t); err != nil {
			return err
		}
		d.Form.Title, d.Form.Symptoms, d.Form.HandlingPlan = t.Title, t.Symptoms, t.HandlingPlan
		d.Form.TicketID = strconv.FormatInt(n, 10)
		if t.Service != "" {
			d.Form.Services = []string{t.Service}
		}
		d.Ticket = &t
	}
	if k := q.Get("kind"); q.Get("edit") != "1" && (k == notice.KindOutage || k == notice.KindMaintenance) {
		d.Form.Kind = k
	}
	var ul unitapi.UnitsResponse
	if _, err := u.optional(r, "/api/v1/units", &ul); err != nil {
		return err
	}
	d.Units = ul.Units
	u.render(w, http.StatusOK, "notice_new", v)
	return nil
}

// noticeRequest turns the posted compose form into the API's request.
func (u *UI) noticeRequest(r *http.Request) (notice.CreateRequest, error) {
	public, announce := r.PostFormValue("public") == "on", r.PostFormValue("announce") == "on"
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	body := notice.CreateRequest{Kind: r.PostFormValue("kind"), Title: f("title"), Public: &public, Announce: &announce, Services: []string{},
		Symptoms: f("symptoms"), Impact: f("impact"), HandlingPlan: f("handling_plan"), Language: f("language"), Body: f("body"),
		TicketID: f("ticket_id")}
	for _, id := range r.PostForm["units"] {
		n, err := strconv.ParseInt(strings.TrimSpace(id), 10, 64)
		if err != nil || n <= 0 {
			return body, &apiError{Status: http.StatusBadRequest, Message: "bad unit " + strconv.Quote(id)}
		}
		body.UnitIDs = append(body.UnitIDs, n)
	}
	for _, s := range r.PostForm["services"] {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(body.Services, s) {
			body.Services = append(body.Services, s)
		}
	}
	for _, t := range []struct {
		field string
		dst   *time.Time
	}{{"started_at", &body.StartedAt}, {"planned_end", &body.PlannedEnd}, {"next_update_at", &body.NextUpdateAt}} {
		if f(t.field) == "" {
			continue
		}
		at, err := u.formTime(r, t.field)
		if err != nil {
			return body, err
		}
		*t.dst = at
	}
	return body, nil
}

// previewView is the preview of a notice's announcement, with the form to
// send it or to go back and edit it.
type previewView struct {
	Preview ticketapi.NoticePreview
	Form    noticeForm
}

func (u *UI) previewNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	body, err := u.noticeRequest(r)
	if err != nil {
		return err
	}
	var p ticketapi.NoticePreview
	if err := u.call(r, http.MethodPost, "/api/v1/notices/preview", body, &p); err != nil {
		return err
	}
	v.Title, v.Nav = "Preview of the notice", "notices"
	v.Data = previewView{Preview: p, Form: noticeFormFrom(r.PostForm)}
	u.render(w, http.StatusOK, "notice_preview", v)
	return nil
}

func (u *UI) sendNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	body, err := u.noticeRequest(r)
	if err != nil {
		return err
	}
	var n notice.Notice
	if err := u.call(r, http.MethodPost, "/api/v1/notices", body, &n); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/notices/%d", n.ID), "sent")
	return nil
}

// noticeView is a notice's page: the notice with its updates, the states
// it may move to, and whether it has ended.
type noticeView struct {
	Notice notice.Notice
	Next   []string
	Final  bool
}

func (u *UI) noticePage(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &apiError{Status: http.StatusNotFound, Message: "no such notice"}
	}
	var n notice.Notice
	if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/notices/%d", id), nil, &n); err != nil {
		return err
	}
	var next []string
	for _, s := range notice.States(n.Kind) {
		if s != n.State && notice.CanMove(n.Kind, n.State, s) {
			next = append(next, s)
		}
	}
	v.Title, v.Nav = fmt.Sprintf("Notice %d", id), "notices"
	v.Data = noticeView{Notice: n, Next: next, Final: notice.Final(n.State)}
	u.render(w, http.StatusOK, "notice", v)
	return nil
}

// withdrawNotice withdraws a notice made by mistake: it leaves the status
// page and the feed at once (the API's POST /api/v1/notices/{id}/withdraw).
func (u *UI) withdrawNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	body := notice.WithdrawRequest{Reason: strings.TrimSpace(r.PostFormValue("reason"))}
	if err := u.call(r, http.MethodPost, "/api/v1/notices/"+url.PathEscape(id)+"/withdraw", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/notices/"+url.PathEscape(id), "withdrawn")
	return nil
}

func (u *UI) updateNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	announce := r.PostFormValue("announce") == "on"
	body := notice.ChangeRequest{Announce: &announce, State: strings.TrimSpace(r.PostFormValue("state")),
		Body: strings.TrimSpace(r.PostFormValue("body"))}
	switch vis := r.PostFormValue("visibility"); vis {
	case "public", "internal":
		public := vis == "public"
		body.Public = &public
	}
	if strings.TrimSpace(r.PostFormValue("next_update_at")) != "" {
		t, err := u.formTime(r, "next_update_at")
		if err != nil {
			return err
		}
		body.NextUpdateAt = &t
	}
	if err := u.call(r, http.MethodPost, "/api/v1/notices/"+url.PathEscape(id)+"/updates", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/notices/"+url.PathEscape(id), "updated")
	return nil
}
