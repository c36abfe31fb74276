package oncallapi

import (
	"fmt"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Overrides put someone on call for a span, whatever the rota says.
func (a *API) registerOverrides() {
	a.srv.Handle("GET /api/v1/oncall/overrides", auth.RoleViewer, a.listOverrides)
	a.srv.Handle("POST /api/v1/oncall/overrides", auth.RoleOncall, a.addOverride)
	a.srv.Handle("DELETE /api/v1/oncall/overrides/{id}", auth.RoleOncall, a.deleteOverride)
}

// OverridesResponse answers GET /api/v1/oncall/overrides: the rota's live
// overrides in creation order (later wins). POST answers one
// team.OverrideRecord.
type OverridesResponse struct {
	Overrides []team.OverrideRecord `json:"overrides"`
}

func (a *API) listOverrides(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	list, err := a.o.Team.ListOverrides(r.Context(), name)
	if err != nil {
		return err
	}
	if list == nil {
		list = []team.OverrideRecord{}
	}
	server.WriteJSON(w, http.StatusOK, OverridesResponse{Overrides: list})
	return nil
}

// OverrideRequest is the body of POST /api/v1/oncall/overrides; Rota
// defaults to the first rota.
type OverrideRequest struct {
	Rota   string    `json:"rota"`
	Member string    `json:"member"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason"`
}

func (a *API) addOverride(w http.ResponseWriter, r *http.Request) error {
	var req OverrideRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Rota == "" {
		req.Rota = a.o.Team.DefaultRota()
	}
	o, err := a.o.Team.AddOverride(r.Context(), team.OverrideRequest{Rota: req.Rota, Member: req.Member, Start: req.Start, End: req.End,
		Reason: req.Reason, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.override.add", o.ID, fmt.Sprintf("rota=%s member=%s", o.Rota, o.Member)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, o)
	return nil
}

func (a *API) deleteOverride(w http.ResponseWriter, r *http.Request) error {
	id, err := team.ParseID(r.PathValue("id"))
	if err != nil {
		return server.BadRequest(err.Error())
	}
	if err := a.o.Team.DeleteOverride(r.Context(), id, a.o.Now()); err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.override.delete", r.PathValue("id"), ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
