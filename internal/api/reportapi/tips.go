package reportapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/reports"
)

// Tips is the body of PUT and the answer of GET
// /api/v1/reports/{period}/tips: the period's questions and tips, shown in
// its report's section "Questions and tips" (docs/reports.md).
type Tips struct {
	Period string        `json:"period"`
	Tips   []reports.Tip `json:"tips"`
}

func registerTips(srv *server.Server, svc *reports.Service, now func() time.Time) {
	srv.Handle("GET /api/v1/reports/{period}/tips", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		p, err := svc.Period(r.PathValue("period"))
		if err != nil {
			return server.BadRequest(err.Error())
		}
		tips, err := svc.Archive.Tips(r.Context(), p.Label)
		if err != nil {
			return err
		}
		if tips == nil {
			tips = []reports.Tip{}
		}
		server.WriteJSON(w, http.StatusOK, Tips{Period: p.Label, Tips: tips})
		return nil
	})
	srv.Handle("PUT /api/v1/reports/{period}/tips", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req Tips
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		p, err := svc.Period(r.PathValue("period"))
		if err != nil {
			return server.BadRequest(err.Error())
		}
		if req.Period != "" && req.Period != p.Label {
			return server.BadRequest("period in the body does not match the path")
		}
		tips, err := reports.CheckTips(req.Tips)
		if errors.Is(err, reports.ErrBadTips) {
			return server.BadRequest(err.Error())
		} else if err != nil {
			return err
		}
		if err := svc.Archive.SetTips(r.Context(), p.Label, tips, actorName(r), now()); err != nil {
			return err
		}
		if err := srv.Audit(r, "report.tips", p.Label, ""); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, Tips{Period: p.Label, Tips: tips})
		return nil
	})
}
