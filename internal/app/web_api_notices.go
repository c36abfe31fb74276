package app

import (
	"net/http"

	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// noticePreview is the announcement e-mail a notice would send.
type noticePreview struct {
	From     string `json:"from"`
	To       string `json:"to"` // empty: notices.announce_to is not set, nothing is e-mailed
	Subject  string `json:"subject"`
	Text     string `json:"text"`
	HTML     string `json:"html"`
	Announce bool   `json:"announce"` // whether sending would e-mail the list
}

// noticePreviewHandler answers POST /api/v1/notices/preview (on-call and
// above, as creating a notice): the body of POST /api/v1/notices, answered
// with the first announcement rendered by the notice templates, without
// storing or sending anything.
func noticePreviewHandler(ns *notice.Service, announceTo string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req notice.CreateRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		req.Actor = actorOf(r)
		m, announce, err := ns.Preview(req)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		server.WriteJSON(w, http.StatusOK, noticePreview{From: m.From, To: announceTo, Subject: m.Subject,
			Text: m.Text, HTML: m.HTML, Announce: announce})
		return nil
	}
}
