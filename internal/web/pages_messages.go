package web

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/uni-mail/postvakt/internal/api/engineapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// A mailbox's messages in the embedded store: the list (newest first,
// paged) and one message's header block for helpdesk and above; the
// message as a download, its deletion and the mailbox as mbox for
// postmasters. The API audits every access and masks subjects below
// collectors.trace.show_subjects_from.

func (u *UI) messageRoutes(m func(string, auth.Role, pageFunc)) {
	m("GET /directory/mailboxes/{address}/messages", auth.RoleHelpdesk, u.messagesPage)
	m("GET /directory/mailboxes/{address}/messages/{id}", auth.RoleHelpdesk, u.messagePage)
	m("GET /directory/mailboxes/{address}/messages/{id}/raw", auth.RolePostmaster, u.messageRaw)
	m("POST /directory/mailboxes/{address}/messages/{id}/delete", auth.RolePostmaster, u.deleteMessage)
	m("GET /directory/mailboxes/{address}/export.mbox", auth.RolePostmaster, u.exportMailbox)
}

// messagesPerPage is the size of a page of a mailbox's messages.
const messagesPerPage = 50

// messagesView is one page of a mailbox's messages; Next is the link to
// the older ones ("" when there are none), First whether this is the
// newest page.
type messagesView struct {
	Address  string
	Messages []engineapi.MessageSummary
	Next     string
	First    bool
}

func mailboxAPI(addr string) string { return "/api/v1/directory/mailboxes/" + url.PathEscape(addr) }

func (u *UI) messagesPage(w http.ResponseWriter, r *http.Request, v *view) error {
	addr := r.PathValue("address")
	q := url.Values{"limit": {strconv.Itoa(messagesPerPage)}}
	before := r.URL.Query().Get("before")
	if before != "" {
		q.Set("before", before)
	}
	var list engineapi.MessageList
	if err := u.call(r, http.MethodGet, mailboxAPI(addr)+"/messages?"+q.Encode(), nil, &list); err != nil {
		return err
	}
	d := &messagesView{Address: list.Address, Messages: list.Messages, First: before == ""}
	if list.NextBefore > 0 {
		d.Next = "/directory/mailboxes/" + url.PathEscape(list.Address) + "/messages?before=" + strconv.FormatInt(list.NextBefore, 10)
	}
	v.Title, v.Nav, v.Data = "Messages of "+list.Address, "directory", d
	u.render(w, http.StatusOK, "messages", v)
	return nil
}

// messageView is one message's header block.
type messageView struct {
	Address string
	Message engineapi.MessageHeaders
}

func (u *UI) messagePage(w http.ResponseWriter, r *http.Request, v *view) error {
	addr := r.PathValue("address")
	var m engineapi.MessageHeaders
	if err := u.call(r, http.MethodGet, mailboxAPI(addr)+"/messages/"+url.PathEscape(r.PathValue("id")), nil, &m); err != nil {
		return err
	}
	v.Title, v.Nav, v.Data = "Message "+strconv.FormatInt(m.ID, 10)+" of "+addr, "directory", &messageView{Address: addr, Message: m}
	u.render(w, http.StatusOK, "message", v)
	return nil
}

// messageRaw downloads the message as the API serves it.
func (u *UI) messageRaw(w http.ResponseWriter, r *http.Request, v *view) error {
	return u.stream(w, r, mailboxAPI(r.PathValue("address"))+"/messages/"+url.PathEscape(r.PathValue("id"))+"/raw",
		"Content-Type", "Content-Disposition", "Content-Length", "X-Content-Type-Options")
}

func (u *UI) deleteMessage(w http.ResponseWriter, r *http.Request, v *view) error {
	addr := r.PathValue("address")
	if err := u.call(r, http.MethodDelete, mailboxAPI(addr)+"/messages/"+url.PathEscape(r.PathValue("id")), nil, nil); err != nil {
		return err
	}
	redirect(w, r, "/directory/mailboxes/"+url.PathEscape(addr)+"/messages", "deleted")
	return nil
}

// exportMailbox streams the mailbox as mboxrd from the API.
func (u *UI) exportMailbox(w http.ResponseWriter, r *http.Request, v *view) error {
	return u.stream(w, r, mailboxAPI(r.PathValue("address"))+"/export.mbox", "Content-Type", "Content-Disposition", "X-Content-Type-Options")
}
