package reportstest

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/uni-mail/postvakt/reports"
)

// MemArchive is an in-memory reports.Archive with the same semantics as
// the database's (one report per period, claims for sending).
type MemArchive struct {
	mu       sync.Mutex
	reports  map[string]reports.Archived
	claims   map[string]time.Time
	comments map[string]string
	tips     map[string][]reports.Tip
}

var _ reports.Archive = (*MemArchive)(nil)

// NewMemArchive returns an empty archive.
func NewMemArchive() *MemArchive {
	return &MemArchive{reports: map[string]reports.Archived{}, claims: map[string]time.Time{}, comments: map[string]string{},
		tips: map[string][]reports.Tip{}}
}

// PutReport implements reports.Archive.
func (m *MemArchive) PutReport(_ context.Context, a reports.Archived, replace bool) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.reports[a.Period]; ok {
		if !replace {
			return false, nil
		}
		a.SentAt, a.SentTo = old.SentAt, old.SentTo
	}
	m.reports[a.Period] = a
	return true, nil
}

// GetReport implements reports.Archive.
func (m *MemArchive) GetReport(_ context.Context, period string, bodies bool) (reports.Archived, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.reports[period]
	if !ok {
		return reports.Archived{}, reports.ErrNotArchived
	}
	if !bodies {
		a.HTML, a.PDF, a.CSV, a.Model = nil, nil, nil, nil
	}
	return a, nil
}

// ListReports implements reports.Archive.
func (m *MemArchive) ListReports(_ context.Context, limit int) ([]reports.Archived, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []reports.Archived
	for _, a := range m.reports {
		a.HTML, a.PDF, a.CSV, a.Model = nil, nil, nil, nil
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b reports.Archived) int { return b.Start.Compare(a.Start) })
	return out[:min(limit, len(out))], nil
}

// ClaimSend implements reports.Archive.
func (m *MemArchive) ClaimSend(_ context.Context, period, _ string, now, staleBefore time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.reports[period]
	if !ok || !a.SentAt.IsZero() {
		return false, nil
	}
	if c, ok := m.claims[period]; ok && !c.Before(staleBefore) {
		return false, nil
	}
	m.claims[period] = now
	return true, nil
}

// MarkSent implements reports.Archive.
func (m *MemArchive) MarkSent(_ context.Context, period, to string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.reports[period]
	if !ok {
		return reports.ErrNotArchived
	}
	a.SentAt, a.SentTo = at, to
	m.reports[period] = a
	delete(m.claims, period)
	return nil
}

// ReleaseSend implements reports.Archive.
func (m *MemArchive) ReleaseSend(_ context.Context, period string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.claims, period)
	if a, ok := m.reports[period]; ok {
		a.SentAt, a.SentTo = time.Time{}, ""
		m.reports[period] = a
	}
	return nil
}

// SetComment implements reports.Archive.
func (m *MemArchive) SetComment(_ context.Context, period, comment, _ string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.comments[period] = comment
	return nil
}

// Comment implements reports.Archive.
func (m *MemArchive) Comment(_ context.Context, period string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.comments[period], nil
}

// SetTips implements reports.Archive.
func (m *MemArchive) SetTips(_ context.Context, period string, tips []reports.Tip, _ string, _ time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tips[period] = slices.Clone(tips)
	return nil
}

// Tips implements reports.Archive.
func (m *MemArchive) Tips(_ context.Context, period string) ([]reports.Tip, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.tips[period]), nil
}
