package probestore

import (
	"context"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/engine/store"
)

// EngineMail is what the mail loop reads and removes in the engine's mail
// store (internal/store/enginestore implements it).
type EngineMail interface {
	// MailFindToken finds the newest message of the mailbox of address
	// that carries token in its header.
	MailFindToken(ctx context.Context, address, token string) (store.StoredMessage, bool, error)
	// MailRemove deletes a message from its mailbox with the mailbox's
	// quota accounting.
	MailRemove(ctx context.Context, m store.StoredMessage) error
}

// Mailbox is the engine's mail store as the mail loop's mailbox
// (probe.Mailbox, for loops with fetch kind store): Seen finds the message
// that carries the probe's token and removes it, so the probe mailbox
// stays empty, and returns when it was stored.
type Mailbox struct{ Mail EngineMail }

// Seen implements probe.Mailbox.
func (m Mailbox) Seen(ctx context.Context, address, token string) (time.Time, bool, error) {
	msg, ok, err := m.Mail.MailFindToken(ctx, address, token)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("probe mailbox %s: %w", address, err)
	}
	if !ok {
		return time.Time{}, false, nil
	}
	if err := m.Mail.MailRemove(ctx, msg); err != nil {
		return time.Time{}, false, fmt.Errorf("probe mailbox %s: remove probe message: %w", address, err)
	}
	return msg.ReceivedAt, true, nil
}
