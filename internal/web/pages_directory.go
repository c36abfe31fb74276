package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/api/engineapi"
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

// dirTab names the directory page's tab (the "dirtabs" template).
type dirTab struct{ Tab string }

// domainsView is the list of local domains.
type domainsView struct {
	dirTab
	Domains      []directory.Domain
	DirectoryOff bool
}

func (u *UI) domainsPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Directory", "directory"
	d := &domainsView{dirTab: dirTab{"domains"}}
	v.Data = d
	var list engineapi.DomainList
	var err error
	if d.DirectoryOff, err = u.optional(r, "/api/v1/directory/domains", &list); err != nil {
		return err
	}
	d.Domains = list.Domains
	u.render(w, http.StatusOK, "directory", v)
	return nil
}

// mailboxesView is one page of the mailbox search.
type mailboxesView struct {
	dirTab
	Mailboxes    []engineapi.MailboxView
	DirectoryOff bool
	Total        int // mailboxes that match
	Page, Pages  int
	Prev, Next   string // links to the pages before and after
	Filter       mailboxFilter
}

// mailboxFilter is the mailbox search form as given.
type mailboxFilter struct {
	Q      string
	Locked bool
}

func (u *UI) mailboxesPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Mailboxes", "directory"
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	locked := r.URL.Query().Get("locked") == "true"
	d := &mailboxesView{dirTab: dirTab{"mailboxes"}, Filter: mailboxFilter{Q: q, Locked: locked}}
	v.Data = d
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
	var res engineapi.MailboxPage
	api := search(page)
	var err error
	if d.DirectoryOff, err = u.optional(r, "/api/v1/directory/mailbox-search?"+api.Encode(), &res); err != nil {
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
		d.Prev = link(page - 1)
	}
	if page < pages {
		d.Next = link(page + 1)
	}
	d.Mailboxes, d.Total, d.Page, d.Pages = res.Mailboxes, res.Total, page, pages
	u.render(w, http.StatusOK, "mailboxes", v)
	return nil
}

// mailboxView is a mailbox's page: the mailbox, the aliases and lists that
// lead to it, and how much of its quota it uses.
type mailboxView struct {
	Mailbox engineapi.MailboxView
	Aliases []directory.Alias
	UsedPct float64
}

func (u *UI) mailboxPage(w http.ResponseWriter, r *http.Request, v *view) error {
	addr := r.PathValue("address")
	var m engineapi.MailboxView
	if err := u.call(r, http.MethodGet, "/api/v1/directory/mailboxes/"+url.PathEscape(addr), nil, &m); err != nil {
		return err
	}
	var al engineapi.AliasList
	if err := u.call(r, http.MethodGet, "/api/v1/directory/aliases?target="+url.QueryEscape(m.Address), nil, &al); err != nil {
		return err
	}
	pct := 0.0
	if m.QuotaBytes > 0 {
		pct = float64(m.UsedBytes) / float64(m.QuotaBytes) * 100
	}
	v.Title, v.Nav = m.Address, "directory"
	v.Data = mailboxView{Mailbox: m, Aliases: al.Aliases, UsedPct: pct}
	u.render(w, http.StatusOK, "mailbox", v)
	return nil
}

func (u *UI) mailboxAction(w http.ResponseWriter, r *http.Request, v *view) error {
	addr := r.PathValue("address")
	var body engineapi.MailboxChange
	ok := "saved"
	switch r.PathValue("op") {
	case "lock":
		lock, reason := true, strings.TrimSpace(r.PostFormValue("reason"))
		body, ok = engineapi.MailboxChange{Locked: &lock, Reason: reason}, "locked"
	case "unlock":
		lock := false
		body, ok = engineapi.MailboxChange{Locked: &lock}, "unlocked"
	case "quota":
		quota := strings.TrimSpace(r.PostFormValue("quota"))
		body = engineapi.MailboxChange{Quota: &quota}
	default:
		return &apiError{Status: http.StatusNotFound, Message: "no such action"}
	}
	if err := u.call(r, http.MethodPatch, "/api/v1/directory/mailboxes/"+url.PathEscape(addr), body, nil); err != nil {
		return err
	}
	redirect(w, r, "/directory/mailboxes/"+url.PathEscape(addr), ok)
	return nil
}

// aliasesView is the list of aliases, lists and function addresses.
type aliasesView struct {
	dirTab
	Aliases      []directory.Alias
	DirectoryOff bool
}

func (u *UI) aliasesPage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Aliases", "directory"
	d := &aliasesView{dirTab: dirTab{"aliases"}}
	v.Data = d
	var al engineapi.AliasList
	var err error
	if d.DirectoryOff, err = u.optional(r, "/api/v1/directory/aliases", &al); err != nil {
		return err
	}
	d.Aliases = al.Aliases
	u.render(w, http.StatusOK, "aliases", v)
	return nil
}

// quarantineView is the quarantine: the newest items the filter selects;
// Count is how many the API answered when that is more than Shown.
type quarantineView struct {
	dirTab
	Items         []quarantine.Item
	QuarantineOff bool
	Shown, Count  int
	Filter        quarantineFilter
}

// quarantineFilter is the quarantine's filter form as given.
type quarantineFilter struct {
	Reason, Sender, Recipient string
}

func (u *UI) quarantinePage(w http.ResponseWriter, r *http.Request, v *view) error {
	v.Title, v.Nav = "Quarantine", "directory"
	q := r.URL.Query()
	d := &quarantineView{dirTab: dirTab{"quarantine"}, Filter: quarantineFilter{Reason: q.Get("reason"), Sender: q.Get("sender"), Recipient: q.Get("recipient")}}
	v.Data = d
	api := url.Values{}
	for _, k := range []string{"reason", "sender", "recipient"} {
		if x := strings.TrimSpace(q.Get(k)); x != "" {
			api.Set(k, x)
		}
	}
	var list engineapi.QuarantineList
	var err error
	if d.QuarantineOff, err = u.optional(r, "/api/v1/quarantine?"+api.Encode(), &list); err != nil {
		return err
	}
	// The API answers at most 500; a page shows the newest 100.
	if len(list.Items) > quarantinePerPage {
		d.Shown, d.Count = quarantinePerPage, len(list.Items)
		list.Items = list.Items[:quarantinePerPage]
	}
	d.Items = list.Items
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
