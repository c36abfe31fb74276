package app

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/config"
	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/store/unitstore"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/reports"
)

// TestReportUnitsSection: the monthly report's units section, read from
// the units' recorded history in a real database through the report
// service's source: a unit that went live in November is "joined", one
// moved to migrating stays "migrating", a follow-up due in November and
// not done is overdue (listed with its due time in the report's zone), one
// done is counted, and requirements recorded and answered are counted in
// the months they happened. October, before any of it, shows zeros; the
// figures are missing (not zero) for a source without units.
func TestReportUnitsSection(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := config.Default()
	cfg.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.Timezone = "Europe/Oslo"
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(ctx, cfg.DatabaseURL(), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.MigrateUp(ctx, nil); err != nil {
		t.Fatal(err)
	}
	oslo, _ := time.LoadLocation("Europe/Oslo")
	clock := &testClock{t: time.Date(2026, 10, 20, 10, 0, 0, 0, oslo)}
	us, err := NewUnitService(cfg, db, slog.New(slog.DiscardHandler), clock.Now, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	chem, _ := us.Create(ctx, units.Unit{Name: "Chemistry", Status: units.StatusMigrating}, "eva")
	phys, _ := us.Create(ctx, units.Unit{Name: "Physics", Status: units.StatusPlanned}, "eva")
	st := unitstore.New(db)
	for _, s := range []units.Step{
		{UnitID: chem.ID, Kind: units.StepFollowUp, Label: "follow-up after 1 day", Seq: 1, DueAt: time.Date(2026, 11, 4, 9, 0, 0, 0, oslo), State: units.StepOpen},
		{UnitID: chem.ID, Kind: units.StepFollowUp, Label: "follow-up after 1 week", Seq: 2, DueAt: time.Date(2026, 11, 10, 9, 0, 0, 0, oslo), State: units.StepOpen},
	} {
		if _, err := st.AddStep(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	q, err := us.AddRequirement(ctx, units.Requirement{UnitID: chem.ID, Title: "Shared mailbox for the lab"}, "eva")
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 11, 3, 14, 0, 0, 0, oslo))
	if _, err := us.SetStatus(ctx, chem.ID, units.StatusLive, "postvakt"); err != nil {
		t.Fatal(err)
	}
	if _, err := us.SetStatus(ctx, phys.ID, units.StatusMigrating, "postvakt"); err != nil {
		t.Fatal(err)
	}
	if _, err := us.MoveRequirement(ctx, q.ID, units.RequirementAccepted, "Set up on 12 November", "olav"); err != nil {
		t.Fatal(err)
	}
	steps, _ := st.Steps(ctx, chem.ID)
	clock.Set(time.Date(2026, 11, 5, 9, 0, 0, 0, oslo))
	if _, err := us.RecordStep(ctx, steps[0].ID, units.StepRecord{State: units.StepDone, Outcome: "all well"}, "eva"); err != nil {
		t.Fatal(err)
	}
	clock.Set(time.Date(2026, 12, 2, 10, 0, 0, 0, oslo))
	svc, err := NewReportService(cfg, db, slog.New(slog.DiscardHandler), "test", clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	fig := func(r *reports.Report, key string) reports.Figure {
		for _, f := range r.Units.Figures {
			if f.Key == key {
				return f
			}
		}
		t.Fatalf("no figure %s in %+v", key, r.Units.Figures)
		return reports.Figure{}
	}
	build := func(label string) *reports.Report {
		p, err := reports.ParsePeriod(label, 1, oslo)
		if err != nil {
			t.Fatal(err)
		}
		r, err := reports.Build(ctx, svc.Source, p, reports.Options{Config: cfg.Reports, Now: clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	nov := build("2026-11")
	for key, want := range map[string]float64{"units.joined": 1, "units.migrating": 1, "units.follow_ups_done": 1,
		"units.follow_ups_overdue": 1, "units.reqs_recorded": 0, "units.reqs_answered": 1} {
		if f := fig(nov, key); !f.Known() || f.Current != want {
			t.Errorf("November %s = %v (%s), want %v", key, f.Current, f.Missing, want)
		}
	}
	if len(nov.Units.Joined) != 1 || nov.Units.Joined[0] != "Chemistry" || len(nov.Units.Overdue) != 1 ||
		nov.Units.Overdue[0].Label != "follow-up after 1 week" || nov.Units.Overdue[0].Unit != "Chemistry" {
		t.Fatalf("November units %+v", nov.Units)
	}
	if !strings.Contains(strings.Join(nov.Units.Notes, " "), "Joined: Chemistry.") {
		t.Errorf("note %q", nov.Units.Notes)
	}
	oct := build("2026-10")
	for key, want := range map[string]float64{"units.joined": 0, "units.migrating": 1, "units.reqs_recorded": 1, "units.follow_ups_overdue": 0} {
		if f := fig(oct, key); f.Current != want {
			t.Errorf("October %s = %v, want %v", key, f.Current, want)
		}
	}
	// A source without the units capability: the section is missing.
	p, _ := reports.ParsePeriod("2026-11", 1, oslo)
	r, err := reports.Build(ctx, struct{ reports.Source }{svc.Source}, p, reports.Options{Config: cfg.Reports, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(r.Missing, ","), "units") || len(r.Units.Figures) != 0 {
		t.Fatalf("missing %v, figures %+v", r.Missing, r.Units.Figures)
	}
}
