package app

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
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

// registerNoticePreviewAPI adds POST /api/v1/notices/preview (on-call and
// above, as creating a notice): the body of POST /api/v1/notices, answered
// with the first announcement rendered by the notice templates, without
// storing or sending anything.
func registerNoticePreviewAPI(env *Env) error {
	cfg := env.Config
	names := map[string]string{}
	for _, s := range cfg.Tickets.Services {
		names[s.ID] = s.Name
	}
	statusURL := ""
	if base := strings.TrimSuffix(cfg.HTTP.BaseURL, "/"); base != "" {
		statusURL = base + "/status"
	}
	// A renderer only: no store, no sender.
	svc, err := notice.New(notice.Options{Config: cfg.Notices, Now: env.Now, StatusURL: statusURL, Services: names})
	if err != nil {
		return fmt.Errorf("notice preview: %w", err)
	}
	env.Server.Handle("POST /api/v1/notices/preview", auth.RoleOncall, func(w http.ResponseWriter, r *http.Request) error {
		var req notice.CreateRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		req.Actor = actorOf(r)
		m, announce, err := svc.Preview(req)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		server.WriteJSON(w, http.StatusOK, noticePreview{From: m.From, To: cfg.Notices.AnnounceTo, Subject: m.Subject,
			Text: m.Text, HTML: m.HTML, Announce: announce})
		return nil
	})
	return nil
}
