package unitapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/config/timezone"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/units"
)

// The migration: customer service (helpdesk) plans, sends the documents,
// opens the work order, checks the MX and records steps; the system
// administrators (postmaster) record a work order's result.
func (a *API) registerMigration() {
	a.srv.Handle("POST /api/v1/units/{id}/plan", auth.RoleHelpdesk, a.plan)
	a.srv.Handle("GET /api/v1/units/{id}/documents", auth.RoleViewer, a.documents)
	a.srv.Handle("POST /api/v1/units/{id}/documents/send", auth.RoleHelpdesk, a.sendDocuments)
	a.srv.Handle("POST /api/v1/units/{id}/work-orders", auth.RoleHelpdesk, a.openWorkOrder)
	a.srv.Handle("POST /api/v1/unit-work-orders/{id}/result", auth.RolePostmaster, a.workOrderResult)
	a.srv.Handle("POST /api/v1/units/{id}/check", auth.RoleHelpdesk, a.check)
	a.srv.Handle("POST /api/v1/unit-steps/{id}", auth.RoleHelpdesk, a.recordStep)
	a.srv.Handle("POST /api/v1/unit-steps/{id}/assign", auth.RoleHelpdesk, a.assignStep)
	a.srv.Handle("POST /api/v1/units/{id}/refs", auth.RoleHelpdesk, a.addRef)
}

// PlanRequest plans a migration. MigrationAt is RFC 3339 or a wall time
// "YYYY-MM-DD HH:MM" in the service time zone.
type PlanRequest struct {
	MigrationAt string `json:"migration_at"`
	Assignee    string `json:"assignee"`
}

// StepsResponse is a unit's checklist, by due time.
type StepsResponse struct {
	Steps []units.Step `json:"steps"`
	// TimeZone is the zone the steps' days are counted in.
	TimeZone string `json:"time_zone"`
}

func (a *API) plan(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req PlanRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.MigrationAt == "" {
		return server.BadRequest("migration_at is required")
	}
	at, err := timezone.Parse(req.MigrationAt, a.o.Now(), a.o.Location)
	if err != nil {
		return server.BadRequest(fmt.Sprintf("migration_at %q: %v (wall times are read in %s)", req.MigrationAt, err, timezone.Name(a.o.Location)))
	}
	steps, err := a.o.Units.Plan(r.Context(), id, at, req.Assignee, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.plan", fmt.Sprintf("unit:%d", id), at.Format(time.RFC3339)); err != nil {
		return err
	}
	if steps == nil {
		steps = []units.Step{}
	}
	server.WriteJSON(w, http.StatusOK, StepsResponse{Steps: steps, TimeZone: timezone.Name(a.o.Location)})
	return nil
}

// DocumentsResponse is the plan's documents rendered for the unit.
type DocumentsResponse struct {
	Documents []units.Document `json:"documents"`
}

func (a *API) documents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	docs, err := a.o.Units.Documents(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, DocumentsResponse{Documents: docs})
	return nil
}

func (a *API) sendDocuments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	st, err := a.o.Units.SendDocuments(r.Context(), id, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.documents", fmt.Sprintf("unit:%d", id), "sent"); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, st)
	return nil
}

// WorkOrderRequest opens a work order; Note is added to its text.
type WorkOrderRequest struct {
	Note string `json:"note"`
}

func (a *API) openWorkOrder(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req WorkOrderRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	wo, err := a.o.Units.OpenWorkOrder(r.Context(), id, req.Note, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.work_order", fmt.Sprintf("unit:%d", id), fmt.Sprintf("work order %d", wo.ID)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, wo)
	return nil
}

// WorkOrderResultRequest records a work order's result: state done or
// failed.
type WorkOrderResultRequest struct {
	State  units.WorkOrderState `json:"state"`
	Result string               `json:"result"`
}

func (a *API) workOrderResult(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req WorkOrderResultRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	wo, err := a.o.Units.WorkOrderResult(r.Context(), id, req.State, req.Result, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.work_order_result", fmt.Sprintf("unit:%d", wo.UnitID), fmt.Sprintf("work order %d %s", wo.ID, wo.State)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, wo)
	return nil
}

// ChecksResponse answers a DNS check: one check per domain.
type ChecksResponse struct {
	Checks []units.Check `json:"checks"`
	OK     bool          `json:"ok"`
}

func (a *API) check(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	checks, err := a.o.Units.CheckNow(r.Context(), id, actor(r))
	if err != nil {
		return apiError(err)
	}
	resp := ChecksResponse{Checks: checks, OK: len(checks) > 0}
	for _, c := range checks {
		resp.OK = resp.OK && c.OK
	}
	if resp.Checks == nil {
		resp.Checks = []units.Check{}
	}
	server.WriteJSON(w, http.StatusOK, resp)
	return nil
}

func (a *API) recordStep(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req units.StepRecord
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	st, err := a.o.Units.RecordStep(r.Context(), id, req, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.step", fmt.Sprintf("unit:%d", st.UnitID), fmt.Sprintf("step %d %s", st.ID, st.State)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, st)
	return nil
}

// AssignRequest gives a step to another person.
type AssignRequest struct {
	Assignee string `json:"assignee"`
}

func (a *API) assignStep(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req AssignRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	st, err := a.o.Units.AssignStep(r.Context(), id, req.Assignee, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.step_assign", fmt.Sprintf("unit:%d", st.UnitID), fmt.Sprintf("step %d to %s", st.ID, st.Assignee)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, st)
	return nil
}

// RefRequest scopes a ticket or a notice to the unit.
type RefRequest struct {
	Kind  string `json:"kind"` // ticket or notice
	RefID int64  `json:"ref_id"`
}

func (a *API) addRef(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req RefRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	ref, err := a.o.Units.AddRef(r.Context(), id, req.Kind, req.RefID, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "unit.ref", fmt.Sprintf("unit:%d", id), fmt.Sprintf("%s %d", ref.Kind, ref.RefID)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, ref)
	return nil
}
