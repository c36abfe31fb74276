package accessapi

import (
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/runbooks"
)

// Runbook is one runbook in the index, with the address of its page.
type Runbook struct {
	ID       string   `json:"id"`
	Title    string   `json:"title"`
	Summary  string   `json:"summary"`
	Alerts   []string `json:"alerts"`
	Services []string `json:"services"`
	URL      string   `json:"url"`
}

// RunbookList is GET /api/v1/runbooks: every runbook, in the library's order.
type RunbookList struct {
	Runbooks []Runbook `json:"runbooks"`
}

func registerRunbooks(s *server.Server, o Options) {
	s.Handle("GET /api/v1/runbooks", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		var out RunbookList
		for _, rb := range o.Runbooks.All() {
			out.Runbooks = append(out.Runbooks, Runbook{rb.ID, rb.Title, rb.Summary, rb.Alerts, rb.Services, runbooks.URL(o.BaseURL, rb.ID)})
		}
		server.WriteJSON(w, http.StatusOK, out)
		return nil
	})
}
