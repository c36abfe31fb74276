package oncallapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Swaps: one member asks another to exchange turns; the counterpart
// accepts or declines, the requester may cancel. Each step is taken by
// that member's own principal (docs/oncall.md, "Swaps"): a web user or
// single sign-on name that is the member's ID or e-mail address
// (team.MemberByLogin). An API token names no member: it is a machine's
// credential, and below admin it takes no step. An administrator may act
// for anyone; the audit entry then says in whose name.
func (a *API) registerSwaps() {
	a.srv.Handle("GET /api/v1/oncall/swaps", auth.RoleViewer, a.listSwaps)
	a.srv.Handle("POST /api/v1/oncall/swaps", auth.RoleOncall, a.requestSwap)
	a.srv.Handle("POST /api/v1/oncall/swaps/{id}/{action}", auth.RoleOncall, a.decideSwap)
}

// SwapsResponse answers GET /api/v1/oncall/swaps: the rota's swaps in
// creation order, and Me, the member the caller is (empty for none), so
// that a page offers each person only the steps that are theirs. POST
// answers one team.SwapRecord.
type SwapsResponse struct {
	Swaps []team.SwapRecord `json:"swaps"`
	Me    string            `json:"me,omitempty"`
}

func (a *API) listSwaps(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	list, err := a.o.Team.ListSwaps(r.Context(), name)
	if err != nil {
		return err
	}
	if list == nil {
		list = []team.SwapRecord{}
	}
	resp := SwapsResponse{Swaps: list}
	if p, _ := auth.FromContext(r.Context()); p.TokenID == 0 {
		if m, ok := a.o.Team.MemberByLogin(p.Name); ok {
			resp.Me = m.ID
		}
	}
	server.WriteJSON(w, http.StatusOK, resp)
	return nil
}

// SwapRequest is the body of POST /api/v1/oncall/swaps; Rota defaults to
// the first rota.
type SwapRequest struct {
	Rota        string    `json:"rota"`
	Requester   string    `json:"requester"`
	Counterpart string    `json:"counterpart"`
	Mine        time.Time `json:"mine"`   // an instant in the requester's turn
	Theirs      time.Time `json:"theirs"` // an instant in the counterpart's turn
	Note        string    `json:"note"`
}

func (a *API) requestSwap(w http.ResponseWriter, r *http.Request) error {
	var req SwapRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Rota == "" {
		req.Rota = a.o.Team.DefaultRota()
	}
	member, err := a.swapMember(r)
	if err != nil {
		return err
	}
	s, err := a.o.Team.RequestSwap(r.Context(), team.SwapRequest{Rota: req.Rota, Requester: req.Requester, Counterpart: req.Counterpart,
		Mine: req.Mine, Theirs: req.Theirs, Note: req.Note, Actor: member, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	detail := fmt.Sprintf("rota=%s %s<->%s", s.Rota, s.Requester, s.Counterpart)
	if member == "" {
		detail += " (administrator, in the name of " + s.Requester + ")"
	}
	if err := a.srv.Audit(r, "oncall.swap.request", s.ID, detail); err != nil {
		return err
	}
	a.announceSwap(r.Context(), s)
	server.WriteJSON(w, http.StatusCreated, s)
	return nil
}

// swapMember is the member the request's principal is, who may take a
// swap's steps only in their own name; "" for an administrator, who may act
// for anyone. A principal below admin that is no member is refused (403).
func (a *API) swapMember(r *http.Request) (string, error) {
	p, _ := auth.FromContext(r.Context())
	if p.Role.AtLeast(auth.RoleAdmin) {
		return "", nil
	}
	m, ok := a.o.Team.MemberByLogin(p.Name)
	if p.TokenID != 0 {
		ok = false
	}
	if !ok {
		return "", &server.Error{Status: http.StatusForbidden, Code: server.CodeForbidden,
			Message: "swaps are requested and decided by the members themselves; " + p.Name + " is not a member of the team"}
	}
	return m.ID, nil
}

// announceSwap asks the counterpart (Slack buttons, e-mail) to decide.
func (a *API) announceSwap(ctx context.Context, s team.SwapRecord) {
	if a.o.Notify == nil {
		return
	}
	m, ok := a.o.Team.SwapRequestMessage(s, "request", "Swap request from "+s.Requester, "")
	if !ok {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		defer cancel()
		if err := a.o.Notify(ctx, m); err != nil {
			a.o.Logger.Warn("swap request notice", "swap", s.ID, "err", err)
		}
	}()
}

// decideSwap accepts, declines or cancels a swap and answers the
// team.SwapRecord.
func (a *API) decideSwap(w http.ResponseWriter, r *http.Request) error {
	id, err := team.ParseID(r.PathValue("id"))
	if err != nil {
		return server.BadRequest(err.Error())
	}
	var to rota.SwapState
	switch r.PathValue("action") {
	case "accept":
		to = rota.SwapAccepted
	case "decline":
		to = rota.SwapDeclined
	case "cancel":
		to = rota.SwapCancelled
	default:
		return server.NotFound("action must be accept, decline or cancel")
	}
	member, err := a.swapMember(r)
	if err != nil {
		return err
	}
	s, err := a.o.Team.DecideSwap(r.Context(), team.SwapDecision{ID: id, To: to, Actor: member, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	detail := ""
	if member == "" {
		who := s.Counterpart
		if to == rota.SwapCancelled {
			who = s.Requester
		}
		detail = "administrator, in the name of " + who
	}
	if err := a.srv.Audit(r, "oncall.swap."+r.PathValue("action"), s.ID, detail); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, s)
	return nil
}
