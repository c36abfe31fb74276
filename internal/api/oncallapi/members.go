package oncallapi

import (
	"net/http"
	"slices"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// The members of the team as data: those on call may read their contact
// details; postmasters and admins add, edit and remove members
// (docs/oncall.md, "The rota as data").
func (a *API) registerMembers() {
	a.srv.Handle("GET /api/v1/oncall/members", auth.RoleOncall, a.listMembers)
	a.srv.Handle("POST /api/v1/oncall/members", auth.RolePostmaster, a.addMember)
	a.srv.Handle("PATCH /api/v1/oncall/members/{id}", auth.RolePostmaster, a.editMember)
	a.srv.Handle("DELETE /api/v1/oncall/members/{id}", auth.RolePostmaster, a.removeMember)
}

// MemberView is a member as the API shows it; Rotas lists the rotas whose
// version in force now or later has the member.
type MemberView struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	SlackID  string   `json:"slack_id"`
	Phone    string   `json:"phone"`
	TimeZone string   `json:"time_zone"`
	Rotas    []string `json:"rotas"`
}

// MembersResponse answers GET /api/v1/oncall/members: the current members.
type MembersResponse struct {
	Members []MemberView `json:"members"`
}

func (a *API) memberView(m rota.Member, now time.Time) MemberView {
	v := MemberView{ID: m.ID, Name: m.Name, Email: m.Email, SlackID: m.SlackID, Phone: m.Phone, TimeZone: m.TimeZone, Rotas: []string{}}
	for _, name := range a.o.Team.Rotas() {
		rt, err := a.o.Team.Rota(name)
		if err != nil {
			continue
		}
		vs := rt.Versions()
		for i, ver := range vs {
			if (i == len(vs)-1 || vs[i+1].From.After(now)) && slices.Contains(ver.Spec.Members, m.ID) {
				v.Rotas = append(v.Rotas, name)
				break
			}
		}
	}
	return v
}

func (a *API) listMembers(w http.ResponseWriter, r *http.Request) error {
	if err := a.o.Team.Refresh(r.Context()); err != nil {
		return err
	}
	now := a.o.Now()
	out := MembersResponse{Members: []MemberView{}}
	for _, m := range a.o.Team.Members() {
		out.Members = append(out.Members, a.memberView(m, now))
	}
	server.WriteJSON(w, http.StatusOK, out)
	return nil
}

// MemberRequest is the body of POST /api/v1/oncall/members (ID required)
// and PATCH /api/v1/oncall/members/{id} (absent fields keep their value,
// "-" empties one).
type MemberRequest struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Email    string `json:"email"`
	SlackID  string `json:"slack_id"`
	Phone    string `json:"phone"`
	TimeZone string `json:"time_zone"`
}

func (q MemberRequest) member() rota.Member {
	return rota.Member{ID: q.ID, Name: q.Name, Email: q.Email, SlackID: q.SlackID, Phone: q.Phone, TimeZone: q.TimeZone}
}

func (a *API) addMember(w http.ResponseWriter, r *http.Request) error {
	var req MemberRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	rec, err := a.o.Team.AddMember(r.Context(), team.MemberChange{Member: req.member(), By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.member.add", rec.ID, ""); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, a.memberView(rec.Member, a.o.Now()))
	return nil
}

func (a *API) editMember(w http.ResponseWriter, r *http.Request) error {
	var req MemberRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	id := r.PathValue("id")
	if req.ID != "" && req.ID != id {
		return server.BadRequest("a member's id does not change")
	}
	req.ID = id
	rec, err := a.o.Team.UpdateMember(r.Context(), team.MemberChange{Member: req.member(), By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.member.edit", rec.ID, ""); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, a.memberView(rec.Member, a.o.Now()))
	return nil
}

func (a *API) removeMember(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.o.Team.RemoveMember(r.Context(), r.PathValue("id"), actor(r), a.o.Now())
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.member.remove", rec.ID, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
