package accessapi

import (
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// Whoami is the caller as the API sees it: GET /api/v1/whoami.
type Whoami struct {
	Name string    `json:"name"` // "token:<name>" for an API token, the user's name for a web session
	Role auth.Role `json:"role"`
}

func registerWhoami(s *server.Server) {
	s.Handle("GET /api/v1/whoami", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.FromContext(r.Context())
		server.WriteJSON(w, http.StatusOK, Whoami{Name: p.Name, Role: p.Role})
		return nil
	})
}
