package oncallapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/uni-mail/postvakt/internal/api/oncallapi"
	"github.com/uni-mail/postvakt/internal/auth"
	"github.com/uni-mail/postvakt/oncall/incident"
	"github.com/uni-mail/postvakt/oncall/page"
)

func TestIncidents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	viewer, oncall := f.token(t, auth.RoleViewer), f.token(t, auth.RoleOncall)

	var inc incident.Incident
	f.do(t, "POST", "/api/v1/incidents", oncall, map[string]string{"title": "Queue stuck", "severity": "critical", "key": "mx1/queue"}).
		ok(t, http.StatusCreated, &inc)
	if inc.ID == 0 || inc.Key != "mx1/queue" || inc.Source != "api" || inc.Status != incident.StatusTriggered || inc.Severity != "critical" || inc.Policy != "mail" {
		t.Fatalf("incident %+v", inc)
	}
	if p := f.pages(); len(p) != 1 || p[0].Kind != incident.NotifyPage || len(p[0].Members) != 1 || p[0].Members[0] != "ana" {
		t.Fatalf("pages %+v", p)
	}
	// The same key updates the open incident: 200, no new page.
	var again incident.Incident
	f.do(t, "POST", "/api/v1/incidents", oncall, map[string]string{"title": "Queue stuck", "key": "mx1/queue"}).ok(t, http.StatusOK, &again)
	if again.ID != inc.ID || len(f.pages()) != 1 {
		t.Fatalf("again %+v, pages %d", again, len(f.pages()))
	}
	f.do(t, "POST", "/api/v1/incidents", oncall, map[string]string{"title": " "}).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "POST", "/api/v1/incidents", oncall, map[string]string{"title": "x", "policy": "nope"}).refused(t, http.StatusBadRequest, "bad_request")
	var other incident.Incident
	f.do(t, "POST", "/api/v1/incidents", oncall, map[string]string{"title": "Disk full"}).ok(t, http.StatusCreated, &other)
	if !strings.HasPrefix(other.Key, "api/") || other.Severity != "warning" {
		t.Fatalf("default key and severity %+v", other)
	}

	var list oncallapi.IncidentsResponse
	f.do(t, "GET", "/api/v1/incidents", viewer, nil).ok(t, http.StatusOK, &list)
	if len(list.Incidents) != 2 || list.Incidents[0].ID != other.ID {
		t.Fatalf("list %+v", list)
	}
	var got oncallapi.IncidentResponse
	f.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), viewer, nil).ok(t, http.StatusOK, &got)
	if got.Incident.ID != inc.ID || len(got.Timeline) == 0 || got.Timeline[0].Kind != "opened" {
		t.Fatalf("incident %+v", got)
	}
	f.do(t, "GET", "/api/v1/incidents/999", viewer, nil).refused(t, http.StatusNotFound, "not_found")
	f.do(t, "GET", "/api/v1/incidents/x", viewer, nil).refused(t, http.StatusBadRequest, "bad_request")

	var ack oncallapi.TransitionResponse
	f.do(t, "POST", fmt.Sprintf("/api/v1/incidents/%d/ack", inc.ID), oncall, nil).ok(t, http.StatusOK, &ack)
	if !ack.Changed || ack.Incident.Status != incident.StatusAcknowledged || ack.Incident.AckedBy != "token:test-oncall" {
		t.Fatalf("ack %+v", ack)
	}
	f.do(t, "POST", fmt.Sprintf("/api/v1/incidents/%d/ack", inc.ID), oncall, nil).ok(t, http.StatusOK, &ack)
	if ack.Changed {
		t.Fatal("a second ack changed the incident")
	}
	f.do(t, "POST", "/api/v1/incidents/999/ack", oncall, nil).refused(t, http.StatusNotFound, "not_found")
	var res oncallapi.TransitionResponse
	f.do(t, "POST", fmt.Sprintf("/api/v1/incidents/%d/resolve", inc.ID), oncall, nil).ok(t, http.StatusOK, &res)
	if !res.Changed || res.Incident.Status != incident.StatusResolved {
		t.Fatalf("resolve %+v", res)
	}

	for q, want := range map[string]int{"?status=open": 1, "?status=resolved": 1, "?status=triggered,resolved": 2, "?status=acknowledged": 0, "?limit=1": 1} {
		var l oncallapi.IncidentsResponse
		f.do(t, "GET", "/api/v1/incidents"+q, viewer, nil).ok(t, http.StatusOK, &l)
		if len(l.Incidents) != want || l.Incidents == nil {
			t.Errorf("%s: %d incidents, want %d", q, len(l.Incidents), want)
		}
	}
	f.do(t, "GET", "/api/v1/incidents?status=closed", viewer, nil).refused(t, http.StatusBadRequest, "bad_request")
	f.do(t, "GET", "/api/v1/incidents?limit=0", viewer, nil).refused(t, http.StatusBadRequest, "bad_request")
	if got := f.auditActions(t); !slices.Equal(got, []string{"incident.ack", "incident.open", "incident.resolve"}) {
		t.Fatalf("audit %v", got)
	}
}

