package oncallstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

var osloLoc = func() *time.Location { l, _ := time.LoadLocation("Europe/Oslo"); return l }()

func oslo(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04", s, osloLoc)
	if err != nil {
		panic(err)
	}
	return t
}

// teamSpec is the configured team: four members, weekly turns from Monday
// 2026-01-05 09:00 Europe/Oslo in the order ana, bjorn, chen, dina.
func teamSpec() team.Spec {
	return team.Spec{
		Members: []rota.Member{{ID: "ana", Name: "Ana Berg"}, {ID: "bjorn", Name: "Bjørn Dahl"}, {ID: "chen", Name: "Chen Wei"}, {ID: "dina", Name: "Dina Lie"}},
		Rotas: []rota.Spec{{Name: "ukevakt", Members: []string{"ana", "bjorn", "chen", "dina"}, Start: "2026-01-05",
			HandoverWeekday: "monday", HandoverTime: "09:00", TimeZone: "Europe/Oslo"}},
	}
}

// weekOf is the oracle's turn number: whole weeks from Monday 2026-01-05
// to the latest Monday 09:00 (Oslo wall clock) at or before t.
func weekOf(t time.Time) int {
	lt := t.In(osloLoc)
	back := (int(lt.Weekday()) + 6) % 7
	if back == 0 && lt.Hour() < 9 {
		back = 7
	}
	monday := time.Date(lt.Year(), lt.Month(), lt.Day()-back, 0, 0, 0, 0, time.UTC)
	return int(monday.Sub(time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)).Hours()) / (24 * 7)
}

// orderFrom is the oracle of a changed order: from the Monday handover at
// from, the duty passes through order starting with first.
func orderFrom(from time.Time, order []string, first string) func(time.Time) string {
	i := slices.Index(order, first)
	return func(t time.Time) string {
		return order[(i+weekOf(t)-weekOf(from))%len(order)]
	}
}

