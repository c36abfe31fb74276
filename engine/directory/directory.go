// Package directory owns who and what the engine delivers to: local
// domains, mailboxes (a permanent address, a changeable nickname whose
// freed names are quarantined before reuse, quota, forwarding with an
// optional local copy, the external-forwarding flag, an argon2id password
// hash for SMTP AUTH, and the account lock), aliases, distribution lists and
// function addresses. It resolves a recipient address to the mailboxes and
// forwarding targets it reaches, and offers the administrative operations
// that `postvakt directory …`, the API and CSV import call. State lives
// behind Store, implemented by internal/store/enginestore.
package directory

import (
	"context"
	"errors"
	"time"
)

// Errors returned by the directory and by Store implementations (wrapped).
var (
	ErrNotFound    = errors.New("directory: not found")
	ErrExists      = errors.New("directory: address already in use")
	ErrQuarantined = errors.New("directory: nickname freed recently and still quarantined")
	ErrNoDomain    = errors.New("directory: domain is not local")
	ErrInvalid     = errors.New("directory: invalid")
)

// Domain is a domain the engine accepts mail for.
type Domain struct {
	Name      string // lower-case
	CreatedAt time.Time
}

// Mailbox is one user's mailbox.
type Mailbox struct {
	ID int64
	// Address is the permanent address (e.g. the person number @domain); it
	// never changes, and system mail uses it in From: so replies survive a
	// nickname change.
	Address string
	// Nickname is the changeable nickname address, or "".
	Nickname    string
	DisplayName string
	// QuotaBytes is the quota; 0 means the configured default.
	QuotaBytes int64
	// UsedBytes is maintained by the mail store as messages are delivered.
	UsedBytes int64
	// ForwardTo, when set, receives this mailbox's mail; KeepCopy also keeps
	// it here. Forwarding outside the local domains needs
	// ExternalForwardAllowed.
	ForwardTo              string
	KeepCopy               bool
	ExternalForwardAllowed bool
	// PasswordHash is a PHC-format argon2id hash ("" disables AUTH).
	PasswordHash string
	// Locked cuts the account off: AUTH is refused and mail from outside is
	// refused (550 5.2.1).
	Locked       bool
	LockedReason string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// EntryKind is what an address in the directory is.
type EntryKind string

// The kinds of address.
const (
	KindMailbox  EntryKind = "mailbox"  // a permanent address
	KindNickname EntryKind = "nickname" // a nickname of a mailbox
	KindAlias    EntryKind = "alias"    // forwards to its targets
	KindList     EntryKind = "list"     // a distribution list: its members
	KindFunction EntryKind = "function" // a function address (e.g. abuse@): its targets, and it wants all mail
	KindReleased EntryKind = "released" // a freed nickname, not deliverable
	// KindBackend is an address the directory does not know in a domain
	// delivered to a back end, which decides whether it exists
	// (Resolution only; never stored).
	KindBackend EntryKind = "backend"
)

// Entry is the directory record for one address.
type Entry struct {
	Address    string
	Kind       EntryKind
	MailboxID  int64     // for KindMailbox and KindNickname
	ReleasedAt time.Time // for KindReleased
	// Mailbox is the mailbox of a KindMailbox or KindNickname entry when
	// the store can fetch it in the same query (saving a round trip per
	// recipient); nil means "ask DirMailbox".
	Mailbox *Mailbox
}

// Alias is an alias, list or function address and its targets (local or
// remote addresses).
type Alias struct {
	Address string
	Kind    EntryKind // KindAlias, KindList or KindFunction
	Targets []string
}

// Store is the directory's persistent state. Addresses passed in and out
// are in addr.Address.Key form (lower-case).
type Store interface {
	// DirLookup returns the entry for address, or ErrNotFound; it may fill
	// Entry.Mailbox.
	DirLookup(ctx context.Context, address string) (Entry, error)
	// DirMailbox returns the mailbox with id, or ErrNotFound.
	DirMailbox(ctx context.Context, id int64) (Mailbox, error)
	// DirAliasTargets returns the targets of an alias, list or function address.
	DirAliasTargets(ctx context.Context, address string) ([]string, error)
	// DirDomainExists reports whether domain is local.
	DirDomainExists(ctx context.Context, domain string) (bool, error)
	DirPutDomain(ctx context.Context, d Domain) error
	DirDomains(ctx context.Context) ([]Domain, error)
	// DirUpsertMailboxes creates or updates (by Address) mailboxes in one
	// transaction, registering each permanent address; it returns their IDs
	// in order. Nicknames are not touched (see DirSetNickname). An address
	// in use by another kind of entry is ErrExists.
	DirUpsertMailboxes(ctx context.Context, mbs []Mailbox, now time.Time) ([]int64, error)
	// DirUpdateMailbox reads mailbox id, applies fn and writes the result
	// back in one transaction.
	DirUpdateMailbox(ctx context.Context, id int64, now time.Time, fn func(*Mailbox) error) error
	// DirSetNickname gives mailbox id the nickname (or none when ""), and
	// releases the previous one with the release time now. A nickname
	// released less than quarantine ago by another mailbox is ErrQuarantined;
	// one in use is ErrExists.
	DirSetNickname(ctx context.Context, id int64, nickname string, now time.Time, quarantine time.Duration) error
	// DirPutAlias creates or replaces an alias, list or function address.
	DirPutAlias(ctx context.Context, a Alias) error
	// DirDeleteAlias removes an alias, list or function address.
	DirDeleteAlias(ctx context.Context, address string) error
	// DirMailboxes lists mailboxes ordered by address.
	DirMailboxes(ctx context.Context) ([]Mailbox, error)
	// DirAliases lists aliases, lists and function addresses with their
	// targets, ordered by address.
	DirAliases(ctx context.Context) ([]Alias, error)
	// DirAliasesTargeting lists, like DirAliases, the aliases, lists and
	// function addresses among whose targets is target (compared
	// case-insensitively), each with all its targets.
	DirAliasesTargeting(ctx context.Context, target string) ([]Alias, error)
}
