package probestore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/storage"
)

// Each probe's current state (probe_states).

// ProbeStates implements probe.Store.
func (s *Store) ProbeStates(ctx context.Context) ([]probe.State, error) {
	out, err := storage.QueryAll(ctx, s.db, func(r storage.RowScanner) (probe.State, error) {
		var s probe.State
		var kind, status string
		var since, last, dur int64
		var ok int
		var cert sql.NullInt64
		err := r.Scan(&s.Probe, &s.Service, &s.Node, &kind, &status, &since, &last, &ok, &s.LastError, &dur, &s.Warning, &cert, &s.Replica)
		s.Kind, s.Status, s.Since, s.LastAt, s.LastOK = probe.Kind(kind), probe.Status(status), storage.FromMicros(since), storage.FromMicros(last), ok != 0
		s.LastLatency, s.CertExpiry = time.Duration(dur)*time.Microsecond, storage.FromNullMicros(cert)
		return s, err
	}, `SELECT probe, service, node, kind, status, since, last_at, last_ok, last_error, last_duration_us, warning, cert_expiry, replica
		FROM probe_states ORDER BY service, probe`)
	if err != nil {
		return nil, fmt.Errorf("probe states: %w", err)
	}
	return out, nil
}
