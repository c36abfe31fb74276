package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/internal/auth"
)

// Directory pages: domains, mailboxes (search and paging through
// /api/v1/directory/mailbox-search), a mailbox (quota,
// forwarding, aliases, lock and unlock), aliases, and the quarantine
// (release, delete). Helpdesk reads the directory; postmasters change it
// and see the quarantine; the API's roles decide.

func (u *UI) directoryRoutes(m func(string, auth.Role, pageFunc)) {
	m("GET /directory", auth.RoleHelpdesk, u.domainsPage)
	m("GET /directory/mailboxes", auth.RoleHelpdesk, u.mailboxesPage)
	m("GET /directory/mailboxes/{address}", auth.RoleHelpdesk, u.mailboxPage)
	m("POST /directory/mailboxes/{address}/{op}", auth.RolePostmaster, u.mailboxAction)
	m("GET /directory/aliases", auth.RoleHelpdesk, u.aliasesPage)
	m("GET /quarantine", auth.RolePostmaster, u.quarantinePage)
	m("POST /quarantine/{id}/{op}", auth.RolePostmaster, u.quarantineAction)
}

// Page sizes of the mailbox list and the quarantine.
const (
	mailboxesPerPage  = 50
	quarantinePerPage = 100
)

func (u *UI) domainsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav, v.Data["Tab"] = "Directory", "directory", "domains"
	var d struct{ Domains []obj }
	if err := u.optional(r, v, "Directory", "/api/v1/directory/domains", &d); err != nil {
		return err
	}
	v.Data["Domains"] = d.Domains
	u.render(w, http.StatusOK, "directory", v)
	return nil
}

func (u *UI) mailboxesPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav, v.Data["Tab"] = "Mailboxes", "directory", "mailboxes"
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	locked := r.URL.Query().Get("locked") == "true"
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = max(page, 1)
	search := func(page int) url.Values {
		api := url.Values{"offset": {strconv.Itoa((page - 1) * mailboxesPerPage)}, "limit": {strconv.Itoa(mailboxesPerPage)}}
		if q != "" {
			api.Set("q", q)
		}
		if locked {
			api.Set("locked", "true")
		}
		return api
	}
	var res struct {
		Mailboxes []obj
		Total     int
	}
	api := search(page)
	if err := u.optional(r, v, "Directory", "/api/v1/directory/mailbox-search?"+api.Encode(), &res); err != nil {
		return err
	}
	pages := max(1, (res.Total+mailboxesPerPage-1)/mailboxesPerPage)
	if page > pages {
		// Past the end (the list shrank): show the last page.
		page = pages
		api = search(page)
		if err := u.call(r, http.MethodGet, "/api/v1/directory/mailbox-search?"+api.Encode(), nil, &res); err != nil {
			return err
		}
	}
	link := func(p int) string {
		vals := url.Values{}
		if q != "" {
			vals.Set("q", q)
		}
		if locked {
			vals.Set("locked", "true")
		}
		vals.Set("page", strconv.Itoa(p))
		return "/directory/mailboxes?" + vals.Encode()
	}
	if page > 1 {
		v.Data["Prev"] = link(page - 1)
	}
	if page < pages {
		v.Data["Next"] = link(page + 1)
	}
	v.Data["Mailboxes"], v.Data["Total"], v.Data["Page"], v.Data["Pages"] = res.Mailboxes, res.Total, page, pages
	v.Data["Filter"] = obj{"q": q, "locked": locked}
	u.render(w, http.StatusOK, "mailboxes", v)
	return nil
}

func (u *UI) mailboxPage(w http.ResponseWriter, r *http.Request, v *view) error {
	addr := r.PathValue("address")
	var m obj
	if err := u.call(r, http.MethodGet, "/api/v1/directory/mailboxes/"+url.PathEscape(addr), nil, &m); err != nil {
		return err
	}
	var al struct{ Aliases []obj }
	if err := u.call(r, http.MethodGet, "/api/v1/directory/aliases?target="+url.QueryEscape(str(m["address"])), nil, &al); err != nil {
		return err
	}
	aliases := al.Aliases
	quota, used := num(m["quota_bytes"]), num(m["used_bytes"])
	pct := 0.0
	if quota > 0 {
		pct = used / quota * 100
	}
	v.Title, v.Nav = str(m["address"]), "directory"
	v.Data["Mailbox"], v.Data["Aliases"], v.Data["UsedPct"] = m, aliases, pct
	u.render(w, http.StatusOK, "mailbox", v)
	return nil
}

func (u *UI) mailboxAction(w http.ResponseWriter, r *http.Request, v *view) error {
	addr := r.PathValue("address")
	var body obj
	ok := "saved"
	switch r.PathValue("op") {
	case "lock":
		body, ok = obj{"locked": true, "reason": strings.TrimSpace(r.PostFormValue("reason"))}, "locked"
	case "unlock":
		body, ok = obj{"locked": false}, "unlocked"
	case "quota":
		body = obj{"quota": strings.TrimSpace(r.PostFormValue("quota"))}
	default:
		return &apiError{Status: http.StatusNotFound, Message: "no such action"}
	}
	if err := u.call(r, http.MethodPatch, "/api/v1/directory/mailboxes/"+url.PathEscape(addr), body, nil); err != nil {
		return err
	}
	redirect(w, r, "/directory/mailboxes/"+url.PathEscape(addr), ok)
	return nil
}

func (u *UI) aliasesPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav, v.Data["Tab"] = "Aliases", "directory", "aliases"
	var al struct{ Aliases []obj }
	if err := u.optional(r, v, "Directory", "/api/v1/directory/aliases", &al); err != nil {
		return err
	}
	v.Data["Aliases"] = al.Aliases
	u.render(w, http.StatusOK, "aliases", v)
	return nil
}

func (u *UI) quarantinePage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav, v.Data["Tab"] = "Quarantine", "directory", "quarantine"
	q := r.URL.Query()
	api := url.Values{}
	for _, k := range []string{"reason", "sender", "recipient"} {
		if x := strings.TrimSpace(q.Get(k)); x != "" {
			api.Set(k, x)
		}
	}
	var list struct{ Items []obj }
	if err := u.optional(r, v, "Quarantine", "/api/v1/quarantine?"+api.Encode(), &list); err != nil {
		return err
	}
	// The API answers at most 500; a page shows the newest 100.
	if len(list.Items) > quarantinePerPage {
		v.Data["Shown"], v.Data["Count"] = quarantinePerPage, len(list.Items)
		list.Items = list.Items[:quarantinePerPage]
	}
	v.Data["Items"], v.Data["Filter"] = list.Items, obj{"reason": q.Get("reason"), "sender": q.Get("sender"), "recipient": q.Get("recipient")}
	u.render(w, http.StatusOK, "quarantine", v)
	return nil
}

func (u *UI) quarantineAction(w http.ResponseWriter, r *http.Request, v *view) error {
	id := url.PathEscape(r.PathValue("id"))
	var err error
	ok := "released"
	switch r.PathValue("op") {
	case "release":
		err = u.call(r, http.MethodPost, "/api/v1/quarantine/"+id+"/release", nil, nil)
	case "delete":
		err, ok = u.call(r, http.MethodDelete, "/api/v1/quarantine/"+id, nil, nil), "deleted"
	default:
		return &apiError{Status: http.StatusNotFound, Message: "no such action"}
	}
	if err != nil {
		return err
	}
	redirect(w, r, "/quarantine", ok)
	return nil
}
