package web

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/notice"
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
}

func (u *UI) noticesPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Notices", "notices"
	q := r.URL.Query()
	kind, state := q.Get("kind"), q.Get("state")
	if kind != notice.KindOutage && kind != notice.KindMaintenance {
		kind = ""
	}
	api := url.Values{}
	if kind != "" {
		api.Set("kind", kind)
	}
	all := q.Get("all") == "true"
	if all {
		api.Set("all", "true")
	}
	var list struct{ Notices []obj }
	if err := u.optional(r, v, "Notices", "/api/v1/notices?"+api.Encode(), &list); err != nil {
		return err
	}
	out := list.Notices[:0:0]
	for _, n := range list.Notices {
		switch {
		case state == "open" && notice.Final(str(n["state"])):
		case state != "" && state != "open" && str(n["state"]) != state:
		default:
			out = append(out, n)
		}
	}
	states := append(notice.States(notice.KindOutage), notice.States(notice.KindMaintenance)...)
	v.Data["Notices"], v.Data["States"] = out, states
	v.Data["Filter"] = obj{"kind": kind, "state": state, "all": all}
	u.render(w, http.StatusOK, "notices", v)
	return nil
}

// noticeForm is the compose form's fields, kept as strings so that the
// preview can carry them back to the form or on to sending.
var noticeFields = []string{"kind", "title", "symptoms", "impact", "handling_plan", "started_at", "planned_end",
	"next_update_at", "language", "body", "ticket_id"}

func (u *UI) composeNoticePage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Compose a notice", "notices"
	q := r.URL.Query()
	form := obj{"kind": notice.KindOutage, "public": true, "announce": true, "services": []string{}}
	if q.Get("edit") == "1" {
		// Back from the preview: the fields as they were.
		for _, k := range noticeFields {
			form[k] = q.Get(k)
		}
		form["services"], form["public"], form["announce"] = q["services"], q.Get("public") == "on", q.Get("announce") == "on"
	} else if id := q.Get("ticket"); id != "" {
		n, err := strconv.ParseInt(id, 10, 64)
		if err != nil || n <= 0 {
			return &apiError{Status: http.StatusNotFound, Message: "no such ticket"}
		}
		var t obj
		if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/tickets/%d", n), nil, &t); err != nil {
			return err
		}
		form["title"], form["symptoms"], form["handling_plan"] = t["title"], t["symptoms"], t["handling_plan"]
		form["ticket_id"] = strconv.FormatInt(n, 10)
		if s := str(t["service"]); s != "" {
			form["services"] = []string{s}
		}
		v.Data["Ticket"] = t
	}
	if k := q.Get("kind"); q.Get("edit") != "1" && (k == notice.KindOutage || k == notice.KindMaintenance) {
		form["kind"] = k
	}
	v.Data["Form"], v.Data["Services"] = form, u.o.Tickets.Services
	u.render(w, http.StatusOK, "notice_new", v)
	return nil
}

// noticeRequest turns the posted compose form into the API's request.
func (u *UI) noticeRequest(r *http.Request) (obj, error) {
	body := obj{"kind": r.PostFormValue("kind"), "title": strings.TrimSpace(r.PostFormValue("title")),
		"public": r.PostFormValue("public") == "on", "announce": r.PostFormValue("announce") == "on"}
	svcs := []string{}
	for _, s := range r.PostForm["services"] {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(svcs, s) {
			svcs = append(svcs, s)
		}
	}
	body["services"] = svcs
	for _, k := range []string{"symptoms", "impact", "handling_plan", "language", "body", "ticket_id"} {
		if x := strings.TrimSpace(r.PostFormValue(k)); x != "" {
			body[k] = x
		}
	}
	for _, k := range []string{"started_at", "planned_end", "next_update_at"} {
		if strings.TrimSpace(r.PostFormValue(k)) == "" {
			continue
		}
		t, err := u.formTime(r, k)
		if err != nil {
			return nil, err
		}
		body[k] = t
	}
	return body, nil
}

// composed is the posted compose form, for carrying it on in hidden fields.
func composed(r *http.Request) obj {
	f := obj{"services": r.PostForm["services"], "public": r.PostFormValue("public") == "on", "announce": r.PostFormValue("announce") == "on"}
	for _, k := range noticeFields {
		f[k] = r.PostFormValue(k)
	}
	return f
}

func (u *UI) previewNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	body, err := u.noticeRequest(r)
	if err != nil {
		return err
	}
	var p obj
	if err := u.call(r, http.MethodPost, "/api/v1/notices/preview", body, &p); err != nil {
		return err
	}
	v.Title, v.Nav = "Preview of the notice", "notices"
	v.Data["Preview"], v.Data["Form"] = p, composed(r)
	u.render(w, http.StatusOK, "notice_preview", v)
	return nil
}

func (u *UI) sendNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	body, err := u.noticeRequest(r)
	if err != nil {
		return err
	}
	var n obj
	if err := u.call(r, http.MethodPost, "/api/v1/notices", body, &n); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/notices/%d", int64(num(n["id"]))), "sent")
	return nil
}

func (u *UI) noticePage(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return &apiError{Status: http.StatusNotFound, Message: "no such notice"}
	}
	var n obj
	if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/notices/%d", id), nil, &n); err != nil {
		return err
	}
	kind, state := str(n["kind"]), str(n["state"])
	var next []string
	for _, s := range notice.States(kind) {
		if s != state && notice.CanMove(kind, state, s) {
			next = append(next, s)
		}
	}
	v.Title, v.Nav = fmt.Sprintf("Notice %d", id), "notices"
	v.Data["Notice"], v.Data["Next"], v.Data["Final"] = n, next, notice.Final(state)
	u.render(w, http.StatusOK, "notice", v)
	return nil
}

func (u *UI) updateNotice(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	body := obj{"announce": r.PostFormValue("announce") == "on"}
	if s := strings.TrimSpace(r.PostFormValue("state")); s != "" {
		body["state"] = s
	}
	if b := strings.TrimSpace(r.PostFormValue("body")); b != "" {
		body["body"] = b
	}
	switch r.PostFormValue("visibility") {
	case "public":
		body["public"] = true
	case "internal":
		body["public"] = false
	}
	if strings.TrimSpace(r.PostFormValue("next_update_at")) != "" {
		t, err := u.formTime(r, "next_update_at")
		if err != nil {
			return err
		}
		body["next_update_at"] = t
	}
	if err := u.call(r, http.MethodPost, "/api/v1/notices/"+url.PathEscape(id)+"/updates", body, nil); err != nil {
		return err
	}
	redirect(w, r, "/notices/"+url.PathEscape(id), "updated")
	return nil
}
