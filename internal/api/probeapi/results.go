package probeapi

import (
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// ResultList is the body of GET /api/v1/probes/{name}/results: the
// probe's runs in the period, newest first.
type ResultList struct {
	Results []probe.Result `json:"results"`
}

// registerResults adds GET /api/v1/probes/{name}/results?from=&to=&limit=
// (viewer and above): the last 24 hours by default, at most limit runs
// (1 to 1000, default 1000).
func registerResults(s *server.Server, o Options) {
	s.Handle("GET /api/v1/probes/{name}/results", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		from, to, err := periodParams(r, o.Now(), 24*time.Hour)
		if err != nil {
			return err
		}
		limit, err := server.QueryInt(r.URL.Query(), "limit", 1000, 1, 1000)
		if err != nil {
			return err
		}
		res, err := o.Store.ProbeResults(r.Context(), r.PathValue("name"), from, to, limit)
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, ResultList{Results: orEmpty(res)})
		return nil
	})
}
