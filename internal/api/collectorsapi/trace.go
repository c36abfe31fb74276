package collectorsapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/control"
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

// ControlTrace is the body of the control socket's POST /v1/trace: a
// search `postvakt trace` hands to the running service, and the name of
// the person who typed it.
type ControlTrace struct {
	Query trace.Query `json:"query"`
	User  string      `json:"user"`
}

// RegisterControl adds POST /v1/trace to the control socket
// (internal/control): `postvakt trace` run on the service's warm database
// connections. It answers what the command would print from its own
// connection: subjects shown, no page-size cap (the socket is the service
// user's, who can read the database anyway), and the search audited as
// the command's own is, by "cli:USER", with the socket's peer uid as the
// remote end.
func RegisterControl(c *control.Server, store trace.Store, audit auth.AuditLog, now func() time.Time) {
	c.Handle("POST /v1/trace", func(w http.ResponseWriter, r *http.Request) {
		var req ControlTrace
		dec := json.NewDecoder(r.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
			return
		}
		q := req.Query
		if err := q.Normalize(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		page, err := SearchAsCLI(r.Context(), store, audit, q, req.User, fmt.Sprintf("control socket, uid %d", control.Peer(r)), now())
		if err != nil {
			status := http.StatusInternalServerError
			if errors.Is(err, trace.ErrEmptyQuery) {
				status = http.StatusBadRequest
			}
			http.Error(w, err.Error(), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
}

// SearchAsCLI is the search of `postvakt trace`, wherever it runs (on the
// command's own connection, or in the service through the control
// socket): audited as the command's user ("cli:USER") from remote (""
// for the command's own connection), subjects shown, no page-size cap.
func SearchAsCLI(ctx context.Context, store trace.Store, audit auth.AuditLog, q trace.Query, user, remote string, at time.Time) (trace.Page, error) {
	e := auth.AuditEntry{At: at, Actor: "cli:" + cliUser(user), Action: "trace.search", Detail: q.String(), Remote: remote}
	if err := audit.Audit(ctx, e); err != nil {
		return trace.Page{}, fmt.Errorf("audit log: %w", err)
	}
	return trace.Search(ctx, store, q, false)
}

// cliUser keeps a user name fit for the audit log: printable, at most 64
// bytes; "?" for none.
func cliUser(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return -1
		}
		return r
	}, s)
	for len(s) > 64 {
		_, n := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-n]
	}
	if s == "" {
		return "?"
	}
	return s
}
