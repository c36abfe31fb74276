package directory

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// maxCachedResolutions bounds the recipient cache; a dictionary attack of
// unknown addresses empties it rather than growing it.
const maxCachedResolutions = 50_000

// resolveCache keeps recent Resolve answers (found, unknown and
// non-local) for a short time: the MX asks for the same recipients again
// and again, and each lookup otherwise costs two or three queries.
//
// Mail delivered by this node keeps a cached mailbox's quota use exact:
// delivered counts the bytes per mailbox, and each entry remembers the
// count when it was stored, so a cached answer adds what arrived since.
type resolveCache struct {
	ttl       time.Duration
	mu        sync.Mutex
	m         map[string]resolveEntry
	delivered map[int64]int64 // mailbox ID → bytes delivered by this node
}

type resolveEntry struct {
	res     Resolution
	err     error
	expires time.Time
	base    []int64 // delivered[mailbox] when stored, per res.Mailboxes
}

func (c *resolveCache) get(key string, now time.Time) (Resolution, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		return Resolution{}, nil, false
	}
	// Callers may change the slices they get; the cached ones stay as stored.
	e.res.Mailboxes, e.res.Remote, e.res.Backend = slices.Clone(e.res.Mailboxes), slices.Clone(e.res.Remote), slices.Clone(e.res.Backend)
	for i := range e.res.Mailboxes {
		e.res.Mailboxes[i].UsedBytes += c.delivered[e.res.Mailboxes[i].ID] - e.base[i]
	}
	return e.res, e.err, true
}

func (c *resolveCache) put(key string, res Resolution, err error, now time.Time) {
	if err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNoDomain) {
		return // a database error is not an answer
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCachedResolutions {
		clear(c.m)
		clear(c.delivered)
	}
	res.Mailboxes, res.Remote, res.Backend = slices.Clone(res.Mailboxes), slices.Clone(res.Remote), slices.Clone(res.Backend)
	base := make([]int64, len(res.Mailboxes))
	for i, m := range res.Mailboxes {
		base[i] = c.delivered[m.ID]
	}
	c.m[key] = resolveEntry{res: res, err: err, expires: now.Add(c.ttl), base: base}
}

func (c *resolveCache) flush() {
	c.mu.Lock()
	clear(c.m)
	clear(c.delivered)
	c.mu.Unlock()
}

// Delivered tells the recipient cache that this node stored bytes in
// mailbox id, so cached answers show its quota use up to date.
func (d *Directory) Delivered(id, bytes int64) {
	if c := d.cache; c != nil {
		c.mu.Lock()
		c.delivered[id] += bytes
		c.mu.Unlock()
	}
}

// flushingStore empties the recipient cache (and the domain cache) on
// every change made through this Directory, so the node that makes a
// change sees it at once; other nodes see it within the TTLs.
type flushingStore struct {
	Store
	flush func()
}

func (s flushingStore) DirPutDomain(ctx context.Context, d Domain) error {
	defer s.flush()
	return s.Store.DirPutDomain(ctx, d)
}

func (s flushingStore) DirUpsertMailboxes(ctx context.Context, mbs []Mailbox, now time.Time) ([]int64, error) {
	defer s.flush()
	return s.Store.DirUpsertMailboxes(ctx, mbs, now)
}

func (s flushingStore) DirUpdateMailbox(ctx context.Context, id int64, now time.Time, fn func(*Mailbox) error) error {
	defer s.flush()
	return s.Store.DirUpdateMailbox(ctx, id, now, fn)
}

func (s flushingStore) DirSetNickname(ctx context.Context, id int64, nickname string, now time.Time, quarantine time.Duration) error {
	defer s.flush()
	return s.Store.DirSetNickname(ctx, id, nickname, now, quarantine)
}

func (s flushingStore) DirPutAlias(ctx context.Context, a Alias) error {
	defer s.flush()
	return s.Store.DirPutAlias(ctx, a)
}

func (s flushingStore) DirDeleteAlias(ctx context.Context, address string) error {
	defer s.flush()
	return s.Store.DirDeleteAlias(ctx, address)
}

// Flush forgets every cached answer (after a change made around this
// Directory, e.g. directly in the database).
func (d *Directory) Flush() {
	if d.cache != nil {
		d.cache.flush()
	}
	d.domains.Clear()
}
