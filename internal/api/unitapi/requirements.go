package unitapi

import (
	"fmt"
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/units"
)

// Requirements and complaints: everyone reads them; customer service
// (helpdesk) records them; a postmaster decides and answers.
func (a *API) registerRequirements() {
	a.srv.Handle("GET /api/v1/units/{id}/requirements", auth.RoleViewer, a.listRequirements)
	a.srv.Handle("POST /api/v1/units/{id}/requirements", auth.RoleHelpdesk, a.addRequirement)
	a.srv.Handle("GET /api/v1/unit-requirements/{id}", auth.RoleViewer, a.getRequirement)
	a.srv.Handle("POST /api/v1/unit-requirements/{id}/state", auth.RolePostmaster, a.moveRequirement)
}

// RequirementsResponse is a unit's requirements and complaints, oldest
// first.
type RequirementsResponse struct {
	Requirements []units.Requirement `json:"requirements"`
}

func (a *API) listRequirements(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := a.o.Units.Requirements(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	if l == nil {
		l = []units.Requirement{}
	}
	server.WriteJSON(w, http.StatusOK, RequirementsResponse{Requirements: l})
	return nil
}

// RequirementRequest records a requirement (kind "requirement", the
// default) or a complaint (kind "complaint").
type RequirementRequest struct {
	Kind  units.RequirementKind `json:"kind"`
	Title string                `json:"title"`
	Body  string                `json:"body"`
}

func (a *API) addRequirement(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req RequirementRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	q, err := a.o.Units.AddRequirement(r.Context(), units.Requirement{UnitID: id, Kind: req.Kind, Title: req.Title, Body: req.Body}, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.requirement", fmt.Sprintf("unit:%d", id), fmt.Sprintf("%s %d", q.Kind, q.ID)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, q)
	return nil
}

func (a *API) getRequirement(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	q, err := a.o.Units.Store().GetRequirement(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, q)
	return nil
}

// RequirementStateRequest moves a requirement: state under_review,
// accepted, done or declined; the answer given to the unit is required
// for accepted, done and declined.
type RequirementStateRequest struct {
	State  units.RequirementState `json:"state"`
	Answer string                 `json:"answer"`
}

func (a *API) moveRequirement(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req RequirementStateRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	q, err := a.o.Units.MoveRequirement(r.Context(), id, req.State, req.Answer, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.requirement_state", fmt.Sprintf("unit:%d", q.UnitID), fmt.Sprintf("%s %d %s", q.Kind, q.ID, q.State)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, q)
	return nil
}
