package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/internal/api/unitapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Unit pages (docs/units.md): the list (filter by status), recording a
// unit, and a unit's page — its record, checklist with dates, DNS checks,
// work orders, requirements and complaints and history, with the forms that make a survey link, plan,
// send the documents, open a work order, check the MX and record a step.
// Everything goes through /api/v1/units.

func (u *UI) unitRoutes(m func(string, auth.Role, pageFunc)) {
	m("GET /units", auth.RoleViewer, u.unitsPage)
	m("POST /units", auth.RoleHelpdesk, u.createUnit)
	m("GET /units/{id}", auth.RoleViewer, u.unitPage)
	m("POST /units/{id}/link", auth.RoleHelpdesk, u.unitLink)
	m("POST /units/{id}/plan", auth.RoleHelpdesk, u.unitPlan)
	m("POST /units/{id}/{action}", auth.RoleHelpdesk, u.unitAction)
	m("POST /unit-steps/{id}", auth.RoleHelpdesk, u.unitStep)
	m("POST /unit-work-orders/{id}", auth.RolePostmaster, u.unitWorkOrder)
	m("POST /units/{id}/requirements", auth.RoleHelpdesk, u.unitRequirement)
	m("POST /unit-requirements/{id}", auth.RolePostmaster, u.unitRequirementState)
}

// unitsView is the unit list.
type unitsView struct {
	Units    []units.Unit
	UnitsOff bool
	Statuses []units.Status
	Status   string
}

func (u *UI) unitsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Units", "units"
	st := r.URL.Query().Get("status")
	if !units.Status(st).Valid() {
		st = ""
	}
	d := &unitsView{Statuses: units.Statuses(), Status: st}
	v.Data = d
	var list unitapi.UnitsResponse
	var err error
	if d.UnitsOff, err = u.optional(r, "/api/v1/units?status="+url.QueryEscape(st), &list); err != nil {
		return err
	}
	d.Units = list.Units
	u.render(w, http.StatusOK, "units", v)
	return nil
}

func (u *UI) createUnit(w http.ResponseWriter, r *http.Request, v *view) error {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	req := unitapi.UnitRequest{Name: f("name"), Domains: fields(f("domains")), Assignee: f("assignee"),
		NetAdmin: units.Contact{Name: f("admin_name"), Email: f("admin_email")}}
	var n units.Unit
	if err := u.call(r, http.MethodPost, "/api/v1/units", req, &n); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/units/%d", n.ID), "saved")
	return nil
}

// fields splits a list typed with commas, spaces or lines.
func fields(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

// unitView is a unit's page. Link is a survey link just made: its token is
// shown this once.
type unitView struct {
	unitapi.UnitResponse
	Link *units.SurveyLink
}

func (u *UI) unitID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &apiError{Status: http.StatusNotFound, Message: "no such unit"}
	}
	return id, nil
}

func (u *UI) showUnit(w http.ResponseWriter, r *http.Request, v *view, id int64, link *units.SurveyLink) error {
	var resp unitapi.UnitResponse
	if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/units/%d", id), nil, &resp); err != nil {
		return err
	}
	v.Title, v.Nav = resp.Unit.Name, "units"
	v.Data = unitView{UnitResponse: resp, Link: link}
	u.render(w, http.StatusOK, "unit", v)
	return nil
}

func (u *UI) unitPage(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := u.unitID(r)
	if err != nil {
		return err
	}
	return u.showUnit(w, r, v, id, nil)
}

// unitLink makes a survey link and shows it on the unit's page, once (no
// redirect: the token is in no URL of ours and in no history).
func (u *UI) unitLink(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := u.unitID(r)
	if err != nil {
		return err
	}
	var l units.SurveyLink
	if err := u.call(r, http.MethodPost, fmt.Sprintf("/api/v1/units/%d/survey-links", id),
		unitapi.LinkRequest{SendTo: strings.TrimSpace(r.PostFormValue("send_to"))}, &l); err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	return u.showUnit(w, r, v, id, &l)
}

func (u *UI) unitPlan(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := u.unitID(r)
	if err != nil {
		return err
	}
	at, err := u.formTime(r, "migration_at")
	if err != nil {
		return err
	}
	req := unitapi.PlanRequest{MigrationAt: at.Format("2006-01-02T15:04:05Z07:00"), Assignee: strings.TrimSpace(r.PostFormValue("assignee"))}
	if err := u.call(r, http.MethodPost, fmt.Sprintf("/api/v1/units/%d/plan", id), req, nil); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/units/%d", id), "saved")
	return nil
}

// unitAction is one of the buttons: send the documents, open the work
// order, check the MX now.
func (u *UI) unitAction(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := u.unitID(r)
	if err != nil {
		return err
	}
	var path string
	var body any
	switch r.PathValue("action") {
	case "documents":
		path = "documents/send"
	case "work-order":
		path, body = "work-orders", unitapi.WorkOrderRequest{Note: strings.TrimSpace(r.PostFormValue("note"))}
	case "check":
		path = "check"
	default:
		return &apiError{Status: http.StatusNotFound, Message: "no such action"}
	}
	if err := u.call(r, http.MethodPost, fmt.Sprintf("/api/v1/units/%d/%s", id, path), body, nil); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/units/%d", id), "done")
	return nil
}

func (u *UI) unitStep(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	req := units.StepRecord{State: units.StepState(r.PostFormValue("state")), Outcome: strings.TrimSpace(r.PostFormValue("outcome"))}
	var st units.Step
	if err := u.call(r, http.MethodPost, "/api/v1/unit-steps/"+url.PathEscape(id), req, &st); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/units/%d", st.UnitID), "saved")
	return nil
}

func (u *UI) unitWorkOrder(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	req := unitapi.WorkOrderResultRequest{State: units.WorkOrderState(r.PostFormValue("state")), Result: strings.TrimSpace(r.PostFormValue("result"))}
	var wo units.WorkOrder
	if err := u.call(r, http.MethodPost, "/api/v1/unit-work-orders/"+url.PathEscape(id)+"/result", req, &wo); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/units/%d", wo.UnitID), "saved")
	return nil
}

func (u *UI) unitRequirement(w http.ResponseWriter, r *http.Request, v *view) error {
	id, err := u.unitID(r)
	if err != nil {
		return err
	}
	req := unitapi.RequirementRequest{Kind: units.RequirementKind(r.PostFormValue("kind")), Title: strings.TrimSpace(r.PostFormValue("title")),
		Body: strings.TrimSpace(r.PostFormValue("body"))}
	if err := u.call(r, http.MethodPost, fmt.Sprintf("/api/v1/units/%d/requirements", id), req, nil); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/units/%d", id), "saved")
	return nil
}

func (u *UI) unitRequirementState(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	req := unitapi.RequirementStateRequest{State: units.RequirementState(r.PostFormValue("state")), Answer: strings.TrimSpace(r.PostFormValue("answer"))}
	var q units.Requirement
	if err := u.call(r, http.MethodPost, "/api/v1/unit-requirements/"+url.PathEscape(id)+"/state", req, &q); err != nil {
		return err
	}
	redirect(w, r, fmt.Sprintf("/units/%d", q.UnitID), "saved")
	return nil
}
