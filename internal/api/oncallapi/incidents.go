package oncallapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/incident"
)

// Incidents: list, open by hand, show with the timeline, acknowledge and
// resolve (both idempotent).
func (a *API) registerIncidents() {
	a.srv.Handle("GET /api/v1/incidents", auth.RoleViewer, a.listIncidents)
	a.srv.Handle("POST /api/v1/incidents", auth.RoleOncall, a.createIncident)
	a.srv.Handle("GET /api/v1/incidents/{id}", auth.RoleViewer, a.getIncident)
	a.srv.Handle("POST /api/v1/incidents/{id}/ack", auth.RoleOncall, a.ackIncident)
	a.srv.Handle("POST /api/v1/incidents/{id}/resolve", auth.RoleOncall, a.resolveIncident)
}

func incErr(err error) error {
	if errors.Is(err, incident.ErrNotFound) {
		return server.NotFound("no such incident")
	}
	return err
}

// IncidentsResponse answers GET /api/v1/incidents: newest first, of the
// statuses ?status= names (triggered, acknowledged, resolved or open; a
// comma-separated list or repeated), at most ?limit= (default 100).
type IncidentsResponse struct {
	Incidents []incident.Incident `json:"incidents"`
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
	if list == nil {
		list = []incident.Incident{}
	}
	server.WriteJSON(w, http.StatusOK, IncidentsResponse{Incidents: list})
	return nil
}

// IncidentRequest is the body of POST /api/v1/incidents, which opens an
// incident (201) or updates the open one with the same key (200), and
// answers the incident.Incident. Key defaults to a new one.
type IncidentRequest struct {
	Title    string `json:"title"`
	Summary  string `json:"summary"`
	Severity string `json:"severity"`
	Policy   string `json:"policy"`
	Key      string `json:"key"`
}

func (a *API) createIncident(w http.ResponseWriter, r *http.Request) error {
	var req IncidentRequest
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

// IncidentResponse answers GET /api/v1/incidents/{id}: the incident with
// its alerts, and its timeline oldest first.
type IncidentResponse struct {
	Incident incident.Incident `json:"incident"`
	Timeline []incident.Event  `json:"timeline"`
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
	server.WriteJSON(w, http.StatusOK, IncidentResponse{Incident: inc, Timeline: events})
	return nil
}

// TransitionResponse answers POST /api/v1/incidents/{id}/ack and
// /resolve: the incident, and whether this request changed it (false for
// a repeated acknowledgement or resolution).
type TransitionResponse struct {
	Changed  bool              `json:"changed"`
	Incident incident.Incident `json:"incident"`
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
	server.WriteJSON(w, http.StatusOK, TransitionResponse{Incident: inc, Changed: changed})
	return nil
}

func (a *API) ackIncident(w http.ResponseWriter, r *http.Request) error {
	return a.transition(w, r, true)
}

func (a *API) resolveIncident(w http.ResponseWriter, r *http.Request) error {
	return a.transition(w, r, false)
}
