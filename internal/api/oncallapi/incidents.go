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
	a.srv.Handle("POST /api/v1/incidents/{id}/escalate", auth.RoleOncall, a.escalateIncident)
	a.srv.Handle("POST /api/v1/incidents/{id}/page", auth.RoleOncall, a.pageIncident)
	a.srv.Handle("POST /api/v1/incidents/{id}/reassign", auth.RoleOncall, a.reassignIncident)
	a.srv.Handle("POST /api/v1/incidents/{id}/notes", auth.RoleOncall, a.noteIncident)
}

func incErr(err error) error {
	switch {
	case errors.Is(err, incident.ErrNotFound):
		return server.NotFound("no such incident")
	case errors.Is(err, incident.ErrInvalid):
		return server.BadRequest(err.Error())
	case errors.Is(err, incident.ErrState):
		return server.Conflict(err.Error())
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
// its alerts, its timeline oldest first, and its page log (every message
// sent or tried: to whom, by which channel, with what result) oldest
// first.
type IncidentResponse struct {
	Incident incident.Incident   `json:"incident"`
	Timeline []incident.Event    `json:"timeline"`
	Pages    []incident.Delivery `json:"pages"`
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
	pages, err := a.o.Incidents.Deliveries(r.Context(), id)
	if err != nil {
		return err
	}
	if events == nil {
		events = []incident.Event{}
	}
	if pages == nil {
		pages = []incident.Delivery{}
	}
	server.WriteJSON(w, http.StatusOK, IncidentResponse{Incident: inc, Timeline: events, Pages: pages})
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

func (a *API) escalateIncident(w http.ResponseWriter, r *http.Request) error {
	id, err := a.incidentID(r)
	if err != nil {
		return err
	}
	inc, err := a.o.Incidents.Escalate(r.Context(), id, actor(r))
	if err != nil {
		return incErr(err)
	}
	if err := a.srv.Audit(r, "incident.escalate", strconv.FormatInt(id, 10), ""); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, TransitionResponse{Incident: inc, Changed: true})
	return nil
}

// PageRequest is the body of POST /api/v1/incidents/{id}/page and
// /reassign: the member (a team member's ID) and an optional note
// (at most 4000 bytes) for the message and the timeline.
type PageRequest struct {
	Member string `json:"member"`
	Note   string `json:"note"`
}

func (a *API) memberAction(w http.ResponseWriter, r *http.Request, reassign bool) error {
	id, err := a.incidentID(r)
	if err != nil {
		return err
	}
	var req PageRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	req.Member, req.Note = strings.TrimSpace(req.Member), strings.TrimSpace(req.Note)
	var inc incident.Incident
	action := "incident.page"
	if reassign {
		action = "incident.reassign"
		inc, err = a.o.Incidents.Reassign(r.Context(), id, req.Member, actor(r), req.Note)
	} else {
		inc, err = a.o.Incidents.Page(r.Context(), id, req.Member, actor(r), req.Note)
	}
	if err != nil {
		return incErr(err)
	}
	if err := a.srv.Audit(r, action, strconv.FormatInt(id, 10), "member="+req.Member); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, TransitionResponse{Incident: inc, Changed: true})
	return nil
}

func (a *API) pageIncident(w http.ResponseWriter, r *http.Request) error {
	return a.memberAction(w, r, false)
}

func (a *API) reassignIncident(w http.ResponseWriter, r *http.Request) error {
	return a.memberAction(w, r, true)
}

// NoteRequest is the body of POST /api/v1/incidents/{id}/notes, which
// adds a note to the timeline (201, the incident.Event).
type NoteRequest struct {
	Text string `json:"text"`
}

func (a *API) noteIncident(w http.ResponseWriter, r *http.Request) error {
	id, err := a.incidentID(r)
	if err != nil {
		return err
	}
	var req NoteRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	e, err := a.o.Incidents.AddNote(r.Context(), id, actor(r), req.Text)
	if err != nil {
		return incErr(err)
	}
	if err := a.srv.Audit(r, "incident.note", strconv.FormatInt(id, 10), ""); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, e)
	return nil
}
