package engineapi

import (
	"net/http"
	"strings"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// MailboxPage is the body of GET /api/v1/directory/mailbox-search: one page
// of the mailboxes that match and how many match in all. (The fields are
// in the order the JSON has always had.)
type MailboxPage struct {
	Limit     int           `json:"limit"`
	Mailboxes []MailboxView `json:"mailboxes"`
	Offset    int           `json:"offset"`
	Total     int           `json:"total"`
}

// registerMailboxSearch serves GET /api/v1/directory/mailbox-search
// ?q=&locked=true&offset=&limit= (helpdesk and above, as the mailbox
// list): mailboxes whose address, nickname or display name contains q
// (case-insensitive), in address order, one page at a time (limit 1 to
// 500, default 50), with the total count. The web interface's mailbox list
// uses it, so a page does not carry the whole directory.
func registerMailboxSearch(s *server.Server, d *directory.Directory, p MailboxPager) {
	s.Handle("GET /api/v1/directory/mailbox-search", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		qs := r.URL.Query()
		q := strings.ToLower(strings.TrimSpace(qs.Get("q")))
		locked := qs.Get("locked") == "true"
		offset, err := server.QueryInt(qs, "offset", 0, 0, 1<<30)
		if err != nil {
			return err
		}
		limit, err := server.QueryInt(qs, "limit", 50, 1, 500)
		if err != nil {
			return err
		}
		page, total, err := p.DirMailboxPage(r.Context(), q, locked, offset, limit)
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, MailboxPage{Mailboxes: viewMailboxes(d, page), Total: total, Offset: offset, Limit: limit})
		return nil
	})
}
