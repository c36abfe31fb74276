package probestore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/storage"
)

// The probes' state changes (probe_changes), kept beyond the runs'
// retention: availability is computed from them.

func scanChange(r storage.RowScanner) (probe.Change, error) {
	var c probe.Change
	var kind, status string
	var at int64
	err := r.Scan(&c.Probe, &c.Service, &c.Node, &kind, &status, &at, &c.Error)
	c.Kind, c.Status, c.At = probe.Kind(kind), probe.Status(status), storage.FromMicros(at)
	return c, err
}

// ProbeChanges implements probe.Store.
func (s *Store) ProbeChanges(ctx context.Context, from, to time.Time, probes ...string) ([]probe.Change, error) {
	filter, args := "", []any{}
	if len(probes) > 0 {
		filter = " AND probe IN (?" + strings.Repeat(", ?", len(probes)-1) + ")"
		for _, p := range probes {
			args = append(args, p)
		}
	}
	const cols = `probe, service, node, kind, status, at, error`
	in, err := storage.QueryAll(ctx, s.db, scanChange, `SELECT `+cols+` FROM probe_changes WHERE at >= ? AND at < ?`+filter+` ORDER BY at, id`,
		append([]any{storage.Micros(from), storage.Micros(to)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("probe changes: %w", err)
	}
	// The state at from: each probe's last change before it.
	before, err := storage.QueryAll(ctx, s.db, scanChange, `SELECT `+cols+` FROM probe_changes c
		WHERE at = (SELECT MAX(at) FROM probe_changes b WHERE b.probe = c.probe AND b.at < ?)`+filter+` ORDER BY at, id`,
		append([]any{storage.Micros(from)}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("probe changes before %s: %w", from.Format(time.RFC3339), err)
	}
	// Two changes of one probe at the same instant keep only the later id.
	last := map[string]probe.Change{}
	for _, c := range before {
		last[c.Probe] = c
	}
	before = before[:0]
	for _, c := range last {
		before = append(before, c)
	}
	slices.SortFunc(before, func(a, b probe.Change) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.Probe, b.Probe)) })
	return append(before, in...), nil
}