func newTeam(t *testing.T, db *storage.DB) *team.Team {
	t.Helper()
	tm, err := team.New(teamSpec(), oncallstore.New(db))
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

func whoAt(t *testing.T, tm *team.Team, at time.Time) string {
	t.Helper()
	s, err := tm.OnCallAt(context.Background(), "ukevakt", at)
	if err != nil {
		t.Fatal(err)
	}
	return s.Member
}

// TestRotaChangesKeepThePast (docs/oncall.md, "Changing the rota") adds,
// removes and reorders members through one Team while a second Team on
// the same database (another process: the CLI, a replica) answers: for
// every hour of the eight weeks before each change, who is on call is what
// it was; from each change's moment, the new order applies as the oracle
// says.
func TestRotaChangesKeepThePast(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		server, cli := newTeam(t, db), newTeam(t, db)
		now := oslo("2026-11-18 12:00") // a Wednesday: bjorn's turn (week 45)
		lines, err := server.ApplyConfig(ctx, team.ApplyOptions{By: "config", Now: now})
		if err != nil || len(lines.Lines) != 5 {
			t.Fatalf("seed: %v %q", err, lines.Lines)
		}
		if again, err := server.ApplyConfig(ctx, team.ApplyOptions{By: "config", Now: now}); err != nil || len(again.Lines) != 0 {
			t.Fatalf("applying an unchanged configuration: %v %q", err, again.Lines)
		}
		old := []string{"ana", "bjorn", "chen", "dina"}
		want := func(tm time.Time) string { return old[weekOf(tm)%4] }
		check := func(label string, from, to time.Time, want func(time.Time) string) {
			t.Helper()
			// every third hour from noon: 09:00, the handover, and 06:00 before it
			for i, h := 0, from; h.Before(to); i, h = i+1, h.Add(3*time.Hour) {
				tm := []*team.Team{server, cli}[i%2] // both processes, in turn
				if got := whoAt(t, tm, h); got != want(h) {
					t.Fatalf("%s: at %v: %s, want %s", label, h.In(osloLoc), got, want(h))
				}
			}
		}
		check("seeded", now.AddDate(0, 0, -56), now.AddDate(0, 0, 28), want)

		// A new member, added as a person and then to the rota from the
		// next handover (Monday 23 November 09:00, chen's turn by the old
		// order: chen keeps it, then dina, erin, ana, bjorn).
		if _, err := cli.AddMember(ctx, team.MemberChange{Member: rota.Member{ID: "erin", Name: "Erin Moe", Email: "erin@example.edu"}, By: "cli", Now: now}); err != nil {
			t.Fatal(err)
		}
		res, err := cli.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Add: []string{"erin"}, Reason: "erin joins", By: "cli", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		mon := oslo("2026-11-23 09:00")
		if !res.Version.From.Equal(mon) || res.Version.First != "chen" || !slices.Equal(res.Added, []string{"erin"}) || res.Turns[2].Member != "erin" {
			t.Fatalf("change: %+v", res)
		}
		prev := want
		next := orderFrom(mon, []string{"ana", "bjorn", "chen", "dina", "erin"}, "chen")
		want = func(tm time.Time) string {
			if tm.Before(mon) {
				return prev(tm)
			}
			return next(tm)
		}
		check("erin added", now.AddDate(0, 0, -56), now.AddDate(0, 0, 70), want)

		// Turns that have started are never rewritten.
		_, err = server.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Remove: []string{"dina"}, Effective: oslo("2026-11-20 09:00"), By: "t", Now: now})
		if !errors.Is(err, team.ErrInvalid) || !strings.Contains(err.Error(), "turns that have started are never rewritten") {
			t.Fatalf("a change inside the turn in progress: %v", err)
		}
		// A change before a scheduled one is refused; at the same moment
		// it builds on it; a scheduled change can be cancelled.
		later := oslo("2026-12-21 09:00")
		sched, err := server.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Remove: []string{"ana"}, Effective: later, By: "t", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := server.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Remove: []string{"bjorn"}, Effective: oslo("2026-12-14 09:00"), By: "t", Now: now}); !errors.Is(err, team.ErrInvalid) || !strings.Contains(err.Error(), "cancel it first") {
			t.Fatalf("a change before a scheduled one: %v", err)
		}
		same, err := server.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Members: []string{"dina", "chen", "bjorn", "erin"}, Effective: later, By: "t", Now: now, DryRun: true})
		if err != nil || same.Replaced == nil || same.Replaced.ID != sched.Version.ID || !same.DryRun {
			t.Fatalf("a dry run at the same moment: %+v %v", same, err)
		}
		if _, err := cli.CancelRotaChange(ctx, "ukevakt", sched.Version.ID, "t", now); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.CancelRotaChange(ctx, "ukevakt", res.Version.ID, "t", oslo("2026-11-24 12:00")); !errors.Is(err, team.ErrState) {
			t.Fatalf("cancelling a change in effect: %v", err)
		}
		check("after a cancelled change", now.AddDate(0, 0, -56), now.AddDate(0, 0, 70), want)

		// Reorder from 21 December, then remove bjorn from 4 January;
		// whose turn it is keeps it.
		reorder := []string{"dina", "chen", "bjorn", "ana", "erin"}
		r2, err := server.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Members: reorder, Effective: later, By: "t", Now: oslo("2026-11-25 10:00")})
		if err != nil {
			t.Fatal(err)
		}
		if due := next(later); r2.Version.First != due {
			t.Fatalf("reorder: first %s, want %s (whose turn it was)", r2.Version.First, due)
		}
		jan := oslo("2027-01-04 09:00")
		r3, err := cli.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Remove: []string{"bjorn"}, Effective: jan, By: "t", Now: oslo("2026-11-25 10:00")})
		if err != nil {
			t.Fatal(err)
		}
		reordered := orderFrom(later, reorder, r2.Version.First)
		due := reordered(jan)
		wantFirst := due
		if due == "bjorn" {
			wantFirst = "ana"
		}
		if r3.Version.First != wantFirst {
			t.Fatalf("remove: first %s, want %s", r3.Version.First, wantFirst)
		}
		removed := orderFrom(jan, []string{"dina", "chen", "ana", "erin"}, wantFirst)
		prev2 := want
		want = func(tm time.Time) string {
			switch {
			case tm.Before(later):
				return prev2(tm)
			case tm.Before(jan):
				return reordered(tm)
			}
			return removed(tm)
		}
		check("reordered and removed", now.AddDate(0, 0, -56), oslo("2027-03-01 09:00"), want)

		// bjorn cannot leave the team while a rota version in force or
		// to come has him; erin's name stays for the record.
		if _, err := cli.RemoveMember(ctx, "bjorn", "t", now); !errors.Is(err, team.ErrInvalid) || !strings.Contains(err.Error(), "remove them from the rota first") {
			t.Fatalf("remove bjorn: %v", err)
		}
		ov, err := cli.AddOverride(ctx, team.OverrideRequest{Rota: "ukevakt", Member: "bjorn", Start: oslo("2027-02-01 09:00"), End: oslo("2027-02-02 09:00"), Now: now})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cli.RemoveMember(ctx, "bjorn", "t", oslo("2027-01-05 10:00")); !errors.Is(err, team.ErrInvalid) || !strings.Contains(err.Error(), "override "+ov.ID) {
			t.Fatalf("remove bjorn with an override to come: %v", err)
		}
		id, _ := team.ParseID(ov.ID)
		if err := cli.DeleteOverride(ctx, id, now); err != nil {
			t.Fatal(err)
		}
		if _, err := cli.RemoveMember(ctx, "bjorn", "t", oslo("2027-01-05 10:00")); err != nil {
			t.Fatalf("remove bjorn after his last version: %v", err)
		}
		if err := server.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if m, ok := server.Member("bjorn"); !ok || m.Name != "Bjørn Dahl" || slices.ContainsFunc(server.Members(), func(m rota.Member) bool { return m.ID == "bjorn" }) {
			t.Fatalf("a removed member: %+v %v %v", m, ok, server.Members())
		}
		vs, err := server.RotaVersions(ctx, "ukevakt")
		if err != nil || len(vs) != 5 || vs[2].CancelledAt.IsZero() || vs[1].Reason != "erin joins" || vs[1].CreatedBy != "cli" {
			t.Fatalf("versions: %v %+v", err, vs)
		}
	})
}

