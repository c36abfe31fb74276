package oncallapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

// The rotas as data: their versions (each in force from a stated moment),
// changes from a moment on, cancelling a change not in effect yet, and new
// rotas (docs/oncall.md, "Changing the rota"). Those on call may read
// them; postmasters and admins change them.
func (a *API) registerRotaVersions() {
	a.srv.Handle("GET /api/v1/oncall/rotas/{name}/versions", auth.RoleOncall, a.listVersions)
	a.srv.Handle("POST /api/v1/oncall/rotas/{name}/versions", auth.RolePostmaster, a.changeRota)
	a.srv.Handle("DELETE /api/v1/oncall/rotas/{name}/versions/{id}", auth.RolePostmaster, a.cancelChange)
	a.srv.Handle("POST /api/v1/oncall/rotas", auth.RolePostmaster, a.createRota)
}

// Version states.
const (
	VersionPast      = "past"      // in force before, no longer
	VersionInForce   = "in_force"  // in force now
	VersionScheduled = "scheduled" // takes effect later
	VersionCancelled = "cancelled" // cancelled before it took effect
)

// VersionView is a version of a rota as the API shows it.
type VersionView struct {
	ID   string `json:"id"`
	Rota string `json:"rota"`
	// From is when the version takes effect; absent for a rota's first
	// version (in force since the rota began).
	From time.Time `json:"from,omitzero"`
	// Until is when the next version takes effect; absent while none.
	Until           time.Time `json:"until,omitzero"`
	State           string    `json:"state"`
	Members         []string  `json:"members"`
	First           string    `json:"first"`
	Start           string    `json:"start"`
	Every           string    `json:"every"`
	HandoverWeekday string    `json:"handover_weekday"`
	HandoverTime    string    `json:"handover_time"`
	TimeZone        string    `json:"time_zone"`
	Cover           string    `json:"cover,omitempty"`
	Reason          string    `json:"reason,omitempty"`
	CreatedAt       time.Time `json:"created_at,omitzero"`
	CreatedBy       string    `json:"created_by,omitempty"`
	CancelledAt     time.Time `json:"cancelled_at,omitzero"`
	CancelledBy     string    `json:"cancelled_by,omitempty"`
}

