package app

import (
	"net/http"
	"strings"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/storage"
)

// registerMailboxSearchAPI adds GET /api/v1/directory/mailbox-search
// ?q=&locked=true&offset=&limit= (helpdesk and above, as the mailbox
// list): mailboxes whose address, nickname or display name contains q
// (case-insensitive), in address order, one page at a time (limit 1 to
// 500, default 50), with the total count. The web interface's mailbox
// list uses it, so a page does not carry the whole directory. Registered
// with the directory API when the SMTP engine runs.
func registerMailboxSearchAPI(s *server.Server, d *directory.Directory, db *storage.DB) {
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
		page, total, err := db.DirMailboxPage(r.Context(), q, locked, offset, limit)
		if err != nil {
			return err
		}
		out := make([]mailboxView, 0, len(page))
		for _, m := range page {
			out = append(out, viewMailbox(d, m))
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"mailboxes": out, "total": total, "offset": offset, "limit": limit})
		return nil
	})
}
