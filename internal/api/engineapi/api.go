// Package engineapi serves the mail engine's HTTP API: the directory under
// /api/v1/directory (domains, mailboxes, the mailbox search, aliases, a
// mailbox's messages in the embedded store) and the central quarantine under /api/v1/quarantine. Helpdesk and above read
// the directory (to answer "is my mailbox full?"), postmasters change it and
// handle the quarantine; every change is audited, and passwords are
// accepted but never returned or logged.
package engineapi

import (
	"context"
	"errors"

	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/internal/server"
)

// Options are the services the API serves; a nil part has no routes.
type Options struct {
	// Directory serves /api/v1/directory/…; nil when the SMTP engine does
	// not run.
	Directory *directory.Directory
	// Mailboxes pages through the directory's mailboxes for the mailbox
	// search; required with Directory.
	Mailboxes MailboxPager
	// Quarantine serves /api/v1/quarantine….
	Quarantine *quarantine.Service
	// Messages serves a mailbox's messages in the embedded store
	// (/api/v1/directory/mailboxes/{address}/messages…, export.mbox);
	// used with Directory.
	Messages MailboxMessages
	// SubjectsFrom is the least role that reads the subjects of a
	// mailbox's messages (collectors.trace.show_subjects_from; below it
	// they are masked as in the trace). Empty: postmaster.
	SubjectsFrom auth.Role
}

// MailboxPager finds one page of mailboxes in the database (the engine's
// store implements it).
type MailboxPager interface {
	// DirMailboxPage returns the page [offset, offset+limit) of the
	// mailboxes, in address order, whose address, nickname or display name
	// contains q (case-insensitive), only locked ones when locked, and how
	// many match in all.
	DirMailboxPage(ctx context.Context, q string, locked bool, offset, limit int) ([]directory.Mailbox, int, error)
}

// Register registers the routes of the parts o gives, each with its role.
func Register(s *server.Server, o Options) {
	if o.Directory != nil {
		registerDomains(s, o.Directory)
		registerMailboxes(s, o.Directory)
		registerMailboxSearch(s, o.Directory, o.Mailboxes)
		registerAliases(s, o.Directory)
		if o.Messages != nil {
			from := o.SubjectsFrom
			if from == "" {
				from = auth.RolePostmaster
			}
			registerMessages(s, o.Directory, o.Messages, from)
		}
	}
	if o.Quarantine != nil {
		registerQuarantine(s, o.Quarantine)
	}
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
