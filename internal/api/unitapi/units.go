package unitapi

import (
	"fmt"
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Units: everyone reads them; customer service (helpdesk) records and
// edits them; a postmaster sets the status by hand.
func (a *API) registerUnits() {
	a.srv.Handle("GET /api/v1/units", auth.RoleViewer, a.listUnits)
	a.srv.Handle("POST /api/v1/units", auth.RoleHelpdesk, a.createUnit)
	a.srv.Handle("GET /api/v1/units/{id}", auth.RoleViewer, a.getUnit)
	a.srv.Handle("PUT /api/v1/units/{id}", auth.RoleHelpdesk, a.updateUnit)
	a.srv.Handle("POST /api/v1/units/{id}/status", auth.RolePostmaster, a.setStatus)
}

// UnitsResponse answers GET /api/v1/units (?status=, ?domain=), by name.
type UnitsResponse struct {
	Units []units.Unit `json:"units"`
}

func (a *API) listUnits(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := units.Filter{Status: units.Status(q.Get("status"))}
	if f.Status != "" && !f.Status.Valid() {
		return server.BadRequest(fmt.Sprintf("status %q: must be one of new, surveyed, planned, migrating, live", f.Status))
	}
	if d := q.Get("domain"); d != "" {
		n, err := units.NormalizeDomain(d)
		if err != nil {
			return apiError(err)
		}
		f.Domain = n
	}
	list, err := a.o.Units.List(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []units.Unit{}
	}
	server.WriteJSON(w, http.StatusOK, UnitsResponse{Units: list})
	return nil
}

// UnitRequest creates or edits a unit: its editable fields.
type UnitRequest struct {
	Name     string          `json:"name"`
	Domains  []string        `json:"domains"`
	Leader   units.Contact   `json:"leader"`
	NetAdmin units.Contact   `json:"network_admin"`
	Contacts []units.Contact `json:"contacts"`
	People   units.People    `json:"people"`
	Quota    units.Quota     `json:"quota"`
	Services []string        `json:"services"`
	Assignee string          `json:"assignee"`
	Notes    string          `json:"notes"`
	// Status on creation only (a unit that joined before postvakt is
	// recorded as live); default new.
	Status units.Status `json:"status"`
}

func (q UnitRequest) unit() units.Unit {
	return units.Unit{Name: q.Name, Domains: q.Domains, Leader: q.Leader, NetAdmin: q.NetAdmin, Contacts: q.Contacts,
		People: q.People, Quota: q.Quota, Services: q.Services, Assignee: q.Assignee, Notes: q.Notes, Status: q.Status}
}

func (a *API) createUnit(w http.ResponseWriter, r *http.Request) error {
	var req UnitRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	u, err := a.o.Units.Create(r.Context(), req.unit(), actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.create", fmt.Sprintf("unit:%d", u.ID), u.Name); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, u)
	return nil
}

// UnitResponse answers GET /api/v1/units/{id}: the unit with its
// checklist (by due time), history (oldest first), the latest 50 DNS
// checks (newest first), work orders, requirements and complaints, survey links (without
// tokens) and the tickets and notices scoped to it.
type UnitResponse struct {
	Unit       units.Unit         `json:"unit"`
	Steps      []units.Step       `json:"steps"`
	Events     []units.Event      `json:"events"`
	Checks     []units.Check      `json:"checks"`
	WorkOrders []units.WorkOrder  `json:"work_orders"`
	Links      []units.SurveyLink `json:"survey_links"`
	Refs       []units.Ref        `json:"refs"`
	// Requirements are the unit's requirements and complaints.
	Requirements []units.Requirement `json:"requirements"`
}

func (a *API) getUnit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	ctx, st := r.Context(), a.o.Units.Store()
	u, err := a.o.Units.Get(ctx, id)
	if err != nil {
		return apiError(err)
	}
	resp := UnitResponse{Unit: u}
	if resp.Steps, err = st.Steps(ctx, id); err != nil {
		return err
	}
	if resp.Events, err = st.Events(ctx, id); err != nil {
		return err
	}
	if resp.Checks, err = st.Checks(ctx, id, 50); err != nil {
		return err
	}
	if resp.WorkOrders, err = st.WorkOrders(ctx, id); err != nil {
		return err
	}
	if resp.Requirements, err = st.Requirements(ctx, id); err != nil {
		return err
	}
	if resp.Links, err = st.Links(ctx, id); err != nil {
		return err
	}
	if resp.Refs, err = st.Refs(ctx, id); err != nil {
		return err
	}
	for _, p := range []any{&resp.Steps, &resp.Events, &resp.Checks, &resp.WorkOrders, &resp.Links, &resp.Refs} {
		emptyNotNull(p)
	}
	server.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// emptyNotNull makes a nil list an empty one, so that JSON shows [].
func emptyNotNull(p any) {
	switch v := p.(type) {
	case *[]units.Step:
		if *v == nil {
			*v = []units.Step{}
		}
	case *[]units.Event:
		if *v == nil {
			*v = []units.Event{}
		}
	case *[]units.Check:
		if *v == nil {
			*v = []units.Check{}
		}
	case *[]units.WorkOrder:
		if *v == nil {
			*v = []units.WorkOrder{}
		}
	case *[]units.SurveyLink:
		if *v == nil {
			*v = []units.SurveyLink{}
		}
	case *[]units.Ref:
		if *v == nil {
			*v = []units.Ref{}
		}
	}
}

func (a *API) updateUnit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req UnitRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Status != "" {
		return server.BadRequest("status changes through POST /api/v1/units/{id}/status")
	}
	u, err := a.o.Units.Update(r.Context(), id, req.unit(), actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.update", fmt.Sprintf("unit:%d", u.ID), u.Name); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, u)
	return nil
}

// StatusRequest sets a unit's status by hand.
type StatusRequest struct {
	Status units.Status `json:"status"`
}

func (a *API) setStatus(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req StatusRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	u, err := a.o.Units.SetStatus(r.Context(), id, req.Status, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.status", fmt.Sprintf("unit:%d", u.ID), string(u.Status)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, u)
	return nil
}