// TestApplyConfigChanges: a changed configuration is a change from the
// next handover (never the past); a configuration changed back and forth
// is applied each time it changes; a run-time change is kept while the
// configuration does not change.
func TestApplyConfigChanges(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		now := oslo("2026-11-18 12:00")
		tm := newTeam(t, db)
		if _, err := tm.ApplyConfig(ctx, team.ApplyOptions{By: "config", Now: now}); err != nil {
			t.Fatal(err)
		}
		// The YAML gains erin at the end: she is not on call now, and the
		// past is as it was.
		spec := teamSpec()
		spec.Members = append(spec.Members, rota.Member{ID: "erin", Name: "Erin Moe"})
		spec.Rotas[0].Members = append(spec.Rotas[0].Members, "erin")
		tm2, err := team.New(spec, oncallstore.New(db))
		if err != nil {
			t.Fatal(err)
		}
		drift, err := tm2.ConfigDrift(ctx)
		if err != nil || !slices.Equal(drift, []string{"member erin", "rota ukevakt"}) {
			t.Fatalf("drift %v %v", drift, err)
		}
		dry, err := tm2.ApplyConfig(ctx, team.ApplyOptions{By: "config", Now: now, DryRun: true})
		if err != nil || len(dry.Lines) != 2 {
			t.Fatalf("dry run: %v %q", err, dry.Lines)
		}
		if got := whoAt(t, tm2, now); got != "bjorn" {
			t.Fatalf("a dry run changed the rota: %s", got)
		}
		out, err := tm2.ApplyConfig(ctx, team.ApplyOptions{By: "config", Now: now})
		if err != nil || len(out.Lines) != 2 || !strings.Contains(out.Lines[1], "from 2026-11-23 09:00 CET") || !strings.Contains(out.Lines[1], "added erin") {
			t.Fatalf("apply: %v %q", err, out.Lines)
		}
		for h := now.AddDate(0, 0, -60); h.Before(oslo("2026-11-23 09:00")); h = h.Add(time.Hour) {
			if got, want := whoAt(t, tm, h), []string{"ana", "bjorn", "chen", "dina"}[weekOf(h)%4]; got != want {
				t.Fatalf("at %v: %s, want %s", h, got, want)
			}
		}
		// A run-time change survives a restart with the same YAML.
		if _, err := tm.ChangeRota(ctx, team.RotaChange{Rota: "ukevakt", Remove: []string{"ana"}, Effective: oslo("2026-11-30 09:00"), By: "web", Now: now}); err != nil {
			t.Fatal(err)
		}
		again, err := tm2.ApplyConfig(ctx, team.ApplyOptions{By: "config", Now: now})
		if err != nil || len(again.Lines) != 0 {
			t.Fatalf("same YAML again: %v %q", err, again.Lines)
		}
		if got := whoAt(t, tm2, oslo("2026-12-30 12:00")); got == "ana" {
			t.Fatal("the run-time change was lost")
		}
	})
}

