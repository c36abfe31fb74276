package collectorsapi

import (
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// Summary is the body of GET /api/v1/mail/summary: the grand totals that
// `postvakt summary --json` prints.
type Summary = txlog.Summary

// registerSummary adds GET /api/v1/mail/summary?since=&until= (viewer and
// above); since defaults to 24 hours ago.
func registerSummary(s *server.Server, o Options) {
	s.Handle("GET /api/v1/mail/summary", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		qs := r.URL.Query()
		now := o.Now()
		since, err := trace.ParseTime(qs.Get("since"), now, o.Location)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		until, err := trace.ParseTime(qs.Get("until"), now, o.Location)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		if qs.Get("since") == "" {
			since = now.Add(-24 * time.Hour)
		}
		sum, err := o.Store.TxSummary(r.Context(), since, until)
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, sum)
		return nil
	})
}
