// Package oncallstore keeps the on-call capability's data in the database:
// incidents with their alerts and timelines (oncall_incidents,
// oncall_incident_alerts, oncall_incident_events), the page log
// (oncall_pages), heartbeats (oncall_heartbeats), handover claims
// (oncall_handovers), the team as data (oncall_team_members, oncall_rotas,
// oncall_rota_versions, oncall_team_revision), the record of shifts held
// (oncall_shift_log, read by the report through HeldShifts and
// MemberNames) and the team's run-time changes: overrides, swap requests
// and unavailability (oncall_overrides, oncall_swaps,
// oncall_unavailability). It implements incident.Store, page.Log,
// heartbeat.Store, handover.Store, team.Store and team.RotaStore; it loads
// and saves, and the rules live in those packages.
package oncallstore

import (
	"fmt"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/oncall/handover"
	"github.com/uni-mail/postvakt/oncall/heartbeat"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/team"
)

// Store is the on-call capability's store on one database.
type Store struct{ db *storage.DB }

// New returns the on-call store on db.
func New(db *storage.DB) *Store { return &Store{db: db} }

var (
	_ incident.Store  = (*Store)(nil)
	_ page.Log        = (*Store)(nil)
	_ heartbeat.Store = (*Store)(nil)
	_ handover.Store  = (*Store)(nil)
	_ team.Store      = (*Store)(nil)
)

// notFound wraps storage.ErrNotFound and a domain package's own sentinel.
func notFound(what string, domain error) error {
	return fmt.Errorf("%s: %w", what, storage.NotFound(domain))
}
