package team

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/oncall/rota"
)

func TestContinueOrder(t *testing.T) {
	t.Parallel()
	old := []string{"ana", "bjorn", "chen", "dina"}
	cases := []struct {
		name, due string
		next      []string
		want      string
	}{
		{"append: whose turn it is keeps it", "chen", []string{"ana", "bjorn", "chen", "dina", "erin"}, "chen"},
		{"reorder: whose turn it is keeps it", "chen", []string{"dina", "chen", "ana", "bjorn"}, "chen"},
		{"removed: the next who stays", "chen", []string{"ana", "bjorn", "dina"}, "dina"},
		{"removed with the next: the one after", "chen", []string{"ana", "bjorn"}, "ana"},
		{"removed at the end: wraps", "dina", []string{"bjorn", "chen"}, "bjorn"},
		{"nobody stays: the first of the new order", "chen", []string{"erin", "fia"}, "erin"},
	}
	for _, tc := range cases {
		if got := continueOrder(tc.due, old, tc.next); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestApplyChange(t *testing.T) {
	t.Parallel()
	base := rota.Spec{Name: "r", Members: []string{"ana", "bjorn", "chen"}, Start: "2026-01-05", Every: "1w", HandoverWeekday: "monday",
		HandoverTime: "09:00", TimeZone: "Europe/Oslo", Cover: "uk"}
	eff := time.Date(2026, 12, 9, 9, 0, 0, 0, time.UTC)
	got, err := applyChange(base, RotaChange{Add: []string{"dina", "erin"}, After: "ana", Remove: []string{"chen"}, HandoverTime: "10:00"}, eff)
	if err != nil || !slices.Equal(got.Members, []string{"ana", "dina", "erin", "bjorn"}) || got.HandoverTime != "10:00" || got.Start != base.Start || got.Cover != "uk" {
		t.Fatalf("add after, remove, time: %+v %v", got, err)
	}
	if !slices.Equal(base.Members, []string{"ana", "bjorn", "chen"}) {
		t.Fatalf("the base changed: %v", base.Members)
	}
	// A new weekday anchors the turns on the effective date; "-" clears
	// the cover.
	got, err = applyChange(base, RotaChange{HandoverWeekday: "wednesday", Cover: "-"}, eff)
	if err != nil || got.Start != "2026-12-09" || got.Cover != "" {
		t.Fatalf("regrid: %+v %v", got, err)
	}
	for name, c := range map[string]RotaChange{
		"add a member":       {Add: []string{"bjorn"}},
		"after a stranger":   {Add: []string{"dina"}, After: "zed"},
		"remove a stranger":  {Remove: []string{"zed"}},
		"remove all members": {Members: []string{"ana"}, Remove: []string{"ana"}},
	} {
		if _, err := applyChange(base, c, eff); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestPlanRecord checks one step of the record at a time.
func TestPlanRecord(t *testing.T) {
	t.Parallel()
	at := func(h int) time.Time { return time.Date(2026, 12, 7, h, 0, 0, 0, time.UTC) }
	sh := func(m string, from, to int, src rota.Source) rota.Shift {
		return rota.Shift{Member: m, Start: at(from), End: at(to), Source: src}
	}
	open := RecordedShift{ID: "1", Rota: "r", Shift: rota.Shift{Member: "ana", Start: at(1), Source: rota.SourceRota}}
	// Still in progress as recorded: nothing to do.
	if got := planRecord(open, true, []rota.Shift{sh("ana", 1, 5, rota.SourceRota)}, at(5)); got != nil {
		t.Errorf("in progress: %+v", got)
	}
	// Ended: close it as computed, record what followed (late) and open
	// the one in progress.
	got := planRecord(open, true, []rota.Shift{sh("ana", 1, 3, rota.SourceRota), sh("chen", 3, 4, rota.SourceOverride), sh("ana", 4, 6, rota.SourceRota)}, at(6))
	if len(got) != 3 || got[0].ID != "close" || !got[0].End.Equal(at(3)) || !got[1].Late || !got[1].End.Equal(at(4)) ||
		got[2].Late || !got[2].End.IsZero() || got[2].Member != "ana" {
		t.Errorf("ended: %+v", got)
	}
	// Changed since it was recorded: a new open shift from now.
	got = planRecord(open, true, []rota.Shift{sh("chen", 1, 6, rota.SourceOverride)}, at(6))
	if len(got) != 1 || got[0].ID == "close" || got[0].Member != "chen" || !got[0].Start.Equal(at(6)) || !got[0].End.IsZero() {
		t.Errorf("changed: %+v", got)
	}
	// No record yet: everything late but the one in progress.
	got = planRecord(RecordedShift{}, false, []rota.Shift{sh("ana", 1, 2, rota.SourceRota), sh("bjorn", 2, 6, rota.SourceRota)}, at(6))
	if len(got) != 2 || !got[0].Late || got[1].Late || !got[1].End.IsZero() {
		t.Errorf("first: %+v", got)
	}
}
