package directory

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/uni-mail/postvakt/engine/addr"
)

// Options configure a Directory.
type Options struct {
	Store Store
	// Rules constrain new local parts; nil allows any valid dot-atom.
	Rules *addr.Rules
	Clock func() time.Time
	// NicknameQuarantine is how long a freed nickname stays unavailable to
	// other users (the "clear warning" period). Default 90 days.
	NicknameQuarantine time.Duration
	// DefaultQuota applies to mailboxes with QuotaBytes 0. Default 2 GB
	// (DOMAIN.md, the Swedish university).
	DefaultQuota int64
	// Hash are the argon2id parameters for new password hashes.
	Hash HashParams
	// Hasher is the service's one gate for password hashes (bounded by
	// memory); nil hashes without a limit (tools and tests).
	Hasher *Hasher
	// DomainCacheTTL is how long the answer "is this domain local?" is
	// cached (it is asked several times per recipient); default 10 s, so
	// a domain added on another node is seen within that time.
	DomainCacheTTL time.Duration
	// ResolveCacheTTL is how long a recipient's resolution (its mailboxes
	// with their quota use, aliases, forwards, or "unknown") is cached;
	// 0 disables the cache. A change made through this Directory empties
	// the cache at once; one made on another node, and mailbox use growing
	// by delivered mail, are seen within the TTL (so a mailbox may go over
	// its quota by what arrives in that time).
	ResolveCacheTTL time.Duration
	// Backend reports whether a local domain's mail goes to a back end
	// (smtp.directory.delivery: Dovecot's LMTP or an internal SMTP
	// server) rather than the embedded store; nil: none does. The back
	// end knows the domain's users: an address of it that the directory
	// does not know is handed to the back end (Resolution.Backend), and a
	// mailbox of it is delivered there at its permanent address.
	Backend func(domain string) bool
}

// Directory resolves recipients, authenticates users and administers the
// directory over a Store.
type Directory struct {
	o       Options
	rules   atomic.Pointer[addr.Rules] // o.Rules, changed by SetRules
	domains sync.Map                   // domain → domainCacheEntry
	cache   *resolveCache              // nil: no recipient cache
}

type domainCacheEntry struct {
	local   bool
	expires time.Time
}

// SetRules changes the rules new local parts must follow (smtp.address_rules,
// on a reload); addresses that exist are kept. nil allows any valid
// dot-atom.
func (d *Directory) SetRules(r *addr.Rules) { d.rules.Store(r) }

// DefaultQuota is 2 GB.
const DefaultQuota = 2 << 30

// New returns a Directory.
func New(o Options) *Directory {
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.NicknameQuarantine == 0 {
		o.NicknameQuarantine = 90 * 24 * time.Hour
	}
	if o.DefaultQuota == 0 {
		o.DefaultQuota = DefaultQuota
	}
	if o.Hash.MemoryKiB == 0 {
		o.Hash = DefaultHashParams()
	}
	if o.DomainCacheTTL == 0 {
		o.DomainCacheTTL = 10 * time.Second
	}
	d := &Directory{o: o}
	d.rules.Store(o.Rules)
	if o.ResolveCacheTTL > 0 {
		d.cache = &resolveCache{ttl: o.ResolveCacheTTL, m: map[string]resolveEntry{}, delivered: map[int64]int64{}}
	}
	d.o.Store = flushingStore{Store: o.Store, flush: d.Flush}
	return d
}

// Quota is the effective quota of m.
func (d *Directory) Quota(m Mailbox) int64 {
	if m.QuotaBytes > 0 {
		return m.QuotaBytes
	}
	return d.o.DefaultQuota
}

// IsLocalDomain reports whether mail for domain is delivered here.
func (d *Directory) IsLocalDomain(ctx context.Context, domain string) (bool, error) {
	domain = strings.ToLower(domain)
	now := time.Now() // the cache uses the wall clock, not the injected one
	if v, ok := d.domains.Load(domain); ok {
		if e := v.(domainCacheEntry); now.Before(e.expires) {
			return e.local, nil
		}
	}
	local, err := d.o.Store.DirDomainExists(ctx, domain)
	if err != nil {
		return false, err
	}
	d.domains.Store(domain, domainCacheEntry{local: local, expires: now.Add(d.o.DomainCacheTTL)})
	return local, nil
}

// Resolution is where mail for one recipient address goes.
type Resolution struct {
	Kind EntryKind // kind of the address itself
	// Mailboxes receive a local copy, each once.
	Mailboxes []Mailbox
	// Remote are addresses outside the local domains (external forwards,
	// remote list members), for the relay queue.
	Remote []string
	// Backend are addresses of local domains delivered to a back end
	// (Options.Backend), for the relay queue to hand on; the back end
	// decides their quota and whether they exist.
	Backend []string
	// WantsAll is true for function addresses, which take all mail (they are
	// on the recipient whitelist of the spam filter).
	WantsAll bool
}

// maxDepth bounds alias/list/forward expansion.
const maxDepth = 8

