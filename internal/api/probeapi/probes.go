package probeapi

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// ProbeList is the body of GET /api/v1/probes: each probe's current state
// as recorded, by service and name.
type ProbeList struct {
	Probes []probe.State `json:"probes"`
}

// Run is the body of POST /api/v1/probes/{name}/run: the run's result,
// with its steps.
type Run = probe.Result

// registerProbes adds GET /api/v1/probes (viewer and above) and
// POST /api/v1/probes/{name}/run (oncall and above; audited as probe.run,
// 404 for a name not configured).
func registerProbes(s *server.Server, o Options) {
	s.Handle("GET /api/v1/probes", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		states, err := o.Store.ProbeStates(r.Context())
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, ProbeList{Probes: orEmpty(states)})
		return nil
	})
	s.Handle("POST /api/v1/probes/{name}/run", auth.RoleOncall, func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		res, err := o.Runner.Check(r.Context(), name)
		if errors.Is(err, probe.ErrUnknownProbe) {
			return server.NotFound(fmt.Sprintf("no probe named %q", name))
		}
		if err != nil {
			return err
		}
		// The run happened and is recorded; its answer does not wait on
		// the audit log.
		_ = s.Audit(r, "probe.run", name, fmt.Sprintf("ok=%v", res.OK))
		server.WriteJSON(w, http.StatusOK, Run(res))
		return nil
	})
}
