package app

import (
	"net/http"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/oncallapi"
	"github.com/uni-mail/postvakt/internal/server"
)

// registerOwnFeedsAPI adds GET /api/v1/oncall/feeds/mine (viewer and
// above): the secret iCalendar feed URL of the caller's own turns in each
// rota whose members include the caller (member ID = user or token name,
// case-insensitive). A feed URL is a bearer credential that outlives the
// session and is revoked only by rotating oncall.links.key, so a user gets
// only the feed of their own turns; the whole-rota feeds and other
// members' feeds stay with GET /api/v1/oncall/feeds (admin). Answers
// {"feeds": {rota: url}}, empty when the links key is not set.
func registerOwnFeedsAPI(env *Env) {
	cfg := env.Config.Oncall
	if !cfg.Enabled() {
		return
	}
	base := strings.TrimRight(env.Config.HTTP.BaseURL, "/")
	if base == "" {
		base = "http://" + env.Config.HTTP.Listen
	}
	env.Server.Handle("GET /api/v1/oncall/feeds/mine", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		p, _ := auth.FromContext(r.Context())
		out := map[string]string{}
		if cfg.Links.Key != "" {
			for _, rt := range cfg.Rotas {
				for _, m := range rt.Members {
					if strings.EqualFold(m, p.Name) {
						out[rt.Name] = oncallapi.FeedURL(base, cfg.Links.Key, rt.Name, m)
					}
				}
			}
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"feeds": out})
		return nil
	})
}
