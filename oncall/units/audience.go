package units

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/uni-mail/postvakt/oncall/notice"
)

var _ notice.Audience = (*Service)(nil)

// CheckUnits implements notice.Audience: every ID must be a unit's.
func (s *Service) CheckUnits(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		if _, err := s.o.Store.GetUnit(ctx, id); err != nil {
			return fmt.Errorf("unit %d: %w", id, err)
		}
	}
	return nil
}

// ScopeNotice implements notice.Audience: the notice is scoped to each
// unit (a Ref, on the unit's page and in its history).
func (s *Service) ScopeNotice(ctx context.Context, noticeID int64, unitIDs []int64, actor string) error {
	for _, id := range unitIDs {
		if _, err := s.AddRef(ctx, id, RefNotice, noticeID, actor); err != nil {
			return err
		}
	}
	return nil
}

// NoticeUnits implements notice.Audience.
func (s *Service) NoticeUnits(ctx context.Context, noticeID int64) ([]int64, error) {
	us, err := s.o.Store.RefUnits(ctx, RefNotice, noticeID)
	var ids []int64
	for _, u := range us {
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids, err
}

// NoticeRecipients implements notice.Audience: the leaders, network
// administrators and contacts (Unit.Recipients) of the notice's units,
// each address once.
func (s *Service) NoticeRecipients(ctx context.Context, noticeID int64) ([]string, error) {
	us, err := s.o.Store.RefUnits(ctx, RefNotice, noticeID)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, u := range us {
		for _, a := range u.Recipients() {
			k := strings.ToLower(notice.AddressOf(a))
			if !seen[k] {
				seen[k] = true
				out = append(out, a)
			}
		}
	}
	return out, nil
}
