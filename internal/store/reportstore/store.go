// Package reportstore keeps the monthly report in the database and reads
// its data. Store is the archive: the generated reports with their
// documents and sending state (report_archive) and each period's comment
// (report_comments); it implements reports.Archive. Source is the report's
// read model, reports.Source: it reads no table itself but composes the
// named readers of the capabilities that own the data, through interfaces
// declared here — the transaction log (directory snapshots, the login log,
// rollups, the message and transaction logs: TxLogReader), the tickets
// capability (tickets with their response clock, outage and maintenance
// notices: TicketReader), on-call (critical incidents, pages:
// OnCallReader) and the probes (measured availability: ProbeReader). The sums and mappings the
// report derives live in reports, collectors/probe and the owners' domain
// packages; Source hands rows from one to the other.
package reportstore

import (
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/reports"
)

// Store is the report archive on one database.
type Store struct{ db *storage.DB }

// New returns the report archive on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var (
	_ reports.Archive = (*Store)(nil)
	_ reports.Source  = Source{}
)
