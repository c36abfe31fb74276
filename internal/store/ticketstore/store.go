// Package ticketstore keeps the tickets capability's data in the database:
// fault tickets with their links, SLA clocks, timelines and mail
// Message-IDs (tickets, ticket_links, ticket_clocks, ticket_events,
// ticket_messages), the frozen SLA policy versions (sla_policies), and
// outage and maintenance notices with their updates (notices,
// notice_updates). It implements tickets.Store and notice.Store; it loads
// and saves, and the rules (states, clocks and their order) live in
// oncall/tickets, oncall/sla and oncall/notice.
package ticketstore

import (
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/notice"
	"github.com/uni-mail/postvakt/oncall/tickets"
)

// Store is the tickets capability's store on one database.
type Store struct{ db *storage.DB }

// New returns the tickets store on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var (
	_ tickets.Store = (*Store)(nil)
	_ notice.Store  = (*Store)(nil)
)
