package app

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/calendar"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/sla"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// ticketError maps the domain errors to API errors.
func ticketError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, tickets.ErrNotFound), errors.Is(err, notice.ErrNotFound):
		return server.NotFound(err.Error())
	case errors.Is(err, tickets.ErrTransition), errors.Is(err, notice.ErrTransition):
		return server.Conflict(err.Error())
	case errors.Is(err, tickets.ErrInvalid), errors.Is(err, tickets.ErrUnknownAction), errors.Is(err, notice.ErrInvalid),
		errors.Is(err, sla.ErrNoPauseStates):
		return server.BadRequest(err.Error())
	}
	return err
}

func actorOf(r *http.Request) string {
	p, _ := auth.FromContext(r.Context())
	return p.Name
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, server.BadRequest("bad id " + strconv.Quote(r.PathValue("id")))
	}
	return id, nil
}

// ParseWhen parses an instant for the CLI and the API: RFC 3339, or a local
// "2006-01-02 15:04" / "2006-01-02T15:04" in loc.
func ParseWhen(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return calendar.At(loc, t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute()).Add(time.Duration(t.Second()) * time.Second), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q: want RFC 3339 or YYYY-MM-DD HH:MM", s)
}

// ParsePause parses START/END or START/DURATION.
func ParsePause(s string, loc *time.Location) (calendar.Interval, error) {
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return calendar.Interval{}, fmt.Errorf("pause %q: want START/END or START/DURATION", s)
	}
	start, err := ParseWhen(a, loc)
	if err != nil {
		return calendar.Interval{}, err
	}
	if d, err := time.ParseDuration(b); err == nil {
		return calendar.Interval{Start: start, End: start.Add(d)}, nil
	}
	end, err := ParseWhen(b, loc)
	if err != nil {
		return calendar.Interval{}, err
	}
	return calendar.Interval{Start: start, End: end}, nil
}

// ExplainSLA runs `sla explain`: the named policy's clocks for a fault
// notified at notified (in the policy's zone unless it has an offset).
func ExplainSLA(cfg sla.Config, policy, notified string, pauses []string) (sla.Result, error) {
	p, ok := cfg.Policy(policy)
	if !ok {
		var names []string
		for _, q := range cfg.Policies {
			names = append(names, q.Name)
		}
		return sla.Result{}, fmt.Errorf("%w: no SLA policy %q; configured: %s", tickets.ErrInvalid, policy, strings.Join(names, ", "))
	}
	c, err := sla.Compile(p)
	if err != nil {
		return sla.Result{}, err
	}
	loc := c.Calendar().Location()
	at, err := ParseWhen(notified, loc)
	if err != nil {
		return sla.Result{}, fmt.Errorf("%w: %v", tickets.ErrInvalid, err)
	}
	var ivs []calendar.Interval
	for _, s := range pauses {
		iv, err := ParsePause(s, loc)
		if err != nil {
			return sla.Result{}, fmt.Errorf("%w: %v", tickets.ErrInvalid, err)
		}
		ivs = append(ivs, iv)
	}
	res, err := c.Explain(at, ivs)
	if err != nil {
		return res, fmt.Errorf("%w: %v", tickets.ErrInvalid, err)
	}
	return res, nil
}

type ticketView struct {
	tickets.Ticket
	Timeline []tickets.Event `json:"timeline,omitempty"`
}

