package engineapi

import (
	"net/http"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// DomainList is the body of GET /api/v1/directory/domains.
type DomainList struct {
	Domains []directory.Domain `json:"domains"`
}

// DomainAdded is the body of POST /api/v1/directory/domains.
type DomainAdded struct {
	Name string `json:"name"`
}

// registerDomains serves the local domains: GET (helpdesk) lists them,
// POST {"name"} (postmaster) adds one.
func registerDomains(s *server.Server, d *directory.Directory) {
	s.Handle("GET /api/v1/directory/domains", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		list, err := d.Domains(r.Context())
		if err != nil {
			return err
		}
		if list == nil {
			list = []directory.Domain{}
		}
		server.WriteJSON(w, http.StatusOK, DomainList{Domains: list})
		return nil
	})
	s.Handle("POST /api/v1/directory/domains", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Name string `json:"name"`
		}
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		if err := d.AddDomain(r.Context(), req.Name); err != nil {
			return directoryError(err)
		}
		if err := s.Audit(r, "directory.add-domain", req.Name, ""); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, DomainAdded{Name: req.Name})
		return nil
	})
}
