package engineapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/trace"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
	"github.com/uni-mail/postvakt/internal/store/enginestore"
)

// MailboxMessages reads and deletes the messages of the embedded store's
// mailboxes (the engine's store implements it).
type MailboxMessages interface {
	MailboxMessagePage(ctx context.Context, mailboxID, before int64, limit int) ([]enginestore.MailboxMessage, error)
	MailboxMessage(ctx context.Context, mailboxID, id int64) (enginestore.MailboxMessage, error)
	MailBody(ctx context.Context, hash string) ([]byte, error)
	MailDelete(ctx context.Context, mailboxID, id int64) (store.StoredMessage, error)
	MailEach(ctx context.Context, mailboxID int64, fn func(m store.StoredMessage, sender string, body []byte) error) error
}

// Page sizes of GET …/messages.
const (
	MessagesDefaultLimit = 50
	MessagesMaxLimit     = 200
)

// MessageSummary is a stored message as the mailbox's list shows it: its
// header fields From, To, Subject and Message-ID (as written in the
// message; "" when absent), never its body. Truncated: the mailbox got
// the From and Subject only version (content.max_size).
type MessageSummary struct {
	ID         int64     `json:"id"`
	ReceivedAt time.Time `json:"received_at"`
	Size       int64     `json:"size"`
	From       string    `json:"from"`
	To         string    `json:"to"`
	Subject    string    `json:"subject"`
	MessageID  string    `json:"message_id"`
	Truncated  bool      `json:"truncated"`
}

// MessageList is the body of GET /api/v1/directory/mailboxes/{address}/messages:
// newest first; NextBefore (when more may follow) is the before= of the
// next page.
type MessageList struct {
	Address    string           `json:"address"`
	Messages   []MessageSummary `json:"messages"`
	NextBefore int64            `json:"next_before,omitempty"`
}

// MessageHeaders is the body of GET …/messages/{id}: the summary and every
// header field in order (HeaderCut: the header block is longer than the
// store.HeadBytes read, and is shown cut).
type MessageHeaders struct {
	MessageSummary
	Headers   []store.HeaderField `json:"headers"`
	HeaderCut bool                `json:"header_cut,omitempty"`
}

// subjectFields are the header fields that carry a message's subject.
var subjectFields = []string{"Subject", "Thread-Topic"}

func summarize(m enginestore.MailboxMessage, h []store.HeaderField, mask bool) MessageSummary {
	s := MessageSummary{ID: m.ID, ReceivedAt: m.ReceivedAt.UTC(), Size: m.Size, From: store.Get(h, "From"), To: store.Get(h, "To"),
		Subject: store.Get(h, "Subject"), MessageID: store.Get(h, "Message-ID"), Truncated: m.Truncated}
	if mask && s.Subject != "" {
		s.Subject = trace.MaskedSubject
	}
	return s
}

