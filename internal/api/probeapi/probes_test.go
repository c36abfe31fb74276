package probeapi_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/collectors/probe"
	"github.com/uni-mail/postvakt/internal/api/probeapi"
	"github.com/uni-mail/postvakt/internal/auth"
)

// TestProbes: the states as recorded ([] before any run), a run on
// request that is recorded and audited, 404 for a probe not configured.
func TestProbes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var none probeapi.ProbeList
	f.do(t, "GET", "/api/v1/probes", auth.RoleViewer).ok(t, http.StatusOK, &none)
	if none.Probes == nil || len(none.Probes) != 0 {
		t.Fatalf("no runs yet: %+v", none)
	}

	f.seed(t)
	var run probeapi.Run
	f.do(t, "POST", "/api/v1/probes/pop-tcp/run", auth.RoleOncall).ok(t, http.StatusOK, &run)
	if run.Probe != "pop-tcp" || run.Service != "pop3" || run.Node != "pop1" || run.Kind != probe.KindTCP || !run.OK ||
		run.Attempts != 1 || len(run.Steps) == 0 || !run.At.Equal(now) {
		t.Fatalf("run = %+v", run)
	}
	f.do(t, "POST", "/api/v1/probes/nope/run", auth.RoleOncall).refused(t, http.StatusNotFound, "not_found")
	if got := f.auditActions(t); !slices.Equal(got, []string{"probe.run"}) {
		t.Errorf("audit %v, want probe.run", got)
	}

	var list probeapi.ProbeList
	f.do(t, "GET", "/api/v1/probes", auth.RoleViewer).ok(t, http.StatusOK, &list)
	if len(list.Probes) != 2 {
		t.Fatalf("probes = %+v", list.Probes)
	}
	imap, pop := list.Probes[0], list.Probes[1] // by service
	if imap.Probe != "imap-lb" || imap.Status != probe.StatusUp || !imap.Since.Equal(day.Add(22*time.Hour+50*time.Minute)) ||
		!imap.LastOK || imap.Replica != "node-a" {
		t.Errorf("imap-lb = %+v", imap)
	}
	if pop.Probe != "pop-tcp" || pop.Status != probe.StatusUp || !pop.LastAt.Equal(now) || pop.Replica != "node-a" {
		t.Errorf("pop-tcp = %+v", pop)
	}
}
