package accessapi

import (
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// AuditList is GET /api/v1/audit: the audit log since a time (default the
// last 30 days), newest first, at most 1,000 entries.
type AuditList struct {
	Entries []auth.AuditEntry `json:"entries"`
}

func registerAudit(s *server.Server, o Options) {
	s.Handle("GET /api/v1/audit", auth.RoleAdmin, func(w http.ResponseWriter, r *http.Request) error {
		since := o.Now().Add(-30 * 24 * time.Hour)
		if v := r.URL.Query().Get("since"); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return server.BadRequest("since must be an RFC 3339 time")
			}
			since = t
		}
		list, err := o.Audit.ListAudit(r.Context(), since, 1000)
		if err != nil {
			return err
		}
		if list == nil {
			list = []auth.AuditEntry{}
		}
		server.WriteJSON(w, http.StatusOK, AuditList{Entries: list})
		return nil
	})
}