// Resolve expands a local recipient: aliases, lists, function addresses,
// nicknames and forwarding, without loops and with each mailbox once. It
// returns ErrNoDomain when the domain is not local and ErrNotFound when the
// address is unknown (RFC 5321 §3.3: 550 5.1.1).
func (d *Directory) Resolve(ctx context.Context, a addr.Address) (Resolution, error) {
	if d.cache == nil {
		return d.resolve(ctx, a)
	}
	key, now := a.Key(), time.Now() // the cache uses the wall clock, not the injected one
	if res, err, ok := d.cache.get(key, now); ok {
		return res, err
	}
	res, err := d.resolve(ctx, a)
	d.cache.put(key, res, err, now)
	return res, err
}

func (d *Directory) resolve(ctx context.Context, a addr.Address) (Resolution, error) {
	ok, err := d.IsLocalDomain(ctx, a.Domain)
	if err != nil {
		return Resolution{}, err
	}
	if !ok {
		return Resolution{}, ErrNoDomain
	}
	var res Resolution
	seenBox := map[int64]bool{}
	seenAddr := map[string]bool{}
	seenRemote := map[string]bool{}
	toBackend := func(key string) {
		if !seenRemote[key] {
			seenRemote[key] = true
			res.Backend = append(res.Backend, key)
		}
	}
	// keep gives m a local copy: in the embedded store, or at its back end.
	keep := func(m Mailbox) {
		if dom := domainOf(m.Address); d.o.Backend != nil && d.o.Backend(dom) {
			toBackend(strings.ToLower(m.Address))
			return
		}
		res.Mailboxes = append(res.Mailboxes, m)
	}
	var walk func(key string, depth int, top bool) error
	walk = func(key string, depth int, top bool) error {
		if depth > maxDepth || seenAddr[key] {
			return nil
		}
		seenAddr[key] = true
		if at := strings.LastIndexByte(key, '@'); at >= 0 && !top {
			local, err := d.IsLocalDomain(ctx, key[at+1:])
			if err != nil {
				return err
			}
			if !local {
				if !seenRemote[key] {
					seenRemote[key] = true
					res.Remote = append(res.Remote, key)
				}
				return nil
			}
		}
		e, err := d.o.Store.DirLookup(ctx, key)
		if errors.Is(err, ErrNotFound) && d.o.Backend != nil && d.o.Backend(domainOf(key)) {
			if top {
				res.Kind = KindBackend
			}
			toBackend(key)
			return nil
		}
		if err != nil {
			if errors.Is(err, ErrNotFound) && !top {
				return nil // a dangling target is skipped, not fatal
			}
			return err
		}
		if top {
			res.Kind = e.Kind
		}
		switch e.Kind {
		case KindReleased:
			if top {
				return ErrNotFound
			}
			return nil
		case KindMailbox, KindNickname:
			m, err := d.mailboxOf(ctx, e)
			if err != nil {
				return err
			}
			if seenBox[m.ID] {
				return nil
			}
			seenBox[m.ID] = true
			fwd := strings.ToLower(m.ForwardTo)
			if fwd == "" {
				keep(m)
				return nil
			}
			fa, perr := addr.Parse(fwd)
			remote := false
			if perr == nil {
				l, err := d.IsLocalDomain(ctx, fa.Domain)
				if err != nil {
					return err
				}
				remote = !l
			}
			if perr != nil || (remote && !m.ExternalForwardAllowed) {
				// An unusable forward keeps the mail here rather than losing it.
				keep(m)
				return nil
			}
			if m.KeepCopy {
				keep(m)
			}
			if remote {
				if !seenRemote[fa.Key()] {
					seenRemote[fa.Key()] = true
					res.Remote = append(res.Remote, fa.Key())
				}
				return nil
			}
			return walk(fa.Key(), depth+1, false)
		case KindAlias, KindList, KindFunction:
			if e.Kind == KindFunction && top {
				res.WantsAll = true
			}
			targets, err := d.o.Store.DirAliasTargets(ctx, key)
			if err != nil {
				return err
			}
			for _, t := range targets {
				ta, err := addr.Parse(t)
				if err != nil {
					continue
				}
				if err := walk(ta.Key(), depth+1, false); err != nil {
					return err
				}
			}
			return nil
		}
		return fmt.Errorf("directory: unknown entry kind %q", e.Kind)
	}
	if err := walk(a.Key(), 0, true); err != nil {
		return Resolution{}, err
	}
	if len(res.Mailboxes) == 0 && len(res.Remote) == 0 && len(res.Backend) == 0 {
		// An alias or list that reaches no one is unknown to the sender.
		return Resolution{}, ErrNotFound
	}
	return res, nil
}

// domainOf is the lower-case domain of an address key.
func domainOf(address string) string {
	if at := strings.LastIndexByte(address, '@'); at >= 0 {
		return strings.ToLower(address[at+1:])
	}
	return ""
}

// AuthResult is the closed set of AUTH outcomes (a metric label).
type AuthResult string

