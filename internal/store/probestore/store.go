// Package probestore keeps the probes' data in the database: each run's
// result (probe_results, kept for probes.results_retention), each probe's
// current state (probe_states) and its state changes (probe_changes, kept:
// availability is computed from them). It implements probe.Store and
// computes each service's availability with the maintenance windows it
// reads from the tickets capability's notices (Notices); Mailbox is the
// engine's mail store as the mail loop's mailbox (EngineMail). The rules
// (when a probe is down, how availability counts maintenance, which
// notices plan down time) live in collectors/probe and oncall/notice; the
// store loads and saves.
package probestore

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/notice"
)

// Notices is what the probes read of the tickets capability's notices:
// the maintenance notices that overlap a period
// (internal/store/ticketstore implements it).
type Notices interface {
	MaintenanceNotices(ctx context.Context, from, to time.Time) ([]notice.Notice, error)
}

// Store is the probes' store on one database.
type Store struct {
	db      *storage.DB
	notices Notices
}

// New returns the probes' store on db, reading maintenance windows from
// notices.
func New(db *storage.DB, notices Notices) *Store { return &Store{db: db, notices: notices} }

var (
	_ probe.Store   = (*Store)(nil)
	_ probe.Mailbox = Mailbox{}
)
