package unitstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/unitstore"
	"github.com/uni-mail/postvakt/oncall/units"
	"github.com/uni-mail/postvakt/oncall/units/dnscheck"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC)

func TestUnits(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := unitstore.New(db)
		staff := 12
		u, err := st.CreateUnit(ctx, units.Unit{Name: "Chemistry", Status: units.StatusNew, Domains: []string{"chem.test", "kjemi.test"},
			NetAdmin: units.Contact{Name: "Kari", Email: "kari@chem.test", Phone: "+47 1"}, Contacts: []units.Contact{}, Services: []string{"imap"},
			People: units.People{Staff: &staff}, CreatedAt: t0, UpdatedAt: t0}, units.Event{At: t0, Actor: "eva", Kind: units.EventCreated, Text: "x"})
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.GetUnit(ctx, u.ID)
		if err != nil || got.Name != "Chemistry" || len(got.Domains) != 2 || got.Domains[1] != "kjemi.test" || *got.People.Staff != 12 ||
			got.People.Students != nil || got.NetAdmin.Phone != "+47 1" || !got.CreatedAt.Equal(t0) || got.Survey != nil || !got.MigrationAt.IsZero() {
			t.Fatalf("%v %+v", err, got)
		}
		if _, err := st.GetUnit(ctx, 999); !errors.Is(err, units.ErrNotFound) || !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("missing unit: %v", err)
		}
		// A domain of another unit is a conflict, and changes nothing.
		_, err = st.CreateUnit(ctx, units.Unit{Name: "Other", Status: units.StatusNew, Domains: []string{"kjemi.test"}, CreatedAt: t0, UpdatedAt: t0},
			units.Event{At: t0, Actor: "eva", Kind: units.EventCreated})
		if !errors.Is(err, units.ErrConflict) {
			t.Fatalf("duplicate domain: %v", err)
		}
		if l, _ := st.ListUnits(ctx, units.Filter{}); len(l) != 1 {
			t.Fatalf("a refused unit was kept: %d", len(l))
		}
		mig := t0.Add(30 * 24 * time.Hour)
		_, err = st.ChangeUnit(ctx, u.ID, func(x *units.Unit) ([]units.Event, error) {
			x.Status, x.MigrationAt, x.Domains = units.StatusPlanned, mig, []string{"chem.test"}
			x.Survey = &units.Survey{Domains: []string{"chem.test"}, Clients: []string{"Outlook"}, SubmittedAt: t0}
			return []units.Event{{UnitID: u.ID, At: t0, Actor: "eva", Kind: units.EventPlanned, Text: "planned"}}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		l, _ := st.ListUnits(ctx, units.Filter{Status: units.StatusPlanned, Domain: "chem.test"})
		if len(l) != 1 || !l[0].MigrationAt.Equal(mig) || l[0].Survey.Clients[0] != "Outlook" {
			t.Fatalf("list %+v", l)
		}
		if l, _ := st.ListUnits(ctx, units.Filter{Domain: "kjemi.test"}); len(l) != 0 {
			t.Fatal("a dropped domain still finds the unit")
		}
		// An error from fn changes nothing.
		_, err = st.ChangeUnit(ctx, u.ID, func(x *units.Unit) ([]units.Event, error) {
			x.Name = "Changed"
			return nil, units.ErrInvalid
		})
		if got, _ := st.GetUnit(ctx, u.ID); !errors.Is(err, units.ErrInvalid) || got.Name != "Chemistry" {
			t.Fatalf("failed change kept: %v %s", err, got.Name)
		}
		if evs, _ := st.Events(ctx, u.ID); len(evs) != 2 || evs[1].Kind != units.EventPlanned || evs[0].Actor != "eva" {
			t.Fatalf("events %+v", evs)
		}

		// Survey links: used once, not after expiry, found by hash only.
		l1, err := st.CreateLink(ctx, units.SurveyLink{UnitID: u.ID, TokenHash: "h1", CreatedAt: t0, CreatedBy: "eva", ExpiresAt: t0.Add(time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.UseLink(ctx, "h1", t0.Add(time.Hour)); !errors.Is(err, units.ErrLinkInvalid) {
			t.Fatalf("expired link used: %v", err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins := 0
		for range 5 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := st.UseLink(ctx, "h1", t0.Add(time.Minute)); err == nil {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if wins != 1 {
			t.Fatalf("link used %d times", wins)
		}
		if got, err := st.LinkByHash(ctx, "h1"); err != nil || got.ID != l1.ID || !got.UsedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("link %+v %v", got, err)
		}

		// Steps: due, claimed once, finished once; a re-plan keeps done ones.
		steps, err := st.ReplaceOpenSteps(ctx, u.ID, []units.Step{
			{Kind: units.StepDocuments, Label: "docs", DueAt: t0, State: units.StepOpen},
			{Kind: units.StepMXCheck, Label: "mx", DueAt: t0.Add(time.Hour), State: units.StepOpen},
		})
		if err != nil || len(steps) != 2 {
			t.Fatal(err, steps)
		}
		if due, _ := st.DueSteps(ctx, units.DueQuery{Now: t0}); len(due) != 1 || due[0].Kind != units.StepDocuments {
			t.Fatalf("due %+v", due)
		}
		// Reminded steps are due again only when of a kind to recheck and
		// not checked since CheckedBefore.
		_, _ = st.ClaimReminder(ctx, steps[1].ID, t0.Add(time.Hour))
		_ = st.SetStepChecked(ctx, steps[1].ID, t0.Add(time.Hour), "wrong")
		for _, c := range []struct {
			q    units.DueQuery
			want int
		}{
			{units.DueQuery{Now: t0.Add(2 * time.Hour)}, 1},
			{units.DueQuery{Now: t0.Add(2 * time.Hour), Recheck: []units.StepKind{units.StepMXCheck}, CheckedBefore: t0.Add(30 * time.Minute)}, 1},
			{units.DueQuery{Now: t0.Add(2 * time.Hour), Recheck: []units.StepKind{units.StepMXCheck}, CheckedBefore: t0.Add(time.Hour)}, 2},
		} {
			if due, _ := st.DueSteps(ctx, c.q); len(due) != c.want {
				t.Errorf("due %+v: %d steps, want %d", c.q, len(due), c.want)
			}
		}
		_ = st.UnclaimReminder(ctx, steps[1].ID)
		ok1, _ := st.ClaimReminder(ctx, steps[0].ID, t0)
		ok2, _ := st.ClaimReminder(ctx, steps[0].ID, t0)
		if !ok1 || ok2 {
			t.Fatalf("claims %v %v", ok1, ok2)
		}
		if err := st.UnclaimReminder(ctx, steps[0].ID); err != nil {
			t.Fatal(err)
		}
		if ok, _ := st.ClaimReminder(ctx, steps[0].ID, t0); !ok {
			t.Fatal("released reminder not claimable")
		}
		d := steps[0]
		d.State, d.DoneAt, d.DoneBy, d.Outcome = units.StepDone, t0, "eva", "sent"
		if _, err := st.FinishStep(ctx, d, units.Event{UnitID: u.ID, At: t0, Actor: "eva", Kind: units.EventStep}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.FinishStep(ctx, d, units.Event{UnitID: u.ID, At: t0, Actor: "eva", Kind: units.EventStep}); !errors.Is(err, units.ErrTransition) {
			t.Fatalf("finished twice: %v", err)
		}
		steps, _ = st.ReplaceOpenSteps(ctx, u.ID, []units.Step{{Kind: units.StepMXCheck, Label: "mx2", DueAt: t0.Add(2 * time.Hour), State: units.StepOpen}})
		if len(steps) != 2 || steps[0].DoneBy != "eva" || steps[1].Label != "mx2" || !steps[0].RemindedAt.Equal(t0) {
			t.Fatalf("re-plan %+v", steps)
		}

		// Checks keep the published TTL and the explained mark.
		ttl := uint32(3600)
		c, err := st.AddCheck(ctx, units.Check{UnitID: u.ID, At: t0, Actor: "postvakt", Domain: "chem.test", TTL: &ttl,
			Result: dnscheck.Result{Domain: "chem.test", TTL: &ttl, Problems: []dnscheck.Problem{{Code: dnscheck.ProblemNotCentral}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := st.LastExplained(ctx, u.ID, "chem.test"); ok {
			t.Fatal("explained before marked")
		}
		_ = st.MarkExplained(ctx, c.ID)
		last, ok, err := st.LastExplained(ctx, u.ID, "chem.test")
		if err != nil || !ok || *last.TTL != 3600 || last.Result.Problems[0].Code != dnscheck.ProblemNotCentral {
			t.Fatalf("last explained %+v %v %v", last, ok, err)
		}

		// Work orders get one result.
		w, _ := st.CreateWorkOrder(ctx, units.WorkOrder{UnitID: u.ID, State: units.WorkOrderOpen, Title: "Migrate", OpenedAt: t0, OpenedBy: "eva"})
		_ = st.SetWorkOrderSent(ctx, w.ID, "sysadm@test")
		w.State, w.Result, w.ResultAt, w.ResultBy = units.WorkOrderDone, "ok", t0, "olav"
		if w, err = st.FinishWorkOrder(ctx, w); err != nil || w.SentTo != "sysadm@test" || w.ResultBy != "olav" {
			t.Fatalf("%+v %v", w, err)
		}
		if _, err := st.FinishWorkOrder(ctx, w); !errors.Is(err, units.ErrTransition) {
			t.Fatalf("second result: %v", err)
		}

		// References: idempotent, read back by the ticket.
		for range 2 {
			if err := st.AddRef(ctx, units.Ref{UnitID: u.ID, Kind: units.RefTicket, RefID: 42, At: t0, Actor: "eva"}); err != nil {
				t.Fatal(err)
			}
		}
		if rs, _ := st.Refs(ctx, u.ID); len(rs) != 1 {
			t.Fatalf("refs %+v", rs)
		}
		if us, err := st.RefUnits(ctx, units.RefTicket, 42); err != nil || len(us) != 1 || us[0].ID != u.ID {
			t.Fatalf("ref units %+v %v", us, err)
		}
	})
}

func TestRequirements(t *testing.T) {
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		st := unitstore.New(db)
		u, err := st.CreateUnit(ctx, units.Unit{Name: "Physics", Status: units.StatusLive, CreatedAt: t0, UpdatedAt: t0},
			units.Event{At: t0, Actor: "eva", Kind: units.EventCreated})
		if err != nil {
			t.Fatal(err)
		}
		q, err := st.CreateRequirement(ctx, units.Requirement{UnitID: u.ID, Kind: units.KindComplaint, Title: "Too much spam",
			Body: "since Monday", State: units.RequirementNew, OpenedAt: t0, OpenedBy: "eva", UpdatedAt: t0})
		if err != nil {
			t.Fatal(err)
		}
		later := t0.Add(48 * time.Hour)
		q.State, q.Answer, q.AnsweredAt, q.AnsweredBy, q.UpdatedAt = units.RequirementAccepted, "we tighten the filter", later, "ola", later
		got, err := st.UpdateRequirement(ctx, q, units.RequirementNew)
		if err != nil || got.State != units.RequirementAccepted || !got.AnsweredAt.Equal(later) || got.Answer != "we tighten the filter" ||
			got.Kind != units.KindComplaint || !got.OpenedAt.Equal(t0) {
			t.Fatalf("%v %+v", err, got)
		}
		// A second change from the old state is refused and changes nothing.
		q.State = units.RequirementDeclined
		if _, err := st.UpdateRequirement(ctx, q, units.RequirementNew); !errors.Is(err, units.ErrTransition) {
			t.Fatalf("stale update: %v", err)
		}
		if g, _ := st.GetRequirement(ctx, q.ID); g.State != units.RequirementAccepted {
			t.Fatalf("stale update changed %+v", g)
		}
		if _, err := st.GetRequirement(ctx, 999); !errors.Is(err, units.ErrNotFound) {
			t.Fatalf("missing: %v", err)
		}
		l, err := st.Requirements(ctx, u.ID)
		if err != nil || len(l) != 1 || l[0].ID != q.ID {
			t.Fatalf("%v %+v", err, l)
		}
		// Opened in one window, answered in the next: both windows see it.
		for _, c := range []struct {
			from, to time.Time
			n        int
		}{{t0, t0.Add(time.Hour), 1}, {t0.Add(time.Hour), later.Add(time.Second), 1}, {later.Add(time.Second), later.Add(time.Hour), 0}} {
			b, err := st.RequirementsBetween(ctx, c.from, c.to)
			if err != nil || len(b) != c.n {
				t.Fatalf("between %v and %v: %v %d", c.from, c.to, err, len(b))
			}
		}
	})
}
