package app

import (
	"net/http"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/store/txlogstore"
)

// trafficHour is the mail flow of one UTC hour, from the hourly rollups.
type trafficHour struct {
	Hour          time.Time `json:"hour"`
	Received      int64     `json:"received"`       // messages received (metric "messages")
	Delivered     int64     `json:"delivered"`      // recipients delivered ("recipients", status sent)
	Rejected      int64     `json:"rejected"`       // recipients rejected ("recipients", status rejected)
	Logins        int64     `json:"logins"`         // successful logins ("logins", ok)
	LoginFailures int64     `json:"login_failures"` // failed logins ("logins", failed)
}

// registerTrafficAPI adds GET /api/v1/traffic/hourly?hours=N (viewer and
// above): the last N hours (default 24, at most 168) of the hourly
// rollups, oldest first, one entry per hour including empty ones. The
// current hour is included; the rollup job (collectors_rollups) fills it
// in as it runs, so it may lag by up to its interval.
func registerTrafficAPI(env *Env) {
	env.Server.Handle("GET /api/v1/traffic/hourly", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		hours, err := server.QueryInt(r.URL.Query(), "hours", 24, 1, 168)
		if err != nil {
			return err
		}
		to := env.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		from := to.Add(-time.Duration(hours) * time.Hour)
		points, err := txlogstore.New(env.DB).Rollups(r.Context(), rollup.Hour, from, to)
		if err != nil {
			return err
		}
		out := make([]trafficHour, hours)
		for i := range out {
			out[i].Hour = from.Add(time.Duration(i) * time.Hour)
		}
		for _, p := range points {
			i := int(p.Bucket.Sub(from) / time.Hour)
			if i < 0 || i >= hours {
				continue
			}
			h := &out[i]
			switch p.Metric {
			case "messages":
				h.Received += p.Count
			case "recipients":
				switch {
				case strings.HasSuffix(p.Dim, "|sent"):
					h.Delivered += p.Count
				case strings.HasSuffix(p.Dim, "|rejected"):
					h.Rejected += p.Count
				}
			case "logins":
				if strings.HasSuffix(p.Dim, "|ok") {
					h.Logins += p.Count
				} else {
					h.LoginFailures += p.Count
				}
			}
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"hours": out, "from": from, "to": to})
		return nil
	})
}
