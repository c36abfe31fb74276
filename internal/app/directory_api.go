package app

import (
	"errors"
	"net/http"
	"time"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// mailboxView is a mailbox as the API shows it: never the password hash.
type mailboxView struct {
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

func viewMailbox(d *directory.Directory, m directory.Mailbox) mailboxView {
	return mailboxView{Address: m.Address, Nickname: m.Nickname, DisplayName: m.DisplayName, QuotaBytes: d.Quota(m),
		UsedBytes: m.UsedBytes, ForwardTo: m.ForwardTo, KeepCopy: m.KeepCopy, ExternalForwardAllowed: m.ExternalForwardAllowed,
		HasPassword: m.PasswordHash != "", Locked: m.Locked, LockedReason: m.LockedReason, CreatedAt: m.CreatedAt}
}

// directoryError maps the directory's sentinels to API errors.
func directoryError(err error) error {
	switch {
	case errors.Is(err, directory.ErrNotFound):
		return server.NotFound(err.Error())
	case errors.Is(err, directory.ErrExists), errors.Is(err, directory.ErrQuarantined):
		return server.Conflict(err.Error())
	case errors.Is(err, directory.ErrInvalid), errors.Is(err, directory.ErrNoDomain):
		return server.BadRequest(err.Error())
	}
	return err
}

// registerDirectoryAPI serves the engine's directory: helpdesk and above
// read it (to answer "is my mailbox full?"), postmasters change it. Every
// change is audited; passwords are accepted but never returned or logged.
func registerDirectoryAPI(s *server.Server, d *directory.Directory) {
	s.Handle("GET /api/v1/directory/domains", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		list, err := d.Domains(r.Context())
		if err != nil {
			return err
		}
		server.WriteList(w, "domains", list)
		return nil
	})
	s.Handle("POST /api/v1/directory/domains", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Name string `json:"name"`
		}
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		if err := d.AddDomain(r.Context(), req.Name); err != nil {
			return directoryError(err)
		}
		if err := s.Audit(r, "directory.add-domain", req.Name, ""); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, map[string]string{"name": req.Name})
		return nil
	})
	s.Handle("GET /api/v1/directory/mailboxes", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		list, err := d.Mailboxes(r.Context())
		if err != nil {
			return err
		}
		out := make([]mailboxView, 0, len(list))
		for _, m := range list {
			out = append(out, viewMailbox(d, m))
		}
		server.WriteJSON(w, http.StatusOK, map[string]any{"mailboxes": out})
		return nil
	})
	s.Handle("GET /api/v1/directory/mailboxes/{address}", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		m, err := d.Mailbox(r.Context(), r.PathValue("address"))
		if err != nil {
			return directoryError(err)
		}
		server.WriteJSON(w, http.StatusOK, viewMailbox(d, m))
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
		server.WriteJSON(w, http.StatusCreated, viewMailbox(d, m))
		return nil
	})
	s.Handle("PATCH /api/v1/directory/mailboxes/{address}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Quota    *string `json:"quota"`
			Nickname *string `json:"nickname"`
			Password *string `json:"password"`
			Locked   *bool   `json:"locked"`
			Reason   string  `json:"reason"`
			Forward  *struct {
				To              string `json:"to"`
				KeepCopy        bool   `json:"keep_copy"`
				ExternalAllowed bool   `json:"external_allowed"`
			} `json:"forward"`
		}
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
		detail := ""
		for i, c := range changed {
			if i > 0 {
				detail += " "
			}
			detail += c
		}
		if err := s.Audit(r, "directory.update-mailbox", a, detail); err != nil {
			return err
		}
		m, err := d.Mailbox(ctx, a)
		if err != nil {
			return directoryError(err)
		}
		server.WriteJSON(w, http.StatusOK, viewMailbox(d, m))
		return nil
	})
	s.Handle("GET /api/v1/directory/aliases", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		var list []directory.Alias
		var err error
		if t := r.URL.Query().Get("target"); t != "" {
			list, err = d.AliasesTargeting(r.Context(), t)
		} else {
			list, err = d.Aliases(r.Context())
		}
		if err != nil {
			return directoryError(err)
		}
		server.WriteList(w, "aliases", list)
		return nil
	})
	s.Handle("POST /api/v1/directory/aliases", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Address string   `json:"address"`
			Kind    string   `json:"kind"` // alias, list or function
			Targets []string `json:"targets"`
		}
		if err := server.ReadJSON(r, &req); err != nil {
			return err
		}
		k := directory.EntryKind(req.Kind)
		if k == "" {
			k = directory.KindAlias
		}
		if k != directory.KindAlias && k != directory.KindList && k != directory.KindFunction {
			return server.BadRequest("kind must be alias, list or function")
		}
		if err := d.AddAlias(r.Context(), req.Address, k, req.Targets); err != nil {
			return directoryError(err)
		}
		if err := s.Audit(r, "directory.add-alias", req.Address, string(k)); err != nil {
			return err
		}
		server.WriteJSON(w, http.StatusCreated, map[string]any{"address": req.Address, "kind": k, "targets": req.Targets})
		return nil
	})
	s.Handle("DELETE /api/v1/directory/aliases/{address}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		a := r.PathValue("address")
		if err := d.RemoveAlias(r.Context(), a); err != nil {
			return directoryError(err)
		}
		if err := s.Audit(r, "directory.remove-alias", a, ""); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