func registerTicketAPI(env *Env, svc *TicketServices) {
	s, ts, ns := env.Server, svc.Tickets, svc.Notices
	s.Handle("GET /api/v1/tickets", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		f := tickets.Filter{Service: q.Get("service"), Severity: q.Get("severity"), Assignee: q.Get("assignee"), All: q.Get("all") == "true"}
		if st := q.Get("state"); st != "" {
			f.States = strings.Split(st, ",")
			for _, x := range f.States {
				if !slices.Contains(tickets.States, x) {
					return server.BadRequest("unknown state " + strconv.Quote(x))
				}
			}
		}
		limit, err := server.QueryInt(q, "limit", 0, 1, math.MaxInt)
		if err != nil {
			return err
		}
		f.Limit = limit
		list, err := ts.List(r.Context(), f)
		if err != nil {
			return err
		}
		server.WriteList(w, "tickets", list)
		return nil
	})
	s.Handle("POST /api/v1/tickets", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		var req tickets.OpenRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		req.Actor = actorOf(r)
		t, err := ts.Open(r.Context(), req)
		if err != nil {
			return ticketError(err)
		}
		if err := s.Audit(r, "ticket.open", "ticket:"+tickets.ID(t.ID), t.Title); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, t)
		return nil
	})
	s.Handle("GET /api/v1/tickets/{id}", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		t, err := ts.Get(r.Context(), id)
		if err != nil {
			return ticketError(err)
		}
		tl, err := ts.Timeline(r.Context(), id)
		if err != nil {
			return ticketError(err)
		}
		server.WriteJSON(w, http.StatusOK, ticketView{t, tl})
		return nil
	})
	s.Handle("GET /api/v1/tickets/{id}/sla", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		res, err := ts.Explain(r.Context(), id)
		if err != nil {
			return ticketError(err)
		}
		server.WriteJSON(w, http.StatusOK, res)
		return nil
	})
	s.Handle("PATCH /api/v1/tickets/{id}", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var req tickets.EditRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		req.Actor = actorOf(r)
		t, err := ts.Edit(r.Context(), id, req)
		if err != nil {
			return ticketError(err)
		}
		if err := s.Audit(r, "ticket.edit", "ticket:"+tickets.ID(id), ""); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, t)
		return nil
	})
	s.Handle("POST /api/v1/tickets/{id}/comments", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var req tickets.CommentRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		req.Actor = actorOf(r)
		t, err := ts.Comment(r.Context(), id, req)
		if err != nil {
			return ticketError(err)
		}
		if err := s.Audit(r, "ticket.comment", "ticket:"+tickets.ID(id), fmt.Sprintf("public=%v", req.Public)); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, t)
		return nil
	})
	s.Handle("POST /api/v1/tickets/{id}/{action}", auth.RoleOncall, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		action := r.PathValue("action")
		if !slices.Contains(tickets.Actions, action) {
			return server.NotFound("no action " + strconv.Quote(action) + "; actions: " + strings.Join(tickets.Actions, ", "))
		}
		var req tickets.ActRequest
		if r.ContentLength != 0 {
			if err := server.ReadJSON(r, &req); err != nil {
				return err
			}
		}
		req.Actor = actorOf(r)
		t, err := ts.Act(r.Context(), id, action, req)
		if err != nil {
			return ticketError(err)
		}
		if err := s.Audit(r, "ticket."+action, "ticket:"+tickets.ID(id), req.Note); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, t)
		return nil
	})
	s.Handle("GET /api/v1/sla/policies", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		type pol struct {
			sla.Policy
			Version string `json:"version"`
		}
		var out []pol
		for _, p := range env.Config.SLA.Policies {
			out = append(out, pol{p.Normalized(), p.Hash()})
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"policies": out, "default_policy": env.Config.SLA.DefaultPolicy})
		return nil
	})
	s.Handle("GET /api/v1/sla/explain", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		res, err := ExplainSLA(env.Config.SLA, q.Get("policy"), q.Get("notified"), q["pause"])
		if err != nil {
			return ticketError(err)
		}
		server.WriteJSON(w, http.StatusOK, res)
		return nil
	})
	s.Handle("GET /api/v1/notices", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		f := notice.Filter{Kind: r.URL.Query().Get("kind")}
		if r.URL.Query().Get("all") != "true" {
			f.Since = env.Now().Add(-env.Config.Notices.StatusRecent)
		}
		list, err := ns.List(r.Context(), f)
		if err != nil {
			return err
		}
		server.WriteList(w, "notices", list)
		return nil
	})
	s.Handle("POST /api/v1/notices/preview", auth.RoleOncall, noticePreviewHandler(ns, env.Config.Notices.AnnounceTo))
	s.Handle("POST /api/v1/notices", auth.RoleOncall, func(w http.ResponseWriter, r *http.Request) error {
		var req notice.CreateRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		req.Actor = actorOf(r)
		n, err := ns.Create(r.Context(), req)
		if err != nil {
			return ticketError(err)
		}
		if err := s.Audit(r, "notice.create", fmt.Sprintf("notice:%d", n.ID), n.Title); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, n)
		return nil
	})
	s.Handle("GET /api/v1/notices/{id}", auth.RoleViewer, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		n, err := ns.Get(r.Context(), id)
		if err != nil {
			return ticketError(err)
		}
		server.WriteJSON(w, http.StatusOK, n)
		return nil
	})
	s.Handle("POST /api/v1/notices/{id}/updates", auth.RoleOncall, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r)
		if err != nil {
			return err
		}
		var req notice.ChangeRequest
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		req.Actor = actorOf(r)
		n, err := ns.Change(r.Context(), id, req)
		if err != nil {
			return ticketError(err)
		}
		if err := s.Audit(r, "notice.update", fmt.Sprintf("notice:%d", id), req.State); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, n)
		return nil
	})
}
