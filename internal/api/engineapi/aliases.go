package engineapi

import (
	"net/http"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// AliasList is the body of GET /api/v1/directory/aliases. Each alias is
// directory.Alias as it is (its JSON keys are Address, Kind and Targets).
type AliasList struct {
	Aliases []directory.Alias `json:"aliases"`
}

// AliasAdded is the body of POST /api/v1/directory/aliases: the alias as
// given.
type AliasAdded struct {
	Address string              `json:"address"`
	Kind    directory.EntryKind `json:"kind"`
	Targets []string            `json:"targets"`
}

// registerAliases serves aliases, lists and function addresses: GET lists
// them, or with ?target= those that lead to an address (helpdesk); POST
// {"address","kind","targets"} creates or replaces one and DELETE removes
// one (postmaster).
func registerAliases(s *server.Server, d *directory.Directory) {
	s.Handle("GET /api/v1/directory/aliases", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		var list []directory.Alias
		var err error
		if t := r.URL.Query().Get("target"); t != "" {
			list, err = d.AliasesTargeting(r.Context(), t)
		} else {
			list, err = d.Aliases(r.Context())
		}
		if err != nil {
			return directoryError(err)
		}
		if list == nil {
			list = []directory.Alias{}
		}
		server.WriteJSON(w, http.StatusOK, AliasList{Aliases: list})
		return nil
	})
	s.Handle("POST /api/v1/directory/aliases", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Address string   `json:"address"`
			Kind    string   `json:"kind"` // alias, list or function
			Targets []string `json:"targets"`
		}
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		k := directory.EntryKind(req.Kind)
		if k == "" {
			k = directory.KindAlias
		}
		if k != directory.KindAlias && k != directory.KindList && k != directory.KindFunction {
			return server.BadRequest("kind must be alias, list or function")
		}
		if err := d.AddAlias(r.Context(), req.Address, k, req.Targets); err != nil {
			return directoryError(err)
		}
		if err := s.Audit(r, "directory.add-alias", req.Address, string(k)); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, AliasAdded{Address: req.Address, Kind: k, Targets: req.Targets})
		return nil
	})
	s.Handle("DELETE /api/v1/directory/aliases/{address}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		a := r.PathValue("address")
		if err := d.RemoveAlias(r.Context(), a); err != nil {
			return directoryError(err)
		}
		if err := s.Audit(r, "directory.remove-alias", a, ""); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
