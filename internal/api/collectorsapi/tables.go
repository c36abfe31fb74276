package collectorsapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/collectors/txlog"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// Tables is the body of GET /api/v1/mail/tables: pflogsumm's detail
// tables, as `postvakt summary --json` prints them under "tables".
type Tables = txlog.Tables

// maxTop bounds the entries per table a request may ask for.
const maxTop = 1000

// registerTables adds GET /api/v1/mail/tables?since=&until=&top= (viewer
// and above): since defaults to 24 hours ago, top to 10; hours are in
// collectors.timezone.
func registerTables(s *server.Server, o Options) {
	s.Handle("GET /api/v1/mail/tables", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
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
		top := 10
		if v := qs.Get("top"); v != "" {
			top, err = strconv.Atoi(v)
			if err != nil || top < 1 || top > maxTop {
				return server.BadRequest("top: want a number from 1 to " + strconv.Itoa(maxTop))
			}
		}
		loc := o.Location
		if loc == nil {
			loc = time.UTC
		}
		t, err := o.Store.SummaryTables(r.Context(), since, until, top, loc)
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, t)
		return nil
	})
}
