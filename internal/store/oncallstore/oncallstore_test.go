package oncallstore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/storage"
	"github.com/uni-mail/postvakt/internal/storage/pgtest"
	"github.com/uni-mail/postvakt/internal/storage/storagetest"
	"github.com/uni-mail/postvakt/internal/store/oncallstore"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
	"github.com/uni-mail/postvakt/oncall/rota"
	"github.com/uni-mail/postvakt/oncall/team"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestConformanceOncall runs the on-call stores on both engines: the open
// incident key is unique, state changes are conditional, pages dedup by key.
func TestConformanceOncall(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, db *storage.DB) {
		st := oncallstore.New(db)
		ctx := context.Background()
		now := time.Date(2026, 3, 29, 1, 30, 0, 0, time.UTC)
		inc, err := st.CreateIncident(ctx, incident.Incident{Key: "k", Source: "api", Title: "t", Severity: "critical", Status: incident.StatusTriggered,
			Policy: "p", State: incident.State{RoundStart: now}, NextAt: now, OpenedAt: now, UpdatedAt: now, Labels: map[string]string{"a": "b"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.CreateIncident(ctx, incident.Incident{Key: "k", Status: incident.StatusTriggered, OpenedAt: now, UpdatedAt: now}); !errors.Is(err, incident.ErrConflict) {
			t.Fatalf("second open incident with the same key: %v", err)
		}
		if err := st.UpsertAlerts(ctx, inc.ID, []incident.Alert{{Fingerprint: "f1", Status: "firing", StartsAt: now}}, now); err != nil {
			t.Fatal(err)
		}
		if err := st.UpsertAlerts(ctx, inc.ID, []incident.Alert{{Fingerprint: "f1", Status: "resolved", StartsAt: now, EndsAt: now}}, now); err != nil {
			t.Fatal(err)
		}
		due, err := st.DueIncidents(ctx, now, 10)
		if err != nil || len(due) != 1 {
			t.Fatalf("due %v %v", due, err)
		}
		from, to := incident.State{RoundStart: now}, incident.State{Step: 1, RoundStart: now}
		if ok, err := st.AdvanceIncident(ctx, inc.ID, from, to, now.Add(time.Minute), now); err != nil || !ok {
			t.Fatalf("advance: %v %v", ok, err)
		}
		if ok, _ := st.AdvanceIncident(ctx, inc.ID, from, to, now.Add(time.Minute), now); ok {
			t.Fatal("advance from a stale state succeeded")
		}
		if ok, err := st.AckIncident(ctx, inc.ID, "me", now); err != nil || !ok {
			t.Fatalf("ack %v %v", ok, err)
		}
		if ok, err := st.AckIncident(ctx, inc.ID, "me", now); err != nil || ok {
			t.Fatalf("second ack %v %v", ok, err)
		}
		if _, err := st.AckIncident(ctx, 999, "me", now); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("ack missing: %v", err)
		}
		got, err := st.GetIncident(ctx, inc.ID)
		if err != nil || got.Status != incident.StatusAcknowledged || len(got.Alerts) != 1 || got.Alerts[0].Status != "resolved" || got.Labels["a"] != "b" || !got.NextAt.IsZero() {
			t.Fatalf("got %+v %v", got, err)
		}
		if ok, err := st.ResolveIncident(ctx, inc.ID, "am", now); err != nil || !ok {
			t.Fatalf("resolve %v %v", ok, err)
		}
		if _, err := st.CreateIncident(ctx, incident.Incident{Key: "k", Status: incident.StatusTriggered, OpenedAt: now, UpdatedAt: now}); err != nil {
			t.Fatalf("new incident after resolution: %v", err)
		}
		if c, err := st.CountIncidents(ctx); err != nil || c[incident.StatusTriggered] != 1 {
			t.Fatalf("count %v %v", c, err)
		}
		if ok, err := st.ClaimPage(ctx, page.Record{Key: "x", IncidentID: inc.ID, Member: "ana", Channel: "slack", Kind: page.KindPage, CreatedAt: now}); err != nil || !ok {
			t.Fatalf("claim %v %v", ok, err)
		}
		if ok, _ := st.ClaimPage(ctx, page.Record{Key: "x", Channel: "slack", Kind: page.KindPage, CreatedAt: now}); ok {
			t.Fatal("duplicate page claimed")
		}
		if err := st.FinishPage(ctx, "x", page.ResultSent, 1, "", now); err != nil {
			t.Fatal(err)
		}
		if m, err := st.PagedMembers(ctx, inc.ID); err != nil || len(m) != 1 || m[0] != "ana" {
			t.Fatalf("paged %v %v", m, err)
		}
		// The page log of an incident, oldest first, and the recent results.
		if ok, err := st.ClaimPage(ctx, page.Record{Key: "y", IncidentID: inc.ID, Channel: "email", Kind: page.KindAcknowledged, CreatedAt: now.Add(time.Second)}); err != nil || !ok {
			t.Fatalf("claim y %v %v", ok, err)
		}
		if err := st.FinishPage(ctx, "y", page.ResultFailed, 3, "relay down", now.Add(2*time.Second)); err != nil {
			t.Fatal(err)
		}
		ds, err := st.IncidentDeliveries(ctx, inc.ID)
		if err != nil || len(ds) != 2 || ds[0].Member != "ana" || ds[0].Result != "sent" || ds[1].Channel != "email" || ds[1].Result != "failed" ||
			ds[1].Attempts != 3 || ds[1].Error != "relay down" || !ds[1].FinishedAt.Equal(now.Add(2*time.Second)) || ds[1].Kind != "acknowledged" {
			t.Fatalf("deliveries %+v %v", ds, err)
		}
		if rs, err := st.RecentPageResults(ctx, now.Add(time.Second), 10); err != nil || len(rs) != 1 || rs[0].Result != "failed" || rs[0].Error != "relay down" {
			t.Fatalf("recent results %+v %v", rs, err)
		}
		// The owner of an incident: set while it is unresolved.
		open, err := st.CreateIncident(ctx, incident.Incident{Key: "owned", Source: "api", Title: "o", Severity: "warning", Status: incident.StatusTriggered,
			Policy: "p", State: incident.State{RoundStart: now}, OpenedAt: now, UpdatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := st.SetIncidentAssignee(ctx, open.ID, "bjorn", now); err != nil || !ok {
			t.Fatalf("assign %v %v", ok, err)
		}
		if got, err := st.GetIncident(ctx, open.ID); err != nil || got.Assignee != "bjorn" {
			t.Fatalf("assignee %+v %v", got, err)
		}
		if ok, err := st.SetIncidentAssignee(ctx, inc.ID, "bjorn", now); err != nil || ok {
			t.Fatalf("assign a resolved incident %v %v", ok, err)
		}
		if _, err := st.SetIncidentAssignee(ctx, 9999, "bjorn", now); !errors.Is(err, incident.ErrNotFound) {
			t.Fatalf("assign a missing incident: %v", err)
		}
		// Team changes.
		if _, err := st.AddOverride(ctx, team.OverrideRecord{Override: rota.Override{Member: "ana", Start: now, End: now.Add(time.Hour)}, Rota: "r", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		sw, err := st.AddSwap(ctx, team.SwapRecord{Swap: rota.Swap{Requester: "a", Counterpart: "b", TurnA: 1, TurnB: 2, State: rota.SwapRequested}, Rota: "r", CreatedAt: now})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := team.ParseID(sw.ID)
		if ok, err := st.DecideSwap(ctx, id, rota.SwapRequested, rota.SwapAccepted, "b", now); err != nil || !ok {
			t.Fatalf("decide %v %v", ok, err)
		}
		if ok, _ := st.DecideSwap(ctx, id, rota.SwapRequested, rota.SwapDeclined, "b", now); ok {
			t.Fatal("decided twice")
		}
		// Heartbeats and handovers.
		if err := st.EnsureHeartbeat(ctx, "wd", now); err != nil {
			t.Fatal(err)
		}
		if err := st.Beat(ctx, "wd", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := st.Beat(ctx, "wd", now); err != nil { // older beat does not move last_seen back
			t.Fatal(err)
		}
		hb, err := st.Heartbeats(ctx)
		if err != nil || len(hb) != 1 || !hb[0].LastSeen.Equal(now.Add(time.Minute)) {
			t.Fatalf("heartbeats %+v %v", hb, err)
		}
		if ok, _ := st.ClaimHandover(ctx, "r", now, "n1", now); !ok {
			t.Fatal("claim handover")
		}
		if ok, _ := st.ClaimHandover(ctx, "r", now, "n2", now); ok {
			t.Fatal("handover claimed twice")
		}
	})
}
