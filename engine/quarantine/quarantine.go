// Package quarantine owns the central quarantine (DOMAIN.md "MX layer":
// infected mail, suspect archives and spam go to a central quarantine, not
// the user; a postmaster gets a message delivered on request): the item
// model, the Store the database implements, and the Service that adds,
// lists, releases (delivered as normal: each recipient expanded by the
// directory's rule, local mailboxes get a copy, remote targets a relay-queue
// entry) and expires items.
package quarantine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/engine/addr"
	"github.com/uni-mail/postvakt/engine/directory"
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
	QueueID    string // the transaction's, so the transaction log knows it
	Node       string // the node that accepted it
	At         time.Time
	Reason     Reason
	Detail     string // e.g. the signature or the rule names
	Listener   string
	ClientIP   string
	AuthUser   string
	MailFrom   string
	Rcpts      []string
	MessageID  string
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

// Errors returned by the Service and Store implementations (wrapped).
var (
	// ErrNotFound: the item does not exist.
	ErrNotFound = errors.New("quarantine: not found")
	// ErrNoRecipients: no recipient of the item can receive it any more
	// (each is unknown to the directory now); the item is kept.
	ErrNoRecipients = errors.New("quarantine: no recipient can receive the message")
)

// Delivery is where a released item goes, as the directory resolved its
// recipients.
type Delivery struct {
	// Mailboxes get a local copy, each once (mailbox IDs).
	Mailboxes []int64
	// Relay are relay-queue entries, one per target address.
	Relay []RelayTarget
}

// RelayTarget is one relay-queue entry of a release: Target is the
// address the queue delivers to, Rcpt the item's recipient that led to it.
type RelayTarget struct {
	Rcpt   string
	Target string
}

// Store keeps the quarantine.
type Store interface {
	QuarantineAdd(ctx context.Context, it *Item) (int64, error)
	QuarantineList(ctx context.Context, f Filter) ([]Item, error)
	QuarantineGet(ctx context.Context, id int64) (Item, error)
	QuarantineDelete(ctx context.Context, id int64) error
	// QuarantineRelease delivers it (as QuarantineGet returned it, with its
	// body) to d and deletes it, in one transaction: each mailbox gets a
	// copy received at now, each relay target a relay-queue entry due at
	// now. It returns the number of copies, or ErrNotFound when the item is
	// gone.
	QuarantineRelease(ctx context.Context, it Item, now time.Time, d Delivery) (int, error)
	// QuarantineExpire deletes items quarantined before t.
	QuarantineExpire(ctx context.Context, before time.Time) (int, error)
}

// Directory resolves recipients as delivery does; *directory.Directory
// implements it.
type Directory interface {
	// Resolve expands a local recipient (engine/directory's rule: aliases,
	// lists, function addresses, nicknames and forwarding, each mailbox
	// once); ErrNoDomain for a domain that is not local, ErrNotFound for an
	// unknown address.
	Resolve(ctx context.Context, a addr.Address) (directory.Resolution, error)
	// Delivered tells the directory's cache that bytes were stored in
	// mailbox id.
	Delivered(id, bytes int64)
}

// Service is the quarantine as the rest of postvakt uses it.
type Service struct {
	Store Store
	// Directory resolves the recipients of a released item; required by
	// Release.
	Directory Directory
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

// Release delivers item id as normal delivery would and deletes it. Each
// recipient is expanded by the directory (Directory.Resolve, the one rule
// delivery uses): its mailboxes get a copy in the mail store, its remote
// targets (external forwards, remote list members) a relay-queue entry; a
// recipient outside the local domains is relayed to as it is. A recipient
// the directory no longer knows (removed since, or a released nickname) is
// skipped, as delivery would refuse it (RFC 5321 §3.3: 550 5.1.1); a
// dangling alias target is skipped as Resolve skips it. Local copies do not
// go through the relay queue: that would loop back through the MX and be
// quarantined again. Each mailbox and each relay target gets one copy
// however many recipients lead to it. It returns the number of copies;
// ErrNoRecipients, keeping the item, when no recipient can receive it.
func (s *Service) Release(ctx context.Context, id int64) (int, error) {
	it, err := s.Store.QuarantineGet(ctx, id)
	if err != nil {
		return 0, err
	}
	var d Delivery
	boxes, relayed := map[int64]bool{}, map[string]bool{}
	relay := func(rcpt, target string) {
		if !relayed[target] {
			relayed[target] = true
			d.Relay = append(d.Relay, RelayTarget{Rcpt: rcpt, Target: target})
		}
	}
	for _, r := range it.Rcpts {
		a, err := addr.Parse(r)
		if err != nil || a.Domain == "" {
			continue // not an address delivery could use
		}
		res, err := s.Directory.Resolve(ctx, a)
		switch {
		case errors.Is(err, directory.ErrNoDomain):
			relay(r, a.Key())
			continue
		case errors.Is(err, directory.ErrNotFound):
			continue
		case err != nil:
			return 0, fmt.Errorf("release %d: resolve %s: %w", id, r, err)
		}
		for _, m := range res.Mailboxes {
			if !boxes[m.ID] {
				boxes[m.ID] = true
				d.Mailboxes = append(d.Mailboxes, m.ID)
			}
		}
		for _, t := range append(res.Remote, res.Backend...) {
			relay(r, t)
		}
	}
	if len(d.Mailboxes) == 0 && len(d.Relay) == 0 {
		return 0, fmt.Errorf("release %d: %w", id, ErrNoRecipients)
	}
	n, err := s.Store.QuarantineRelease(ctx, it, s.now(), d)
	if err != nil {
		return 0, err
	}
	for _, mb := range d.Mailboxes {
		s.Directory.Delivered(mb, int64(len(it.Body)))
	}
	return n, nil
}

// Expire deletes items older than the retention.
func (s *Service) Expire(ctx context.Context) (int, error) {
	if s.Retention <= 0 {
		return 0, nil
	}
	return s.Store.QuarantineExpire(ctx, s.now().Add(-s.Retention))
}
