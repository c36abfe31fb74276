package collectorsapi

import (
	"net/http"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/rollup"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// TrafficHour is the mail flow of one UTC hour, from the hourly rollups.
type TrafficHour struct {
	Hour          time.Time `json:"hour"`
	Received      int64     `json:"received"`       // messages received (metric "messages")
	Delivered     int64     `json:"delivered"`      // recipients delivered ("recipients", status sent)
	Rejected      int64     `json:"rejected"`       // recipients rejected ("recipients", status rejected)
	Logins        int64     `json:"logins"`         // successful logins ("logins", ok)
	LoginFailures int64     `json:"login_failures"` // failed logins ("logins", failed)
}

// Traffic is the body of GET /api/v1/traffic/hourly: the hours of
// [From, To), oldest first. Its keys are in alphabetical order, as the
// endpoint has always written them.
type Traffic struct {
	From  time.Time     `json:"from"`
	Hours []TrafficHour `json:"hours"`
	To    time.Time     `json:"to"`
}

// registerTraffic adds GET /api/v1/traffic/hourly?hours=N (viewer and
// above): the last N hours (default 24, at most 168) of the hourly
// rollups, oldest first, one entry per hour including empty ones. The
// current hour is included; the rollup job (collectors_rollups) fills it
// in as it runs, so it may lag by up to its interval.
func registerTraffic(s *server.Server, o Options) {
	s.Handle("GET /api/v1/traffic/hourly", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		hours, err := server.QueryInt(r.URL.Query(), "hours", 24, 1, 168)
		if err != nil {
			return err
		}
		to := o.Now().UTC().Truncate(time.Hour).Add(time.Hour)
		from := to.Add(-time.Duration(hours) * time.Hour)
		points, err := o.Store.Rollups(r.Context(), rollup.Hour, from, to)
		if err != nil {
			return err
		}
		out := make([]TrafficHour, hours)
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
		server.WriteJSON(w, http.StatusOK, Traffic{From: from, Hours: out, To: to})
		return nil
	})
}
