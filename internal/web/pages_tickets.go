package web

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// ticketChoices are the closed lists the ticket forms choose from: the
// configured services and severities, the states, the kinds of a link
// between tickets, and the people a ticket can be assigned to (the team
// when the user may read it, and whoever the shown tickets name).
type ticketChoices struct {
	Services   []tickets.ServiceComponent
	Severities []string
	States     []string
	Assignees  []string
	LinkKinds  []string
}

func (u *UI) ticketChoices(r *http.Request, v *view, shown []tickets.Ticket, extra string) ticketChoices {
	c := ticketChoices{Services: u.o.Tickets.Services, Severities: u.o.Tickets.Severities, States: tickets.States,
		LinkKinds: tickets.TicketLinkKinds}
	set := map[string]bool{}
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" && !set[s] {
			set[s] = true
			c.Assignees = append(c.Assignees, s)
		}
	}
	if v.Can("oncall") {
		var ms oncallapi.MembersResponse
		if err := u.call(r, http.MethodGet, "/api/v1/oncall/members", nil, &ms); err == nil {
			for _, m := range ms.Members {
				add(m.ID)
			}
		}
	}
	for _, t := range shown {
		add(t.Assignee)
	}
	add(extra)
	slices.Sort(c.Assignees)
	return c
}

// editTicket changes a ticket's assignee, severity and service from the
// ticket page's form; the API records each change in the ticket's
// history.
func (u *UI) editTicket(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		return &apiError{Status: http.StatusBadRequest, Message: "bad form"}
	}
	var body tickets.EditRequest
	for k, dst := range map[string]**string{"assignee": &body.Assignee, "severity": &body.Severity, "service": &body.Service} {
		if x, ok := r.PostForm[k]; ok && len(x) == 1 {
			val := strings.TrimSpace(x[0])
			*dst = &val
		}
	}
	if err := u.call(r, http.MethodPatch, "/api/v1/tickets/"+url.PathEscape(id), body, nil); err != nil {
		return err
	}
	redirect(w, r, "/tickets/"+url.PathEscape(id), "saved")
	return nil
}

// linkTicket links the ticket to another (related, duplicate-of); the
// other ticket gets the reverse link.
func (u *UI) linkTicket(w http.ResponseWriter, r *http.Request, v *view) error {
	id := r.PathValue("id")
	ref := strings.TrimPrefix(strings.TrimSpace(r.PostFormValue("ticket")), "#")
	body := tickets.EditRequest{AddLinks: []tickets.Link{{Kind: r.PostFormValue("kind"), Ref: ref}}}
	if err := u.call(r, http.MethodPatch, "/api/v1/tickets/"+url.PathEscape(id), body, nil); err != nil {
		return err
	}
	redirect(w, r, "/tickets/"+url.PathEscape(id), "saved")
	return nil
}
