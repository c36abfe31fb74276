package ticketapi

import (
	"fmt"
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// Outage and maintenance notices: on-call creates and updates them, each
// update announced to the list; everyone reads them.
func (a *API) registerNotices() {
	a.srv.Handle("GET /api/v1/notices", auth.RoleViewer, a.listNotices)
	a.srv.Handle("POST /api/v1/notices", auth.RoleOncall, a.createNotice)
	a.srv.Handle("GET /api/v1/notices/{id}", auth.RoleViewer, a.getNotice)
	a.srv.Handle("POST /api/v1/notices/{id}/updates", auth.RoleOncall, a.updateNotice)
	a.srv.Handle("POST /api/v1/notices/{id}/withdraw", auth.RoleOncall, a.withdrawNotice)
}

// NoticesResponse answers GET /api/v1/notices: newest first, the open ones
// and those ended within notices.status_recent (every one with
// ?all=true), of ?kind= when given.
type NoticesResponse struct {
	Notices []notice.Notice `json:"notices"`
}

func (a *API) listNotices(w http.ResponseWriter, r *http.Request) error {
	f := notice.Filter{Kind: r.URL.Query().Get("kind")}
	if r.URL.Query().Get("all") != "true" {
		f.Since = a.o.Now().Add(-a.o.NoticesRecent)
	}
	list, err := a.o.Notices.List(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []notice.Notice{}
	}
	server.WriteJSON(w, http.StatusOK, NoticesResponse{Notices: list})
	return nil
}

// createNotice creates a notice (notice.CreateRequest) and answers the
// notice.Notice, 201.
func (a *API) createNotice(w http.ResponseWriter, r *http.Request) error {
	var req notice.CreateRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	req.Actor = actor(r)
	n, err := a.o.Notices.Create(r.Context(), req)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "notice.create", fmt.Sprintf("notice:%d", n.ID), n.Title); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, n)
	return nil
}

// getNotice answers the notice.Notice with its updates.
func (a *API) getNotice(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	n, err := a.o.Notices.Get(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, n)
	return nil
}

// updateNotice adds an update (notice.ChangeRequest) and answers the
// notice.Notice.
func (a *API) updateNotice(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req notice.ChangeRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	req.Actor = actor(r)
	n, err := a.o.Notices.Change(r.Context(), id, req)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "notice.update", fmt.Sprintf("notice:%d", id), req.State); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, n)
	return nil
}

// withdrawNotice withdraws a notice made by mistake
// (notice.WithdrawRequest: {"reason": "…"}) and answers the notice.Notice;
// 409 when it is withdrawn already.
func (a *API) withdrawNotice(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req notice.WithdrawRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	req.Actor = actor(r)
	n, err := a.o.Notices.Withdraw(r.Context(), id, req)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "notice.withdraw", fmt.Sprintf("notice:%d", id), req.Reason); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, n)
	return nil
}
