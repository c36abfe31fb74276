package probeapi

import (
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// AvailabilityList is the body of GET /api/v1/availability: each probed
// service's availability over the period, or over each of its days.
type AvailabilityList struct {
	Services []probe.Figures `json:"services"`
}

// registerAvailability adds GET /api/v1/availability?from=&to=&by=
// (viewer and above): the last 30 days by default; by=period (the
// default) gives one row per service, by=day one per service and day of
// Options.Location.
func registerAvailability(s *server.Server, o Options) {
	s.Handle("GET /api/v1/availability", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		from, to, err := periodParams(r, o.Now(), 30*24*time.Hour)
		if err != nil {
			return err
		}
		var figs []probe.Figures
		switch r.URL.Query().Get("by") {
		case "", "period":
			figs, err = o.Store.ServiceAvailability(r.Context(), from, to)
		case "day":
			figs, err = o.Store.ServiceAvailabilityDaily(r.Context(), from, to, o.Location)
		default:
			return server.BadRequest("by: want period or day")
		}
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, AvailabilityList{Services: orEmpty(figs)})
		return nil
	})
}
