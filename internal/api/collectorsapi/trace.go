package collectorsapi

import (
	"errors"
	"math"
	"net/http"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// TracePage is the body of GET /api/v1/trace: one timeline per message,
// newest first, {"messages": [...], "total", "offset", "next_offset"}.
type TracePage = trace.Page

// registerTrace adds GET /api/v1/trace (helpdesk and above; subjects
// masked below collectors.trace.show_subjects_from; every search audited).
func registerTrace(s *server.Server, o Options) {
	show := auth.Role(o.Trace.ShowSubjectsFrom)
	s.Handle("GET /api/v1/trace", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		qs := r.URL.Query()
		now := o.Now()
		q := trace.Query{From: qs.Get("from"), To: qs.Get("to"), MessageID: qs.Get("msgid"), QueueID: qs.Get("queue_id"),
			IP: qs.Get("ip"), Status: qs.Get("status"), Direction: qs.Get("direction"), Subject: qs.Get("subject")}
		var err error
		switch qs.Get("fold") {
		case "", "0", "false":
		case "1", "true":
			q.Fold = true
		default:
			return server.BadRequest("fold: want true or false")
		}
		if q.Since, err = trace.ParseTime(qs.Get("since"), now, o.Location); err != nil {
			return server.BadRequest(err.Error())
		}
		if q.Until, err = trace.ParseTime(qs.Get("until"), now, o.Location); err != nil {
			return server.BadRequest(err.Error())
		}
		if q.Limit, err = server.QueryInt(qs, "limit", 0, 0, math.MaxInt); err != nil {
			return err
		}
		if q.Offset, err = server.QueryInt(qs, "offset", 0, 0, math.MaxInt); err != nil {
			return err
		}
		if q.Limit > o.Trace.MaxLimit {
			q.Limit = o.Trace.MaxLimit
		}
		p, _ := auth.FromContext(r.Context())
		mask := !p.Role.AtLeast(show)
		if err := q.Normalize(); err != nil {
			return server.BadRequest(err.Error())
		}
		if err := s.Audit(r, "trace.search", "", q.String()); err != nil {
			return err
		}
		page, err := trace.Search(r.Context(), o.Store, q, mask)
		if err != nil {
			if errors.Is(err, trace.ErrEmptyQuery) || mask && q.Subject != "" {
				return server.BadRequest(err.Error())
			}
			return err
		}
		server.WriteJSON(w, http.StatusOK, page)
		return nil
	})
}
