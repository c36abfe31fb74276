package app

import (
	"fmt"
	"net/http"
	"strings"
	"time"

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
	tpl, err := notice.LoadTemplates()
	if err != nil {
		return err
	}
	env.Server.Handle("POST /api/v1/notices/preview", auth.RoleOncall, func(w http.ResponseWriter, r *http.Request) error {
		var req notice.CreateRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		n, u, err := previewNotice(req, cfg.Notices, names, tpl, env.Now())
		if err != nil {
			return server.BadRequest(err.Error())
		}
		u.Actor = actorOf(r)
		m, err := svc.Render(n, u)
		if err != nil {
			return server.BadRequest(err.Error())
		}
		server.WriteJSON(w, http.StatusOK, noticePreview{From: m.From, To: cfg.Notices.AnnounceTo, Subject: m.Subject,
			Text: m.Text, HTML: m.HTML, Announce: (req.Announce == nil || *req.Announce) && cfg.Notices.AnnounceTo != ""})
		return nil
	})
	return nil
}

// previewNotice builds the notice and first update that notice.Service.Create
// would store for req, checking what Create checks.
func previewNotice(req notice.CreateRequest, cfg notice.Config, services map[string]string, tpl *notice.Templates, now time.Time) (notice.Notice, notice.Update, error) {
	state := notice.Investigating
	switch req.Kind {
	case notice.KindOutage:
	case notice.KindMaintenance:
		state = notice.Scheduled
		if req.StartedAt.IsZero() {
			return notice.Notice{}, notice.Update{}, fmt.Errorf("maintenance needs started_at, the planned start")
		}
		if !req.PlannedEnd.IsZero() && !req.PlannedEnd.After(req.StartedAt) {
			return notice.Notice{}, notice.Update{}, fmt.Errorf("planned_end must be after started_at")
		}
	default:
		return notice.Notice{}, notice.Update{}, fmt.Errorf("kind %q: must be outage or maintenance", req.Kind)
	}
	if strings.TrimSpace(req.Title) == "" {
		return notice.Notice{}, notice.Update{}, fmt.Errorf("title is required")
	}
	if len(req.Services) == 0 {
		return notice.Notice{}, notice.Update{}, fmt.Errorf("at least one service is required")
	}
	for _, s := range req.Services {
		if len(services) > 0 && services[s] == "" {
			return notice.Notice{}, notice.Update{}, fmt.Errorf("service %q is not one of tickets.services", s)
		}
	}
	lang := req.Language
	if lang == "" {
		lang = cfg.Language
	}
	if !tpl.Has(lang) {
		return notice.Notice{}, notice.Update{}, fmt.Errorf("language %q: must be en or nb", lang)
	}
	started := req.StartedAt
	if started.IsZero() {
		started = now
	}
	id := "preview@" + notice.DomainOf(cfg.From)
	n := notice.Notice{Kind: req.Kind, Title: strings.TrimSpace(req.Title), Services: req.Services, State: state,
		Public: req.Public == nil || *req.Public, Symptoms: req.Symptoms, Impact: req.Impact, HandlingPlan: req.HandlingPlan,
		StartedAt: started, PlannedEnd: req.PlannedEnd, NextUpdateAt: req.NextUpdateAt, Language: lang, ThreadID: id,
		TicketID: req.TicketID, CreatedAt: now, UpdatedAt: now}
	u := notice.Update{At: now, Kind: notice.UpdateState, State: state, Body: req.Body, Announce: true, MessageID: id}
	return n, u, nil
}
