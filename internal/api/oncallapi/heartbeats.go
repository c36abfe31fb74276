package oncallapi

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
)

// Heartbeats: a beat arrives with the machine token (as Alertmanager's
// webhook does); their states are listed for viewers.
func (a *API) registerHeartbeats() {
	a.srv.HandlePublic("POST /api/v1/heartbeats/{name}", a.beat)
	a.srv.Handle("GET /api/v1/heartbeats", auth.RoleViewer, a.listHeartbeats)
}

// HeartbeatsResponse answers GET /api/v1/heartbeats.
type HeartbeatsResponse struct {
	Heartbeats []heartbeat.State `json:"heartbeats"`
}

// beat records a beat of a configured heartbeat: 204, 401 without the
// machine token, 404 for a heartbeat not configured.
func (a *API) beat(w http.ResponseWriter, r *http.Request) error {
	scheme, tok, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if a.o.MachineToken == "" || !strings.EqualFold(scheme, "Bearer") ||
		subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(a.o.MachineToken)) != 1 {
		return &server.Error{Status: http.StatusUnauthorized, Code: server.CodeUnauthorized, Message: "missing or wrong bearer token"}
	}
	if a.o.Heartbeats == nil {
		return server.NotFound("no such heartbeat")
	}
	if err := a.o.Heartbeats.Beat(r.Context(), r.PathValue("name")); err != nil {
		return server.NotFound(err.Error())
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listHeartbeats(w http.ResponseWriter, r *http.Request) error {
	var list []heartbeat.State
	if a.o.Heartbeats != nil {
		var err error
		if list, err = a.o.Heartbeats.Store.Heartbeats(r.Context()); err != nil {
			return err
		}
	}
	if list == nil {
		list = []heartbeat.State{}
	}
	server.WriteJSON(w, http.StatusOK, HeartbeatsResponse{Heartbeats: list})
	return nil
}
