package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/uni-mail/postvakt/engine/complaint"
	"github.com/uni-mail/postvakt/internal/api/complaintapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// Spam complaint pages (docs/configuration.md, "Rules from spam
// complaints"): the complaints, newest first, each with the rules it
// proposed and the buttons that accept or reject them all; a rule with the
// complaints behind it. Everything goes through /api/v1/spam-complaints
// and /api/v1/spam-rules.

func (u *UI) complaintRoutes(m func(string, auth.Role, pageFunc)) {
	m("GET /spam-complaints", auth.RoleViewer, u.complaintsPage)
	m("POST /spam-complaints/{id}/{decision}", auth.RolePostmaster, u.complaintDecision)
	m("GET /spam-rules/{id}", auth.RoleViewer, u.rulePage)
	m("POST /spam-rules/{id}/{decision}", auth.RolePostmaster, u.ruleDecision)
}

// complaintsView is the complaints page: each complaint with its rules.
type complaintsView struct {
	dirTab
	Off        bool
	Complaints []complaintapi.ComplaintResponse
}

func (u *UI) complaintsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Spam complaints", "directory"
	d := &complaintsView{dirTab: dirTab{"complaints"}}
	v.Data = d
	var list complaintapi.ComplaintsResponse
	var err error
	if d.Off, err = u.optional(r, "/api/v1/spam-complaints?limit=50", &list); err != nil {
		return err
	}
	for _, c := range list.Complaints {
		var one complaintapi.ComplaintResponse
		if err := u.call(r, http.MethodGet, fmt.Sprintf("/api/v1/spam-complaints/%d", c.ID), nil, &one); err != nil {
			return err
		}
		d.Complaints = append(d.Complaints, one)
	}
	u.render(w, http.StatusOK, "complaints", v)
	return nil
}

func (u *UI) complaintDecision(w http.ResponseWriter, r *http.Request, v *view) error {
	if err := u.call(r, http.MethodPost, "/api/v1/spam-complaints/"+url.PathEscape(r.PathValue("id"))+"/"+url.PathEscape(r.PathValue("decision")), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/spam-complaints", "saved")
	return nil
}

// ruleView is a rule with the complaints behind it.
type ruleView struct {
	dirTab
	complaintapi.RuleResponse
	Proposed complaint.RuleState
}

func (u *UI) rulePage(w http.ResponseWriter, r *http.Request, v *view) error {
	var resp complaintapi.RuleResponse
	if err := u.call(r, http.MethodGet, "/api/v1/spam-rules/"+url.PathEscape(r.PathValue("id")), nil, &resp); err != nil {
		return err
	}
	v.Title, v.Nav = fmt.Sprintf("Spam rule %d", resp.Rule.ID), "directory"
	v.Data = &ruleView{dirTab: dirTab{"complaints"}, RuleResponse: resp, Proposed: complaint.Proposed}
	u.render(w, http.StatusOK, "spam_rule", v)
	return nil
}

func (u *UI) ruleDecision(w http.ResponseWriter, r *http.Request, v *view) error {
	id := url.PathEscape(r.PathValue("id"))
	if err := u.call(r, http.MethodPost, "/api/v1/spam-rules/"+id+"/"+url.PathEscape(r.PathValue("decision")), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/spam-rules/"+id, "saved")
	return nil
}