// TestAckLinks: a signed link shows a form (GET changes nothing, so mail
// scanners do not acknowledge); its POST acknowledges once; a forged or
// expired link is refused.
func TestAckLinks(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	oncall := f.token(t, auth.RoleOncall)
	var inc incident.Incident
	f.do(t, "POST", "/api/v1/incidents", oncall, map[string]string{"title": "MX down"}).ok(t, http.StatusCreated, &inc)
	tok := f.signer.Sign(page.Claims{Action: "ack", IncidentID: inc.ID, Member: "ana"})

	r := f.do(t, "GET", "/api/v1/oncall/ack?t="+url.QueryEscape(tok), "", nil)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "text/html; charset=utf-8" || r.header.Get("Cache-Control") != "no-store" ||
		!strings.Contains(string(r.body), "<form method=\"post\"") || !strings.Contains(string(r.body), "MX down") {
		t.Fatalf("form: %d %v %s", r.status, r.header, r.body)
	}
	var got oncallapi.IncidentResponse
	f.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), oncall, nil).ok(t, http.StatusOK, &got)
	if got.Incident.Status != incident.StatusTriggered {
		t.Fatalf("a GET acknowledged: %s", got.Incident.Status)
	}
	form := "t=" + url.QueryEscape(tok)
	post := func() reply {
		return f.do(t, "POST", "/api/v1/oncall/ack", "", form, "Content-Type", "application/x-www-form-urlencoded")
	}
	if r := post(); r.status != http.StatusOK || !strings.Contains(string(r.body), "Acknowledged. Escalation has stopped.") {
		t.Fatalf("post: %d %s", r.status, r.body)
	}
	f.do(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), oncall, nil).ok(t, http.StatusOK, &got)
	if got.Incident.Status != incident.StatusAcknowledged || got.Incident.AckedBy != "link:ana" {
		t.Fatalf("after the link: %+v", got.Incident)
	}
	if r := post(); r.status != http.StatusOK || !strings.Contains(string(r.body), "Nothing to do: the incident was already acknowledged.") {
		t.Fatalf("second post: %d %s", r.status, r.body)
	}
	if r := f.do(t, "GET", "/api/v1/oncall/ack?t=forged", "", nil); r.status != http.StatusForbidden ||
		r.header.Get("Content-Type") != "text/plain; charset=utf-8" || string(r.body) != "This acknowledge link is not valid.\n" {
		t.Fatalf("forged: %d %s", r.status, r.body)
	}
	f.clock.Set(anaWeek.Add(2 * time.Hour)) // past the links' hour
	if r := f.do(t, "GET", "/api/v1/oncall/ack?t="+url.QueryEscape(tok), "", nil); r.status != http.StatusForbidden ||
		string(r.body) != "This acknowledge link has expired.\n" {
		t.Fatalf("expired: %d %s", r.status, r.body)
	}
	other := f.signer.Sign(page.Claims{Action: "ack", IncidentID: 999, Member: "ana"})
	f.do(t, "GET", "/api/v1/oncall/ack?t="+url.QueryEscape(other), "", nil).refused(t, http.StatusNotFound, "not_found")
}

func TestHeartbeats(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{now: anaWeek})
	viewer := f.token(t, auth.RoleViewer)
	f.do(t, "POST", "/api/v1/heartbeats/watchdog", "", nil).refused(t, http.StatusUnauthorized, "unauthorized")
	f.do(t, "POST", "/api/v1/heartbeats/watchdog", "wrong", nil).refused(t, http.StatusUnauthorized, "unauthorized")
	f.do(t, "POST", "/api/v1/heartbeats/nightly", testMachineToken, nil).refused(t, http.StatusNotFound, "not_found")
	if r := f.do(t, "POST", "/api/v1/heartbeats/watchdog", testMachineToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("beat: %d %s", r.status, r.body)
	}
	var list oncallapi.HeartbeatsResponse
	f.do(t, "GET", "/api/v1/heartbeats", viewer, nil).ok(t, http.StatusOK, &list)
	if len(list.Heartbeats) != 1 || list.Heartbeats[0].Name != "watchdog" || !list.Heartbeats[0].LastSeen.Equal(anaWeek) || list.Heartbeats[0].Late {
		t.Fatalf("heartbeats %+v", list)
	}

	// Without a monitor there are no heartbeats.
	bare := newFixture(t, fixtureOptions{api: func(o *oncallapi.Options) { o.Heartbeats = nil }})
	var empty oncallapi.HeartbeatsResponse
	bare.do(t, "GET", "/api/v1/heartbeats", bare.token(t, auth.RoleViewer), nil).ok(t, http.StatusOK, &empty)
	if empty.Heartbeats == nil || len(empty.Heartbeats) != 0 {
		t.Fatalf("no monitor: %+v", empty)
	}
	bare.do(t, "POST", "/api/v1/heartbeats/watchdog", testMachineToken, nil).refused(t, http.StatusNotFound, "not_found")
}

// TestAlertmanagerRoute: the receiver is served at its route with its own
// token, and refuses in the API's envelope.
func TestAlertmanagerRoute(t *testing.T) {
	t.Parallel()
	f := newFixture(t, fixtureOptions{})
	f.do(t, "POST", "/api/v1/alertmanager", "", `{"version":"4"}`).refused(t, http.StatusUnauthorized, "unauthorized")
	f.do(t, "POST", "/api/v1/alertmanager", testMachineToken, `{"version":"3"}`).refused(t, http.StatusBadRequest, "bad_request")
	group := `{"version":"4","groupKey":"{}:{alertname=\"X\"}","status":"firing","receiver":"postvakt",` +
		`"alerts":[{"status":"firing","labels":{"alertname":"X"},"startsAt":"2026-03-29T01:30:00Z","fingerprint":"abc"}]}`
	r := f.do(t, "POST", "/api/v1/alertmanager", testMachineToken, group)
	if r.status != http.StatusAccepted || strings.TrimSpace(string(r.body)) != `{"status":"stored"}` {
		t.Fatalf("accepted: %d %s", r.status, r.body)
	}
	eventually(t, 5*time.Second, "the group handed to the sink", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return len(f.groups) == 1 && f.groups[0].Receiver == "postvakt"
	})
}
