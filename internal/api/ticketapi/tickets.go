package ticketapi

import (
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// Fault tickets: helpdesk opens, edits and comments; on-call moves them
// through their states; everyone reads them and their SLA clocks.
func (a *API) registerTickets() {
	a.srv.Handle("GET /api/v1/tickets", auth.RoleViewer, a.listTickets)
	a.srv.Handle("POST /api/v1/tickets", auth.RoleHelpdesk, a.openTicket)
	a.srv.Handle("GET /api/v1/tickets/{id}", auth.RoleViewer, a.getTicket)
	a.srv.Handle("GET /api/v1/tickets/{id}/sla", auth.RoleViewer, a.ticketSLA)
	a.srv.Handle("PATCH /api/v1/tickets/{id}", auth.RoleHelpdesk, a.editTicket)
	a.srv.Handle("POST /api/v1/tickets/{id}/comments", auth.RoleHelpdesk, a.comment)
	a.srv.Handle("POST /api/v1/tickets/{id}/duplicate-of", auth.RoleOncall, a.duplicateOf)
	a.srv.Handle("GET /api/v1/tickets/{id}/attachments", auth.RoleHelpdesk, a.attachments)
	a.srv.Handle("GET /api/v1/ticket-attachments/{id}", auth.RoleHelpdesk, a.attachment)
	a.srv.Handle("POST /api/v1/tickets/{id}/{action}", auth.RoleOncall, a.act)
}

// TicketsResponse answers GET /api/v1/tickets: newest first, every state
// but closed unless ?state= (a comma-separated list) or ?all=true says
// otherwise, filtered by ?service=, ?severity= and ?assignee=.
type TicketsResponse struct {
	Tickets []tickets.Ticket `json:"tickets"`
}

func (a *API) listTickets(w http.ResponseWriter, r *http.Request) error {
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
	list, err := a.o.Tickets.List(r.Context(), f)
	if err != nil {
		return err
	}
	if list == nil {
		list = []tickets.Ticket{}
	}
	server.WriteJSON(w, http.StatusOK, TicketsResponse{Tickets: list})
	return nil
}

// openTicket opens a ticket (tickets.OpenRequest) and answers the
// tickets.Ticket, 201.
func (a *API) openTicket(w http.ResponseWriter, r *http.Request) error {
	var req tickets.OpenRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	req.Actor = actor(r)
	t, err := a.o.Tickets.Open(r.Context(), req)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "ticket.open", "ticket:"+tickets.ID(t.ID), t.Title); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, t)
	return nil
}

// TicketResponse answers GET /api/v1/tickets/{id}: the ticket with its
// timeline, oldest first.
type TicketResponse struct {
	tickets.Ticket
	Timeline []tickets.Event `json:"timeline,omitempty"`
}

func (a *API) getTicket(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	t, err := a.o.Tickets.Get(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	tl, err := a.o.Tickets.Timeline(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, TicketResponse{t, tl})
	return nil
}

// ticketSLA answers the sla.Result of a ticket's clocks under its frozen
// policy.
func (a *API) ticketSLA(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	res, err := a.o.Tickets.Explain(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, res)
	return nil
}

// editTicket changes a ticket's fields (tickets.EditRequest) and answers
// the tickets.Ticket.
func (a *API) editTicket(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req tickets.EditRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	// A duplicate-of link marks a duplicate, whose SLA follows its
	// parent's: as POST …/duplicate-of, on call and above.
	if slices.ContainsFunc(req.AddLinks, func(l tickets.Link) bool { return l.Kind == tickets.LinkDuplicateOf }) {
		if p, ok := auth.FromContext(r.Context()); !ok || !p.Role.AtLeast(auth.RoleOncall) {
			return &server.Error{Status: http.StatusForbidden, Code: server.CodeForbidden,
				Message: "marking a duplicate (its SLA follows the parent's) needs the oncall role"}
		}
	}
	req.Actor = actor(r)
	t, err := a.o.Tickets.Edit(r.Context(), id, req)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "ticket.edit", "ticket:"+tickets.ID(id), ""); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, t)
	return nil
}

// comment adds a comment (tickets.CommentRequest; a public one is an
// update to the reporter) and answers the tickets.Ticket, 201.
func (a *API) comment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req tickets.CommentRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	req.Actor = actor(r)
	t, err := a.o.Tickets.Comment(r.Context(), id, req)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "ticket.comment", "ticket:"+tickets.ID(id), fmt.Sprintf("public=%v", req.Public)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusCreated, t)
	return nil
}

// act takes one of tickets.Actions (an optional tickets.ActRequest body)
// and answers the tickets.Ticket; an action the state does not allow is
// 409, an unknown action 404.
func (a *API) act(w http.ResponseWriter, r *http.Request) error {
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
	req.Actor = actor(r)
	t, err := a.o.Tickets.Act(r.Context(), id, action, req)
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "ticket."+action, "ticket:"+tickets.ID(id), req.Note); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, t)
	return nil
}

// DuplicateRequest marks a ticket as a duplicate of Parent, a ticket of
// the same fault that is being handled.
type DuplicateRequest struct {
	Parent int64 `json:"parent"`
}

func (a *API) duplicateOf(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req DuplicateRequest
	if err := server.ReadJSON(r, &req); err != nil {
		return err
	}
	if req.Parent <= 0 {
		return server.BadRequest("parent: the ID of the ticket being handled is required")
	}
	t, err := a.o.Tickets.MarkDuplicate(r.Context(), id, req.Parent, actor(r))
	if err != nil {
		return apiError(err)
	}
	if err := a.srv.Audit(r, "ticket.duplicate_of", "ticket:"+tickets.ID(id), "duplicate of #"+tickets.ID(req.Parent)); err != nil {
		return err
	}
	server.WriteJSON(w, http.StatusOK, t)
	return nil
}

// AttachmentsResponse lists a ticket's attachments (without their data).
type AttachmentsResponse struct {
	Attachments []tickets.Attachment `json:"attachments"`
}

func (a *API) attachments(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	l, err := a.o.Tickets.Attachments(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	server.WriteJSON(w, http.StatusOK, AttachmentsResponse{Attachments: l})
	return nil
}

// attachment downloads one attachment: always as a download
// (Content-Disposition: attachment, application/octet-stream, nosniff),
// never shown by the browser as the sender typed it.
func (a *API) attachment(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	at, data, err := a.o.Tickets.Attachment(r.Context(), id)
	if err != nil {
		return apiError(err)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	disp := mime.FormatMediaType("attachment", map[string]string{"filename": at.Name})
	if disp == "" { // a name FormatMediaType cannot encode
		disp = "attachment"
	}
	w.Header().Set("Content-Disposition", disp)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("X-Attachment-SHA256", at.SHA256)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(data)
	return nil
}
