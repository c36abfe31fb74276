package oncallapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// The rotas: who is on call now and at a time, the schedule, the gaps in
// cover and the fairness counts, each of the rota named by ?rota= (default
// the first).
func (a *API) registerRota() {
	a.srv.Handle("GET /api/v1/oncall/rotas", auth.RoleViewer, a.rotas)
	a.srv.Handle("GET /api/v1/oncall/now", auth.RoleViewer, a.now)
	a.srv.Handle("GET /api/v1/oncall/at", auth.RoleViewer, a.at)
	a.srv.Handle("GET /api/v1/oncall/schedule", auth.RoleViewer, a.schedule)
	a.srv.Handle("GET /api/v1/oncall/gaps", auth.RoleViewer, a.gaps)
	a.srv.Handle("GET /api/v1/oncall/fairness", auth.RoleViewer, a.fairness)
}

// ShiftView is a shift as the API shows it; GET /api/v1/oncall/now and
// /at answer one.
type ShiftView struct {
	Rota   string      `json:"rota"`
	Member string      `json:"member"`
	Name   string      `json:"name"`
	Start  time.Time   `json:"start"`
	End    time.Time   `json:"end"`
	Source rota.Source `json:"source"`
	Turn   int         `json:"turn"`
	Ref    string      `json:"ref,omitempty"`
}

func (a *API) view(rotaName string, s rota.Shift) ShiftView {
	m, _ := a.o.Team.Member(s.Member)
	return ShiftView{Rota: rotaName, Member: s.Member, Name: m.Name, Start: s.Start, End: s.End, Source: s.Source, Turn: s.Turn, Ref: s.Ref}
}

// RotaView is one rota with the version in force now (Spec), its current
// and next shift.
type RotaView struct {
	Name    string    `json:"name"`
	Spec    rota.Spec `json:"spec"`
	Current ShiftView `json:"current"`
	Next    ShiftView `json:"next"`
	InCover bool      `json:"in_cover"`
}

// RotasResponse answers GET /api/v1/oncall/rotas.
type RotasResponse struct {
	Rotas []RotaView `json:"rotas"`
}

func (a *API) rotas(w http.ResponseWriter, r *http.Request) error {
	if err := a.o.Team.Refresh(r.Context()); err != nil {
		return err
	}
	now := a.o.Now()
	var out []RotaView
	for _, name := range a.o.Team.Rotas() {
		rt, _ := a.o.Team.Rota(name)
		c, err := a.o.Team.Changes(r.Context(), name)
		if err != nil {
			return err
		}
		cur := rt.OnCallAt(c, now)
		out = append(out, RotaView{Name: name, Spec: rt.SpecAt(now), Current: a.view(name, cur), Next: a.view(name, rt.OnCallAt(c, cur.End)), InCover: a.o.Team.InCover(name, now)})
	}
	server.WriteJSON(w, http.StatusOK, RotasResponse{Rotas: out})
	return nil
}

func (a *API) shiftAt(w http.ResponseWriter, r *http.Request, at time.Time) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	s, err := a.o.Team.OnCallAt(r.Context(), name, at)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, a.view(name, s))
	return nil
}

func (a *API) now(w http.ResponseWriter, r *http.Request) error { return a.shiftAt(w, r, a.o.Now()) }

func (a *API) at(w http.ResponseWriter, r *http.Request) error {
	t, err := parseTime(r.URL.Query().Get("time"))
	if err != nil {
		return server.BadRequest(err.Error())
	}
	return a.shiftAt(w, r, t)
}

// span reads from (default now) and weeks (default 4, at most 104), or to.
func (a *API) span(r *http.Request) (time.Time, time.Time, error) {
	q := r.URL.Query()
	from := a.o.Now()
	if s := q.Get("from"); s != "" {
		t, err := parseTime(s)
		if err != nil {
			return from, from, server.BadRequest(err.Error())
		}
		from = t
	}
	weeks := 4
	if s := q.Get("weeks"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 104 {
			return from, from, server.BadRequest("weeks must be between 1 and 104")
		}
		weeks = n
	}
	to := from.AddDate(0, 0, 7*weeks)
	if s := q.Get("to"); s != "" {
		t, err := parseTime(s)
		if err != nil || !t.After(from) {
			return from, from, server.BadRequest("to must be a time after from")
		}
		to = t
	}
	return from, to, nil
}

// ScheduleResponse answers GET /api/v1/oncall/schedule: the shifts in
// [from, to), of one member when ?member= names one.
type ScheduleResponse struct {
	From   time.Time   `json:"from"`
	Rota   string      `json:"rota"`
	Shifts []ShiftView `json:"shifts"`
	To     time.Time   `json:"to"`
}

func (a *API) schedule(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	from, to, err := a.span(r)
	if err != nil {
		return err
	}
	shifts, err := a.o.Team.Schedule(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	member := r.URL.Query().Get("member")
	out := []ShiftView{}
	for _, s := range shifts {
		if member == "" || s.Member == member {
			out = append(out, a.view(name, s))
		}
	}
	server.WriteJSON(w, http.StatusOK, ScheduleResponse{Rota: name, From: from, To: to, Shifts: out})
	return nil
}

// GapsResponse answers GET /api/v1/oncall/gaps: the spans in which the
// person on call is unavailable.
type GapsResponse struct {
	Gaps []rota.Gap `json:"gaps"`
	Rota string     `json:"rota"`
}

func (a *API) gaps(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	from, to, err := a.span(r)
	if err != nil {
		return err
	}
	g, err := a.o.Team.Gaps(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, GapsResponse{Rota: name, Gaps: g})
	return nil
}

// FairnessResponse answers GET /api/v1/oncall/fairness: per-member counts
// in [from, to).
type FairnessResponse struct {
	From    time.Time          `json:"from"`
	Members []rota.FairnessRow `json:"members"`
	Rota    string             `json:"rota"`
	To      time.Time          `json:"to"`
}

func (a *API) fairness(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	from, to, err := a.span(r)
	if err != nil {
		return err
	}
	rows, err := a.o.Team.Fairness(r.Context(), name, from, to)
	if err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, FairnessResponse{Rota: name, From: from, To: to, Members: rows})
	return nil
}
