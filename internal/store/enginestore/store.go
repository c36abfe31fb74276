// Package enginestore keeps the mail engine's data in the database: the
// directory (engine_domains, engine_mailboxes, engine_addresses,
// engine_alias_targets), greylisting state (engine_greylist,
// engine_greylist_clients), the mail store (engine_bodies,
// engine_transactions, engine_messages), the outbound relay queue
// (engine_relay_queue) and the central quarantine (engine_quarantine). It
// implements the stores the engine's packages define — directory.Store,
// greylist.Store, store.Store, queue.Store and quarantine.Store — and holds
// no rule of theirs: it loads and saves.
package enginestore

import (
	"time"

	"github.com/uni-mail/postvakt/engine"
	"github.com/uni-mail/postvakt/engine/directory"
	"github.com/uni-mail/postvakt/engine/greylist"
	"github.com/uni-mail/postvakt/engine/quarantine"
	"github.com/uni-mail/postvakt/engine/queue"
	"github.com/uni-mail/postvakt/engine/store"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Store is the engine's store on one database.
type Store struct {
	db      *storage.DB
	journal Journal
	clock   func() time.Time
}

// New returns the engine's store on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var (
	_ engine.Store     = (*Store)(nil)
	_ directory.Store  = (*Store)(nil)
	_ greylist.Store   = (*Store)(nil)
	_ store.Store      = (*Store)(nil)
	_ queue.Store      = (*Store)(nil)
	_ quarantine.Store = (*Store)(nil)
)
