// Package complaintapi serves the spam complaints and the filter rules
// they propose (docs/configuration.md, "Rules from spam complaints";
// docs/api.md): every signed-in role reads them, a postmaster accepts or
// rejects rules — one rule, or all that a complaint proposed in one
// action.
package complaintapi

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// Options configure the API.
type Options struct {
	Complaints *complaint.Service
}

// API is the complaints HTTP API.
type API struct {
	o   Options
	srv *server.Server
}

// Register adds the routes to srv, each with its role.
func Register(srv *server.Server, o Options) *API {
	a := &API{o: o, srv: srv}
	srv.Handle("GET /api/v1/spam-complaints", auth.RoleViewer, a.list)
	srv.Handle("GET /api/v1/spam-complaints/{id}", auth.RoleViewer, a.get)
	srv.Handle("POST /api/v1/spam-complaints/{id}/{decision}", auth.RolePostmaster, a.decideComplaint)
	srv.Handle("GET /api/v1/spam-rules", auth.RoleViewer, a.rules)
	srv.Handle("GET /api/v1/spam-rules/{id}", auth.RoleViewer, a.rule)
	srv.Handle("POST /api/v1/spam-rules/{id}/{decision}", auth.RolePostmaster, a.decideRule)
	return a
}

func apiError(err error) error {
	switch {
	case errors.Is(err, complaint.ErrNotFound):
		return server.NotFound(err.Error())
	case errors.Is(err, complaint.ErrTransition):
		return server.Conflict(err.Error())
	case errors.Is(err, complaint.ErrInvalid):
		return server.BadRequest(err.Error())
	}
	return err
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, server.BadRequest("bad id " + strconv.Quote(r.PathValue("id")))
	}
	return id, nil
}

func decision(r *http.Request) (complaint.RuleState, error) {
	switch r.PathValue("decision") {
	case "accept":
		return complaint.Active, nil
	case "reject":
		return complaint.Rejected, nil
	}
	return "", server.NotFound("no action " + strconv.Quote(r.PathValue("decision")) + "; actions: accept, reject")
}

// ComplaintsResponse lists complaints, newest first (?limit=, default 200).
type ComplaintsResponse struct {
	Complaints []complaint.Complaint `json:"complaints"`
}

func (a *API) list(w http.ResponseWriter, r *http.Request) error {
	n, err := server.QueryInt(r.URL.Query(), "limit", 200, 1, 1000)
	if err != nil {
		return err
	}
	cs, err := a.o.Complaints.Complaints(r.Context(), n)
	if err != nil {
		return err
	}
	if cs == nil {
		cs = []complaint.Complaint{}
	}
	server.WriteJSON(w, http.StatusOK, ComplaintsResponse{Complaints: cs})
	return nil
}

// ComplaintResponse is a complaint with the rules it proposed.
type ComplaintResponse struct {
	Complaint complaint.Complaint `json:"complaint"`
	Rules     []complaint.Rule    `json:"rules"`
}

func (a *API) get(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, rules, err := a.o.Complaints.Complaint(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	if rules == nil {
		rules = []complaint.Rule{}
	}
	server.WriteJSON(w, http.StatusOK, ComplaintResponse{Complaint: c, Rules: rules})
	return nil
}

// DecisionResponse says how many rules changed state.
type DecisionResponse struct {
	Changed int                 `json:"changed"`
	State   complaint.RuleState `json:"state"`
}

func (a *API) decideComplaint(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	to, err := decision(r)
	if err != nil {
		return err
	}
	p, _ := auth.FromContext(r.Context())
	n, err := a.o.Complaints.Decide(r.Context(), id, nil, to, p.Name)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "spam_complaint."+r.PathValue("decision"), fmt.Sprintf("spam_complaint:%d", id), fmt.Sprintf("%d rules %s", n, to)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, DecisionResponse{Changed: n, State: to})
	return nil
}

// RulesResponse lists rules (?state=proposed|active|rejected), by ID.
type RulesResponse struct {
	Rules []complaint.Rule `json:"rules"`
}

func (a *API) rules(w http.ResponseWriter, r *http.Request) error {
	rs, err := a.o.Complaints.Rules(r.Context(), complaint.RuleState(r.URL.Query().Get("state")))
	if err != nil {
		return apiError(err)
	}
	if rs == nil {
		rs = []complaint.Rule{}
	}
	server.WriteJSON(w, http.StatusOK, RulesResponse{Rules: rs})
	return nil
}

// RuleResponse is a rule with the complaints behind it.
type RuleResponse struct {
	Rule       complaint.Rule        `json:"rule"`
	Complaints []complaint.Complaint `json:"complaints"`
}

func (a *API) rule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	x, cs, err := a.o.Complaints.Rule(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	if cs == nil {
		cs = []complaint.Complaint{}
	}
	server.WriteJSON(w, http.StatusOK, RuleResponse{Rule: x, Complaints: cs})
	return nil
}

func (a *API) decideRule(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	to, err := decision(r)
	if err != nil {
		return err
	}
	p, _ := auth.FromContext(r.Context())
	n, err := a.o.Complaints.Decide(r.Context(), 0, []int64{id}, to, p.Name)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "spam_rule."+r.PathValue("decision"), fmt.Sprintf("spam_rule:%d", id), string(to)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, DecisionResponse{Changed: n, State: to})
	return nil
}