// TestShiftRecord (docs/oncall.md, "The record of shifts"): the first step
// records the past late, the loop then opens and closes shifts as they
// start and end, an override starting now cuts the shift in progress,
// replicas do not record twice, and the past is read from the record even
// when the changes behind it are gone.
func TestShiftRecord(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := oncallstore.New(db)
		tm := newTeam(t, db)
		start := oslo("2026-02-04 12:00") // ana's turn 4 (weeks from 5 January)
		if _, err := tm.AddOverride(ctx, team.OverrideRequest{Rota: "ukevakt", Member: "chen", Start: oslo("2026-02-06 18:00"), End: oslo("2026-02-07 18:00"), Now: start}); err != nil {
			t.Fatal(err)
		}
		if err := tm.RecordShifts(ctx, start); err != nil { // stores the configured rota first
			t.Fatal(err)
		}
		rec, err := st.RecordedShifts(ctx, "ukevakt", time.Time{}, oslo("2027-01-01 00:00"))
		if err != nil {
			t.Fatal(err)
		}
		if len(rec) != 5 || !rec[0].Start.Equal(oslo("2026-01-05 09:00")) || !rec[3].Late || rec[4].Late || !rec[4].End.IsZero() || rec[4].Member != "ana" {
			t.Fatalf("first record: %+v", rec)
		}
		// Shifts start and end; the loop runs every few seconds.
		var steps []time.Time
		for at := start; at.Before(oslo("2026-02-24 12:00")); at = at.Add(20 * time.Minute) {
			steps = append(steps, at)
		}
		var wg sync.WaitGroup
		for _, replica := range []*team.Team{tm, newTeam(t, db)} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for _, at := range steps {
					if err := replica.RecordShifts(ctx, at); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		rec, err = st.RecordedShifts(ctx, "ukevakt", time.Time{}, oslo("2027-01-01 00:00"))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, r := range rec {
			if i > 0 && !r.Start.Equal(rec[i-1].End) {
				t.Fatalf("record not contiguous at %d: %+v", i, rec)
			}
			got = append(got, fmt.Sprintf("%s %s–%s %s late=%v", r.Member, r.Start.In(osloLoc).Format("01-02 15:04"), endOf(r), r.Source, r.Late))
		}
		want := []string{
			"ana 01-05 09:00–01-12 09:00 rota late=true",
			"bjorn 01-12 09:00–01-19 09:00 rota late=true",
			"chen 01-19 09:00–01-26 09:00 rota late=true",
			"dina 01-26 09:00–02-02 09:00 rota late=true",
			"ana 02-02 09:00–02-06 18:00 rota late=false",
			"chen 02-06 18:00–02-07 18:00 override late=false",
			"ana 02-07 18:00–02-09 09:00 rota late=false",
			"bjorn 02-09 09:00–02-16 09:00 rota late=false",
			"chen 02-16 09:00–02-23 09:00 rota late=false",
			"dina 02-23 09:00–open rota late=false",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("record:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// An override from now on cuts the shift in progress at now.
		cut := oslo("2026-02-24 12:00")
		if _, err := tm.AddOverride(ctx, team.OverrideRequest{Rota: "ukevakt", Member: "ana", Start: cut.Add(-2 * time.Minute), End: cut.Add(6 * time.Hour), Now: cut}); err != nil {
			t.Fatal(err)
		}
		if err := tm.RecordShifts(ctx, cut.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		last, ok, err := st.LastShift(ctx, "ukevakt")
		if err != nil || !ok || last.Member != "ana" || last.Source != rota.SourceOverride || !last.End.IsZero() {
			t.Fatalf("after an override from now: %+v", last)
		}
		// The past is read from the record: with the February override
		// gone from the database, chen still held 6–7 February.
		if _, err := db.Exec(ctx, `DELETE FROM oncall_overrides`); err != nil {
			t.Fatal(err)
		}
		if got := whoAt(t, tm, oslo("2026-02-07 12:00")); got != "chen" {
			t.Fatalf("the record was not read: %s", got)
		}
		sched, err := tm.Schedule(ctx, "ukevakt", oslo("2026-02-02 09:00"), oslo("2026-03-02 09:00"))
		if err != nil || len(sched) != 7 || sched[1].Member != "chen" || sched[1].Source != rota.SourceOverride {
			t.Fatalf("schedule over the record: %v %+v", err, sched)
		}
		fair, err := tm.Fairness(ctx, "ukevakt", oslo("2026-02-02 09:00"), oslo("2026-02-16 09:00"))
		if err != nil || fair[2].Member != "chen" || fair[2].Hours != 24 || fair[0].Hours != 144 {
			t.Fatalf("fairness over the record: %v %+v", err, fair)
		}
		held, err := st.HeldShifts(ctx, "ukevakt", oslo("2026-02-01 00:00"), oslo("2026-03-01 00:00"))
		if err != nil || len(held) != 8 || held[0].Member != "dina" || !held[7].End.IsZero() {
			t.Fatalf("held shifts: %v %+v", err, held)
		}
		names, err := st.MemberNames(ctx)
		if err != nil || names["bjorn"] != "Bjørn Dahl" {
			t.Fatalf("names %v %v", names, err)
		}
	})
}

func endOf(r team.RecordedShift) string {
	if r.End.IsZero() {
		return "open"
	}
	return r.End.In(osloLoc).Format("01-02 15:04")
}

// BenchmarkOnCallAt measures one question to the stored team on SQLite
// with a year recorded: the revision check, the record, and the changes.
func BenchmarkOnCallAt(b *testing.B) {
	db := storagetest.Open(b, storage.SQLite)
	ctx := context.Background()
	tm, err := team.New(teamSpec(), oncallstore.New(db))
	if err != nil {
		b.Fatal(err)
	}
	now := oslo("2026-12-09 10:00")
	if err := tm.RecordShifts(ctx, now); err != nil {
		b.Fatal(err)
	}
	past, future := oslo("2026-06-10 12:00"), oslo("2027-02-10 12:00")
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		at := past
		if i%2 == 1 {
			at = future
		}
		if _, err := tm.OnCallAt(ctx, "ukevakt", at); err != nil {
			b.Fatal(err)
		}
	}
}
