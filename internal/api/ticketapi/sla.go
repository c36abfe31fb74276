package ticketapi

import (
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// The SLA policies as configured, and "when is a fault due, and why".
func (a *API) registerSLA() {
	a.srv.Handle("GET /api/v1/sla/policies", auth.RoleViewer, a.policies)
	a.srv.Handle("GET /api/v1/sla/explain", auth.RoleViewer, a.explain)
}

// PolicyView is a configured SLA policy, normalised, with its version
// (the hash a ticket freezes).
type PolicyView struct {
	sla.Policy
	Version string `json:"version"`
}

// PoliciesResponse answers GET /api/v1/sla/policies.
type PoliciesResponse struct {
	DefaultPolicy string       `json:"default_policy"`
	Policies      []PolicyView `json:"policies"`
}

func (a *API) policies(w http.ResponseWriter, r *http.Request) error {
	var out []PolicyView
	for _, p := range a.o.SLA.Policies {
		out = append(out, PolicyView{p.Normalized(), p.Hash()})
	}
	server.WriteJSON(w, http.StatusOK, PoliciesResponse{Policies: out, DefaultPolicy: a.o.SLA.DefaultPolicy})
	return nil
}

// explain answers the sla.Result of ?policy= for a fault ?notified= at,
// with each ?pause= (START/END or START/DURATION) in the policy's first
// pause state; wall times are in the service time zone.
func (a *API) explain(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	res, err := tickets.ExplainSLA(a.o.SLA, q.Get("policy"), q.Get("notified"), q["pause"], a.o.Location)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, res)
	return nil
}
