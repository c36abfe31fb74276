package reportapi

import (
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/reports"
)

// CommentRequest is the body of PUT /api/v1/reports/{period}/comment.
type CommentRequest struct {
	Comment string `json:"comment"`
}

// Comment answers PUT /api/v1/reports/{period}/comment: the free-text
// comment stored for the period, shown in its report.
type Comment struct {
	Comment string `json:"comment"`
	Period  string `json:"period"`
}

func registerComment(srv *server.Server, svc *reports.Service, now func() time.Time) {
	srv.Handle("PUT /api/v1/reports/{period}/comment", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req CommentRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		p, err := svc.Period(r.PathValue("period"))
		if err != nil {
			return server.BadRequest(err.Error())
		}
		actor := actorName(r)
		if err := svc.Archive.SetComment(r.Context(), p.Label, req.Comment, actor, now()); err != nil {
			return err
		}
		if err := srv.Audit(r, "report.comment", p.Label, req.Comment); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, Comment{Period: p.Label, Comment: req.Comment})
		return nil
	})
}
