package engineapi

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// QuarantineList is the body of GET /api/v1/quarantine. Each item is
// quarantine.Item as it is (its JSON keys are the Go field names), without
// its body.
type QuarantineList struct {
	Items []quarantine.Item `json:"items"`
}

// Released is the body of POST /api/v1/quarantine/{id}/release: how many
// copies were delivered to mailboxes or queued for relay.
type Released struct {
	Queued int `json:"queued"`
}

// registerQuarantine serves the quarantine to postmasters:
// GET /api/v1/quarantine (?reason=&sender=&recipient=, newest 500),
// GET and DELETE /api/v1/quarantine/{id}, and
// POST /api/v1/quarantine/{id}/release. Releases and deletions are audited.
func registerQuarantine(s *server.Server, q *quarantine.Service) {
	id := func(r *http.Request) (int64, error) {
		v, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil {
			return 0, server.BadRequest("id must be a number")
		}
		return v, nil
	}
	quarantineError := func(err error) error {
		switch {
		case errors.Is(err, quarantine.ErrNotFound):
			return server.NotFound("no such quarantine item")
		case errors.Is(err, quarantine.ErrNoRecipients):
			return server.Conflict("no recipient of the message can receive it any more; the item is kept")
		}
		return err
	}
	s.Handle("GET /api/v1/quarantine", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		f := quarantine.Filter{Reason: quarantine.Reason(r.URL.Query().Get("reason")), Sender: r.URL.Query().Get("sender"),
			Recipient: r.URL.Query().Get("recipient"), Limit: 500}
		items, err := q.List(r.Context(), f)
		if err != nil {
			return err
		}
		if items == nil {
			items = []quarantine.Item{}
		}
		server.WriteJSON(w, http.StatusOK, QuarantineList{Items: items})
		return nil
	})
	s.Handle("GET /api/v1/quarantine/{id}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		n, err := id(r)
		if err != nil {
			return err
		}
		it, err := q.Get(r.Context(), n)
		if err != nil {
			return quarantineError(err)
		}
		server.WriteJSON(w, http.StatusOK, it)
		return nil
	})
	s.Handle("POST /api/v1/quarantine/{id}/release", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		n, err := id(r)
		if err != nil {
			return err
		}
		queued, err := q.Release(r.Context(), n)
		if err != nil {
			return quarantineError(err)
		}
		_ = s.Audit(r, "quarantine.release", strconv.FormatInt(n, 10), strconv.Itoa(queued)+" recipients queued")
		server.WriteJSON(w, http.StatusOK, Released{Queued: queued})
		return nil
	})
	s.Handle("DELETE /api/v1/quarantine/{id}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		n, err := id(r)
		if err != nil {
			return err
		}
		if err := q.Delete(r.Context(), n); err != nil {
			return quarantineError(err)
		}
		_ = s.Audit(r, "quarantine.delete", strconv.FormatInt(n, 10), "")
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
