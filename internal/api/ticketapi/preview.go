package ticketapi

import (
	"net/http"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// The preview of a notice's first announcement (on-call and above, as
// creating a notice).
func (a *API) registerPreview() {
	a.srv.Handle("POST /api/v1/notices/preview", auth.RoleOncall, a.preview)
}

// NoticePreview answers POST /api/v1/notices/preview: the announcement
// e-mail a notice would send.
type NoticePreview struct {
	From     string `json:"from"`
	To       string `json:"to"` // empty: notices.announce_to is not set, nothing is e-mailed
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	HTML     string `json:"html"`
	Announce bool   `json:"announce"` // whether sending would e-mail the list
}

// preview takes the body of POST /api/v1/notices and answers with the
// first announcement rendered by the notice templates, without storing or
// sending anything.
func (a *API) preview(w http.ResponseWriter, r *http.Request) error {
	var req notice.CreateRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	req.Actor = actor(r)
	m, announce, err := a.o.Notices.Preview(req)
	if err != nil {
		return server.BadRequest(err.Error())
	}
	to := a.o.AnnounceTo
	if a.o.Notices != nil {
		to = a.o.Notices.AnnounceTo() // as reloaded
	}
	server.WriteJSON(w, http.StatusOK, NoticePreview{From: m.From, To: to, Subject: m.Subject,
		Text: m.Text, HTML: m.HTML, Announce: announce})
	return nil
}