// The AUTH outcomes.
const (
	AuthOK          AuthResult = "ok"
	AuthUnknownUser AuthResult = "unknown_user"
	AuthBadPassword AuthResult = "bad_password"
	AuthLocked      AuthResult = "locked"
	AuthNoPassword  AuthResult = "no_password"
	AuthError       AuthResult = "error"
	// AuthBusy: the password could not be checked in time because the
	// hashing budget was full (Hasher); the client should try again.
	AuthBusy AuthResult = "busy"
)

// dummyHash is verified for unknown users so that their timing matches.
// It is made on first use: at package initialisation it cost every run of
// the binary 33 ms and 8 MiB, whether it served SMTP or not.
var dummyHash = sync.OnceValue(func() string {
	h, _ := HashPassword("postvakt-dummy", HashParams{MemoryKiB: 8 * 1024, Time: 1, Threads: 1})
	return h
})

// Account returns the mailbox whose permanent address or nickname is
// name, without checking a password (for a user signed in elsewhere:
// Dovecot's auth service), or an error wrapping ErrNotFound.
func (d *Directory) Account(ctx context.Context, name string) (Mailbox, error) {
	a, err := addr.Parse(name)
	if err != nil || a.Domain == "" {
		return Mailbox{}, fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	e, err := d.o.Store.DirLookup(ctx, a.Key())
	if err != nil {
		return Mailbox{}, err
	}
	if e.Kind != KindMailbox && e.Kind != KindNickname {
		return Mailbox{}, fmt.Errorf("account %q is a %s: %w", name, e.Kind, ErrNotFound)
	}
	return d.mailboxOf(ctx, e)
}

// Authenticate checks a username (permanent or nickname address) and
// password. The mailbox is returned only for AuthOK. Every answer costs one
// password hash through Options.Hasher (unknown users a dummy one, so that
// timing does not tell them apart); when the Hasher has no room in time the
// result is AuthBusy.
func (d *Directory) Authenticate(ctx context.Context, username, password string) (Mailbox, AuthResult, error) {
	verify := func(hash string) (bool, AuthResult, error) {
		ok, err := d.o.Hasher.Verify(ctx, hash, password)
		if errors.Is(err, ErrHashBusy) {
			return false, AuthBusy, err
		}
		return ok, "", err
	}
	dummy := func(res AuthResult) (Mailbox, AuthResult, error) {
		if _, busy, err := verify(dummyHash()); busy != "" {
			return Mailbox{}, busy, err
		}
		return Mailbox{}, res, nil
	}
	a, err := addr.Parse(username)
	if err != nil || a.Domain == "" {
		return dummy(AuthUnknownUser)
	}
	e, err := d.o.Store.DirLookup(ctx, a.Key())
	if errors.Is(err, ErrNotFound) || (err == nil && e.Kind != KindMailbox && e.Kind != KindNickname) {
		return dummy(AuthUnknownUser)
	}
	if err != nil {
		return Mailbox{}, AuthError, err
	}
	m, err := d.mailboxOf(ctx, e)
	if err != nil {
		return Mailbox{}, AuthError, err
	}
	if m.PasswordHash == "" {
		return dummy(AuthNoPassword)
	}
	ok, busy, err := verify(m.PasswordHash)
	if busy != "" {
		return Mailbox{}, busy, err
	}
	if err != nil {
		return Mailbox{}, AuthError, fmt.Errorf("mailbox %s: %w", m.Address, err)
	}
	if !ok {
		return Mailbox{}, AuthBadPassword, nil
	}
	if m.Locked {
		return Mailbox{}, AuthLocked, nil
	}
	return m, AuthOK, nil
}

// Mailbox finds a mailbox by its permanent or nickname address.
func (d *Directory) Mailbox(ctx context.Context, address string) (Mailbox, error) {
	a, err := addr.Parse(address)
	if err != nil {
		return Mailbox{}, fmt.Errorf("%w: %q: %v", ErrInvalid, address, err)
	}
	e, err := d.o.Store.DirLookup(ctx, a.Key())
	if err != nil {
		return Mailbox{}, fmt.Errorf("mailbox %s: %w", a.Key(), err)
	}
	if e.Kind != KindMailbox && e.Kind != KindNickname {
		return Mailbox{}, fmt.Errorf("mailbox %s: is a %s: %w", a.Key(), e.Kind, ErrNotFound)
	}
	return d.mailboxOf(ctx, e)
}

// Locked reports whether the account of address — a mailbox's permanent
// or nickname address, in any case (addresses are compared by their Key)
// — is locked. An address that is no mailbox's (unknown, an alias) is not
// an account and not locked.
func (d *Directory) Locked(ctx context.Context, address string) (bool, error) {
	m, err := d.Mailbox(ctx, address)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrInvalid) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.Locked, nil
}

func (d *Directory) mailboxOf(ctx context.Context, e Entry) (Mailbox, error) {
	if e.Mailbox != nil {
		return *e.Mailbox, nil
	}
	return d.o.Store.DirMailbox(ctx, e.MailboxID)
}
