// Package quarantine owns the central quarantine (DOMAIN.md "MX layer":
// infected mail, suspect archives and spam go to a central quarantine, not
// the user; a postmaster gets a message delivered on request): the item
// model, the Store the database implements, and the Service that adds,
// lists, releases (delivered as normal: local mailboxes, or the relay
// queue for remote targets) and expires items.
package quarantine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reason is why a message was quarantined (a closed enum: metric label).
type Reason string

// The reasons.
const (
	ReasonVirus   Reason = "virus"
	ReasonSpam    Reason = "spam"
	ReasonSuspect Reason = "suspect" // encrypted or corrupt archive
	ReasonBanned  Reason = "banned"  // forbidden attachment, when kept
)

// Item is one quarantined message.
type Item struct {
	ID         int64
	QueueID    string
	At         time.Time
	Reason     Reason
	Detail     string // e.g. the signature or the rule names
	Listener   string
	ClientIP   string
	AuthUser   string
	MailFrom   string
	Rcpts      []string
	Subject    string
	HeaderFrom string
	Size       int64
	Body       []byte // empty in List results
}

// Filter selects items; zero fields match everything.
type Filter struct {
	Reason    Reason
	Sender    string
	Recipient string
	Before    time.Time
	Limit     int
}

// ErrNotFound is wrapped when an item does not exist.
var ErrNotFound = errors.New("quarantine: not found")

// Store keeps the quarantine.
type Store interface {
	QuarantineAdd(ctx context.Context, it *Item) (int64, error)
	QuarantineList(ctx context.Context, f Filter) ([]Item, error)
	QuarantineGet(ctx context.Context, id int64) (Item, error)
	QuarantineDelete(ctx context.Context, id int64) error
	// QuarantineRelease delivers the item as normal delivery would, in one
	// transaction, and deletes it: local recipients get a mailbox copy,
	// remote and forwarding targets a relay-queue entry due at now. It
	// returns the number of copies.
	QuarantineRelease(ctx context.Context, id int64, now time.Time) (int, error)
	// QuarantineExpire deletes items quarantined before t.
	QuarantineExpire(ctx context.Context, before time.Time) (int, error)
}

// Service is the quarantine as the rest of postvakt uses it.
type Service struct {
	Store     Store
	Retention time.Duration
	Clock     func() time.Time
}

func (s *Service) now() time.Time {
	if s.Clock == nil {
		return time.Now()
	}
	return s.Clock()
}

// Add quarantines it.
func (s *Service) Add(ctx context.Context, it *Item) (int64, error) {
	if it.At.IsZero() {
		it.At = s.now()
	}
	it.Size = int64(len(it.Body))
	id, err := s.Store.QuarantineAdd(ctx, it)
	if err != nil {
		return 0, fmt.Errorf("quarantine %s: %w", it.QueueID, err)
	}
	return id, nil
}

// List returns the items f selects, newest first, without bodies.
func (s *Service) List(ctx context.Context, f Filter) ([]Item, error) {
	return s.Store.QuarantineList(ctx, f)
}

// Get returns item id with its body.
func (s *Service) Get(ctx context.Context, id int64) (Item, error) {
	return s.Store.QuarantineGet(ctx, id)
}

// Delete deletes item id without delivering it.
func (s *Service) Delete(ctx context.Context, id int64) error {
	return s.Store.QuarantineDelete(ctx, id)
}

// Release hands item id to the relay queue; returns the number of queue
// entries created.
func (s *Service) Release(ctx context.Context, id int64) (int, error) {
	return s.Store.QuarantineRelease(ctx, id, s.now())
}

// Expire deletes items older than the retention.
func (s *Service) Expire(ctx context.Context) (int, error) {
	if s.Retention <= 0 {
		return 0, nil
	}
	return s.Store.QuarantineExpire(ctx, s.now().Add(-s.Retention))
}
