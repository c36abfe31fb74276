package oncallapi

import (
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/rota"
)

// The record of shifts as they were held (docs/oncall.md, "The record of
// shifts"), as readable as the schedule.
func (a *API) registerHistory() {
	a.srv.Handle("GET /api/v1/oncall/history", auth.RoleViewer, a.history)
}

// HeldShiftView is a recorded shift; End is absent while it is in
// progress, Late marks a shift recorded only after it ended.
type HeldShiftView struct {
	Member     string      `json:"member"`
	Name       string      `json:"name"`
	Start      time.Time   `json:"start"`
	End        time.Time   `json:"end,omitzero"`
	Source     rota.Source `json:"source"`
	Turn       int         `json:"turn"`
	Ref        string      `json:"ref,omitempty"`
	RecordedAt time.Time   `json:"recorded_at"`
	Late       bool        `json:"late"`
}

// HistoryResponse answers GET /api/v1/oncall/history: the recorded
// shifts of the rota that overlap [from, to) (default the four weeks
// before now), unclipped.
type HistoryResponse struct {
	Rota   string          `json:"rota"`
	From   time.Time       `json:"from"`
	To     time.Time       `json:"to"`
	Shifts []HeldShiftView `json:"shifts"`
}

func (a *API) history(w http.ResponseWriter, r *http.Request) error {
	name, err := a.rotaParam(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	to := a.o.Now()
	if s := q.Get("to"); s != "" {
		if to, err = parseTime(s); err != nil {
			return server.BadRequest(err.Error())
		}
	}
	from := to.AddDate(0, 0, -28)
	if s := q.Get("from"); s != "" {
		if from, err = parseTime(s); err != nil {
			return server.BadRequest(err.Error())
		}
	}
	if !to.After(from) || to.Sub(from) > 400*24*time.Hour {
		return server.BadRequest("to must be after from, and at most 400 days after it")
	}
	held, err := a.o.Team.History(r.Context(), name, from, to)
	if err != nil {
		return teamErr(err)
	}
	out := HistoryResponse{Rota: name, From: from, To: to, Shifts: []HeldShiftView{}}
	for _, s := range held {
		m, _ := a.o.Team.Member(s.Member)
		out.Shifts = append(out.Shifts, HeldShiftView{Member: s.Member, Name: m.Name, Start: s.Start, End: s.End, Source: s.Source,
			Turn: s.Turn, Ref: s.Ref, RecordedAt: s.RecordedAt, Late: s.Late})
	}
	server.WriteJSON(w, http.StatusOK, out)
	return nil
}
