package engineapi

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// MailboxView is a mailbox as the API shows it: never the password hash.
// QuotaBytes is the effective quota (the default for a mailbox without its
// own).
type MailboxView struct {
	Address                string    `json:"address"`
	Nickname               string    `json:"nickname,omitempty"`
	DisplayName            string    `json:"display_name,omitempty"`
	QuotaBytes             int64     `json:"quota_bytes"`
	UsedBytes              int64     `json:"used_bytes"`
	ForwardTo              string    `json:"forward_to,omitempty"`
	KeepCopy               bool      `json:"keep_copy"`
	ExternalForwardAllowed bool      `json:"external_forward_allowed"`
	HasPassword            bool      `json:"has_password"`
	Locked                 bool      `json:"locked"`
	LockedReason           string    `json:"locked_reason,omitempty"`
	CreatedAt              time.Time `json:"created_at"`
}

// MailboxList is the body of GET /api/v1/directory/mailboxes.
type MailboxList struct {
	Mailboxes []MailboxView `json:"mailboxes"`
}

// MailboxChange is the body of PATCH /api/v1/directory/mailboxes/{address}:
// each field given changes that of the mailbox (Reason goes with Locked).
type MailboxChange struct {
	Quota    *string        `json:"quota,omitempty"` // e.g. "5GB"
	Nickname *string        `json:"nickname,omitempty"`
	Password *string        `json:"password,omitempty"`
	Locked   *bool          `json:"locked,omitempty"`
	Reason   string         `json:"reason,omitempty"`
	Forward  *ForwardChange `json:"forward,omitempty"`
}

// ForwardChange sets a mailbox's forwarding: To empty stops it.
type ForwardChange struct {
	To              string `json:"to"`
	KeepCopy        bool   `json:"keep_copy"`
	ExternalAllowed bool   `json:"external_allowed"`
}

// ViewMailbox is m as the API (and `postvakt directory list --json`) shows
// it, with the quota d applies.
func ViewMailbox(d *directory.Directory, m directory.Mailbox) MailboxView {
	return MailboxView{Address: m.Address, Nickname: m.Nickname, DisplayName: m.DisplayName, QuotaBytes: d.Quota(m),
		UsedBytes: m.UsedBytes, ForwardTo: m.ForwardTo, KeepCopy: m.KeepCopy, ExternalForwardAllowed: m.ExternalForwardAllowed,
		HasPassword: m.PasswordHash != "", Locked: m.Locked, LockedReason: m.LockedReason, CreatedAt: m.CreatedAt}
}

func viewMailboxes(d *directory.Directory, list []directory.Mailbox) []MailboxView {
	out := make([]MailboxView, 0, len(list))
	for _, m := range list {
		out = append(out, ViewMailbox(d, m))
	}
	return out
}

// registerMailboxes serves the mailboxes: GET the list or one mailbox (by
// its permanent or nickname address; helpdesk), POST a new one and PATCH
// one's quota, nickname, password, forwarding or lock (postmaster).
func registerMailboxes(s *server.Server, d *directory.Directory) {
	s.Handle("GET /api/v1/directory/mailboxes", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		list, err := d.Mailboxes(r.Context())
		if err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusOK, MailboxList{Mailboxes: viewMailboxes(d, list)})
		return nil
	})
	s.Handle("GET /api/v1/directory/mailboxes/{address}", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		m, err := d.Mailbox(r.Context(), r.PathValue("address"))
		if err != nil {
			return directoryError(err)
		}
		server.WriteJSON(w, http.StatusOK, ViewMailbox(d, m))
		return nil
	})
	s.Handle("POST /api/v1/directory/mailboxes", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Address                string `json:"address"`
			Nickname               string `json:"nickname"`
			DisplayName            string `json:"display_name"`
			Password               string `json:"password"`
			Quota                  string `json:"quota"` // e.g. "2GB"; empty: the default
			ForwardTo              string `json:"forward_to"`
			KeepCopy               bool   `json:"keep_copy"`
			ExternalForwardAllowed bool   `json:"external_forward_allowed"`
		}
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		n := directory.NewMailbox{Address: req.Address, Nickname: req.Nickname, DisplayName: req.DisplayName, Password: req.Password,
			ForwardTo: req.ForwardTo, KeepCopy: req.KeepCopy, ExternalForwardAllowed: req.ExternalForwardAllowed}
		if req.Quota != "" {
			q, err := directory.ParseSize(req.Quota)
			if err != nil {
				return server.BadRequest("quota: " + err.Error())
			}
			n.QuotaBytes = q
		}
		// AddMailbox creates or updates (config import needs that); over the
		// API a POST of an existing mailbox is a conflict: use PATCH.
		if _, err := d.Mailbox(r.Context(), req.Address); err == nil {
			return server.Conflict("mailbox " + req.Address + " exists; change it with PATCH")
		} else if !errors.Is(err, directory.ErrNotFound) && !errors.Is(err, directory.ErrInvalid) && !errors.Is(err, directory.ErrNoDomain) {
			return err
		}
		m, err := d.AddMailbox(r.Context(), n)
		if err != nil {
			return directoryError(err)
		}
		if err := s.Audit(r, "directory.add-mailbox", m.Address, ""); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, ViewMailbox(d, m))
		return nil
	})
	s.Handle("PATCH /api/v1/directory/mailboxes/{address}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req MailboxChange
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		a, ctx := r.PathValue("address"), r.Context()
		var changed []string
		if req.Quota != nil {
			q, err := directory.ParseSize(*req.Quota)
			if err != nil {
				return server.BadRequest("quota: " + err.Error())
			}
			if err := d.SetQuota(ctx, a, q); err != nil {
				return directoryError(err)
			}
			changed = append(changed, "quota="+*req.Quota)
		}
		if req.Nickname != nil {
			if err := d.SetNickname(ctx, a, *req.Nickname); err != nil {
				return directoryError(err)
			}
			changed = append(changed, "nickname="+*req.Nickname)
		}
		if req.Password != nil {
			if err := d.SetPassword(ctx, a, *req.Password); err != nil {
				return directoryError(err)
			}
			changed = append(changed, "password")
		}
		if req.Forward != nil {
			if err := d.SetForward(ctx, a, req.Forward.To, req.Forward.KeepCopy, req.Forward.ExternalAllowed); err != nil {
				return directoryError(err)
			}
			changed = append(changed, "forward="+req.Forward.To)
		}
		if req.Locked != nil {
			var err error
			if *req.Locked {
				reason := req.Reason
				if reason == "" {
					reason = "locked by a postmaster"
				}
				err = d.Lock(ctx, a, reason)
				changed = append(changed, "locked")
			} else {
				err = d.Unlock(ctx, a)
				changed = append(changed, "unlocked")
			}
			if err != nil {
				return directoryError(err)
			}
		}
		if len(changed) == 0 {
			return server.BadRequest("nothing to change: give quota, nickname, password, forward or locked")
		}
		if err := s.Audit(r, "directory.update-mailbox", a, strings.Join(changed, " ")); err != nil {
			return err
		}
		m, err := d.Mailbox(ctx, a)
		if err != nil {
			return directoryError(err)
		}
		server.WriteJSON(w, http.StatusOK, ViewMailbox(d, m))
		return nil
	})
}