func versionView(v team.RotaVersion, state string) VersionView {
	return VersionView{ID: v.ID, Rota: v.Rota, From: v.From, State: state, Members: nonNilStrings(v.Spec.Members), First: v.First,
		Start: v.Spec.Start, Every: v.Spec.Every, HandoverWeekday: v.Spec.HandoverWeekday, HandoverTime: v.Spec.HandoverTime,
		TimeZone: v.Spec.TimeZone, Cover: v.Spec.Cover, Reason: v.Reason, CreatedAt: v.CreatedAt, CreatedBy: v.CreatedBy,
		CancelledAt: v.CancelledAt, CancelledBy: v.CancelledBy}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// VersionsResponse answers GET /api/v1/oncall/rotas/{name}/versions: every
// version of the rota, cancelled ones too, in the order they take effect;
// NextHandover is the earliest moment a change may take effect (the end of
// the turn in progress), the default of a change.
type VersionsResponse struct {
	Rota         string        `json:"rota"`
	NextHandover time.Time     `json:"next_handover"`
	Versions     []VersionView `json:"versions"`
}

func (a *API) listVersions(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	list, err := a.o.Team.RotaVersions(r.Context(), name)
	if err != nil {
		return teamErr(err)
	}
	now := a.o.Now()
	next, err := a.o.Team.NextHandover(r.Context(), name, now)
	if err != nil {
		return teamErr(err)
	}
	server.WriteJSON(w, http.StatusOK, VersionsResponse{Rota: name, NextHandover: next, Versions: versionViews(list, now)})
	return nil
}

// versionViews orders versions as they take effect (cancelled ones where
// they would have) and says each one's state.
func versionViews(list []team.RotaVersion, now time.Time) []VersionView {
	var live []team.RotaVersion
	for _, v := range list {
		if v.CancelledAt.IsZero() {
			live = append(live, v)
		}
	}
	out := make([]VersionView, 0, len(list))
	for _, v := range list {
		if !v.CancelledAt.IsZero() {
			out = append(out, versionView(v, VersionCancelled))
			continue
		}
		vw := versionView(v, VersionInForce)
		for _, u := range live {
			if u.From.After(v.From) && (vw.Until.IsZero() || u.From.Before(vw.Until)) {
				vw.Until = u.From
			}
		}
		switch {
		case v.From.After(now):
			vw.State = VersionScheduled
		case !vw.Until.IsZero() && !vw.Until.After(now):
			vw.State = VersionPast
		}
		out = append(out, vw)
	}
	// In the order they take effect; stable, so cancelled ones keep their
	// place among those at the same moment.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].From.Before(out[j-1].From); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// RotaChangeRequest is the body of POST /api/v1/oncall/rotas/{name}/versions:
// a change of the rota from Effective (absent: the next handover) on.
// Absent fields keep the rota as it is then: Members replaces the order;
// Add appends (after After when given) and Remove drops; Cover "-" removes
// the cover; First names who takes the first turn of the new version
// (absent: whose turn it would have been keeps it, or the next who stays).
// DryRun answers what the change would do without making it.
type RotaChangeRequest struct {
	Members         []string  `json:"members"`
	Add             []string  `json:"add"`
	After           string    `json:"after"`
	Remove          []string  `json:"remove"`
	Every           string    `json:"every"`
	HandoverWeekday string    `json:"handover_weekday"`
	HandoverTime    string    `json:"handover_time"`
	TimeZone        string    `json:"time_zone"`
	Cover           string    `json:"cover"`
	Start           string    `json:"start"`
	First           string    `json:"first"`
	Effective       time.Time `json:"effective"`
	Reason          string    `json:"reason"`
	DryRun          bool      `json:"dry_run"`
}

// TurnView is one turn of a rota (before overrides and swaps).
type TurnView struct {
	Index  int       `json:"index"`
	Member string    `json:"member"`
	Name   string    `json:"name"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
}

// RotaChangeResponse answers a change: the new version, the version it was
// planned on, a scheduled change it replaced, the first turns of the new
// version, who it adds and removes, and swaps it leaves stale. It is 201
// for a change made, 200 for a dry run.
type RotaChangeResponse struct {
	Version  VersionView  `json:"version"`
	Base     VersionView  `json:"base"`
	Replaced *VersionView `json:"replaced,omitempty"`
	Turns    []TurnView   `json:"turns"`
	Added    []string     `json:"added"`
	Removed  []string     `json:"removed"`
	Warnings []string     `json:"warnings"`
	DryRun   bool         `json:"dry_run"`
}

func (a *API) changeRota(w http.ResponseWriter, r *http.Request) error {
	var req RotaChangeRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	name := r.PathValue("name")
	res, err := a.o.Team.ChangeRota(r.Context(), team.RotaChange{Rota: name, Members: req.Members, Add: req.Add, After: req.After, Remove: req.Remove,
		Every: req.Every, HandoverWeekday: req.HandoverWeekday, HandoverTime: req.HandoverTime, TimeZone: req.TimeZone, Cover: req.Cover,
		Start: req.Start, First: req.First, Effective: req.Effective, Reason: req.Reason, DryRun: req.DryRun, By: actor(r), Now: a.o.Now()})
	if err != nil {
		return teamErr(err)
	}
	out := RotaChangeResponse{Version: versionView(res.Version, VersionScheduled), Base: versionView(res.Base, VersionInForce),
		Added: res.Added, Removed: res.Removed, Warnings: res.Warnings, DryRun: res.DryRun}
	if res.Replaced != nil {
		rv := versionView(*res.Replaced, VersionCancelled)
		out.Replaced = &rv
	}
	for _, t := range res.Turns {
		out.Turns = append(out.Turns, a.turnView(t))
	}
	if req.DryRun {
		server.WriteJSON(w, http.StatusOK, out)
		return nil
	}
	detail := fmt.Sprintf("rota=%s from=%s members=%s first=%s", name, res.Version.From.UTC().Format(time.RFC3339),
		strings.Join(res.Version.Spec.Members, ","), res.Version.First)
	if err := a.srv.Audit(r, "oncall.rota.change", res.Version.ID, detail); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, out)
	return nil
}

func (a *API) turnView(t rota.Turn) TurnView {
	m, _ := a.o.Team.Member(t.Member)
	return TurnView{Index: t.Index, Member: t.Member, Name: m.Name, Start: t.Start, End: t.End}
}

func (a *API) cancelChange(w http.ResponseWriter, r *http.Request) error {
	v, err := a.o.Team.CancelRotaChange(r.Context(), r.PathValue("name"), r.PathValue("id"), actor(r), a.o.Now())
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.rota.cancel", v.ID, "rota="+v.Rota); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, versionView(v, VersionCancelled))
	return nil
}

// CreateRotaRequest is the body of POST /api/v1/oncall/rotas: a new rota,
// whose first turn starts at the first handover on or after Start (today
// or later). Empty fields take the defaults of oncall.rotas.
type CreateRotaRequest struct {
	Name            string   `json:"name"`
	Members         []string `json:"members"`
	Start           string   `json:"start"`
	Every           string   `json:"every"`
	HandoverWeekday string   `json:"handover_weekday"`
	HandoverTime    string   `json:"handover_time"`
	TimeZone        string   `json:"time_zone"`
	Cover           string   `json:"cover"`
	Reason          string   `json:"reason"`
}

func (a *API) createRota(w http.ResponseWriter, r *http.Request) error {
	var req CreateRotaRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	v, err := a.o.Team.CreateRota(r.Context(), rota.Spec{Name: req.Name, Members: req.Members, Start: req.Start, Every: req.Every,
		HandoverWeekday: req.HandoverWeekday, HandoverTime: req.HandoverTime, TimeZone: req.TimeZone, Cover: req.Cover}, req.Reason, actor(r), a.o.Now())
	if err != nil {
		return teamErr(err)
	}
	if err := a.srv.Audit(r, "oncall.rota.create", v.Rota, "members="+strings.Join(v.Spec.Members, ",")); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, versionView(v, VersionScheduled))
	return nil
}