// registerMessages serves a mailbox's messages in the embedded store:
// the list and one message's header (helpdesk; subjects masked below
// subjectsFrom, as in the trace), the message itself, its deletion and the
// mailbox as mboxrd (postmaster). Every access is audited with the
// mailbox's permanent address as the target.
func registerMessages(s *server.Server, d *directory.Directory, ms MailboxMessages, subjectsFrom auth.Role) {
	base := "/api/v1/directory/mailboxes/{address}"
	mailbox := func(r *http.Request) (directory.Mailbox, error) {
		m, err := d.Mailbox(r.Context(), r.PathValue("address"))
		if err != nil {
			return m, directoryError(err)
		}
		return m, nil
	}
	msgID := func(r *http.Request) (int64, error) {
		v, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err != nil || v <= 0 {
			return 0, server.BadRequest("message id must be a positive number")
		}
		return v, nil
	}
	notFound := func(err error) error {
		if errors.Is(err, store.ErrNotFound) {
			return server.NotFound("no such message in this mailbox")
		}
		return err
	}
	// message is the message the path names, in the mailbox it names.
	message := func(r *http.Request) (directory.Mailbox, enginestore.MailboxMessage, error) {
		id, err := msgID(r)
		if err != nil {
			return directory.Mailbox{}, enginestore.MailboxMessage{}, err
		}
		mb, err := mailbox(r)
		if err != nil {
			return mb, enginestore.MailboxMessage{}, err
		}
		m, err := ms.MailboxMessage(r.Context(), mb.ID, id)
		if err != nil {
			return mb, m, notFound(err)
		}
		return mb, m, nil
	}
	mask := func(r *http.Request) bool {
		p, _ := auth.FromContext(r.Context())
		return !p.Role.AtLeast(subjectsFrom)
	}
	s.Handle("GET "+base+"/messages", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		qs := r.URL.Query()
		limit, err := server.QueryInt(qs, "limit", MessagesDefaultLimit, 1, MessagesMaxLimit)
		if err != nil {
			return err
		}
		var before int64
		if v := qs.Get("before"); v != "" {
			if before, err = strconv.ParseInt(v, 10, 64); err != nil || before <= 0 {
				return server.BadRequest("before must be a message id (a positive number)")
			}
		}
		mb, err := mailbox(r)
		if err != nil {
			return err
		}
		page, err := ms.MailboxMessagePage(r.Context(), mb.ID, before, limit)
		if err != nil {
			return err
		}
		detail := "limit=" + strconv.Itoa(limit)
		if before > 0 {
			detail += " before=" + strconv.FormatInt(before, 10)
		}
		if err := s.Audit(r, "mailbox.list", mb.Address, detail); err != nil {
			return err
		}
		out := MessageList{Address: mb.Address, Messages: make([]MessageSummary, 0, len(page))}
		hide := mask(r)
		for _, m := range page {
			out.Messages = append(out.Messages, summarize(m, store.ParseHeader(m.Head), hide))
		}
		if len(page) == limit {
			out.NextBefore = page[len(page)-1].ID
		}
		server.WriteJSON(w, http.StatusOK, out)
		return nil
	})
	s.Handle("GET "+base+"/messages/{id}", auth.RoleHelpdesk, func(w http.ResponseWriter, r *http.Request) error {
		mb, m, err := message(r)
		if err != nil {
			return err
		}
		if err := s.Audit(r, "mailbox.read_headers", mb.Address, "message "+strconv.FormatInt(m.ID, 10)); err != nil {
			return err
		}
		h, hide := store.ParseHeader(m.Head), mask(r)
		if hide {
			for i := range h {
				for _, f := range subjectFields {
					if strings.EqualFold(h[i].Name, f) {
						h[i].Value = trace.MaskedSubject
					}
				}
			}
		}
		if h == nil {
			h = []store.HeaderField{}
		}
		out := MessageHeaders{MessageSummary: summarize(m, h, hide), Headers: h,
			HeaderCut: len(m.Head) >= store.HeadBytes && len(store.HeaderBlock(m.Head)) == len(m.Head)}
		server.WriteJSON(w, http.StatusOK, out)
		return nil
	})
	s.Handle("GET "+base+"/messages/{id}/raw", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		mb, m, err := message(r)
		if err != nil {
			return err
		}
		body, err := ms.MailBody(r.Context(), m.BodyHash)
		if err != nil {
			return notFound(err)
		}
		if err := s.Audit(r, "mailbox.download", mb.Address, "message "+strconv.FormatInt(m.ID, 10)); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "message/rfc822")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="message-%d.eml"`, m.ID))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return nil
	})
	s.Handle("DELETE "+base+"/messages/{id}", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		id, err := msgID(r)
		if err != nil {
			return err
		}
		mb, err := mailbox(r)
		if err != nil {
			return err
		}
		m, err := ms.MailDelete(r.Context(), mb.ID, id)
		if err != nil {
			return notFound(err)
		}
		if err := s.Audit(r, "mailbox.delete", mb.Address, fmt.Sprintf("message %d (%d bytes, queue id %s)", id, m.Size, m.QueueID)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	s.Handle("GET "+base+"/export.mbox", auth.RolePostmaster, func(w http.ResponseWriter, r *http.Request) error {
		mb, err := mailbox(r)
		if err != nil {
			return err
		}
		// audited before the first byte: an export cut off midway was
		// still an access
		if err := s.Audit(r, "mailbox.export", mb.Address, "mboxrd"); err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/mbox")
		w.Header().Set("Content-Disposition", `attachment; filename="`+mboxName(mb.Address)+`"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
		// The export streams one message at a time; the write deadline
		// rolls with it, so a big mailbox outlasts http.write_timeout
		// while a client that stops reading is still cut off.
		rc := http.NewResponseController(w)
		mw := store.NewMboxWriter(w)
		err = ms.MailEach(r.Context(), mb.ID, func(m store.StoredMessage, sender string, body []byte) error {
			_ = rc.SetWriteDeadline(time.Now().Add(2 * time.Minute))
			return mw.Write(sender, m.ReceivedAt, body)
		})
		if err == nil {
			err = mw.Flush()
		}
		if err != nil {
			// the status is sent: abort the response so the client sees a
			// broken transfer, not a short but complete-looking file
			panic(http.ErrAbortHandler)
		}
		return nil
	})
}

// mboxName is the export's file name: the address with only safe
// characters.
func mboxName(address string) string {
	b := []byte(address)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == '@') {
			b[i] = '_'
		}
	}
	return string(b) + ".mbox"
}
