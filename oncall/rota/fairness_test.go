package rota

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/uni-mail/postvakt/oncall/calendar"
)

// TestFairness checks a hand-counted Christmas fortnight in Norway:
//
//	turn 0, ana:   Mon 21 Dec 09:00 – Mon 28 Dec 09:00 (168 h)
//	turn 1, bjorn: Mon 28 Dec 09:00 – Mon  4 Jan 09:00 (168 h)
//	override, chen: Sat 26 Dec 08:00 – Sun 27 Dec 08:00 (24 h)
//
// Days are carried by whoever is on call at 12:00: ana has Fri 25 Dec
// (holiday) and Sun 27 Dec (weekend); chen has Sat 26 Dec (weekend and
// holiday); bjorn has Fri 1 Jan (holiday), Sat 2 and Sun 3 Jan (weekend).
// Mon 4 Jan's noon lies after the span.
func TestFairness(t *testing.T) {
	t.Parallel()
	loc := oslo(t)
	r, err := New(Spec{Name: "jul", Members: []string{"ana", "bjorn"}, Start: "2026-12-21"})
	if err != nil {
		t.Fatal(err)
	}
	hol, err := calendar.New(calendar.Spec{
		Name: "no", TimeZone: "Europe/Oslo", Countries: []string{"no"},
		Hours: []calendar.Hours{{Days: []string{"mon-fri"}, Start: "08:00", End: "16:00"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := r.Fairness(FairnessOptions{
		Changes: Changes{Overrides: []Override{
			{ID: "o1", Member: "chen", Start: at(t, loc, "2026-12-26 08:00"), End: at(t, loc, "2026-12-27 08:00")},
		}},
		Holidays: hol,
		From:     at(t, loc, "2026-12-21 09:00"),
		To:       at(t, loc, "2027-01-04 09:00"),
	})
	want := []FairnessRow{
		{Member: "ana", Turns: 1, Hours: 144, WeekendDays: 1, PublicHolidays: 1},
		{Member: "bjorn", Turns: 1, Hours: 168, WeekendDays: 2, PublicHolidays: 1},
		{Member: "chen", Turns: 0, Hours: 24, WeekendDays: 1, PublicHolidays: 1},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Fairness (-want +got):\n%s", d)
	}

	// Without a holiday source no public holidays are counted; a span
	// starting mid-turn counts hours but not the turn.
	got = r.Fairness(FairnessOptions{From: at(t, loc, "2026-12-24 00:00"), To: at(t, loc, "2026-12-28 09:00")})
	want = []FairnessRow{
		{Member: "ana", Turns: 0, Hours: 105, WeekendDays: 2},
		{Member: "bjorn"},
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
		t.Errorf("Fairness without holidays (-want +got):\n%s", d)
	}
}
