package oncallstore

import (
	"context"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
)

// Handover announcements (oncall_handovers), claimed once across replicas:
// handover.Store with the page log.

// ClaimHandover claims the announcement of a rota's handover at at.
func (s *Store) ClaimHandover(ctx context.Context, rotaName string, at time.Time, node string, now time.Time) (bool, error) {
	_, err := s.db.Exec(ctx, `INSERT INTO oncall_handovers (rota, at, node, sent_at) VALUES (?, ?, ?, ?)`, rotaName, storage.Micros(at), node, storage.Micros(now))
	if storage.IsUniqueViolation(err) {
		return false, nil
	}
	return err == nil, err
}
