package oncallapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Unavailability: spans in which a member cannot be reached; the gaps
// show where they fall on the person's own turns.
func (a *API) registerUnavailability() {
	a.srv.Handle("POST /api/v1/oncall/unavailability", auth.RoleOncall, a.addUnavailability)
}

// UnavailabilityRequest is the body of POST /api/v1/oncall/unavailability.
type UnavailabilityRequest struct {
	Member string    `json:"member"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Reason string    `json:"reason"`
}

// CreatedResponse answers a POST that stores something with an ID.
type CreatedResponse struct {
	ID int64 `json:"id"`
}

func (a *API) addUnavailability(w http.ResponseWriter, r *http.Request) error {
	var req UnavailabilityRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	id, err := a.o.Team.AddUnavailability(r.Context(), team.UnavailabilityRequest{Member: req.Member, Start: req.Start, End: req.End,
		Reason: req.Reason, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.unavailability.add", strconv.FormatInt(id, 10), "member="+req.Member); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, CreatedResponse{ID: id})
	return nil
}
